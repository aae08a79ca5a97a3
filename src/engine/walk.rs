//! The forward walk: phases in order, each with its gate and its schedule, and the one place a
//! step is started, run through its action and recorded.

use super::{Engine, EngineError, FailureChoice, OnFailure, Outcome};
use crate::action::{StepCtx, StepError, Upcoming};
use crate::checkpoint;
use crate::events::{Event, StepOutcome};
use crate::machine::{Record, RunView, StepState};
use crate::plan::{Action, PhaseId, Step};
use futures::FutureExt;
use std::time::Instant;
use tracing::Instrument;

/// The change door of a step whose start is being copied to the cluster: every change waits
/// for the copy first (write-ahead), reads do not.
struct AfterCopy<'a> {
    inner: &'a dyn crate::door::Change,
    ready: futures::future::Shared<futures::future::BoxFuture<'a, ()>>,
}

#[async_trait::async_trait]
impl crate::door::Change for AfterCopy<'_> {
    async fn script(
        &self,
        change: crate::door::ScriptChange<'_>,
    ) -> Result<crate::door::Output, crate::door::ChangeError> {
        self.ready.clone().await;
        self.inner.script(change).await
    }

    async fn http(
        &self,
        change: crate::door::HttpChange<'_>,
    ) -> Result<crate::door::Answer, crate::door::ChangeError> {
        self.ready.clone().await;
        self.inner.http(change).await
    }

    fn redact(&self, text: &str) -> String {
        self.inner.redact(text)
    }
}

/// What the walk does next.
pub(super) enum Flow {
    /// Go on.
    Continue,
    /// A step failed (step, error).
    Failed(String, String),
    /// Stop here with this outcome.
    Halt(Outcome),
    /// The operator asked for a rollback.
    Rollback,
}

/// How a step (or its undo) ended, for [`Engine::finish`].
pub(super) enum Ended {
    /// Done, with its output.
    Done(serde_json::Value),
    /// Undone.
    Undone,
    /// Failed (do or undo), with the redacted error.
    Failed(String),
}

impl crate::action::StepJournal for Engine<'_> {
    fn note(&self, step: &str, output: serde_json::Value) -> Result<(), String> {
        self.record(Record::StepNoted {
            step: step.to_string(),
            output,
        })
        .map_err(|e| e.to_string())
    }
}

impl Engine<'_> {
    /// Runs (or resumes) the run to its end or to the next stop.
    pub async fn execute(&self, resumed: bool) -> Result<Outcome, EngineError> {
        let outcome = self.execute_walk(resumed).await;
        self.mirror().await;
        outcome
    }

    async fn execute_walk(&self, resumed: bool) -> Result<Outcome, EngineError> {
        let view = self.view();
        if view.rollback {
            return self.rollback(None).await;
        }
        if resumed {
            self.record(Record::RunResumed)?;
        }
        let total = self.record.plan.steps().count();
        let done = view
            .steps
            .iter()
            .filter(|s| matches!(s.state, StepState::Done | StepState::Skipped))
            .count();
        self.emit(Event::RunStarted {
            run: self.record.id.clone(),
            cluster: self.record.cluster.clone(),
            to: self.record.plan.to.to_string(),
            resumed,
            total_steps: total,
            done_steps: done,
        });
        loop {
            match self.forward().await? {
                Flow::Continue => break,
                Flow::Halt(o) => return Ok(o),
                Flow::Rollback => return self.rollback(None).await,
                Flow::Failed(step, error) => match self.after_failure(&step, &error) {
                    FailureChoice::Retry => continue,
                    FailureChoice::Rollback => return self.rollback(Some(error)).await,
                    FailureChoice::Stop => return Ok(Outcome::Failed { step, error }),
                },
            }
        }
        self.record(Record::RunFinished)?;
        Ok(Outcome::Done)
    }

    /// The operator's choice after a failure, or the run's `--on-failure` without a terminal.
    fn after_failure(&self, step: &str, error: &str) -> FailureChoice {
        match &self.prompter {
            Some(p) => {
                let p = p.clone();
                // Past a point of no return the choices mean less than they say: tell the
                // operator before they pick (issue 12).
                let crossed: Vec<String> = self
                    .view()
                    .doors_crossed
                    .into_iter()
                    .map(|d| d.door)
                    .collect();
                let e = if crossed.is_empty() {
                    error.to_string()
                } else {
                    format!(
                        "{error}\n(past the point of no return {}: rolling back undoes the agents and frameworks only, the masters stay at the new version; retrying fixes forward)",
                        crossed.join(", ")
                    )
                };
                let s = step.to_string();
                tokio::task::block_in_place(move || p.failure(&s, &e))
            }
            None => match self.options.on_failure {
                OnFailure::Pause => FailureChoice::Stop,
                OnFailure::Rollback => FailureChoice::Rollback,
            },
        }
    }

    async fn forward(&self) -> Result<Flow, EngineError> {
        let phases = &self.record.plan.phases;
        for (i, phase) in phases.iter().enumerate() {
            let pending: Vec<&Step> = phase
                .steps
                .iter()
                .filter(|s| !self.is_finished(&s.id))
                .collect();
            if pending.is_empty() {
                continue;
            }
            if phase.id.changes_cluster() || phase.id == PhaseId::Validate {
                match self.release_notes_gate().await? {
                    Flow::Continue => {}
                    stop => return Ok(stop),
                }
            }
            if phase.id.changes_cluster() && pending.iter().any(|s| s.action != Action::Skip) {
                let gated = self.gate(phase).await;
                self.mirror().await;
                match gated? {
                    Flow::Continue => {}
                    stop => return Ok(stop),
                }
            }
            self.emit(Event::PhaseStarted {
                phase: phase.id.to_string(),
            });
            checkpoint::hit(&format!("phase:{}", phase.id));
            // What the next phase with work starts with (a step alone, or a batch): the last
            // steps of this phase may read ahead for it (`StepCtx::upcoming`).
            let lead = (phases[i + 1..].iter())
                .map(|p| super::Schedule::of(p.id).lead(self, p))
                .find(|l| !matches!(l, super::schedule::Lead::Nothing))
                .unwrap_or_default();
            match super::Schedule::of(phase.id)
                .walk(self, phase, &lead)
                .await?
            {
                Flow::Continue => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Continue)
    }

    /// What a step's action is handed (nothing follows it that it may read ahead for).
    pub(super) fn ctx<'b>(
        &'b self,
        step: &'b Step,
        attempt: u32,
        view: &'b RunView,
    ) -> StepCtx<'b> {
        self.ctx_before(step, attempt, view, Upcoming::Nothing)
    }

    /// What a step's action is handed, with what runs right after it (`StepCtx::upcoming`).
    pub(super) fn ctx_before<'b>(
        &'b self,
        step: &'b Step,
        attempt: u32,
        view: &'b RunView,
        upcoming: Upcoming<'b>,
    ) -> StepCtx<'b> {
        StepCtx {
            cluster: self.cluster,
            change: self.change,
            run: &self.record.id,
            step,
            attempt,
            to: &self.record.plan.to,
            from: self.record.plan.from.as_ref(),
            events: self.events,
            state_dir: self.store.dir(),
            view,
            journal: self,
            excluded: &self.record.plan.excluded,
            upcoming,
            ahead: &self.ahead,
        }
    }

    /// One step: skip rule, journal Started (unless resuming one in flight), verify on resume,
    /// run, journal the outcome.
    pub(super) async fn step(&self, step: &Step) -> Result<Flow, EngineError> {
        self.step_before(step, Upcoming::Nothing).await
    }

    /// [`Engine::step`], with what runs right after it: what it may read ahead for
    /// (`crate::read_ahead`).
    pub(super) async fn step_before(
        &self,
        step: &Step,
        upcoming: Upcoming<'_>,
    ) -> Result<Flow, EngineError> {
        // An approval after an earlier node (inventory `pause_after`) holds every later step.
        match self.pauses().await? {
            Flow::Continue => {}
            stop => return Ok(stop),
        }
        // The journal's copy is not flushed here: the next step's write-ahead, the next gate or
        // the end of this execution carries this step's outcome (one SSH round trip per master
        // per changing step instead of two). A copy that still says "in flight" is safe: a
        // resume from it looks at the node before doing anything.
        // Every SSH command and HTTP request of the step is logged (`-v`) inside this span.
        let flow = self
            .step_once(step, upcoming)
            .instrument(tracing::debug_span!("step", id = %step.id))
            .await;
        match flow? {
            Flow::Continue => self.pauses().await,
            other => Ok(other),
        }
    }

    async fn step_once(&self, step: &Step, upcoming: Upcoming<'_>) -> Result<Flow, EngineError> {
        let (state, _, _) = self.state_of(&step.id);
        if matches!(state, StepState::Done | StepState::Skipped) {
            return Ok(Flow::Continue);
        }
        let action = self.registry.action(step.kind);
        // A step the plan made a skip is skipped with the plan's reason, whatever its kind;
        // otherwise its action may still skip it (e.g. `--skip-backup`).
        let skip = match step.action {
            Action::Skip => Some(
                step.reason
                    .clone()
                    .or_else(|| action.skip(step, &self.options))
                    .unwrap_or_else(|| "nothing to do".into()),
            ),
            _ => action.skip(step, &self.options),
        };
        if let Some(reason) = skip {
            tracing::debug!(%reason, "skipped");
            self.record(Record::StepSkipped {
                step: step.id.clone(),
                reason: reason.clone(),
            })?;
            self.emit(Event::StepFinished {
                step: step.id.clone(),
                state: StepOutcome::Skipped,
                message: Some(reason),
                duration_ms: 0,
            });
            return Ok(Flow::Continue);
        }
        let in_flight = state == StepState::Running;
        // Write-ahead on the cluster too: a resume from another machine sees a step that may
        // change the cluster in flight. The copy is made while the step's first reads run; the
        // step's change door waits for it before the first change. A read-only step's start is
        // not worth a round trip to every master.
        let mut write_ahead = None;
        if !in_flight {
            self.record(Record::StepStarted {
                step: step.id.clone(),
            })?;
            if step.action.changes_cluster() && self.mirror.is_some() {
                let flush: futures::future::BoxFuture<'_, ()> = Box::pin(self.mirror());
                write_ahead = Some(flush.shared());
            }
        }
        let (_, attempt, _) = self.state_of(&step.id);
        self.emit(Event::StepStarted {
            step: step.id.clone(),
            node: step.node.clone(),
            description: step.description.clone(),
        });
        let started = Instant::now();
        let view = self.view();
        let after_copy = write_ahead.clone().map(|ready| AfterCopy {
            inner: self.change,
            ready,
        });
        let mut ctx = self.ctx_before(step, attempt.max(1), &view, upcoming);
        if let Some(door) = &after_copy {
            ctx.change = door;
        }
        let work = async {
            let res: Result<serde_json::Value, StepError> = async {
                if in_flight {
                    if let Some(out) = action.verify(&ctx).await? {
                        return Ok(out);
                    }
                }
                action.run(&ctx).await
            }
            .await;
            // The operator's gates after the step's own (inventory `[[gates]]`), as part of it.
            match res {
                Ok(out) => self.operator_gates(&ctx, out).await,
                err => err,
            }
        };
        // The copy runs beside the step's work from the start (the door's waits only join it),
        // and is finished whatever the step did.
        let copy = async {
            if let Some(copy) = write_ahead {
                copy.await;
            }
        };
        let (res, ()) = tokio::join!(work, copy);
        let ended = match res {
            Ok(output) => Ended::Done(output),
            Err(e) => Ended::Failed(self.change.redact(&e.to_string())),
        };
        let flow = self.finish(step, ended, started)?;
        // Marathon elects its own leader: a door may be crossed at any master step, done or not.
        if Self::watches_doors(step) {
            self.watch_doors(step, &step.id).await?;
        }
        Ok(flow)
    }

    /// Records how a step or its undo ended, announces it, and says what the walk does next:
    /// the one place that finishes a step.
    pub(super) fn finish(
        &self,
        step: &Step,
        ended: Ended,
        started: Instant,
    ) -> Result<Flow, EngineError> {
        let duration_ms = started.elapsed().as_millis() as u64;
        let id = step.id.clone();
        let (record, state, message, flow) = match ended {
            Ended::Done(output) => (
                Record::StepSucceeded {
                    step: id.clone(),
                    output,
                },
                StepOutcome::Done,
                None,
                Flow::Continue,
            ),
            Ended::Undone => (
                Record::UndoSucceeded { step: id.clone() },
                StepOutcome::Undone,
                None,
                Flow::Continue,
            ),
            Ended::Failed(error) => {
                // Nothing read ahead while a step failed is taken by the next.
                self.ahead.clear();
                let undoing = self.state_of(&id).0 == StepState::Undoing;
                let flow = Flow::Failed(id.clone(), error.clone());
                if undoing {
                    (
                        Record::UndoFailed {
                            step: id.clone(),
                            error: error.clone(),
                        },
                        StepOutcome::UndoFailed,
                        Some(error),
                        flow,
                    )
                } else {
                    (
                        Record::StepFailed {
                            step: id.clone(),
                            error: error.clone(),
                        },
                        StepOutcome::Failed,
                        Some(error),
                        flow,
                    )
                }
            }
        };
        self.record(record)?;
        self.emit(Event::StepFinished {
            step: id,
            state,
            message,
            duration_ms,
        });
        Ok(flow)
    }
}
