//! The documented health gates, each one poll returning why it is not met yet.

use crate::cluster::Cluster;
use crate::playbook::NodeSpec;
use crate::probe::wait::Poll;
use crate::probe::{exhibitor, mesos};
use crate::versions::DcosVersion;

/// Whether two version strings are the same DC/OS version.
pub fn same_version(a: &str, b: &str) -> bool {
    match (DcosVersion::parse(a), DcosVersion::parse(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// Every master serving in Exhibitor with one ZooKeeper leader, `registrar/log/recovered` = 1
/// on every master, and a Mesos leader elected.
pub async fn masters_healthy(c: &Cluster) -> Poll<String> {
    let masters = c.master_addrs();
    let ports = &c.playbook.ports;
    for m in &masters {
        match mesos::metrics(c.observe.as_ref(), m, ports.mesos_master).await {
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
    }
    let mut last = String::from("no Exhibitor answered");
    let mut zk_ok = false;
    for m in &masters {
        match exhibitor::status(c.observe.as_ref(), m, ports.exhibitor).await {
            Ok(s) => match exhibitor::judge(&s, masters.len()) {
                Ok(()) => {
                    zk_ok = true;
                    break;
                }
                Err(e) => {
                    last = format!("Exhibitor on {m}: {e}");
                    break;
                }
            },
            Err(e) => last = format!("Exhibitor on {m}: {e}"),
        }
    }
    if !zk_ok {
        return Poll::NotYet(last);
    }
    match c.leader_address().await {
        Ok(Some(l)) => Poll::Ready(l),
        Ok(None) => Poll::NotYet("no Mesos leader elected".into()),
        Err(e) => Poll::NotYet(format!("cannot tell the Mesos leader: {e}")),
    }
}

/// The agent reports `slave/registered` = 1.
pub async fn agent_registered(c: &Cluster, node: &NodeSpec) -> Poll<()> {
    match mesos::metrics(
        c.observe.as_ref(),
        &node.address,
        c.playbook.ports.mesos_agent,
    )
    .await
    {
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
pub async fn node_at_version(c: &Cluster, node: &NodeSpec, to: &str) -> Poll<()> {
    match c.identity(node).await {
        Ok(id) if same_version(&id.version, to) => Poll::Ready(()),
        Ok(id) => Poll::NotYet(format!(
            "{} reports version {}, expected {to}",
            node.address, id.version
        )),
        Err(e) => Poll::NotYet(e),
    }
}
