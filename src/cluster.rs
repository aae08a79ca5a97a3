//! The cluster as the engine sees it: inventory nodes, the playbook's paths and ports, and the
//! observe door, with read-only helpers shared by facts, gates and phases. Changes go through
//! the change door (`door::Change`), which a `Cluster` does not hold.

use crate::door::{NodeTarget, Observe, Output, RemoteError};
use crate::model::{Role, Security};
use crate::playbook::model::Timeouts;
use crate::playbook::{Inventory, NodeSpec, Playbook};
use crate::shell::quote;
use std::sync::Arc;
use std::time::Duration;

/// Everything needed to observe and act on the cluster.
pub struct Cluster {
    /// The inventory.
    pub inventory: Inventory,
    /// The playbook.
    pub playbook: Playbook,
    /// Timeouts (playbook, overridden by the inventory).
    pub timeouts: Timeouts,
    /// The read-only door (real transports, or an in-process cluster in tests).
    pub observe: Arc<dyn Observe>,
    /// Agents: the inventory's, or those discovered from the leading master.
    pub agents: Vec<NodeSpec>,
    /// The security mode each node reported (node-local reads keep it current, so an upgrade
    /// that moves permissive -> strict is followed node by node).
    pub security: SecurityModes,
    /// How to log in at Admin Router (from `[auth]`), when a token must be obtained or renewed.
    pub credentials: Option<crate::door::Credentials>,
    /// The address each node's `detect_ip` printed, learnt by its node-local reads.
    pub detected_ips: DetectedIps,
    /// The leader the last round of every master's reads resolved, and when.
    pub seen_leader: SeenLeader,
}

/// The Mesos leader the last lookup resolved ([`Cluster::leader_from`]), with the moment it was
/// read. A step's rollout guards sample every master's redirect and metrics once its node is
/// back (after a master, from its health gate's last round; at most a second before the step
/// ends); the leader lookup before the next master step takes the leader from that round
/// ([`Cluster::leader_address_recent`]) instead of reading every master again.
#[derive(Debug, Default)]
pub struct SeenLeader(std::sync::Mutex<Option<(std::time::Instant, String)>>);

impl SeenLeader {
    /// Records `leader` as read now.
    pub fn saw(&self, leader: &str) {
        if let Ok(mut m) = self.0.lock() {
            *m = Some((std::time::Instant::now(), leader.to_string()));
        }
    }

    /// Forgets the leader recorded, if any.
    pub fn clear(&self) {
        if let Ok(mut m) = self.0.lock() {
            *m = None;
        }
    }

    /// The leader recorded at most `within` ago, taken (the next call reads again).
    pub fn take_within(&self, within: Duration) -> Option<String> {
        let mut m = self.0.lock().ok()?;
        match m.take() {
            Some((at, l)) if at.elapsed() <= within => Some(l),
            _ => None,
        }
    }
}

/// The address each node's `detect_ip` printed. A node-local read learns it once and the next
/// reads of that node use it instead of running `detect_ip` again (`detect_ip` runs the
/// cluster's own `ip-detect` script: the install docs' example for AWS is a `curl` of the
/// instance metadata service, mesosphere/dcos-docs-site, "Create an IP detection script", so
/// each run may be an HTTP request). It is forgotten, and detected again,
/// when a read on the node reaches nothing (status 0), in case the address was the reason.
#[derive(Debug, Default)]
pub struct DetectedIps(std::sync::Mutex<std::collections::HashMap<String, String>>);

impl DetectedIps {
    /// The address `node`'s `detect_ip` last printed, if a read learnt it.
    pub fn of(&self, node: &str) -> Option<String> {
        self.0.lock().ok().and_then(|m| m.get(node).cloned())
    }

    /// Records the address `node`'s `detect_ip` printed.
    pub fn saw(&self, node: &str, ip: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(node.to_string(), ip.to_string());
        }
    }

    /// Forgets `node`'s address: its next read runs `detect_ip` again.
    pub fn forget(&self, node: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(node);
        }
    }
}

/// The security mode each node last reported.
#[derive(Debug, Default)]
pub struct SecurityModes(std::sync::Mutex<std::collections::HashMap<String, Security>>);

impl SecurityModes {
    /// The mode `node` last reported, if it has.
    pub fn of(&self, node: &str) -> Option<Security> {
        self.0.lock().ok().and_then(|m| m.get(node).copied())
    }

    /// Every node's mode, by the key it was recorded under (the node's address).
    pub fn all(&self) -> std::collections::HashMap<String, Security> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The strictest mode any node reported (Disabled when none has).
    pub fn strictest(&self) -> Security {
        let m = self
            .0
            .lock()
            .map(|m| m.values().copied().collect::<Vec<_>>());
        let modes = m.unwrap_or_default();
        if modes.contains(&Security::Strict) {
            Security::Strict
        } else if modes.contains(&Security::Permissive) {
            Security::Permissive
        } else {
            Security::Disabled
        }
    }
}

/// Why the leading master cannot be told.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LeaderError {
    /// No master answered `/master/redirect` as documented.
    #[error(transparent)]
    Probe(#[from] crate::probe::ProbeError),
    /// The redirect and the masters' own `master/elected` disagree.
    #[error("the masters disagree about the Mesos leader: /master/redirect names {redirect}, which does not report master/elected = 1, and {} claim it ({})", .elected.len(), if .elected.is_empty() { "none".to_string() } else { .elected.join(", ") })]
    Disagree {
        /// The master the redirect named.
        redirect: String,
        /// The masters that report `master/elected = 1`.
        elected: Vec<String>,
    },
}

/// What a node's version file and roles directory say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// `version` from dcos-version.json.
    pub version: String,
    /// The role files present.
    pub roles: Vec<Role>,
}

const ROLES_MARKER: &str = "--dcos-upgrade-roles--";

impl Cluster {
    /// Every known node, masters first.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeSpec> {
        self.inventory.masters.iter().chain(self.agents.iter())
    }

    /// Where `node` is among the inventory's masters (the order of every round on the masters).
    pub fn master_position(&self, node: &NodeSpec) -> Option<usize> {
        self.inventory
            .masters
            .iter()
            .position(|m| m.address == node.address)
    }

    /// A node by address.
    pub fn node(&self, address: &str) -> Option<&NodeSpec> {
        self.nodes().find(|n| n.address == address)
    }

    /// Master addresses.
    pub fn master_addrs(&self) -> Vec<String> {
        self.inventory
            .masters
            .iter()
            .map(|m| m.address.clone())
            .collect()
    }

    /// The SSH target of a node.
    pub fn target(node: &NodeSpec) -> NodeTarget {
        NodeTarget {
            address: node.address.clone(),
            port: node.ssh_port,
        }
    }

    /// A DC/OS path on a node, resolved under its root and quoted for the shell.
    pub fn path(node: &NodeSpec, absolute: &str) -> String {
        quote(&format!("{}{}", node.root, absolute))
    }

    /// Records the security mode a node reported.
    pub fn saw_security(&self, node: &str, mode: Security) {
        if let Ok(mut m) = self.security.0.lock() {
            m.insert(node.to_string(), mode);
        }
    }

    /// Runs a read-only command (never journaled; also used by `plan` and `check`).
    pub async fn query(&self, node: &NodeSpec, script: &str) -> Result<Output, RemoteError> {
        self.observe
            .query(&Self::target(node), script, Duration::from_secs(60))
            .await
    }

    /// Reads a node's installed version and role files.
    pub async fn identity(&self, node: &NodeSpec) -> Result<NodeIdentity, String> {
        let script = format!(
            "cat {vf} && echo && echo {ROLES_MARKER} && (ls -1 {rd} 2>/dev/null || true)",
            vf = Self::path(node, &self.playbook.paths.version_file),
            rd = Self::path(node, &self.playbook.paths.roles_dir),
        );
        let out = self.query(node, &script).await.map_err(|e| e.to_string())?;
        if !out.ok() {
            return Err(format!(
                "{}: cannot read {}: {}",
                node.address,
                self.playbook.paths.version_file,
                out.tail(200)
            ));
        }
        parse_identity(&out.stdout).map_err(|e| format!("{}: {e}", node.address))
    }

    /// Every node's identity (masters, then agents), read [`PARALLEL_NODES`] nodes at a time,
    /// in the order of [`Cluster::nodes`].
    ///
    /// [`PARALLEL_NODES`]: crate::probe::facts::PARALLEL_NODES
    pub async fn identities(&self) -> Vec<(&NodeSpec, Result<NodeIdentity, String>)> {
        use futures::stream::{self, StreamExt};
        let reads: Vec<_> = self
            .nodes()
            .map(|n| async move { (n, self.identity(n).await) })
            .collect();
        stream::iter(reads)
            .buffered(crate::probe::facts::PARALLEL_NODES)
            .collect()
            .await
    }

    /// The leading master's inventory address, cross-checked; the one leader lookup.
    ///
    /// `/master/redirect` names the leader by its Mesos hostname, which in DC/OS is the IP but may
    /// be a DNS name elsewhere, so the answer is matched against the masters' addresses, names,
    /// and the addresses the name resolves to. A master's redirect can be stale, so the master it
    /// names must itself report `master/elected = 1`; when it does not, the leader is taken from
    /// the masters' own `master/elected` if exactly one says 1, and otherwise the lookup fails
    /// with [`LeaderError::Disagree`] (callers re-resolve, then stop before taking a master down).
    pub async fn leader_address(&self) -> Result<Option<String>, LeaderError> {
        use crate::probe::node::{self, Read};
        // One round on every master at once, on the master itself: its redirect and its own
        // master/elected.
        let masters = &self.inventory.masters;
        let rounds = futures::future::join_all(
            masters
                .iter()
                .map(|m| node::read(self, m, &[Read::Redirect, Read::MasterMetrics])),
        )
        .await;
        self.leader_from(&rounds).await
    }

    /// [`Cluster::leader_address`], or the leader another read resolved at most `within` ago
    /// (and no call has taken since): the guards' sample of the step before read every
    /// master's redirect and metrics a moment before the next master step asks. What this
    /// call reads itself is not left for the next one.
    pub async fn leader_address_recent(
        &self,
        within: Duration,
    ) -> Result<Option<String>, LeaderError> {
        if let Some(l) = self.seen_leader.take_within(within) {
            return Ok(Some(l));
        }
        let read = self.leader_address().await;
        // Only a read made after this lookup may stand in for the next one.
        self.seen_leader.clear();
        read
    }

    /// The leader from a round of reads on every master (in inventory order) that read at least
    /// `Redirect` and `MasterMetrics`: see [`Cluster::leader_address`].
    pub async fn leader_from(
        &self,
        rounds: &[Result<crate::probe::node::NodeReads, RemoteError>],
    ) -> Result<Option<String>, LeaderError> {
        let leader = self.resolve_leader(rounds).await;
        if let Ok(Some(l)) = &leader {
            self.seen_leader.saw(l);
        }
        leader
    }

    async fn resolve_leader(
        &self,
        rounds: &[Result<crate::probe::node::NodeReads, RemoteError>],
    ) -> Result<Option<String>, LeaderError> {
        use crate::probe::mesos::{leader_from, parse_metrics, LeaderAnswer};
        use crate::probe::node::{self, Read};
        let masters = &self.inventory.masters;
        let mut named = None;
        let mut any_answer = false;
        let mut last_err = None;
        let mut elected = std::collections::HashMap::new();
        for (m, r) in masters.iter().zip(rounds) {
            let reads = match r {
                Ok(r) => r,
                Err(e) => {
                    last_err = Some(node::remote(e.clone()));
                    continue;
                }
            };
            if let Some(e) = reads
                .answer(Read::MasterMetrics)
                .and_then(|(url, a)| parse_metrics(&url, &a))
                .ok()
                .and_then(|m| m.get("master/elected"))
            {
                elected.insert(m.address.clone(), e == 1.0);
            }
            if named.is_some() {
                continue;
            }
            match reads
                .answer(Read::Redirect)
                .and_then(|(url, a)| leader_from(url, a))
            {
                Ok(LeaderAnswer::Leader(host)) => named = Some(host),
                Ok(LeaderAnswer::NoLeader) => any_answer = true,
                Err(e) => last_err = Some(e),
            }
        }
        let Some(host) = named else {
            return match (any_answer, last_err) {
                (true, _) | (false, None) => Ok(None),
                (false, Some(e)) => Err(e.into()),
            };
        };
        let named = self.match_master(&host).await.unwrap_or(host);
        let named_elected = elected.get(&named).copied();
        if named_elected == Some(true) {
            return Ok(Some(named));
        }
        let mut claim: Vec<String> = masters
            .iter()
            .map(|m| m.address.clone())
            .filter(|a| *a != named && elected.get(a) == Some(&true))
            .collect();
        match (claim.len(), named_elected) {
            // The named master could not be asked and nobody else claims to lead: take it.
            (0, None) => Ok(Some(named)),
            (1, _) => Ok(claim.pop()),
            _ => Err(LeaderError::Disagree {
                redirect: named,
                elected: claim,
            }),
        }
    }

    async fn match_master(&self, host: &str) -> Option<String> {
        let masters = &self.inventory.masters;
        if let Some(m) = masters
            .iter()
            .find(|m| m.address.eq_ignore_ascii_case(host) || m.name.eq_ignore_ascii_case(host))
        {
            return Some(m.address.clone());
        }
        let resolved: Vec<std::net::IpAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map(|it| it.map(|a| a.ip()).collect())
            .unwrap_or_default();
        masters
            .iter()
            .find(|m| {
                m.address
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| resolved.contains(&ip))
            })
            .map(|m| m.address.clone())
    }

    /// The playbook's poll interval.
    pub fn poll(&self) -> Duration {
        self.timeouts.poll()
    }
}

/// The `version` of a `dcos-version.json` text.
pub fn parse_version(json: &str) -> Result<String, String> {
    let v: serde_json::Value = serde_json::from_str(json.trim())
        .map_err(|e| format!("dcos-version.json is not valid JSON: {e}"))?;
    Ok(v.get("version")
        .and_then(|x| x.as_str())
        .ok_or_else(|| "dcos-version.json has no \"version\" string".to_string())?
        .trim()
        .to_string())
}

/// Parses the output of the identity query.
pub fn parse_identity(stdout: &str) -> Result<NodeIdentity, String> {
    let (json, roles) = stdout
        .split_once(ROLES_MARKER)
        .ok_or_else(|| "unexpected output reading the version file".to_string())?;
    let version = parse_version(json)?;
    let roles = roles.lines().filter_map(Role::from_role_file).collect();
    Ok(NodeIdentity { version, roles })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_parses_the_documented_version_file() {
        let out = format!(
            "{}\n{ROLES_MARKER}\nmaster\n",
            include_str!("../tests/data/dcos-version-1.13.0-alpha-enterprise.json")
        );
        let id = parse_identity(&out).unwrap();
        assert_eq!(id.version, "1.13.0-alpha");
        assert_eq!(id.roles, vec![Role::Master]);
    }

    #[test]
    fn a_broken_version_file_is_an_error_not_a_guess() {
        assert!(parse_identity(&format!("{{\"ver\":1}}\n{ROLES_MARKER}\n")).is_err());
        assert!(parse_identity("garbage").is_err());
    }
}
