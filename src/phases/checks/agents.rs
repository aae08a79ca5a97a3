//! Checks of the Mesos agents: registered and active, attributes recorded, resource headroom.

use super::{result, CheckResult, Observed, Severity};

/// An agent advertising at least this share of its host's CPUs or memory leaves no headroom.
/// (Kept for callers; the check itself now looks at the memory left, see `MIN_FREE_MEM_MB`.)
pub const HEADROOM_RATIO: f64 = 0.95;

/// Memory an agent must leave to the OS and DC/OS's own services. A Mesos agent's default
/// resources (what DC/OS configures unless `MESOS_RESOURCES` is set) advertise every CPU (CPU is
/// shared by weight, so "all CPUs advertised" is the normal state, not a lack of headroom) and
/// the host's memory minus 1 GB (half of it below 2 GB) (apache/mesos
/// `src/slave/containerizer/containerizer.cpp`, `Containerizer::resources`; not in the facts
/// file): less than half of that reserve left means an operator advertised the node's memory.
pub const MIN_FREE_MEM_MB: f64 = 512.0;

pub(super) fn check_agents(o: &Observed) -> Vec<CheckResult> {
    let mut bad = Vec::new();
    for (addr, m) in &o.agent_metrics {
        match m {
            Ok(x) => match x.get("slave/registered") {
                Some(1.0) => {}
                Some(v) => bad.push(format!("slave/registered = {v} on agent {addr}")),
                None => bad.push(format!("agent {addr} reports no slave/registered")),
            },
            Err(e) => bad.push(format!("agent {addr}: {e}")),
        }
    }
    if let Ok(slaves) = &o.slaves {
        for s in slaves.iter().filter(|s| !s.active) {
            bad.push(format!("agent {} is not active at the master", s.hostname));
        }
    }
    vec![result(
        "agents.registered",
        Severity::Blocker,
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} agents registered and active", o.agent_metrics.len())
        } else {
            bad.join("; ")
        },
        "bring every agent back (dcos-mesos-slave running, slave/registered = 1, active) before upgrading",
    )]
}

pub(super) fn check_attributes(o: &Observed) -> Vec<CheckResult> {
    let (ok, found, data) = match &o.slaves {
        Ok(s) => {
            let map: serde_json::Map<String, serde_json::Value> = s
                .iter()
                .map(|a| {
                    (
                        a.hostname.clone(),
                        serde_json::to_value(&a.attributes).unwrap_or_default(),
                    )
                })
                .collect();
            (
                true,
                format!(
                    "attributes of {} agents recorded (compared after each agent's upgrade)",
                    s.len()
                ),
                Some(serde_json::Value::Object(map)),
            )
        }
        Err(e) => (
            false,
            format!("cannot list agents at the leader: {e}"),
            None,
        ),
    };
    let mut r = result(
        "agents.attributes",
        Severity::Info,
        ok,
        found,
        "agent attributes could not be recorded; compare them by hand after the upgrade",
    );
    r.data = data;
    vec![r]
}

pub(super) fn check_headroom(o: &Observed) -> Vec<CheckResult> {
    let Ok(slaves) = &o.slaves else {
        return Vec::new();
    };
    let mut full = Vec::new();
    for s in slaves {
        let Some((_, Ok(m))) = o.agent_metrics.iter().find(|(a, _)| *a == s.hostname) else {
            continue;
        };
        let adv = |k: &str| s.resources.get(k).and_then(|v| v.as_f64());
        // More CPUs than the host has would be oversubscription configured by hand.
        if let (Some(a), Some(h)) = (adv("cpus"), m.get("system/cpus_total")) {
            if h > 0.0 && a > h {
                full.push(format!("agent {} advertises {a} of {h} CPUs", s.hostname));
            }
        }
        if let (Some(a), Some(h)) = (adv("mem"), m.get("system/mem_total_bytes")) {
            let host_mb = h / (1024.0 * 1024.0);
            if host_mb > 0.0 && host_mb - a < MIN_FREE_MEM_MB {
                full.push(format!(
                    "agent {} advertises {a:.0} of {host_mb:.0} MB memory",
                    s.hostname
                ));
            }
        }
    }
    vec![result(
        "agents.headroom",
        Severity::Warning,
        full.is_empty(),
        if full.is_empty() {
            "every agent leaves CPU and memory to services outside Mesos".to_string()
        } else {
            full.join("; ")
        },
        "reserve resources for Docker, DC/OS services and the OS (MESOS_RESOURCES / mesos-resources) so an upgrade does not starve them",
    )]
}
