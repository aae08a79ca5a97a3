//! The inventory as written: the serde shapes `Inventory::parse` reads, with spans for errors.

use super::{Become, FrameworkUpgrade};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInventory {
    pub(super) cluster: RawCluster,
    #[serde(default)]
    pub(super) ssh: RawSsh,
    pub(super) bootstrap: RawBootstrap,
    pub(super) masters: Spanned<Vec<RawNode>>,
    pub(super) agents: Option<Vec<RawNode>>,
    #[serde(default)]
    pub(super) timeouts: RawTimeouts,
    #[serde(default)]
    pub(super) frameworks: Vec<FrameworkUpgrade>,
    #[serde(default)]
    pub(super) lock: RawLock,
    #[serde(default)]
    pub(super) http: RawHttp,
    #[serde(default)]
    pub(super) release_notes: Option<RawReleaseNotes>,
    #[serde(default)]
    pub(super) auth: Option<Spanned<RawAuth>>,
    /// `[[gates]]`: the operator's own gates between nodes.
    #[serde(default)]
    pub(super) gates: Vec<crate::playbook::gates::RawGate>,
    /// `pause_after = [...]`: approvals after named nodes.
    #[serde(default)]
    pub(super) pause_after: Option<Vec<Spanned<String>>>,
}

/// `[auth]`: how to log in at Admin Router.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) uid: String,
    pub(super) private_key_file: Option<String>,
    pub(super) password_env: Option<String>,
}

/// `[release_notes]`: release notes to show instead of the shipped ones.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReleaseNotes {
    pub(super) file: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) ca_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    pub(super) name: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSsh {
    pub(super) user: Option<Spanned<String>>,
    pub(super) port: Option<Spanned<u16>>,
    pub(super) identity_file: Option<String>,
    pub(super) known_hosts: Option<String>,
    pub(super) jump_host: Option<Spanned<String>>,
    #[serde(rename = "become")]
    pub(super) become_: Option<Become>,
    pub(super) connect_timeout_secs: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBootstrap {
    pub(super) upgrade_script_url: Spanned<String>,
    pub(super) rollback_script_url: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub(super) address: Spanned<String>,
    pub(super) name: Option<Spanned<String>>,
    pub(super) ssh_port: Option<Spanned<u16>>,
    pub(super) root: Option<Spanned<String>>,
    pub(super) public: Option<bool>,
}

/// `[timeouts]` as written, with spans for range errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTimeouts {
    pub(super) node_script_secs: Option<Spanned<u64>>,
    pub(super) master_gate_secs: Option<Spanned<u64>>,
    pub(super) agent_gate_secs: Option<Spanned<u64>>,
    pub(super) backup_secs: Option<Spanned<u64>>,
    pub(super) deployment_secs: Option<Spanned<u64>>,
    pub(super) poll_ms: Option<Spanned<u64>>,
}

/// `[lock]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLock {
    pub(super) stale_secs: Option<Spanned<u64>>,
}
