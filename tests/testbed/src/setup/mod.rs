//! `up`, `down`, `fault` and `report`: everything the CLI does outside the daemon.

mod fault;
mod ids;
mod inventory;
mod node_fs;
mod pki;
mod process;
mod report;
mod ssh;
mod up;

use anyhow::{Context, Result};
pub use fault::*;
pub use ids::*;
use inventory::*;
use node_fs::*;
use pki::*;
pub use process::*;
pub use report::*;
pub use ssh::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
pub use up::*;

/// Options of `dcos-sim up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The testbed directory (created if missing).
    pub dir: PathBuf,
    /// Number of masters.
    pub masters: usize,
    /// Number of private agents.
    pub agents: usize,
    /// Number of public agents.
    pub public_agents: usize,
    /// Starting version.
    pub version: String,
    /// Target version of the upgrade script.
    pub upgrade_to: String,
    /// Activation delay.
    pub activation_ms: u64,
    /// Re-registration window.
    pub reregister_window_ms: u64,
    /// Marathon deployment duration.
    pub deploy_ms: u64,
    /// How long `dcos-check-runner` takes beyond its reads (`SimDef::check_ms`).
    pub check_ms: u64,
    /// `127.A.B`, or random when `None`.
    pub subnet: Option<String>,
    /// Nodes that start at `upgrade_to`.
    pub at_target: Vec<String>,
    /// Run a real ZooKeeper server on every master (`--zookeeper real`).
    pub real_zookeeper: bool,
    /// How the nodes are networked (`--network`).
    pub network: crate::model::Network,
    /// The security mode (`--security`).
    pub security: crate::model::Security,
    /// The mode the upgrade script switches nodes to (`--upgrade-security`).
    pub upgrade_security: crate::model::Security,
    /// Add an SSH bastion (`--bastion`; needs the firewalled network).
    pub bastion: bool,
    /// Lifetime of issued tokens (`--token-ttl-secs`).
    pub token_ttl_secs: u64,
    /// The nodes' SSH login user (`--ssh-user`), else the user running `up`.
    pub ssh_user: Option<String>,
    /// Fault-domain zones handed to the agents in turn.
    pub zones: Vec<String>,
    /// Each master's ZooKeeper snapshot size in MB (`--zk-data-mb`).
    pub zk_data_mb: u64,
    /// CockroachDB's catch-up after a master is back (`--crdb-catch-up-ms`).
    pub crdb_catch_up_ms: u64,
    /// How long the services have been up at the start, in seconds (`up --up-secs`).
    pub up_secs: u64,
}

pub(super) fn write(path: &Path, content: &str) -> Result<()> {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p)?;
    }
    fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

pub(super) fn write_exec(path: &Path, content: &str) -> Result<()> {
    write(path, content)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

pub(super) fn current_user() -> String {
    // SAFETY: getpwuid returns a pointer to static storage or null.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if !pw.is_null() {
            return std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .to_string();
        }
    }
    std::env::var("USER").unwrap_or_else(|_| "root".into())
}

pub(super) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
