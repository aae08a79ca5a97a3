//! Hermetic tests of the engine, by subject (ordering, leader lookup, resume, rollback, gates),
//! with their shared world: the in-process doors, fake actions that record what ran, and
//! scripted answers. They judge the order of the work, the journal, and the outcome.

use super::*;
use crate::door::fake::FakeCluster;
use crate::door::AuditedChange;
use crate::machine::{Record, RunState};
use crate::plan::Plan;
use crate::testkit::{self, FakeActions, Leader, Scripted, MASTERS};

fn acked() -> RunOptions {
    RunOptions {
        yes: true,
        ack_release_notes: Some("2.2.1".into()),
        ..RunOptions::default()
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    record: RunRecord,
    fake: Arc<FakeCluster>,
    cluster: Cluster,
    events: testkit::Events,
}

fn world(plan: Plan, leader: &Leader, options: &RunOptions) -> World {
    let agents = plan
        .steps()
        .filter(|(p, _)| p.id == crate::plan::PhaseId::Agents)
        .count();
    let (dir, store, record) = testkit::store_with(plan, options);
    let fake = Arc::new(testkit::fake_cluster(leader.clone()));
    let cluster = testkit::cluster(agents, fake.clone());
    World {
        _dir: dir,
        store,
        record,
        fake,
        cluster,
        events: testkit::Events::default(),
    }
}

/// The parts of an engine for the world's run, with `registry`'s actions, through `change`
/// (no view handed over: the engine replays the journal).
fn parts<'a>(
    w: &'a World,
    change: &'a AuditedChange<'a>,
    registry: &'a dyn crate::action::Registry,
    options: RunOptions,
    prompter: Option<Arc<dyn Prompter>>,
) -> EngineParts<'a> {
    EngineParts {
        store: &w.store,
        record: &w.record,
        cluster: &w.cluster,
        change,
        registry,
        options,
        prompter,
        events: &w.events,
        replayed: None,
    }
}

/// The engine of the world's run, with the fake actions, through the in-process change door.
fn engine<'a>(
    w: &'a World,
    change: &'a AuditedChange<'a>,
    actions: &'a FakeActions,
    options: RunOptions,
    prompter: Option<Arc<dyn Prompter>>,
) -> Engine<'a> {
    Engine::new(parts(w, change, actions, options, prompter)).expect("engine")
}

fn change_door(w: &World) -> AuditedChange<'_> {
    AuditedChange::in_process(&w.store, &w.record.id, &w.fake, vec![])
}

async fn walk(
    w: &World,
    actions: &FakeActions,
    options: RunOptions,
    prompter: Option<Arc<dyn Prompter>>,
    resumed: bool,
) -> (Outcome, RunView) {
    let change = change_door(w);
    let engine = engine(w, &change, actions, options, prompter);
    let outcome = engine.execute(resumed).await.expect("journal ok");
    (outcome, engine.view())
}

fn leader(addr: &str) -> Leader {
    Arc::new(std::sync::Mutex::new(addr.to_string()))
}

mod gates;
mod leader_lookup;
mod ordering;
mod restore;
mod resume;
mod rollback;
mod write_ahead;
