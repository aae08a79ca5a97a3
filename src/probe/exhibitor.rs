//! Exhibitor's cluster status: every ZooKeeper server "serving" and exactly one leader.

use super::node::{self, Read};
use crate::cluster::Cluster;
use crate::door::{parse_json, ProbeError};
use crate::playbook::NodeSpec;
use serde::Deserialize;

/// One server in `/exhibitor/v1/cluster/status`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ServerStatus {
    /// 3 = serving in the Exhibitor DC/OS pins (match on 3 or "serving", never other codes).
    pub code: i64,
    /// `serving`, `down`, `not serving`, `latent`.
    pub description: String,
    /// The server's host.
    pub hostname: String,
    /// Whether it leads the ensemble.
    #[serde(rename = "isLeader")]
    pub is_leader: bool,
}

/// Reads the status from one master's Exhibitor, on the master (with Exhibitor's client
/// certificate where the master has one).
pub async fn status(c: &Cluster, master: &NodeSpec) -> Result<Vec<ServerStatus>, ProbeError> {
    let reads = node::read(c, master, &[Read::Exhibitor])
        .await
        .map_err(node::remote)?;
    let (what, a) = reads.answer(Read::Exhibitor)?;
    parse_json(&what, &a)
}

/// The status from the first master whose Exhibitor answers (in inventory order), with that
/// master's address; the last error when none answers.
pub async fn first_answer(c: &Cluster) -> Result<(String, Vec<ServerStatus>), String> {
    let mut last = String::from("no master to ask");
    for m in &c.inventory.masters {
        match status(c, m).await {
            Ok(s) => return Ok((m.address.clone(), s)),
            Err(e) => last = format!("Exhibitor on {}: {e}", m.address),
        }
    }
    Err(last)
}

/// Judges a status: `Ok` when `expected` servers all serve and exactly one leads.
pub fn judge(servers: &[ServerStatus], expected: usize) -> Result<(), String> {
    let not_serving: Vec<String> = servers
        .iter()
        .filter(|s| !(s.code == 3 || s.description.eq_ignore_ascii_case("serving")))
        .map(|s| format!("{} is {:?}", s.hostname, s.description))
        .collect();
    if !not_serving.is_empty() {
        return Err(format!("ZooKeeper not serving: {}", not_serving.join(", ")));
    }
    if servers.len() < expected {
        return Err(format!(
            "Exhibitor lists {} ZooKeeper servers, expected {expected}",
            servers.len()
        ));
    }
    let leaders = servers.iter().filter(|s| s.is_leader).count();
    if leaders != 1 {
        return Err(format!(
            "Exhibitor reports {leaders} ZooKeeper leaders, expected exactly 1"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(code: i64, d: &str, leader: bool) -> ServerStatus {
        ServerStatus {
            code,
            description: d.into(),
            hostname: "h".into(),
            is_leader: leader,
        }
    }

    #[test]
    fn the_documented_sample_is_healthy() {
        let text = include_str!("../../tests/data/exhibitor-cluster-status.json");
        let v: Vec<ServerStatus> = serde_json::from_str(text).unwrap();
        assert_eq!(judge(&v, 3), Ok(()));
    }

    #[test]
    fn a_down_server_or_two_leaders_is_not() {
        assert!(judge(&[s(3, "serving", true), s(1, "down", false)], 2).is_err());
        assert!(judge(&[s(3, "serving", true), s(3, "serving", true)], 2).is_err());
        assert!(judge(&[s(3, "serving", true)], 3).is_err());
    }
}
