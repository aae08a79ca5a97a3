//! Checks of the Mesos masters: count, reachability, registrar, leadership, restarts, latency
//! between them and the teardown endpoint's authentication.

use super::{result, CheckResult, MasterObs, Observed, Severity};

/// Round-trip time between masters above this is a warning (ZooKeeper and the replicated log
/// are latency sensitive).
pub const RTT_WARN_MS: f64 = 50.0;

pub(super) fn check_master_count(o: &Observed) -> Vec<CheckResult> {
    let n = o.facts.masters.len();
    vec![
        result(
            "masters.odd_count",
            Severity::Warning,
            n % 2 == 1,
            format!("{n} masters"),
            "run an odd number of masters (3, or 5 in production): an even ensemble tolerates no more failures than the odd one below it",
        ),
        result(
            "masters.recommended_count",
            Severity::Info,
            n >= 5,
            format!("{n} masters"),
            "5 masters are recommended in production (a 3-master cluster survives only one master failure)",
        ),
    ]
}

fn metric_err(m: &MasterObs) -> Option<String> {
    m.first
        .as_ref()
        .err()
        .map(|e| format!("master {}: {e}", m.address))
}

pub(super) fn check_masters_reachable(o: &Observed) -> Vec<CheckResult> {
    let bad: Vec<String> = o.masters.iter().filter_map(metric_err).collect();
    vec![result(
        "masters.reachable",
        Severity::Blocker,
        bad.is_empty(),
        if bad.is_empty() {
            format!("all {} masters answer /metrics/snapshot", o.masters.len())
        } else {
            bad.join("; ")
        },
        "every master must be up and answer on :5050 before an upgrade",
    )]
}

pub(super) fn check_registrar(o: &Observed) -> Vec<CheckResult> {
    let mut bad = Vec::new();
    for m in &o.masters {
        if let Ok(x) = &m.first {
            match x.get("registrar/log/recovered") {
                Some(1.0) => {}
                Some(v) => bad.push(format!(
                    "registrar/log/recovered = {v} on master {}",
                    m.address
                )),
                None => bad.push(format!(
                    "master {} reports no registrar/log/recovered",
                    m.address
                )),
            }
        }
    }
    vec![result(
        "masters.registrar_recovered",
        Severity::Blocker,
        bad.is_empty(),
        if bad.is_empty() {
            "registrar/log/recovered = 1 on every master answering".to_string()
        } else {
            bad.join("; ")
        },
        "wait until every master has recovered its replicated log (registrar/log/recovered = 1)",
    )]
}

pub(super) fn check_one_leader(o: &Observed) -> Vec<CheckResult> {
    let leaders: Vec<&str> = o
        .masters
        .iter()
        .filter(|m| m.first.as_ref().ok().and_then(|x| x.get("master/elected")) == Some(1.0))
        .map(|m| m.address.as_str())
        .collect();
    vec![result(
        "masters.one_leader",
        Severity::Blocker,
        leaders.len() == 1,
        format!(
            "{} master(s) report master/elected = 1: {}",
            leaders.len(),
            leaders.join(", ")
        ),
        "exactly one Mesos master must lead; investigate ZooKeeper and the masters' logs",
    )]
}

pub(super) fn check_flapping(o: &Observed) -> Vec<CheckResult> {
    let mut bad = Vec::new();
    // No second probe: every master's first showed a minute of uptime or more.
    if !o.masters.is_empty() && o.masters.iter().all(|m| m.second.is_none()) {
        return vec![result(
            "masters.not_flapping",
            Severity::Blocker,
            true,
            format!(
                "every master has been up for at least {:.0} s (master/uptime_secs): none restarted in the last minute",
                super::observe::FLAP_UPTIME_SECS
            ),
            "",
        )];
    }
    for m in &o.masters {
        let Some(second) = &m.second else { continue };
        if let (Ok(a), Ok(b)) = (&m.first, second) {
            if let (Some(u1), Some(u2)) = (a.get("master/uptime_secs"), b.get("master/uptime_secs"))
            {
                // Up the whole time, uptime grows by the time that passed between the two
                // probes; a restart in between leaves it lower. Allowed: half a second of
                // jitter plus how far off the measured time can be.
                let elapsed = m.elapsed_secs;
                if u2 < u1 + elapsed - 0.5 - m.uncertainty_secs {
                    bad.push(format!(
                        "master {} restarted between two probes {elapsed:.1} s apart (master/uptime_secs {u1:.1} -> {u2:.1})",
                        m.address
                    ));
                }
            }
        } else if let (Ok(_), Err(e)) = (&m.first, second) {
            bad.push(format!(
                "master {} stopped answering between two probes: {e}",
                m.address
            ));
        }
    }
    vec![result(
        "masters.not_flapping",
        Severity::Blocker,
        bad.is_empty(),
        if bad.is_empty() {
            "no master restarted between two probes".to_string()
        } else {
            bad.join("; ")
        },
        "a master is restarting in a loop: read its journal (journalctl -u dcos-mesos-master) and fix it before upgrading",
    )]
}

pub(super) fn check_rtt(o: &Observed) -> Vec<CheckResult> {
    let mut slow = Vec::new();
    let mut worst: f64 = 0.0;
    for n in o
        .nodes
        .iter()
        .filter(|n| n.role == crate::model::Role::Master)
    {
        if let Ok(s) = &n.shell {
            for (to, ms) in &s.rtt_ms {
                match ms {
                    Some(ms) => {
                        worst = worst.max(*ms);
                        if *ms > RTT_WARN_MS {
                            slow.push(format!("{} -> {to}: {ms:.1} ms", n.address));
                        }
                    }
                    None => slow.push(format!("{} cannot reach {to}:5050", n.address)),
                }
            }
        }
    }
    vec![result(
        "masters.rtt",
        Severity::Warning,
        slow.is_empty(),
        if slow.is_empty() {
            format!("round trip between masters at most {worst:.1} ms")
        } else {
            slow.join("; ")
        },
        "keep masters in one low-latency location; ZooKeeper and the Mesos replicated log suffer over high-latency links",
    )]
}

pub(super) fn check_teardown(o: &Observed) -> Vec<CheckResult> {
    let (ok, found) = match &o.teardown {
        Ok(true) => (
            true,
            "authenticate_http_readwrite = true: the master's write endpoints (e.g. /master/teardown) require authentication".to_string(),
        ),
        Ok(false) => (
            false,
            "authenticate_http_readwrite = false: anyone who reaches :5050 can POST /master/teardown and remove a framework".to_string(),
        ),
        Err(e) => (false, format!("could not read the master's flags: {e}")),
    };
    vec![result(
        "masters.teardown_auth",
        Severity::Warning,
        ok,
        found,
        "secure the master's HTTP API (authentication, or firewall :5050) against accidental framework removal",
    )]
}
