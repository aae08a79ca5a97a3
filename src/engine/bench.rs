//! The simulation benchmark at scale (opt-in, `#[ignore]`d): the real planner and the real engine
//! driven through the in-process fake cluster (no SSH) with 10,000 agents and 5 masters
//! (`DCU_BENCH_AGENTS` sets another count). The node actions are the testkit's fake ones (they
//! do nothing), once as they are and once sending one audited change per node step (as a real
//! node step starts its script), so what is measured is the tool's own cost: planning,
//! scheduling, the journal and its group commit, events, leader lookups. See BENCHMARKS.md for
//! the command and the last results.

use super::*;
use crate::action::{Action, StepCtx, StepError, Undo};
use crate::door::fake::{answer, ok, FakeCluster};
use crate::door::{AuditedChange, ScriptChange};
use crate::events::NullSink;
use crate::facts::{ClusterFacts, NodeFacts};
use crate::model::Role;
use crate::plan::{build, PlanOptions};
use crate::playbook::{Inventory, Playbook, SourceFile};
use crate::testkit::{self, FakeActions, Leader};
use std::time::{Duration, Instant};

const MASTERS: usize = 5;
const RUNS: usize = 5;
const ROLLOUTS: usize = 3;

fn agents() -> usize {
    std::env::var("DCU_BENCH_AGENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// The fake actions, and for node steps one audited change first (the script's start of a real
/// node step): the change door makes the step's journal records durable before it.
struct ChangeEach(
    FakeActions,
    std::collections::HashMap<String, crate::door::NodeTarget>,
);

impl ChangeEach {
    fn new(inv: &Inventory) -> ChangeEach {
        let nodes = inv.masters.iter().chain(inv.agents.iter().flatten());
        let targets = nodes.map(|n| (n.address.clone(), Cluster::target(n)));
        ChangeEach(FakeActions::default(), targets.collect())
    }
}

#[async_trait::async_trait]
impl Registry for ChangeEach {
    fn action(&self, _kind: crate::plan::StepKind) -> &dyn Action {
        self
    }

    fn last_resort(&self) -> &dyn Action {
        self
    }
}

#[async_trait::async_trait]
impl Action for ChangeEach {
    fn changes_cluster(&self) -> bool {
        true
    }
    async fn run(&self, ctx: &StepCtx<'_>) -> Result<serde_json::Value, StepError> {
        if let Some(addr) = &ctx.step.node {
            ctx.change
                .script(ScriptChange {
                    step: &ctx.step.id,
                    node: &self.1[addr],
                    description: "start dcos_node_upgrade.sh detached",
                    script: "true",
                    input: None,
                    timeout: Duration::from_secs(5),
                })
                .await?;
        }
        self.0.run(ctx).await
    }
    async fn undo_plan(
        &self,
        ctx: &StepCtx<'_>,
        output: &serde_json::Value,
        state: crate::machine::StepState,
    ) -> Undo {
        self.0.undo_plan(ctx, output, state).await
    }
}

fn master(i: usize) -> String {
    format!("10.8.0.{}", 11 + i)
}

fn agent(i: usize) -> String {
    format!("10.8.{}.{}", 1 + i / 250, 1 + i % 250)
}

fn inventory_text() -> String {
    let mut t = String::from(
        "[cluster]\nname = \"sim\"\n[ssh]\nuser = \"root\"\nbecome = \"none\"\n[bootstrap]\nupgrade_script_url = \"http://10.8.0.2:8080/upgrade/0123456789abcdef0123456789abcdef/dcos_node_upgrade.sh\"\n",
    );
    for i in 0..MASTERS {
        t.push_str(&format!("[[masters]]\naddress = \"{}\"\n", master(i)));
    }
    for i in 0..agents() {
        t.push_str(&format!("[[agents]]\naddress = \"{}\"\n", agent(i)));
    }
    t
}

fn facts() -> ClusterFacts {
    let node = |address: String, role, leader| NodeFacts {
        name: address.clone(),
        address,
        role,
        version: Some("2.1.3".into()),
        is_leader: leader,
        error: None,
        zone: None,
    };
    ClusterFacts {
        masters: (0..MASTERS)
            .map(|i| node(master(i), Role::Master, i == 0))
            .collect(),
        agents: (0..agents())
            .map(|i| {
                let mut n = node(agent(i), Role::Agent, false);
                n.zone = Some(format!("zone-{}", i % 3));
                n
            })
            .collect(),
        leader: Some(master(0)),
        apps: vec![],
    }
}

fn options(max: u32, per_zone: Option<u32>) -> PlanOptions {
    PlanOptions {
        cluster: "sim".into(),
        to: "2.2.1".into(),
        max_unavailable: max,
        max_unavailable_per_zone: per_zone,
        frameworks: vec![],
    }
}

/// The fake cluster: every master names the first as leader, the cluster-lock scripts succeed.
fn fake(leader: Leader) -> FakeCluster {
    FakeCluster::new()
        .on_script(move |node, script| {
            testkit::node_round(script, &node.address, |key| {
                let l = leader.lock().expect("leader").clone();
                match key {
                    "redirect" => Some((307, Some(format!("//{l}:5050")), String::new())),
                    "master-metrics" => Some((
                        200,
                        None,
                        format!(
                            r#"{{"master/elected": {}}}"#,
                            if node.address == l { 1.0 } else { 0.0 }
                        ),
                    )),
                    _ => None,
                }
            })
        })
        // The journal's copy on the masters (`ops::mirror`): written.
        .on_script(|_, script| script.contains("/journal/").then(|| ok("")))
        .on_get(|_| Some(answer(404, "")))
}

fn cluster(inventory: Inventory, observe: Arc<FakeCluster>) -> Cluster {
    let playbook = Playbook::builtin();
    Cluster {
        timeouts: playbook.timeouts.with_overrides(&inventory.timeouts),
        agents: inventory.agents.clone().unwrap_or_default(),
        inventory,
        playbook,
        observe,
        security: Default::default(),
        detected_ips: Default::default(),
        seen_leader: Default::default(),
        credentials: None,
    }
}

/// Median, min and max of some durations, in milliseconds.
fn stats(mut d: Vec<Duration>) -> (f64, f64, f64) {
    d.sort();
    let ms = |x: &Duration| x.as_secs_f64() * 1000.0;
    (ms(&d[d.len() / 2]), ms(&d[0]), ms(&d[d.len() - 1]))
}

fn line(what: &str, (med, min, max): (f64, f64, f64), goal: f64, unit: &str) {
    println!(
        "{what:<34} median {med:>9.3} {unit}  (min {min:.3}, max {max:.3})  goal < {goal} {unit}  ratio {:.2}",
        med / goal
    );
}

/// A figure that has no goal of its own (reported).
fn reported(what: &str, (med, min, max): (f64, f64, f64), unit: &str) {
    println!("{what:<34} median {med:>9.3} {unit}  (min {min:.3}, max {max:.3})  (reported)");
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|it| {
            it.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[test]
#[ignore = "benchmark: cargo test --release --lib engine::bench -- --ignored --nocapture"]
fn simulation_at_scale() {
    let facts = facts();
    // 1. Planning: all 10,000 agents, with and without a zone limit.
    let mut plain = Vec::new();
    let mut zoned = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let p = build(&facts, &options(100, None)).expect("plan");
        // What `plan` does after building: every node's path checked against the shipped data.
        crate::ops::check_paths(&p).expect("paths");
        plain.push(t.elapsed());
        assert!(p.steps().count() > agents() + MASTERS);
        let t = Instant::now();
        let p = build(&facts, &options(100, Some(20))).expect("plan");
        crate::ops::check_paths(&p).expect("paths");
        zoned.push(t.elapsed());
    }
    println!(
        "simulation: {MASTERS} masters, {} agents, {RUNS} runs each",
        agents()
    );
    line(
        "plan + path checks (batches of 100)",
        stats(plain),
        200.0,
        "ms",
    );
    line("plan + paths (100, 20 per zone)", stats(zoned), 200.0, "ms");

    // 2. A whole rollout, one agent at a time (the most steps, the most journal records):
    // the fake actions as they are (reads only), then with one audited change per node step.
    let inventory =
        Inventory::parse(&SourceFile::from_text("sim.toml", &inventory_text())).expect("inventory");
    let plan = build(&facts, &options(1, None)).expect("plan");
    let steps = plan.steps().count();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("rollout: {steps} steps, one agent at a time, {ROLLOUTS} rollouts each");
    for changing in [false, true] {
        let runs: Vec<Rollout> = (0..ROLLOUTS)
            .map(|_| rollout(&plan, &inventory, &rt, changing))
            .collect();
        let what = if changing {
            "one change per node step"
        } else {
            "no change (reads only)"
        };
        println!("-- {what}");
        let per_step = runs.iter().map(|r| r.took / steps as u32).collect();
        line("engine overhead per step", stats(per_step), 1.0, "ms");
        let resume = runs.iter().map(|r| r.resume).collect();
        line("resume start-up", stats(resume), 200.0, "ms");
        // What the copy costs the tool beyond the SSH writes themselves (here the fake's, each
        // an audited change: its intent made durable first); the whole chain built again is
        // what every flush cost before the chain was kept (2026-12-02).
        let flush = runs.iter().map(|r| r.flush).collect();
        reported("journal copy per step (5 masters)", stats(flush), "ms");
        let whole = runs.iter().map(|r| r.whole_chain).collect();
        reported("  the whole chain built again", stats(whole), "ms");
        let r = &runs[runs.len() - 1];
        println!(
            "{:<34} {:.1} MB ({} bytes, {:.0} bytes per step)",
            "journal (state directory)",
            r.bytes as f64 / 1e6,
            r.bytes,
            r.bytes as f64 / steps as f64
        );
        println!(
            "{:<34} {} journal records, {} audit entries, {} group commits ({:.1} records each)",
            "group commit",
            r.records,
            r.audits,
            r.commits,
            (r.records + r.audits) as f64 / r.commits.max(1) as f64
        );
    }
    let peak = peak_rss_mb();
    println!(
        "{:<34} {peak:.1} MB  goal < 200 MB  ratio {:.2}",
        "peak memory (VmHWM)",
        peak / 200.0
    );
}

/// What one simulated rollout measured.
struct Rollout {
    took: Duration,
    resume: Duration,
    bytes: u64,
    records: usize,
    audits: usize,
    commits: u64,
    /// One flush of the journal's copy on the masters after a step, at the end's journal size.
    flush: Duration,
    /// The whole journal read and its chain built again, as each flush did before it kept the
    /// chain (2026-12-02).
    whole_chain: Duration,
}

fn rollout(
    plan: &crate::plan::Plan,
    inventory: &Inventory,
    rt: &tokio::runtime::Runtime,
    changing: bool,
) -> Rollout {
    let opts = RunOptions {
        yes: true,
        ack_release_notes: Some("2.2.1".into()),
        ..RunOptions::default()
    };
    let (dir, store, record) = testkit::store_with(plan.clone(), &opts);
    let leader: Leader = Arc::new(std::sync::Mutex::new(master(0)));
    let fake = Arc::new(fake(leader));
    let c = cluster(inventory.clone(), fake.clone());
    let actions = ChangeEach::new(inventory);
    let registry: &dyn Registry = if changing { &actions } else { &actions.0 };
    let t = Instant::now();
    let outcome = rt.block_on(async {
        let change = AuditedChange::in_process(&store, &record.id, &fake, vec![]);
        let engine = Engine::new(EngineParts {
            store: &store,
            record: &record,
            cluster: &c,
            change: &change,
            registry,
            options: opts.clone(),
            prompter: None,
            events: &NullSink,
            replayed: None,
        })
        .expect("engine");
        engine.execute(false).await.expect("journal")
    });
    let took = t.elapsed();
    assert!(matches!(outcome, Outcome::Done), "{outcome:?}");
    let commits = store.group_commits();
    drop(store);
    let bytes = dir_size(dir.path());
    // 3. Resume start-up: what `resume` does before its first step (open the state directory,
    // read the run and its journal, replay it, parse the saved inventory, make the engine).
    let t = Instant::now();
    let store = Store::open(dir.path()).expect("reopen");
    let opened = t.elapsed();
    let record = store.run("run-1").expect("run");
    let journal = store.journal("run-1").expect("journal");
    // As `resume` does (`src/ops/runs.rs`): replayed once, the engine takes the view.
    let replay = crate::machine::Replay::of(&record.plan, &journal).expect("replay");
    let state = replay.view().state;
    let replayed = t.elapsed();
    assert_eq!(state, crate::machine::RunState::Done);
    let inv =
        Inventory::parse(&SourceFile::from_text("sim.toml", &inventory_text())).expect("inventory");
    let c = cluster(inv, fake.clone());
    let change = AuditedChange::in_process(&store, &record.id, &fake, vec![]);
    let engine = Engine::new(EngineParts {
        store: &store,
        record: &record,
        cluster: &c,
        change: &change,
        registry,
        options: opts,
        prompter: None,
        events: &NullSink,
        replayed: Some((replay, journal.len() as u64)),
    })
    .expect("engine");
    let resume = t.elapsed();
    drop(engine);
    println!(
        "   resume: open {:.0} ms, run + journal + replay {:.0} ms, inventory + engine {:.0} ms",
        opened.as_secs_f64() * 1e3,
        (replayed - opened).as_secs_f64() * 1e3,
        (resume - replayed).as_secs_f64() * 1e3
    );
    let audits = store.audit("run-1").expect("audit").len();
    // 4. The journal's copy on the masters at this size: after the first (whole) write, each
    // step's flush sends what the step appended (here one record per flush, as a step's end).
    let (flush, whole_chain) = rt.block_on(async {
        let copy = crate::ops::mirror::Mirror::new(&store, &record, &c, &change, &NullSink);
        copy.flush().await;
        let mut each = Vec::new();
        for i in 0..FLUSHES {
            store
                .append(
                    "run-1",
                    &crate::machine::Record::StepNoted {
                        step: format!("bench/{i}"),
                        output: serde_json::json!({}),
                    },
                )
                .expect("append");
            let t = Instant::now();
            copy.flush().await;
            each.push(t.elapsed());
        }
        let t = Instant::now();
        let header = serde_json::to_value(&record).expect("header");
        let all = store.journal("run-1").expect("journal");
        let lines = crate::machine::mirror::chain("run-1", &header, &all);
        assert_eq!(lines.len(), all.len() + 1);
        (stats_of(each), t.elapsed())
    });
    Rollout {
        took,
        resume,
        bytes,
        records: journal.len(),
        audits,
        commits,
        flush,
        whole_chain,
    }
}

/// Flushes of the journal's copy timed per rollout.
const FLUSHES: usize = 20;

/// The median of some durations.
fn stats_of(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}
