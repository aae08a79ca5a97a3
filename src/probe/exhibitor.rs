//! Exhibitor's cluster status: every ZooKeeper server "serving" and exactly one leader.

use super::mesos::host_port;
use crate::door::{get_json, Observe, ProbeError};
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

/// Reads the status from one master's Exhibitor.
pub async fn status(
    http: &dyn Observe,
    master: &str,
    port: u16,
) -> Result<Vec<ServerStatus>, ProbeError> {
    let url = format!(
        "http://{}/exhibitor/v1/cluster/status",
        host_port(master, port)
    );
    get_json(http, &url).await
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
