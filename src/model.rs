//! Small domain types shared by every layer: node roles and security modes.

use serde::{Deserialize, Serialize};

/// What a node is in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A Mesos master (with ZooKeeper/Exhibitor and Marathon).
    Master,
    /// A private Mesos agent.
    Agent,
    /// A public Mesos agent (`public_ip:true`).
    PublicAgent,
}

impl Role {
    /// The name used in plans and reports (`master`, `agent`, `public_agent`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "agent",
            Role::PublicAgent => "public_agent",
        }
    }

    /// The role file DC/OS keeps under `/etc/mesosphere/roles/`.
    pub fn role_file(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "slave",
            Role::PublicAgent => "slave_public",
        }
    }

    /// Parses a DC/OS role file name.
    pub fn from_role_file(name: &str) -> Option<Role> {
        match name.trim() {
            "master" => Some(Role::Master),
            "slave" => Some(Role::Agent),
            "slave_public" => Some(Role::PublicAgent),
            _ => None,
        }
    }

    /// Whether this is one of the two agent roles.
    pub fn is_agent(self) -> bool {
        !matches!(self, Role::Master)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node's security mode (DC/OS Enterprise), from `security` in
/// `/opt/mesosphere/etc/bootstrap-config.json` (facts §8.1). Open-source DC/OS has no such key
/// and is read as `Disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// No TLS or authentication enforced by the components (and open-source DC/OS).
    #[default]
    Disabled,
    /// HTTP and HTTPS; Admin Router still authenticates.
    Permissive,
    /// HTTPS only, authentication everywhere.
    Strict,
}

impl Security {
    /// The mode a `security` value names; anything unknown is taken as the strictest.
    pub fn from_mode(mode: &str) -> Security {
        match mode.trim() {
            "disabled" | "" => Security::Disabled,
            "permissive" => Security::Permissive,
            _ => Security::Strict,
        }
    }

    /// The word DC/OS uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Disabled => "disabled",
            Security::Permissive => "permissive",
            Security::Strict => "strict",
        }
    }
}

impl std::fmt::Display for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The security modes of a cluster's nodes in one line: `permissive (every node)`, or the nodes
/// of each mode when they differ (mid-way through a permissive -> strict upgrade). `None` when
/// no node reported one.
pub fn security_summary(modes: &std::collections::BTreeMap<String, Security>) -> Option<String> {
    let mut by_mode: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (node, m) in modes {
        by_mode.entry(m.as_str()).or_default().push(node);
    }
    match by_mode.len() {
        0 => None,
        1 => by_mode.keys().next().map(|m| format!("{m} (every node)")),
        _ => Some(
            by_mode
                .iter()
                .map(|(m, nodes)| format!("{m}: {}", nodes.join(", ")))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mode_is_named_once_and_mixed_modes_name_their_nodes() {
        let mut m = std::collections::BTreeMap::new();
        assert_eq!(security_summary(&m), None);
        m.insert("m1".to_string(), Security::Permissive);
        m.insert("a1".to_string(), Security::Permissive);
        assert_eq!(
            security_summary(&m).as_deref(),
            Some("permissive (every node)")
        );
        m.insert("m1".to_string(), Security::Strict);
        assert_eq!(
            security_summary(&m).as_deref(),
            Some("permissive: a1; strict: m1")
        );
    }
}
