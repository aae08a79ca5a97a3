//! `dcos-sim fault`: setting and clearing faults (and stopping or starting a node's sshd for `ssh-
//! down`).

use super::*;
use crate::http;
use crate::model::SimDef;
use anyhow::{anyhow, bail, Context, Result};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// The fault kinds `dcos-sim fault` accepts.
pub const FAULT_KINDS: &[&str] = &[
    "upgrade-fails",
    "hang",
    "never-healthy",
    "slow-healthy",
    "ssh-down",
    "http-garbage",
    "disk-full",
    "tasks-failing",
    "flapping",
    "stale-redirect",
    "deployment-hangs",
    // The documented procedure's gates (issue 11): see the testbed README.
    "marathon-migration-slow",
    "marathon-cannot-start",
    "check-fails",
    "agent-new-id",
    "custom-attributes",
    // Every node found (issue 11): an agent the leader counts as unreachable but cannot name.
    "unreachable",
    // pkgpanda's download directory ($TMPDIR, /tmp) is full while the rest has room.
    "tmp-full",
];

/// `dcos-sim fault`: sets (or clears) a fault on a node.
pub fn fault(dir: &Path, node: &str, kind: &str, clear: bool) -> Result<()> {
    if !FAULT_KINDS.contains(&kind) {
        bail!(
            "unknown fault kind {kind:?}; known: {}",
            FAULT_KINDS.join(", ")
        );
    }
    let dir = fs::canonicalize(dir)?;
    let def = SimDef::load(&dir)?;
    let n = def
        .node(node)
        .ok_or_else(|| anyhow!("no node named {node}"))?
        .clone();
    let path = format!(
        "/node/{node}/fault/{kind}{}",
        if clear { "/clear" } else { "" }
    );
    let r =
        http::post(&def.ctl_addr(), &path, "").context("the testbed daemon is not reachable")?;
    if r.status != 200 {
        bail!("daemon refused the fault: {} {}", r.status, r.body);
    }
    if kind == "ssh-down" {
        let pidf = dir.join("pids").join(format!("sshd-{node}.pid"));
        if clear {
            if !read_pid(&pidf).map(pid_alive).unwrap_or(false) {
                start_sshd(&def, &n)?;
                if !wait_sshd(&def, &n, Instant::now() + Duration::from_secs(5)) {
                    bail!("sshd of {node} did not come back");
                }
            }
        } else {
            if let Some(pid) = read_pid(&pidf) {
                // Established connections go down too: kill the per-connection sshd children
                // (a node whose sshd dies mid-command), then the listener.
                for child in children_of(pid as u32) {
                    kill_pid(child as i32, false);
                }
                stop_pid(pid);
            }
            let _ = fs::remove_file(&pidf);
        }
    }
    Ok(())
}
