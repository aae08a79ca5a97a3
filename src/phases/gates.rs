//! The documented health gates, each one poll returning why it is not met yet.

use crate::cluster::Cluster;
use crate::door::parse_json;
use crate::playbook::NodeSpec;
use crate::probe::node::{self, Read};
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
    let masters = &c.inventory.masters;
    let rounds = futures::future::join_all(masters.iter().map(|m| {
        node::read(
            c,
            m,
            &[Read::MasterMetrics, Read::Exhibitor, Read::Redirect],
        )
    }))
    .await;
    let mut exhibitor = Err(String::from("no Exhibitor answered"));
    for (m, r) in masters.iter().zip(&rounds) {
        let m = &m.address;
        let reads = match r {
            Ok(r) => r,
            Err(e) => return Poll::NotYet(format!("master {m}: {e}")),
        };
        if reads.unauthorized() {
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
    match c.leader_from(&rounds).await {
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
    let metrics = match node::read(c, node, &[Read::AgentMetrics]).await {
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
