//! Rollout guards: while masters and agents are upgraded, the run watches the cluster and stops
//! when it sees trouble the per-node gates cannot see.
//!
//! - **Task failures**: the leading master's `master/tasks_failed`, `master/tasks_lost` and
//!   `master/tasks_killed`. The baseline is taken at precheck (stored in the precheck step's
//!   output under `guard_baseline`), with the baseline *rate* = counter / leader uptime (Mesos
//!   counts since the leader was elected). After each node step the rate since the reference
//!   sample is compared with the baseline rate. The counters restart when the leader changes:
//!   a new leader or a counter that went down re-bases the reference on the current sample.
//! - **Flapping masters**: a master that is not the step's node whose `master/uptime_secs` is
//!   shorter than the time since the previous probe restarted in between.
//! - **Agent attributes**: an upgraded agent's Mesos attributes (`/slaves`) must equal those seen
//!   at precheck.
//!
//! The sample after a node step is taken once its node is back, beside the procedure's gates
//! after the node (after a master, from its health gate's last round), and again when those
//! gates took longer than [`SAMPLE_FRESH`].
//!
//! Every probe after a node step is saved in that step's output under `guard` (outputs are the
//! only state steps share), so a resumed run goes on from the last reference. A tripped guard
//! fails the step with a message starting with [`GUARD_PREFIX`]; when that step is retried
//! (`resume`, or "retry" at the prompt) the operator has looked, and the reference is re-based.

mod judge;

pub use judge::{judge, Verdict};

use super::StepCtx;
use crate::cluster::Cluster;
use crate::door::RemoteError;
use crate::machine::RunView;
use crate::model::Role;
use crate::probe::mesos;
use crate::probe::node::{NodeReads, Read};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Every guard failure message starts with this.
pub const GUARD_PREFIX: &str = "rollout guard";

/// Why the guards stopped the run after a node step (every message starts with
/// [`GUARD_PREFIX`]; a node that is not in the inventory is [`NodeError`](crate::action::NodeError)'s).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// The step's node is not in the inventory.
    #[error(transparent)]
    Node(#[from] crate::action::NodeError),
    /// The cluster could not be probed.
    #[error("{GUARD_PREFIX} after upgrading {node}: cannot probe the cluster: {error}")]
    Unprobed {
        /// The node just upgraded.
        node: String,
        /// Why not.
        error: String,
    },
    /// A guard tripped.
    #[error("{GUARD_PREFIX} tripped after upgrading {node} ({step}): {}", .trips.join("; "))]
    Tripped {
        /// The node just upgraded.
        node: String,
        /// The step.
        step: String,
        /// Each guard that tripped, with its metric and numbers.
        trips: Vec<String>,
    },
}

/// The task counters watched, as Mesos names them.
pub const TASK_METRICS: [&str; 3] = [
    "master/tasks_failed",
    "master/tasks_lost",
    "master/tasks_killed",
];

/// One look at the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When (Unix milliseconds).
    pub at_ms: u64,
    /// The leading master.
    pub leader: String,
    /// The leader's `master/uptime_secs`.
    pub leader_uptime_secs: f64,
    /// The watched counters on the leader ([`TASK_METRICS`] -> value).
    pub counters: BTreeMap<String, f64>,
    /// `master/uptime_secs` of every master that answered.
    pub masters_uptime_secs: BTreeMap<String, f64>,
    /// Mesos attributes of the agents that were asked about (address -> attributes).
    #[serde(default)]
    pub agent_attributes: BTreeMap<String, serde_json::Value>,
}

/// What is stored after a node step (`guard` in its output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// The sample rates are measured from (the baseline, or the last re-base).
    pub reference: Sample,
    /// This probe.
    pub probe: Sample,
}

/// The baseline stored with the precheck (`guard_baseline` in its output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The sample.
    pub sample: Sample,
    /// Baseline rate per metric (tasks per minute since the leader's election).
    pub rate_per_min: BTreeMap<String, f64>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Takes a sample: the leader's counters, every master's uptime, and (when `agents` is not
/// empty) those agents' attributes from the leader's `/slaves`.
pub async fn sample(c: &Cluster, agents: &[String]) -> Result<Sample, String> {
    // One round on every master at once, on the master itself: its redirect and its metrics,
    // which are both the leader lookup's input (`Cluster::leader_from`) and the sample's.
    sample_from(c, &MastersRound::read(c).await, agents).await
}

/// What a sample reads on every master (a round that read at least these can be sampled).
pub const SAMPLED: [Read; 2] = [Read::Redirect, Read::MasterMetrics];

/// One round of node-local reads on every master (inventory order) and when it ended: what a
/// sample is taken from.
#[derive(Debug, Clone)]
pub struct MastersRound {
    /// Each master's reads (at least [`SAMPLED`]).
    pub rounds: Vec<Result<NodeReads, RemoteError>>,
    /// When the round ended (Unix milliseconds): the sample's time.
    pub at_ms: u64,
    /// When the round ended, to tell how old it is.
    pub at: Instant,
}

impl MastersRound {
    /// A new round of [`SAMPLED`] on every master.
    pub async fn read(c: &Cluster) -> MastersRound {
        MastersRound::taken_now(crate::phases::gates::masters_round(c, &SAMPLED).await)
    }

    /// A round that has just ended.
    pub fn taken_now(rounds: Vec<Result<NodeReads, RemoteError>>) -> MastersRound {
        MastersRound {
            rounds,
            at_ms: now_ms(),
            at: Instant::now(),
        }
    }
}

/// A sample taken from a round of the masters that already happened (`round` read at least
/// [`SAMPLED`] on every master), and those `agents`' attributes read now.
pub async fn sample_from(
    c: &Cluster,
    round: &MastersRound,
    agents: &[String],
) -> Result<Sample, String> {
    use crate::probe::node;
    let masters = &c.inventory.masters;
    let rounds = &round.rounds;
    let leader = c
        .leader_from(rounds)
        .await
        .map_err(|e| format!("cannot find the Mesos leader: {e}"))?
        .ok_or("no Mesos leader is elected")?;
    let mut leader_metrics = None;
    let mut masters_uptime_secs = BTreeMap::new();
    for (n, r) in masters.iter().zip(rounds) {
        let m = r
            .as_ref()
            .map_err(|e| node::remote(e.clone()))
            .and_then(|r| r.answer(Read::MasterMetrics))
            .and_then(|(url, a)| mesos::parse_metrics(&url, &a));
        if n.address == leader {
            leader_metrics = Some(
                m.as_ref()
                    .map_err(|e| format!("leader {leader}: /metrics/snapshot: {e}"))?
                    .clone(),
            );
        }
        if let Some(up) = m.ok().and_then(|m| m.get("master/uptime_secs")) {
            masters_uptime_secs.insert(n.address.clone(), up);
        }
    }
    let m = leader_metrics
        .ok_or_else(|| format!("the leader {leader} is not a master of the inventory"))?;
    let mut counters = BTreeMap::new();
    for k in TASK_METRICS {
        counters.insert(k.to_string(), m.get(k).unwrap_or(0.0));
    }
    let leader_uptime_secs = m.get("master/uptime_secs").unwrap_or(0.0);
    let mut agent_attributes = BTreeMap::new();
    if !agents.is_empty() {
        let slaves = mesos::slaves(c)
            .await
            .map_err(|e| format!("/mesos/slaves: {e}"))?;
        for s in slaves.into_iter().filter(|s| agents.contains(&s.hostname)) {
            let attrs: BTreeMap<String, serde_json::Value> = s.attributes.into_iter().collect();
            agent_attributes.insert(s.hostname, serde_json::json!(attrs));
        }
    }
    Ok(Sample {
        at_ms: round.at_ms,
        leader,
        leader_uptime_secs,
        counters,
        masters_uptime_secs,
        agent_attributes,
    })
}

/// Adds the guard baseline to the precheck's output. A cluster that cannot be sampled does not
/// fail the precheck (its own checks judge health); the guards then take their reference at the
/// first node step and say so.
pub async fn with_baseline(ctx: &StepCtx<'_>, output: serde_json::Value) -> serde_json::Value {
    let c = ctx.cluster;
    if !c.playbook.guards.enabled {
        return output;
    }
    let agents: Vec<String> = c.agents.iter().map(|a| a.address.clone()).collect();
    let s = match sample(c, &agents).await {
        Ok(s) => s,
        Err(e) => {
            ctx.progress(format!(
                "rollout guards: no baseline taken at precheck ({e})"
            ));
            return output;
        }
    };
    let minutes = (s.leader_uptime_secs / 60.0).max(1.0 / 60.0);
    let rate_per_min = s
        .counters
        .iter()
        .map(|(k, v)| (k.clone(), v / minutes))
        .collect();
    let b = Baseline {
        sample: s,
        rate_per_min,
    };
    ctx.progress(format!(
        "rollout guards: baseline on leader {}: {}",
        b.sample.leader,
        describe_counters(&b.sample.counters)
    ));
    let mut out = match output {
        serde_json::Value::Object(o) => o,
        serde_json::Value::Null => serde_json::Map::new(),
        other => {
            let mut o = serde_json::Map::new();
            o.insert("precheck".into(), other);
            o
        }
    };
    out.insert("guard_baseline".into(), serde_json::json!(b));
    serde_json::Value::Object(out)
}

fn describe_counters(c: &BTreeMap<String, f64>) -> String {
    c.iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The baseline stored by the precheck, if any.
pub fn baseline(view: &RunView) -> Option<Baseline> {
    view.steps
        .iter()
        .filter_map(|s| s.output.get("guard_baseline"))
        .find_map(|v| serde_json::from_value(v.clone()).ok())
}

/// The most recent probe saved by a node step, if any. Every node step asks, and a run of
/// 10,000 agents saves as many probes: each probe's time is read in place, and only the
/// latest that decodes is decoded (not every probe of the run at every step).
pub fn latest_probe(view: &RunView) -> Option<Probe> {
    let at = |v: &serde_json::Value| v.get("probe")?.get("at_ms")?.as_u64();
    let decode = |v: &serde_json::Value| serde_json::from_value::<Probe>(v.clone()).ok();
    let saved = || view.steps.iter().filter_map(|s| s.output.get("guard"));
    // One pass for the latest (of two at the same time, the later step's), decoded alone.
    let mut latest: Option<(u64, &serde_json::Value)> = None;
    for v in saved() {
        if let Some(t) = at(v) {
            if latest.is_none_or(|(l, _)| t >= l) {
                latest = Some((t, v));
            }
        }
    }
    match latest.and_then(|(_, v)| decode(v)) {
        Some(p) => Some(p),
        // A latest probe that does not decode (a hand-edited state): the latest one that does.
        None => saved().filter_map(decode).max_by_key(|p| p.probe.at_ms),
    }
}

/// How old the guards' sample may be when a node step's gates end. A sample taken from the
/// health gate's last round of the masters, or beside the procedure's gates after the node, is
/// taken again when those gates waited longer than this, so that a node step is judged on the
/// cluster as it was at most this long before the step ends (what fails in between is counted
/// by the next step's sample, which measures from this one).
pub const SAMPLE_FRESH: Duration = Duration::from_secs(1);

/// The guards' sample after a node step, and how old it is.
#[derive(Debug, Clone)]
pub struct Taken {
    /// The sample, or why the cluster could not be sampled.
    sample: Result<Sample, String>,
    /// When its masters were read.
    at: Instant,
}

/// Takes the guards' sample after the step's node is back (`None` when the guards are off):
/// from `recent` when given (a round of the masters that read at least [`SAMPLED`] after the
/// node was back: a master step's health gate reads every master's redirect and metrics), else
/// from a new round. Read-only: it runs beside the procedure's gates after the node.
pub async fn take(ctx: &StepCtx<'_>, recent: Option<MastersRound>) -> Option<Taken> {
    let c = ctx.cluster;
    if !c.playbook.guards.enabled {
        return None;
    }
    let asked: Vec<String> = match ctx.node() {
        Ok(n) if n.role != Role::Master => vec![n.address.clone()],
        _ => Vec::new(),
    };
    let round = match recent {
        Some(r) => r,
        None => MastersRound::read(c).await,
    };
    let sample = sample_from(c, &round, &asked).await;
    Some(Taken {
        sample,
        at: round.at,
    })
}

/// `taken` when it is a sample not older than [`SAMPLE_FRESH`]; else a new one.
pub async fn fresh(ctx: &StepCtx<'_>, taken: Option<Taken>) -> Option<Taken> {
    match taken {
        Some(t) if !t.stale(Instant::now()) => Some(t),
        Some(_) => take(ctx, None).await,
        None => None,
    }
}

impl Taken {
    /// Whether this sample must be taken again at `now`: it failed (perhaps only because its
    /// round was the health gate's, read while the leader moved), or is older than
    /// [`SAMPLE_FRESH`].
    fn stale(&self, now: Instant) -> bool {
        self.sample.is_err() || now.saturating_duration_since(self.at) > SAMPLE_FRESH
    }
}

/// Judges the guards after a node step succeeded, on the sample `taken` after it (see
/// [`take`], [`fresh`]); the step's output gets the probe, or the step fails with a message
/// naming the metric and the numbers.
pub fn after_node_step(
    ctx: &StepCtx<'_>,
    view: &RunView,
    taken: Option<Taken>,
    output: serde_json::Value,
) -> Result<serde_json::Value, GuardError> {
    let Some(taken) = taken else {
        return Ok(output);
    };
    let g = &ctx.cluster.playbook.guards;
    let node = ctx.node()?;
    let agent = node.role != Role::Master;
    let now = taken.sample.map_err(|error| GuardError::Unprobed {
        node: node.address.clone(),
        error,
    })?;
    let base = baseline(view);
    let last = latest_probe(view);
    // A retry of a step the guards stopped: the operator has looked; start from here.
    let retried_after_trip = view
        .step(&ctx.step.id)
        .and_then(|s| s.message.as_deref())
        .is_some_and(|m| m.starts_with(GUARD_PREFIX));
    let (reference, previous) = match (&last, &base) {
        _ if retried_after_trip => {
            ctx.progress("rollout guards: retried after a guard stopped the run: re-based on the current counters");
            (now.clone(), now.clone())
        }
        (Some(p), _) => (p.reference.clone(), p.probe.clone()),
        (None, Some(b)) => (b.sample.clone(), b.sample.clone()),
        (None, None) => {
            ctx.progress(
                "rollout guards: no baseline from the precheck: the reference is taken now",
            );
            (now.clone(), now.clone())
        }
    };
    let v = judge(
        g,
        &node.address,
        agent,
        base.as_ref(),
        &reference,
        &previous,
        &now,
    );
    if let Some(r) = &v.rebased {
        ctx.progress(format!("rollout guards: {r}"));
    }
    if !v.trips.is_empty() {
        return Err(GuardError::Tripped {
            node: node.address.clone(),
            step: ctx.step.id.clone(),
            trips: v.trips,
        });
    }
    ctx.progress(format!(
        "rollout guards ok on leader {}: {}",
        now.leader,
        describe_counters(&now.counters)
    ));
    let probe = Probe {
        reference: v.reference,
        probe: now,
    };
    let mut out = match output {
        serde_json::Value::Object(o) => o,
        other => {
            let mut o = serde_json::Map::new();
            o.insert("result".into(), other);
            o
        }
    };
    out.insert("guard".into(), serde_json::json!(probe));
    Ok(serde_json::Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::door::fake::FakeCluster;
    use crate::phases::gates::{masters_round, MASTER_HEALTH};
    use std::sync::Arc;

    /// Masters whose redirect names the first one, each with its own uptime and counters.
    fn cluster() -> Cluster {
        let fake = FakeCluster::new().on_script(|node, script| {
            crate::testkit::node_round(script, &node.address, |key| {
                let leader = crate::testkit::MASTERS[0];
                let i = crate::testkit::MASTERS
                    .iter()
                    .position(|m| *m == node.address)
                    .unwrap_or(9);
                match key {
                    "redirect" => Some((307, Some(format!("//{leader}:5050")), String::new())),
                    "master-metrics" => Some((
                        200,
                        None,
                        format!(
                            r#"{{"master/elected": {}, "master/uptime_secs": {}, "master/tasks_failed": {}, "master/tasks_lost": 1, "master/tasks_killed": 2}}"#,
                            if node.address == leader { 1 } else { 0 },
                            1000 + i,
                            7 + i
                        ),
                    )),
                    "exhibitor" => Some((200, None, "[]".into())),
                    _ => None,
                }
            })
        });
        crate::testkit::cluster(0, Arc::new(fake))
    }

    /// A sample at `at_ms` on `leader` with no counters, uptimes or attributes.
    fn bare(at_ms: u64, leader: &str) -> Sample {
        Sample {
            at_ms,
            leader: leader.into(),
            leader_uptime_secs: 1.0,
            counters: BTreeMap::new(),
            masters_uptime_secs: BTreeMap::new(),
            agent_attributes: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn a_sample_from_the_health_gate_s_round_is_the_sample_of_a_round_of_its_own() {
        let c = cluster();
        let mut health = MASTER_HEALTH.to_vec();
        health.push(Read::Version);
        let from_health = sample_from(
            &c,
            &MastersRound::taken_now(masters_round(&c, &health).await),
            &[],
        )
        .await
        .unwrap();
        let own = sample(&c, &[]).await.unwrap();
        assert_eq!(from_health.leader, crate::testkit::MASTERS[0]);
        assert_eq!(from_health.leader, own.leader);
        assert_eq!(from_health.counters, own.counters);
        assert_eq!(from_health.counters["master/tasks_failed"], 7.0);
        assert_eq!(from_health.leader_uptime_secs, 1000.0);
        assert_eq!(from_health.masters_uptime_secs, own.masters_uptime_secs);
        assert_eq!(from_health.masters_uptime_secs.len(), 3);
    }

    #[test]
    fn the_latest_probe_is_the_one_taken_last_whatever_the_steps_order() {
        let plan = crate::testkit::plan(3, 1);
        let ids: Vec<String> = plan.steps().map(|(_, s)| s.id.clone()).collect();
        let probe = |at: u64, leader: &str| {
            let s = bare(at, leader);
            serde_json::json!({"guard": Probe { reference: s.clone(), probe: s }})
        };
        let mut records = Vec::new();
        for (id, output) in [
            (&ids[0], probe(10, "early")),
            (&ids[1], probe(30, "latest")),
            (
                &ids[2],
                serde_json::json!({"guard": {"probe": {"at_ms": 99}}}),
            ),
            (&ids[3], probe(20, "middle")),
        ] {
            records.push(crate::machine::Record::StepStarted { step: id.clone() });
            records.push(crate::machine::Record::StepSucceeded {
                step: id.clone(),
                output,
            });
        }
        let view = RunView::replay(&plan, &records).unwrap();
        // The probe at 99 does not decode: the latest one that does is taken.
        assert_eq!(latest_probe(&view).unwrap().probe.leader, "latest");
        let none = RunView::replay(&plan, &[]).unwrap();
        assert!(latest_probe(&none).is_none());
    }

    /// `cargo test --release --lib phases::guards::tests::latest_probe_cost -- --ignored
    /// --nocapture`: what one node step's lookup of the latest probe costs at the end of a run
    /// of 10,000 agents, each with its probe saved (BENCHMARKS.md §1).
    #[test]
    #[ignore]
    fn latest_probe_cost() {
        let n = 10_000;
        let plan = crate::testkit::plan(n, 1);
        let mut records = Vec::new();
        for (i, (_, step)) in plan.steps().enumerate() {
            let s = Sample {
                leader_uptime_secs: 86400.0,
                counters: TASK_METRICS.iter().map(|k| (k.to_string(), 3.0)).collect(),
                masters_uptime_secs: crate::testkit::MASTERS
                    .iter()
                    .map(|m| (m.to_string(), 86400.0))
                    .collect(),
                ..bare(i as u64, "10.9.0.11")
            };
            records.push(crate::machine::Record::StepStarted {
                step: step.id.clone(),
            });
            records.push(crate::machine::Record::StepSucceeded {
                step: step.id.clone(),
                output: serde_json::json!({"guard": Probe { reference: s.clone(), probe: s }}),
            });
        }
        let view = RunView::replay(&plan, &records).unwrap();
        let time = |f: &dyn Fn() -> Option<Probe>| {
            let mut d: Vec<Duration> = (0..9)
                .map(|_| {
                    let t = Instant::now();
                    assert!(f().is_some());
                    t.elapsed()
                })
                .collect();
            d.sort();
            d[4].as_secs_f64() * 1e3
        };
        let now = time(&|| latest_probe(&view));
        // As it was before 2026-12-02: every probe decoded.
        let before = time(&|| {
            view.steps
                .iter()
                .filter_map(|s| s.output.get("guard"))
                .filter_map(|v| serde_json::from_value::<Probe>(v.clone()).ok())
                .max_by_key(|p| p.probe.at_ms)
        });
        println!("latest probe among {n} saved: {now:.3} ms per node step (every probe decoded: {before:.3} ms)");
    }

    #[test]
    fn a_sample_is_taken_again_when_older_than_a_second_or_failed() {
        let t0 = Instant::now();
        let ok = |at| Taken {
            sample: Ok(bare(0, "m1")),
            at,
        };
        assert!(!ok(t0).stale(t0 + Duration::from_millis(200)));
        assert!(!ok(t0).stale(t0 + SAMPLE_FRESH));
        assert!(ok(t0).stale(t0 + SAMPLE_FRESH + Duration::from_millis(1)));
        let failed = Taken {
            sample: Err("no leader".into()),
            at: t0,
        };
        assert!(failed.stale(t0));
    }
}
