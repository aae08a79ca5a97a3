//! The documented health gates, each one poll returning why it is not met yet.

use crate::cluster::Cluster;
use crate::door::{parse_json, RemoteError};
use crate::playbook::NodeSpec;
use crate::probe::node::{self, NodeReads, Read};
use crate::probe::wait::Poll;
use crate::probe::{exhibitor, mesos};
use crate::versions::RecordedVersion;

/// Whether two version strings are the same DC/OS version.
pub fn same_version(a: &str, b: &str) -> bool {
    crate::versions::RecordedVersion::from(b).is(a)
}

/// Every master serving in Exhibitor with one ZooKeeper leader, `registrar/log/recovered` = 1
/// on every master, and a Mesos leader elected. Each master is read on the master itself, all
/// at once.
pub async fn masters_healthy(c: &Cluster) -> Poll<String> {
    masters_judged(c, &masters_round(c, &MASTER_HEALTH).await).await
}

/// What [`masters_healthy`] reads on every master.
pub const MASTER_HEALTH: [Read; 3] = [Read::MasterMetrics, Read::Exhibitor, Read::Redirect];

/// A round of `reads` on every master at once, each on the master itself (inventory order).
pub async fn masters_round(c: &Cluster, reads: &[Read]) -> Vec<Result<NodeReads, RemoteError>> {
    futures::future::join_all(c.inventory.masters.iter().map(|m| node::read(c, m, reads))).await
}

/// [`masters_healthy`] judged from a round of [`masters_round`] that read at least
/// [`MASTER_HEALTH`].
pub async fn masters_judged(
    c: &Cluster,
    rounds: &[Result<NodeReads, RemoteError>],
) -> Poll<String> {
    let masters = &c.inventory.masters;
    let mut exhibitor = Err(String::from("no Exhibitor answered"));
    for (m, r) in masters.iter().zip(rounds) {
        let m = &m.address;
        let reads = match r {
            Ok(r) => r,
            Err(e) => return Poll::NotYet(format!("master {m}: {e}")),
        };
        // Its own reads only: the round after a master's script reads Marathon besides, for
        // the procedure's gate, which judges those itself.
        if reads.unauthorized_in(&MASTER_HEALTH) {
            return Poll::Abort(unauthorized(m));
        }
        let metrics = reads
            .answer(Read::MasterMetrics)
            .and_then(|(url, a)| mesos::parse_metrics(&url, &a));
        match metrics {
            Ok(metrics) => match metrics.get("registrar/log/recovered") {
                Some(1.0) => {}
                Some(v) => {
                    return Poll::NotYet(format!("registrar/log/recovered = {v} on master {m}"))
                }
                None => {
                    return Poll::NotYet(format!(
                        "master {m} reports no registrar/log/recovered metric"
                    ))
                }
            },
            Err(e) => return Poll::NotYet(format!("master {m}: {e}")),
        }
        if exhibitor.is_err() {
            exhibitor = reads
                .answer(Read::Exhibitor)
                .and_then(|(url, a)| parse_json::<Vec<exhibitor::ServerStatus>>(&url, &a))
                .map_err(|e| format!("Exhibitor on {m}: {e}"))
                .and_then(|s| {
                    exhibitor::judge(&s, masters.len())
                        .map_err(|e| format!("Exhibitor on {m}: {e}"))
                });
        }
    }
    if let Err(e) = exhibitor {
        return Poll::NotYet(e);
    }
    match c.leader_from(rounds).await {
        Ok(Some(l)) => Poll::Ready(l),
        Ok(None) => Poll::NotYet("no Mesos leader elected".into()),
        Err(e) => Poll::NotYet(format!("cannot tell the Mesos leader: {e}")),
    }
}

/// Why a gate stops at once when a node refuses the token: waiting cannot fix it.
fn unauthorized(node: &str) -> String {
    format!("{node} refused the token (HTTP 401: it expired, was revoked, or none was given) and no login with [auth] could renew it: give a fresh one in DCOS_ACS_TOKEN and run `dcos-upgrade resume`")
}

/// The agent reports `slave/registered` = 1 (read on the agent).
pub async fn agent_registered(c: &Cluster, node: &NodeSpec) -> Poll<()> {
    agent_judged(node, &node::read(c, node, &[Read::AgentMetrics]).await)
}

/// What an agent's `/metrics/snapshot` shows once it is registered (`grep -E`), in Mesos' own
/// escaping (`"slave\/registered":1.0`, as `payloads/mesos-master-metrics-snapshot-grep-recovered.txt`
/// shows for the master's metrics) or without it: when an agent polled on the node may stop
/// (`probe::node::Until`). Only that: the answer is then judged by [`agent_judged`].
pub const AGENT_REGISTERED: &str =
    r#""slave(\\)?/registered"[[:space:]]*:[[:space:]]*1(\.0*)?([^0-9.]|$)"#;

/// [`agent_registered`] judged from a round on the agent that read at least
/// [`Read::AgentMetrics`].
pub fn agent_judged(node: &NodeSpec, round: &Result<NodeReads, RemoteError>) -> Poll<()> {
    let metrics = match round {
        Ok(r) if r.unauthorized() => return Poll::Abort(unauthorized(&node.address)),
        Ok(r) => r
            .answer(Read::AgentMetrics)
            .and_then(|(url, a)| mesos::parse_metrics(&url, &a)),
        Err(e) => return Poll::NotYet(format!("agent {}: {e}", node.address)),
    };
    match metrics {
        Ok(m) => match m.get("slave/registered") {
            Some(1.0) => Poll::Ready(()),
            Some(v) => Poll::NotYet(format!("slave/registered = {v} on agent {}", node.address)),
            None => Poll::NotYet(format!(
                "agent {} reports no slave/registered metric",
                node.address
            )),
        },
        Err(e) => Poll::NotYet(format!("agent {}: {e}", node.address)),
    }
}

/// Whether a round that read [`Read::Version`] on `node` found `to` in its version file.
pub fn read_at_version(
    node: &NodeSpec,
    round: &Result<NodeReads, RemoteError>,
    to: &RecordedVersion,
) -> Poll<()> {
    match round
        .as_ref()
        .map_err(|e| e.to_string())
        .and_then(|r| r.version())
    {
        Ok(v) if to.is(&v) => Poll::Ready(()),
        Ok(v) => Poll::NotYet(format!(
            "{} reports version {v}, expected {to}",
            node.address
        )),
        Err(e) => Poll::NotYet(e),
    }
}

/// The node's version file says `to`.
pub async fn node_at_version(c: &Cluster, node: &NodeSpec, to: &RecordedVersion) -> Poll<()> {
    match c.identity(node).await {
        Ok(id) if to.is(&id.version) => Poll::Ready(()),
        Ok(id) => Poll::NotYet(format!(
            "{} reports version {}, expected {to}",
            node.address, id.version
        )),
        Err(e) => Poll::NotYet(e),
    }
}
