//! `RunView`: a run's state folded from its journal (what `status` shows, what `resume` uses).

use super::journal::{next_state, IllegalTransition, Record, StepState};
use super::steps::StepList;
use crate::plan::{PhaseId, Plan};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Steps are being executed (or the process died while executing: `resume` continues).
    Running,
    /// Stopped on purpose (a gate, the operator); `resume` continues.
    Paused,
    /// A step failed; `resume` retries it, `rollback` undoes the run.
    Failed,
    /// Every step is done.
    Done,
    /// Rollback in progress (or interrupted).
    RollingBack,
    /// Rollback finished.
    RolledBack,
}

impl RunState {
    /// The JSON/status name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Failed => "failed",
            RunState::Done => "done",
            // DESIGN.md's states: an unfinished rollback is "running" (with `rollback` true).
            RunState::RollingBack => "running",
            RunState::RolledBack => "rolled_back",
        }
    }

    /// Whether `resume` has anything to do.
    pub fn is_unfinished(self) -> bool {
        !matches!(self, RunState::Done | RunState::RolledBack)
    }
}

/// One step's state and last message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    /// Step id.
    pub id: String,
    /// State.
    pub state: StepState,
    /// The last error or skip reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Output of a succeeded step.
    #[serde(skip_serializing_if = "serde_json::Value::is_null", default)]
    pub output: serde_json::Value,
    /// How many times the step was started.
    pub attempts: u32,
    /// How many times its undo was started.
    #[serde(default)]
    pub undo_attempts: u32,
}

/// A run folded from its journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    /// Run state.
    pub state: RunState,
    /// The phase of the first step not done, or of the last step when all are.
    pub phase: PhaseId,
    /// Steps in plan order (shared: a copy of the view copies pointers).
    pub steps: StepList,
    /// Gates already approved.
    pub approved_gates: BTreeSet<String>,
    /// Why the run paused, if it did.
    pub pause_reason: Option<String>,
    /// A rollback was started and has not finished (`resume` and `rollback` continue it).
    #[serde(default)]
    pub rollback: bool,
    /// The ZooKeeper restore (the last resort), when one was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreView>,
    /// Points of no return seen crossed, in order.
    #[serde(default)]
    pub doors_crossed: Vec<CrossedDoor>,
}

/// Where the ZooKeeper restore of a run stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreView {
    /// The archive restored.
    pub archive: String,
    /// `in_progress` (started, not finished: Exhibitor may be stopped on the masters),
    /// `failed` or `done`.
    pub state: String,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RestoreView {
    /// Whether a restore was started and did not finish.
    pub fn unfinished(&self) -> bool {
        self.state != "done"
    }
}

/// A door seen crossed (`Record::DoorCrossed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossedDoor {
    /// The door.
    pub door: String,
    /// What proved it.
    pub observation: String,
    /// The step after which it was seen.
    pub after: String,
}

/// A run's view kept up to date one journal record at a time (the engine applies each record
/// it writes, instead of reading and replaying the whole journal again: at 10,000 agents that
/// was quadratic). [`RunView::replay`] is a fold over it.
#[derive(Debug, Clone)]
pub struct Replay {
    view: RunView,
    index: HashMap<String, usize>,
    phases: Vec<PhaseId>,
    undo_in_flight: BTreeSet<String>,
    /// The first step not done or skipped (every one before it is): the view's phase, kept
    /// without a scan of the finished steps at every record.
    first_open: usize,
}

impl Replay {
    /// The view of a run whose journal is empty.
    pub fn new(plan: &Plan) -> Replay {
        let steps: StepList = plan
            .steps()
            .map(|(_, s)| StepView {
                id: s.id.clone(),
                state: StepState::Pending,
                message: None,
                output: serde_json::Value::Null,
                attempts: 0,
                undo_attempts: 0,
            })
            .collect();
        let index = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        let phases = plan.steps().map(|(p, _)| p.id).collect();
        let mut r = Replay {
            view: RunView {
                state: RunState::Running,
                phase: PhaseId::Postcheck,
                steps,
                approved_gates: BTreeSet::new(),
                pause_reason: None,
                rollback: false,
                restore: None,
                doors_crossed: Vec::new(),
            },
            index,
            phases,
            undo_in_flight: BTreeSet::new(),
            first_open: 0,
        };
        r.set_phase(None);
        r
    }

    /// The view after `records`, applied in order over `plan` (an illegal sequence is an error).
    pub fn of(plan: &Plan, records: &[Record]) -> Result<Replay, IllegalTransition> {
        let mut r = Replay::new(plan);
        for rec in records {
            r.apply(rec)?;
        }
        Ok(r)
    }

    /// Applies one more record. An illegal transition is an error and leaves the view as it was
    /// before the record's step changed.
    pub fn apply(&mut self, rec: &Record) -> Result<(), IllegalTransition> {
        let r = self.apply_inner(rec);
        self.set_phase(rec.step().and_then(|id| self.index.get(id).copied()));
        r
    }

    /// The phase of the first step not finished, after step `changed` (if any) changed.
    fn set_phase(&mut self, changed: Option<usize>) {
        let finished = |v: &StepView| matches!(v.state, StepState::Done | StepState::Skipped);
        let steps = &self.view.steps;
        if let Some(i) = changed.filter(|&i| i < self.first_open && !finished(&steps[i])) {
            self.first_open = i;
        }
        while self.first_open < steps.len() && finished(&steps[self.first_open]) {
            self.first_open += 1;
        }
        self.view.phase = self
            .phases
            .get(self.first_open)
            .copied()
            .unwrap_or(PhaseId::Postcheck);
    }

    /// The view so far.
    pub fn view(&self) -> &RunView {
        &self.view
    }

    /// The view so far, by value.
    pub fn into_view(self) -> RunView {
        self.view
    }

    /// The view of step `id`, found through the index (not a scan).
    pub fn step(&self, id: &str) -> Option<&StepView> {
        self.index.get(id).map(|i| &self.view.steps[*i])
    }

    fn apply_inner(&mut self, rec: &Record) -> Result<(), IllegalTransition> {
        if let Some(id) = rec.step() {
            let Some(&i) = self.index.get(id) else {
                return Err(IllegalTransition {
                    step: id.to_string(),
                    state: StepState::Pending,
                    record: "unknown step".into(),
                });
            };
            let sv = self.view.steps.get_mut(i);
            sv.state = next_state(id, sv.state, rec)?;
            match rec {
                Record::StepStarted { .. } => {
                    sv.attempts += 1;
                    if self.view.state != RunState::RollingBack {
                        self.view.state = RunState::Running;
                    }
                }
                Record::StepNoted { output, .. } => sv.output = output.clone(),
                Record::StepSucceeded { output, .. } => {
                    sv.output = output.clone();
                    sv.message = None;
                }
                Record::StepFailed { error, .. } => {
                    sv.message = Some(error.clone());
                    if self.view.state != RunState::RollingBack {
                        self.view.state = RunState::Failed;
                    }
                }
                Record::StepSkipped { reason, .. } => sv.message = Some(reason.clone()),
                Record::UndoStarted { .. } => {
                    if sv.state == StepState::Undoing && !self.undo_in_flight.contains(id) {
                        sv.undo_attempts += 1;
                    }
                    self.undo_in_flight.insert(id.to_string());
                    self.view.state = RunState::RollingBack;
                }
                Record::UndoSucceeded { .. } => {
                    self.undo_in_flight.remove(id);
                }
                Record::UndoFailed { error, .. } => {
                    self.undo_in_flight.remove(id);
                    sv.message = Some(error.clone());
                    self.view.state = RunState::Failed;
                }
                _ => {}
            }
            return Ok(());
        }
        match rec {
            Record::GateApproved { gate, .. } => {
                self.view.approved_gates.insert(gate.clone());
            }
            // A finished run stays finished (e.g. Ctrl-C while the lock is released).
            Record::RunPaused { .. }
                if matches!(self.view.state, RunState::Done | RunState::RolledBack) => {}
            Record::RunPaused { reason } => {
                self.view.pause_reason = Some(reason.clone());
                self.view.state = RunState::Paused;
            }
            Record::RunResumed => {
                self.view.pause_reason = None;
                if self.view.state != RunState::RollingBack {
                    self.view.state = RunState::Running;
                }
            }
            Record::RunFinished => self.view.state = RunState::Done,
            Record::RollbackStarted => {
                self.view.state = RunState::RollingBack;
                self.view.rollback = true;
            }
            Record::RolledBack => {
                self.view.state = RunState::RolledBack;
                self.view.rollback = false;
            }
            // An unfinished restore is an unfinished rollback: never `rolled_back`.
            Record::RestoreStarted { archive } => {
                self.view.state = RunState::RollingBack;
                self.view.rollback = true;
                self.view.restore = Some(RestoreView {
                    archive: archive.clone(),
                    state: "in_progress".into(),
                    error: None,
                });
            }
            Record::RestoreFinished => {
                self.view.state = RunState::RolledBack;
                self.view.rollback = false;
                if let Some(r) = self.view.restore.as_mut() {
                    r.state = "done".into();
                    r.error = None;
                }
            }
            Record::RestoreFailed { error } => {
                self.view.state = RunState::Failed;
                if let Some(r) = self.view.restore.as_mut() {
                    r.state = "failed".into();
                    r.error = Some(error.clone());
                }
            }
            Record::DoorCrossed {
                door,
                observation,
                after,
            } if !self
                .view
                .doors_crossed
                .iter()
                .any(|d: &CrossedDoor| &d.door == door) =>
            {
                self.view.doors_crossed.push(CrossedDoor {
                    door: door.clone(),
                    observation: observation.clone(),
                    after: after.clone(),
                });
            }
            Record::RollbackStopped { reason } => {
                self.view.pause_reason = Some(reason.clone());
                self.view.state = RunState::Paused;
                self.view.rollback = false;
            }
            _ => {}
        }
        Ok(())
    }
}

impl RunView {
    /// Replays the journal over the plan. An illegal sequence is an error, never a guess.
    pub fn replay(plan: &Plan, records: &[Record]) -> Result<RunView, IllegalTransition> {
        Replay::of(plan, records).map(Replay::into_view)
    }

    /// A step's view by id.
    pub fn step(&self, id: &str) -> Option<&StepView> {
        self.steps.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests;
