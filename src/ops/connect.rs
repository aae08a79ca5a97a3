//! Loading the inputs and connecting the edges: the inventory and playbook files, the SSH and
//! HTTP transports, and the [`Cluster`] seen through the observe door.

use super::OpsError;
use crate::cluster::Cluster;
use crate::door::{HostKeyPolicy, HttpOptions, SshOptions, Transport};
use crate::playbook::{Become, Inventory, Playbook};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The files a command reads.
#[derive(Debug, Clone)]
pub struct InputFiles {
    /// The cluster inventory (TOML).
    pub inventory: PathBuf,
    /// A playbook other than the built-in one.
    pub playbook: Option<PathBuf>,
    /// Trust host keys seen for the first time (a changed key is always refused).
    pub trust_new_host_keys: bool,
}

/// The loaded inputs: inventory, playbook, and the playbook's text when not the built-in one.
pub struct Inputs {
    /// The inventory.
    pub inventory: Inventory,
    /// The playbook.
    pub playbook: Playbook,
    /// The playbook file's text (kept with a run), None for the built-in playbook.
    pub playbook_text: Option<String>,
}

/// Reads and validates the inventory and the playbook (bad input: exit 2 with file and line).
pub fn load(files: &InputFiles) -> Result<Inputs, OpsError> {
    let inventory = Inventory::load(&files.inventory).map_err(OpsError::bad_input)?;
    let playbook = Playbook::load(files.playbook.as_deref()).map_err(OpsError::bad_input)?;
    let playbook_text = match &files.playbook {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| OpsError::BadInput(format!("{}: {e}", p.display())))?,
        ),
        None => None,
    };
    Ok(Inputs {
        inventory,
        playbook,
        playbook_text,
    })
}

/// The secrets of this process (the DC/OS token), redacted from everything recorded.
pub fn secrets() -> Vec<String> {
    let s: Vec<String> = ["DCOS_ACS_TOKEN", "DCOS_UPGRADE_TOKEN"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .filter(|v| !v.is_empty())
        .collect();
    for x in &s {
        crate::secrets::register(x);
    }
    s
}

/// The token of the DC/OS CLI's attached cluster (`~/.dcos/clusters/<id>/dcos.toml`,
/// `[core] dcos_acs_token`, facts §8.1), when there is one.
fn dcos_cli_token() -> Option<String> {
    let home = std::env::var_os("DCOS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".dcos")))?;
    let clusters = std::fs::read_dir(home.join("clusters")).ok()?;
    for c in clusters.flatten() {
        let dir = c.path();
        if !dir.join("attached").exists() {
            continue;
        }
        let src = crate::playbook::read_bounded(&dir.join("dcos.toml"), 1 << 20).ok()?;
        let v: toml::Value = toml::from_str(&String::from_utf8_lossy(&src)).ok()?;
        let t = v.get("core")?.get("dcos_acs_token")?.as_str()?.to_string();
        crate::secrets::register(&t);
        return Some(t);
    }
    None
}

/// The transports and the cluster behind its observe door.
pub fn connect(
    inventory: Inventory,
    playbook: Playbook,
    trust_new: bool,
) -> Result<(Cluster, Arc<Transport>), OpsError> {
    let timeouts = playbook.timeouts.with_overrides(&inventory.timeouts);
    let ssh = SshOptions {
        user: inventory.ssh.user.clone(),
        identity_file: inventory.ssh.identity_file.clone(),
        known_hosts: inventory.ssh.known_hosts.clone(),
        jump_host: inventory.ssh.jump_host.clone(),
        connect_timeout: Duration::from_secs(inventory.ssh.connect_timeout_secs),
        sudo: inventory.ssh.become_ == Become::Sudo,
        host_keys: if trust_new {
            HostKeyPolicy::TrustNew
        } else {
            HostKeyPolicy::Strict
        },
        max_parallel_connects: 8,
    };
    let http = HttpOptions {
        timeout: Duration::from_secs(playbook.timeouts.http_secs),
        ca_file: inventory
            .http
            .ca_file
            .clone()
            .or_else(|| std::env::var_os("DCOS_UPGRADE_CA_FILE").map(PathBuf::from)),
        token: secrets().into_iter().next().or_else(dcos_cli_token),
    };
    let transport = Arc::new(Transport::new(ssh, &http).map_err(|e| match e {
        crate::door::TransportError::Http(p) => OpsError::BadInput(p.to_string()),
        other => OpsError::Failed(other.to_string()),
    })?);
    let credentials = match &inventory.auth {
        None => None,
        Some(a) => Some(
            match (&a.private_key_file, &a.password_env) {
                (Some(k), _) => crate::door::Credentials::service_account(&a.uid, k),
                (None, Some(v)) => crate::door::Credentials::user(&a.uid, v),
                (None, None) => {
                    Err("[auth] names neither private_key_file nor password_env".into())
                }
            }
            .map_err(OpsError::BadInput)?,
        ),
    };
    let cluster = Cluster {
        credentials,
        agents: inventory.agents.clone().unwrap_or_default(),
        inventory,
        playbook,
        timeouts,
        observe: transport.clone(),
        security: Default::default(),
        detected_ips: Default::default(),
        seen_leader: Default::default(),
    };
    Ok((cluster, transport))
}
