//! `dcos-sim report`: the daemon's report (or the one saved by `down`) and its table.

use crate::http;
use crate::model::{Report, SimDef};
use anyhow::{Context, Result};
use std::fs;
use std::path::Path;

/// `dcos-sim report`: asks the daemon, or reads the report saved by `down`.
pub fn report(dir: &Path) -> Result<Report> {
    let dir = fs::canonicalize(dir)?;
    let def = SimDef::load(&dir)?;
    match http::get(&def.ctl_addr(), "/report") {
        Ok(r) if r.status == 200 => Ok(serde_json::from_str(&r.body)?),
        _ => {
            let saved = fs::read_to_string(dir.join("report.json"))
                .context("the testbed daemon is not running and no saved report.json exists")?;
            Ok(serde_json::from_str(&saved)?)
        }
    }
}

/// A short human-readable table of a report.
pub fn report_table(r: &Report) -> String {
    let mut s = format!(
        "{:<6} {:<14} {:<13} {:<10} {:>8} {:>8}\n",
        "NODE", "ADDRESS", "ROLE", "VERSION", "ATTEMPTS", "SERVICES"
    );
    for n in &r.nodes {
        s.push_str(&format!(
            "{:<6} {:<14} {:<13} {:<10} {:>8} {:>8}\n",
            n.name,
            n.address,
            n.role,
            n.version,
            n.upgrade_attempts,
            if n.services_up { "up" } else { "down" }
        ));
    }
    s.push_str(&format!(
        "leader: {}  quorum_loss_events: {}  max_masters_down: {}  max_agents_down: {}  tasks_lost: {}\n",
        r.leader.as_deref().unwrap_or("none"),
        r.quorum_loss_events,
        r.max_masters_down,
        r.max_agents_down,
        r.tasks_lost
    ));
    s.push_str(&format!(
        "plaintext_token_requests: {}  unauthorized_requests: {}\n",
        r.plaintext_token_requests, r.unauthorized_requests
    ));
    for u in &r.upgrade_order {
        s.push_str(&format!(
            "upgrade: {} {} -> {} leader={} ok={}\n",
            u.node, u.from, u.to, u.was_leader, u.ok
        ));
    }
    for a in &r.apps {
        s.push_str(&format!(
            "app {}: {} x{} healthy={} version={}\n",
            a.id, a.image, a.instances, a.tasks_healthy, a.version
        ));
    }
    s
}
