//! The guards' judgement, pure: a probe against the reference, the previous probe and the
//! baseline, with the reasons a guard trips.

use super::{Baseline, Sample, TASK_METRICS};
use crate::playbook::model::Guards;

/// What the guards concluded from a probe (pure: see [`judge`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The reference to store (the old one, or the probe when re-based).
    pub reference: Sample,
    /// Why the reference was re-based, if it was.
    pub rebased: Option<String>,
    /// Why the guard trips (one line per finding), empty when all is well.
    pub trips: Vec<String>,
}

/// Judges a probe against the reference, the previous probe and the baseline.
///
/// `node` is the step's node (its own restart is expected), `agent` whether it is an agent
/// (its attributes are compared with `baseline`'s).
pub fn judge(
    g: &Guards,
    node: &str,
    agent: bool,
    baseline: Option<&Baseline>,
    reference: &Sample,
    previous: &Sample,
    now: &Sample,
) -> Verdict {
    let mut trips = Vec::new();
    // Task counters: re-base when the leader changed or a counter went down (metrics reset).
    let decreased = TASK_METRICS.iter().find(|k| {
        now.counters.get(**k).copied().unwrap_or(0.0)
            < reference.counters.get(**k).copied().unwrap_or(0.0)
    });
    let rebased = if now.leader != reference.leader {
        Some(format!(
            "the Mesos leader changed from {} to {} (its metrics start again): the task counters are re-based",
            reference.leader, now.leader
        ))
    } else {
        decreased.map(|k| {
            format!(
                "{k} went down on leader {} ({} -> {}): the task counters are re-based",
                now.leader,
                reference.counters.get(*k).copied().unwrap_or(0.0),
                now.counters.get(*k).copied().unwrap_or(0.0)
            )
        })
    };
    let reference = if rebased.is_some() {
        now.clone()
    } else {
        reference.clone()
    };
    let secs = (now.at_ms.saturating_sub(reference.at_ms) as f64 / 1000.0).max(1.0);
    for k in TASK_METRICS {
        let before = reference.counters.get(k).copied().unwrap_or(0.0);
        let after = now.counters.get(k).copied().unwrap_or(0.0);
        let new = after - before;
        if new < g.min_new_tasks as f64 || new <= 0.0 {
            continue;
        }
        let rate = new / (secs / 60.0);
        let base = baseline
            .and_then(|b| b.rate_per_min.get(k))
            .copied()
            .unwrap_or(0.0);
        if rate - base > g.task_rate_above_baseline_per_min {
            trips.push(format!(
                "{k} rose from {before} to {after} on leader {} ({new} new in {secs:.0} s = {rate:.1}/min; baseline {base:.1}/min, allowed {:.1}/min above it)",
                now.leader, g.task_rate_above_baseline_per_min
            ));
        }
    }
    // Flapping masters: restarted since the previous probe although not being upgraded.
    let elapsed = now.at_ms.saturating_sub(previous.at_ms) as f64 / 1000.0;
    for (addr, up) in &now.masters_uptime_secs {
        if addr == node {
            continue;
        }
        if *up + g.master_restart_slack_secs < elapsed {
            let before = previous
                .masters_uptime_secs
                .get(addr)
                .map(|u| format!("{u}"))
                .unwrap_or_else(|| "nothing".into());
            trips.push(format!(
                "master {addr} is flapping: master/uptime_secs = {up} although it was not being upgraded (the previous probe {elapsed:.0} s earlier saw {before})"
            ));
        }
    }
    // Agent attributes.
    if agent && g.agent_attributes_unchanged {
        let before = baseline.and_then(|b| b.sample.agent_attributes.get(node));
        let after = now.agent_attributes.get(node);
        if let (Some(b), Some(a)) = (before, after) {
            if a != b {
                trips.push(format!("agent {node}: its Mesos attributes changed during the upgrade: before {b}, after {a}"));
            }
        }
    }
    Verdict {
        reference,
        rebased,
        trips,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn s(at_s: u64, leader: &str, failed: f64, uptimes: &[(&str, f64)]) -> Sample {
        let mut counters = BTreeMap::new();
        for k in TASK_METRICS {
            counters.insert(k.to_string(), 0.0);
        }
        counters.insert("master/tasks_failed".into(), failed);
        Sample {
            at_ms: at_s * 1000,
            leader: leader.into(),
            leader_uptime_secs: 100.0,
            counters,
            masters_uptime_secs: uptimes.iter().map(|(a, u)| (a.to_string(), *u)).collect(),
            agent_attributes: BTreeMap::new(),
        }
    }

    #[test]
    fn a_rising_failure_rate_trips_and_names_the_metric_and_numbers() {
        let g = Guards::default();
        let r = s(0, "m1", 2.0, &[("m1", 100.0)]);
        let now = s(30, "m1", 12.0, &[("m1", 130.0)]);
        let v = judge(&g, "a1", true, None, &r, &r, &now);
        assert_eq!(v.trips.len(), 1, "{:?}", v.trips);
        assert!(
            v.trips[0].contains("master/tasks_failed rose from 2 to 12"),
            "{}",
            v.trips[0]
        );
    }

    #[test]
    fn a_few_failures_or_the_baseline_rate_do_not_trip() {
        let g = Guards::default();
        let r = s(0, "m1", 2.0, &[]);
        let v = judge(&g, "a1", true, None, &r, &r, &s(1, "m1", 4.0, &[]));
        assert!(v.trips.is_empty());
        let mut rate = BTreeMap::new();
        rate.insert("master/tasks_failed".to_string(), 60.0);
        let b = Baseline {
            sample: r.clone(),
            rate_per_min: rate,
        };
        let v = judge(&g, "a1", true, Some(&b), &r, &r, &s(60, "m1", 62.0, &[]));
        assert!(v.trips.is_empty(), "{:?}", v.trips);
    }

    #[test]
    fn a_new_leader_or_a_reset_counter_rebases() {
        let g = Guards::default();
        let r = s(0, "m1", 50.0, &[]);
        let v = judge(&g, "m1", false, None, &r, &r, &s(10, "m2", 0.0, &[]));
        assert!(v.rebased.is_some() && v.trips.is_empty());
        assert_eq!(v.reference.leader, "m2");
        let v = judge(&g, "m1", false, None, &r, &r, &s(10, "m1", 1.0, &[]));
        assert!(v.rebased.unwrap().contains("went down"));
    }

    #[test]
    fn a_master_restarting_while_not_upgraded_is_flapping() {
        let g = Guards::default();
        let prev = s(0, "m1", 0.0, &[("m1", 100.0), ("m2", 100.0)]);
        let now = s(20, "m1", 0.0, &[("m1", 120.0), ("m2", 0.4)]);
        let v = judge(&g, "a1", true, None, &prev, &prev, &now);
        assert!(
            v.trips.iter().any(|t| t.contains("master m2 is flapping")),
            "{:?}",
            v.trips
        );
        // The step's own master restarts: expected.
        let v = judge(&g, "m2", false, None, &prev, &prev, &now);
        assert!(v.trips.is_empty());
    }

    #[test]
    fn changed_agent_attributes_trip() {
        let g = Guards::default();
        let mut b = s(0, "m1", 0.0, &[]);
        b.agent_attributes
            .insert("a1".into(), serde_json::json!({"public_ip": "true"}));
        let base = Baseline {
            sample: b.clone(),
            rate_per_min: BTreeMap::new(),
        };
        let mut now = s(10, "m1", 0.0, &[]);
        now.agent_attributes
            .insert("a1".into(), serde_json::json!({}));
        let v = judge(&g, "a1", true, Some(&base), &b, &b, &now);
        assert!(
            v.trips.iter().any(|t| t.contains("attributes changed")),
            "{:?}",
            v.trips
        );
    }
}
