//! The engine: walks a run's plan against its journal. Journal before acting, gates at phase
//! boundaries, each phase's steps in the order its schedule says (the leader last for masters,
//! a canary then batches for agents), rollback in reverse. Emits events; never prints.
//!
//! - `walk`: the forward walk and the one place a step is started, run and recorded;
//! - `schedule`: the schedules, as values, one per phase;
//! - `gates`: phase approvals and the release-notes gate;
//! - `rollback`: undo in reverse, the no-safe-undo gate, and the ZooKeeper restore.
//!
//! The engine reaches the cluster only through the doors it is handed (`Cluster::observe` and a
//! [`Change`]) and runs steps only through a [`Registry`] of actions, so it is tested with
//! in-process doors and fake actions (`engine/tests.rs`, by subject in `engine/tests/`).

#[cfg(test)]
mod bench;
mod doors;
mod gates;
mod judge;
mod operator;
pub mod rollback;
mod schedule;
#[cfg(test)]
mod tests;
mod types;
mod walk;

pub use crate::options::{OnFailure, RunOptions};
pub use rollback::{target_states, TargetState};
pub use schedule::Schedule;
pub use types::{EngineError, FailureChoice, GateChoice, GateId, JournalMirror, Outcome, Prompter};

use crate::action::Registry;
use crate::checkpoint;
use crate::cluster::Cluster;
use crate::door::Change;
use crate::events::{stamp, Event, EventSink};
use crate::machine::{Record, Replay, RunView, StepState};
use crate::store::{RunRecord, Store};
use std::sync::{Arc, Mutex};

/// What an engine is built from.
pub struct EngineParts<'a> {
    /// The state database (journal, snapshot).
    pub store: &'a Store,
    /// The run.
    pub record: &'a RunRecord,
    /// The cluster and its observe door.
    pub cluster: &'a Cluster,
    /// The change door.
    pub change: &'a dyn Change,
    /// Which action runs which step kind.
    pub registry: &'a dyn Registry,
    /// The run's options.
    pub options: RunOptions,
    /// The operator, or None without a terminal.
    pub prompter: Option<Arc<dyn Prompter>>,
    /// Where events go.
    pub events: &'a dyn EventSink,
    /// The run's journal as the caller has already read and replayed it, with how many records
    /// it replayed (`resume` does, to decide what to do): used instead of reading and replaying
    /// the journal again when the journal still holds exactly that many records.
    pub replayed: Option<(Replay, u64)>,
}

/// Executes one run.
pub struct Engine<'a> {
    store: &'a Store,
    record: &'a RunRecord,
    cluster: &'a Cluster,
    change: &'a dyn Change,
    registry: &'a dyn Registry,
    options: RunOptions,
    prompter: Option<Arc<dyn Prompter>>,
    events: &'a dyn EventSink,
    view: Mutex<Replay>,
    /// When the snapshot file was last written (large plans write it at most every
    /// [`SNAPSHOT_EVERY`]).
    snapshot_at: Mutex<Option<std::time::Instant>>,
    /// The `pause_after` gates the run was waiting at when this engine was made (a resume's
    /// `--yes` approves those, never one reached later).
    waiting_at_start: Vec<String>,
    /// The journal's copy on the cluster, if this execution keeps one.
    mirror: Option<&'a dyn JournalMirror>,
    /// The plan's steps with a `pause_after` gate (found once, not at every step).
    pause_steps: Vec<&'a crate::plan::Step>,
    /// What a step read ahead for the next one (`crate::read_ahead`).
    ahead: crate::read_ahead::ReadAhead,
}

/// Plans with more steps than this write the snapshot (what `status` reads while the run holds
/// the database) at most every [`SNAPSHOT_EVERY`] and at every run-level record, instead of
/// after every record: at 10,000 agents a snapshot is megabytes, and one per record was
/// quadratic.
const SNAPSHOT_ALWAYS_UNDER: usize = 1000;

/// The longest a large plan's snapshot lags behind its journal while steps run.
const SNAPSHOT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

impl<'a> Engine<'a> {
    /// An engine for a run, its view replayed from the journal.
    pub fn new(parts: EngineParts<'a>) -> Result<Engine<'a>, EngineError> {
        let view = match parts.replayed {
            Some((view, n)) if parts.store.journal_len(&parts.record.id)? == n => view,
            _ => Self::load_view(parts.store, parts.record)?,
        };
        let mut engine = Engine {
            store: parts.store,
            record: parts.record,
            cluster: parts.cluster,
            change: parts.change,
            registry: parts.registry,
            options: parts.options,
            prompter: parts.prompter,
            events: parts.events,
            view: Mutex::new(view),
            snapshot_at: Mutex::new(None),
            waiting_at_start: Vec::new(),
            mirror: None,
            pause_steps: parts
                .record
                .plan
                .steps()
                .map(|(_, s)| s)
                .filter(|s| s.pause_after)
                .collect(),
            ahead: Default::default(),
        };
        engine.waiting_at_start = engine
            .due_pauses()
            .into_iter()
            .map(|(_, g)| g.to_string())
            .collect();
        Ok(engine)
    }

    fn load_view(store: &Store, record: &RunRecord) -> Result<Replay, EngineError> {
        let journal = store.journal(&record.id)?;
        Replay::of(&record.plan, &journal).map_err(|e| EngineError::Journal {
            run: record.id.clone(),
            detail: e.to_string(),
        })
    }

    /// Copies the journal to `mirror` at every step boundary and gate.
    pub fn with_mirror(mut self, mirror: &'a dyn JournalMirror) -> Engine<'a> {
        self.mirror = Some(mirror);
        self
    }

    /// Flushes the journal's copy on the cluster, if any.
    async fn mirror(&self) {
        if let Some(m) = self.mirror {
            m.flush().await;
        }
    }

    /// The run's current view.
    pub fn view(&self) -> RunView {
        self.view.lock().expect("view lock").view().clone()
    }

    /// Appends a record durably, then refreshes the view and the status snapshot.
    fn record(&self, rec: Record) -> Result<(), EngineError> {
        let label = serde_json::to_value(&rec)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(String::from))
            .unwrap_or_default();
        let step = rec.step().unwrap_or("run").to_string();
        checkpoint::hit(&format!("before-journal:{label}:{step}"));
        self.store.append(&self.record.id, &rec)?;
        checkpoint::hit(&format!("after-journal:{label}:{step}"));
        // The record is applied to the view in memory, exactly as a replay of the journal
        // would (`Replay` is what `RunView::replay` folds with).
        let view = {
            let mut r = self.view.lock().expect("view lock");
            r.apply(&rec).map_err(|e| EngineError::Journal {
                run: self.record.id.clone(),
                detail: e.to_string(),
            })?;
            let small = r.view().steps.len() < SNAPSHOT_ALWAYS_UNDER;
            let mut at = self.snapshot_at.lock().expect("snapshot lock");
            let due =
                small || rec.step().is_none() || at.is_none_or(|t| t.elapsed() >= SNAPSHOT_EVERY);
            if !due {
                return Ok(());
            }
            *at = Some(std::time::Instant::now());
            r.view().clone()
        };
        self.store.write_snapshot(&self.record.id, &view)?;
        Ok(())
    }

    fn state_of(&self, id: &str) -> (StepState, u32, u32) {
        let v = self.view.lock().expect("view lock");
        v.step(id)
            .map(|s| (s.state, s.attempts, s.undo_attempts))
            .unwrap_or((StepState::Pending, 0, 0))
    }

    fn is_finished(&self, id: &str) -> bool {
        matches!(self.state_of(id).0, StepState::Done | StepState::Skipped)
    }

    fn emit(&self, e: Event) {
        self.events.emit(&stamp(e));
    }
}
