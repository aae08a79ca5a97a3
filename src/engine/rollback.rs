//! Rollback: undo what a run did, in reverse — framework changes, then agents, then masters
//! (the leader last again), masters only while no point of no return is crossed (`doors`). Every undo is journaled like every do, so a rollback resumes too.
//! Which steps need undoing, and how, is each action's own answer (`Action::undo_plan`).

use super::walk::{Ended, Flow};
use super::{Engine, EngineError, GateId, Outcome};
use crate::action::Undo;
use crate::events::Event;
use crate::machine::{Record, StepState};
use crate::plan::{PhaseId, Step, StepKind};
use std::time::Instant;
use tracing::Instrument;

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
    /// The steps of a phase that changed the cluster, last first.
    fn undoable(&self, phase: PhaseId) -> Vec<&Step> {
        self.record
            .plan
            .phases
            .iter()
            .filter(|p| p.id == phase)
            .flat_map(|p| p.steps.iter().rev())
            .filter(|s| self.registry.action(s.kind).changes_cluster())
            .collect()
    }

    /// Undoes every step this run changed, in reverse order; masters only before any door.
    pub async fn rollback(&self, after_failure: Option<String>) -> Result<Outcome, EngineError> {
        // An interrupted ZooKeeper restore is finished before anything else (Exhibitor may be
        // stopped on every master).
        if self.view().restore.is_some_and(|r| r.unfinished()) {
            return self.restore_zookeeper().await;
        }
        self.roll_back(after_failure, false).await
    }

    /// The rollback of `rollback --restore-zookeeper`: past a door it downgrades the masters too
    /// (with the restore's confirmation, and only when the run has a backup), leaving their
    /// Marathon down until [`Engine::restore_zookeeper`] puts the old storage back.
    pub async fn rollback_for_restore(&self) -> Result<Outcome, EngineError> {
        self.roll_back(None, true).await
    }

    async fn roll_back(
        &self,
        after_failure: Option<String>,
        last_resort: bool,
    ) -> Result<Outcome, EngineError> {
        if !self.view().rollback {
            self.record(Record::RollbackStarted)?;
        }
        for phase in [PhaseId::Frameworks, PhaseId::Agents] {
            for s in self.undoable(phase) {
                if let Some(o) = self
                    .undo(s)
                    .instrument(tracing::debug_span!("undo", id = %s.id))
                    .await?
                {
                    return Ok(o);
                }
            }
        }
        // Masters only before any point of no return: looked at again now, journaled if new.
        let first_master = self
            .undoable(PhaseId::Masters)
            .into_iter()
            .find(|s| self.undo_pending(s));
        if let Some(s) = first_master {
            let crossed = self
                .watch_doors(s, "the start of the masters' rollback")
                .await?;
            if !crossed.is_empty() {
                if !last_resort {
                    return self.stop_at_door(&crossed, after_failure.as_deref(), "");
                }
                if let Some(stop) = self.approve_last_resort(&crossed)? {
                    return Ok(stop);
                }
            }
        }
        // Masters: re-resolve the leader before each and keep it for last.
        loop {
            let pending: Vec<&Step> = self
                .undoable(PhaseId::Masters)
                .into_iter()
                .filter(|s| self.undo_pending(s))
                .collect();
            let undoing = |s: &Step| self.state_of(&s.id).0 == StepState::Undoing;
            let next = match self.next_leader_last(&pending, undoing, false).await {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(e) => return self.leader_unknown(e),
            };
            if let Some(o) = self
                .undo(next)
                .instrument(tracing::debug_span!("undo", id = %next.id))
                .await?
            {
                return Ok(o);
            }
        }
        // Judged by the cluster, not by this run's steps alone.
        let stray = self.nodes_not_back().await;
        if !stray.is_empty() {
            return self.not_back(&stray, after_failure.as_deref());
        }
        self.record(Record::RolledBack)?;
        Ok(Outcome::RolledBack { after_failure })
    }

    /// The last resort, only on explicit request and confirmation: restores the run's
    /// ZooKeeper backup on every master. The cluster is unavailable while it runs.
    pub async fn restore_zookeeper(&self) -> Result<Outcome, EngineError> {
        let gate = GateId::RestoreZookeeper;
        let Some(step) = self.record.plan.step("backup/zookeeper") else {
            return Ok(Outcome::Failed {
                step: gate.to_string(),
                error: "the plan has no backup step".into(),
            });
        };
        let backup = self.view().step(&step.id).and_then(|s| {
            crate::phases::outputs::read::<crate::phases::outputs::BackupOutput>(&s.output)
        });
        let Some(crate::phases::outputs::BackupOutput { archive, .. }) = backup else {
            return Ok(Outcome::Failed {
                step: gate.to_string(),
                error: "this run took no ZooKeeper backup (skipped or failed): nothing to restore"
                    .into(),
            });
        };
        let archive = archive.display().to_string();
        let message = format!(
            "LAST RESORT: restore ZooKeeper on every master from {archive}. ZooKeeper is stopped on all masters meanwhile (the cluster is unavailable), and every change made to ZooKeeper since the backup is lost"
        );
        // Approved once (journaled), a restore that was interrupted is finished without asking.
        if !self.passed(&gate) {
            let Some(by) = self.confirm_gate(format!("{message}. Restore now?")) else {
                // Not journaled as a pause: the run itself is rolled back and stays so.
                self.emit(Event::Gate {
                    gate: gate.to_string(),
                    decision: crate::events::Decision::Waiting,
                    message,
                });
                return Ok(Outcome::AtGate { gate });
            };
            self.approve(&gate, by, message)?;
        }
        // Write-ahead: the restore is on the record before Exhibitor stops anywhere.
        self.record(Record::RestoreStarted {
            archive: archive.clone(),
        })?;
        // The registry's last-resort action, with the backup step's context (its output names
        // the archive): the restore, then Marathon serving on every master.
        let view = self.view();
        let ctx = self.ctx(step, 1, &view);
        if let Err(e) = self.registry.last_resort().run(&ctx).await {
            let error = self.change.redact(&e.to_string());
            self.record(Record::RestoreFailed {
                error: error.clone(),
            })?;
            return Ok(Outcome::Failed {
                step: gate.to_string(),
                error,
            });
        }
        self.record(Record::RestoreFinished)?;
        Ok(Outcome::Restored { archive })
    }

    /// Whether a step still has to be undone (not undone, and not left as it is on purpose).
    fn undo_pending(&self, step: &Step) -> bool {
        needs_undo(self.state_of(&step.id).0) && !self.passed(&GateId::NoUndo(step.id.clone()))
    }

    /// A step with no safe undo: leave it as it is only with approval (prompt or `--yes`);
    /// otherwise the rollback stops before it. Some(outcome) when it stops.
    async fn leave_as_is(&self, step: &Step, reason: &str) -> Result<Option<Outcome>, EngineError> {
        let gate = GateId::NoUndo(step.id.clone());
        let message = format!("{} has no safe undo: {reason}", step.id);
        match self.confirm_gate(format!(
            "{message}. Leave it as it is and roll back the rest?"
        )) {
            Some(by) => {
                self.approve(&gate, by, format!("{message}; left as it is"))?;
                Ok(None)
            }
            None => {
                let reason = format!("rollback stopped before {}: {message}", step.id);
                Ok(Some(self.wait_at(gate, reason, message)?))
            }
        }
    }

    /// Undoes one step; Some(outcome) when the rollback must stop.
    async fn undo(&self, step: &Step) -> Result<Option<Outcome>, EngineError> {
        let (state, _, _) = self.state_of(&step.id);
        if !self.undo_pending(step) {
            return Ok(None);
        }
        let action = self.registry.action(step.kind);
        let view = self.view();
        let output = view
            .step(&step.id)
            .map(|s| s.output.clone())
            .unwrap_or_default();
        let mut compensate = true;
        if state != StepState::Undoing {
            let ctx = self.ctx(step, 1, &view);
            match action.undo_plan(&ctx, &output, state).await {
                Undo::Compensate => {}
                Undo::Nothing => compensate = false,
                Undo::NoSafeUndo(reason) => return self.leave_as_is(step, &reason).await,
            }
            self.record(Record::UndoStarted {
                step: step.id.clone(),
            })?;
            // Write-ahead on the cluster, as for a forward step: a rollback resumed from the
            // journal's copy sees this undo in flight.
            if compensate {
                self.mirror().await;
            }
        }
        let (_, _, undo_attempt) = self.state_of(&step.id);
        self.emit(Event::StepStarted {
            step: step.id.clone(),
            node: step.node.clone(),
            description: format!("undo: {}", step.description),
        });
        let started = Instant::now();
        let view = self.view();
        let ctx = self.ctx(step, undo_attempt.max(1), &view);
        let res = if compensate {
            action.undo(&ctx, &output).await
        } else {
            Ok(())
        };
        let ended = match res {
            Ok(()) => Ended::Undone,
            Err(e) => Ended::Failed(self.change.redact(&e.to_string())),
        };
        match self.finish(step, ended, started)? {
            Flow::Failed(step, error) => Ok(Some(Outcome::RollbackFailed { step, error })),
            _ => Ok(None),
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
            let from = (s.from.as_ref())
                .map_or_else(|| "its previous version".into(), ToString::to_string);
            let to = if s.kind == StepKind::AppUpgrade {
                (s.to.as_ref()).map_or_else(|| "the new definition".into(), ToString::to_string)
            } else {
                plan.to.to_string()
            };
            let state = match st {
                StepState::Pending => format!("unchanged at {from}"),
                StepState::Running => format!(
                    "its step ({from} -> {to}) began and did not finish: the node may not have been changed yet; resume or rollback looks at the node first"
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
