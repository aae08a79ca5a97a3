//! Rollback: undo what a run did, in reverse — framework changes, then agents, then masters
//! (the leader last again). Every undo is journaled like every do, so a rollback resumes too.

use super::{Engine, EngineError, Outcome};
use crate::events::Event;
use crate::machine::{Record, StepState};
use crate::phases::{self, node_upgrade::Direction};
use crate::plan::{PhaseId, Step, StepKind};
use crate::probe::mesos;
use std::time::Instant;

fn needs_undo(state: StepState) -> bool {
    matches!(
        state,
        StepState::Done
            | StepState::Running
            | StepState::Failed
            | StepState::Undoing
            | StepState::UndoFailed
    )
}

impl Engine<'_> {
    /// Undoes every step this run changed, in reverse order.
    pub async fn rollback(&self, after_failure: Option<String>) -> Result<Outcome, EngineError> {
        if !self.view().rollback {
            self.record(Record::RollbackStarted)?;
        }
        let plan = &self.record.plan;
        let undoable = |phase: PhaseId| -> Vec<&Step> {
            plan.phases
                .iter()
                .filter(|p| p.id == phase)
                .flat_map(|p| p.steps.iter().rev())
                .filter(|s| matches!(s.kind, StepKind::NodeUpgrade | StepKind::AppUpgrade))
                .collect()
        };
        for phase in [PhaseId::Frameworks, PhaseId::Agents] {
            for s in undoable(phase) {
                if let Some(o) = self.undo(s).await? {
                    return Ok(o);
                }
            }
        }
        // Masters: re-resolve the leader before each and keep it for last.
        loop {
            let pending: Vec<&Step> = undoable(PhaseId::Masters)
                .into_iter()
                .filter(|s| needs_undo(self.state_of(&s.id).0))
                .collect();
            if pending.is_empty() {
                break;
            }
            let c = self.cluster;
            let leader =
                mesos::find_leader(&c.http, &c.master_addrs(), c.playbook.ports.mesos_master)
                    .await
                    .ok()
                    .flatten();
            let next = pending
                .iter()
                .find(|s| self.state_of(&s.id).0 == StepState::Undoing)
                .or_else(|| {
                    pending
                        .iter()
                        .find(|s| s.node.as_deref() != leader.as_deref())
                })
                .unwrap_or(&pending[0]);
            if let Some(o) = self.undo(next).await? {
                return Ok(o);
            }
        }
        self.record(Record::RolledBack)?;
        Ok(Outcome::RolledBack { after_failure })
    }

    /// Undoes one step; Some(outcome) when the rollback must stop.
    async fn undo(&self, step: &Step) -> Result<Option<Outcome>, EngineError> {
        let (state, _, _) = self.state_of(&step.id);
        if !needs_undo(state) {
            return Ok(None);
        }
        let output = self
            .view()
            .step(&step.id)
            .map(|s| s.output.clone())
            .unwrap_or_default();
        if state != StepState::Undoing {
            self.record(Record::UndoStarted {
                step: step.id.clone(),
            })?;
        }
        let (_, _, undo_attempt) = self.state_of(&step.id);
        self.emit(Event::StepStarted {
            step: step.id.clone(),
            node: step.node.clone(),
            description: format!("undo: {}", step.description),
        });
        let started = Instant::now();
        let ctx = self.ctx(step, undo_attempt.max(1));
        let res = match step.kind {
            StepKind::NodeUpgrade => phases::node_upgrade::run(&ctx, Direction::Rollback)
                .await
                .map(|_| ()),
            StepKind::AppUpgrade => match output.get("previous") {
                Some(prev) => phases::frameworks::restore(&ctx, prev).await,
                // Failed before the change was made: nothing to put back.
                None => Ok(()),
            },
            _ => Ok(()),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        match res {
            Ok(()) => {
                self.record(Record::UndoSucceeded {
                    step: step.id.clone(),
                })?;
                self.emit(Event::StepFinished {
                    step: step.id.clone(),
                    state: "undone".into(),
                    message: None,
                    duration_ms,
                });
                Ok(None)
            }
            Err(error) => {
                let error = self.changer.redact(&error);
                self.record(Record::UndoFailed {
                    step: step.id.clone(),
                    error: error.clone(),
                })?;
                self.emit(Event::StepFinished {
                    step: step.id.clone(),
                    state: "undo_failed".into(),
                    message: Some(error.clone()),
                    duration_ms,
                });
                Ok(Some(Outcome::RollbackFailed {
                    step: step.id.clone(),
                    error,
                }))
            }
        }
    }
}

/// Where one node (or app) stands after a run or a rollback, as `status` and the summary say it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetState {
    /// The node's address, or the app id.
    pub target: String,
    /// The step that changes it.
    pub step: String,
    /// In words: which version it is at, or what is in progress.
    pub state: String,
}

/// The state of every node and app a run's plan touches, from the plan and the journal (pure).
pub fn target_states(plan: &crate::plan::Plan, view: &crate::machine::RunView) -> Vec<TargetState> {
    plan.steps()
        .map(|(_, s)| s)
        .filter(|s| {
            matches!(
                s.kind,
                StepKind::NodeUpgrade | StepKind::NodeSkip | StepKind::AppUpgrade
            )
        })
        .filter_map(|s| {
            let target = s.node.clone().or_else(|| s.app.clone())?;
            let v = view.step(&s.id);
            let st = v.map(|v| v.state).unwrap_or(StepState::Pending);
            let from = s
                .from
                .clone()
                .unwrap_or_else(|| "its previous version".into());
            let to = if s.kind == StepKind::AppUpgrade {
                s.to.clone().unwrap_or_else(|| "the new definition".into())
            } else {
                plan.to.clone()
            };
            let state = match st {
                StepState::Pending => format!("unchanged at {from}"),
                StepState::Running => format!(
                    "being changed {from} -> {to} (interrupted: resume or rollback decides)"
                ),
                StepState::Done => format!("at {to}"),
                StepState::Failed => format!(
                    "change to {to} failed ({}); check it before resume or rollback",
                    v.and_then(|v| v.message.as_deref()).unwrap_or("no message")
                ),
                StepState::Skipped => format!(
                    "skipped ({})",
                    v.and_then(|v| v.message.as_deref())
                        .unwrap_or("nothing to do")
                ),
                StepState::Undoing => {
                    format!("being rolled back to {from} (interrupted: rollback again continues)")
                }
                StepState::Undone => format!("rolled back to {from}"),
                StepState::UndoFailed => format!(
                    "rollback to {from} failed ({}); check it before running rollback again",
                    v.and_then(|v| v.message.as_deref()).unwrap_or("no message")
                ),
            };
            Some(TargetState {
                target,
                step: s.id.clone(),
                state,
            })
        })
        .collect()
}
