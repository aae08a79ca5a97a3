//! The engine: walks a run's plan against its journal. Journal before acting, gates at phase
//! boundaries, the leader re-resolved before each master, agents in batches, rollback in
//! reverse. Emits events; never prints.

pub mod chokepoint;
pub mod cluster_lock;
pub mod rollback;

use crate::checkpoint;
use crate::cluster::Cluster;
use crate::events::{stamp, Event, EventSink};
use crate::machine::{Record, RunView, StepState};
use crate::phases::{self, node_upgrade::Direction, StepCtx};
use crate::plan::{Action, Phase, PhaseId, Step, StepKind};
use crate::store::{RunRecord, Store, StoreError};
use chokepoint::Changer;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What to do when a step fails without a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Stop, keep the state, exit 1.
    #[default]
    Pause,
    /// Undo what this run did, then exit 1.
    Rollback,
}

/// Options of a run (persisted with it, so `resume` keeps them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunOptions {
    /// Approve every gate.
    pub yes: bool,
    /// Failure policy without a terminal.
    pub on_failure: OnFailure,
    /// Skip the ZooKeeper backup (recorded in the audit log).
    pub skip_backup: bool,
    /// The version whose release notes were acknowledged.
    pub ack_release_notes: Option<String>,
}

/// The operator's answer at a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateChoice {
    /// Go on.
    Continue,
    /// Stop here; `resume` continues later.
    Stop,
    /// Undo what this run did.
    Rollback,
    /// Stop and mark the run failed.
    Abort,
}

/// The operator's answer after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureChoice {
    /// Run the failed step again.
    Retry,
    /// Undo what this run did.
    Rollback,
    /// Stop; `resume` retries later.
    Stop,
}

/// Asks the operator (implemented by the CLI with dialoguer).
pub trait Prompter: Send + Sync {
    /// At a gate.
    fn gate(&self, gate: &str, message: &str) -> GateChoice;
    /// After a failed step.
    fn failure(&self, step: &str, error: &str) -> FailureChoice;
    /// Before undoing a step that has no safe undo.
    fn confirm(&self, message: &str) -> bool;
}

/// How the run ended (for now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step done.
    Done,
    /// Stopped at a gate waiting for approval.
    AtGate {
        /// The gate.
        gate: String,
    },
    /// Stopped by the operator.
    Stopped {
        /// Why.
        reason: String,
    },
    /// A step failed.
    Failed {
        /// The step.
        step: String,
        /// Why.
        error: String,
    },
    /// Rolled back (after a failure, when `failed` says which).
    RolledBack {
        /// The failure that caused it, if any.
        after_failure: Option<String>,
    },
    /// The ZooKeeper backup was restored on every master (the last resort).
    Restored {
        /// The archive restored.
        archive: String,
    },
    /// Rollback could not finish.
    RollbackFailed {
        /// The step whose undo failed.
        step: String,
        /// Why.
        error: String,
    },
}

/// The engine could not keep its journal: stop at once.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The state database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The journal is inconsistent.
    #[error("the journal of run {run} is inconsistent: {detail}")]
    Journal {
        /// Run id.
        run: String,
        /// What.
        detail: String,
    },
}

/// What the walk does next.
enum Flow {
    /// Go on.
    Continue,
    /// A step failed (step, error).
    Failed(String, String),
    /// Stop here with this outcome.
    Halt(Outcome),
    /// The operator asked for a rollback.
    Rollback,
}

/// Executes one run.
pub struct Engine<'a> {
    store: &'a Store,
    record: &'a RunRecord,
    cluster: &'a Cluster,
    options: RunOptions,
    prompter: Option<Arc<dyn Prompter>>,
    events: &'a dyn EventSink,
    changer: Changer<'a>,
    view: Mutex<RunView>,
}

impl<'a> Engine<'a> {
    /// An engine for a run; `prompter` is None without a terminal.
    pub fn new(
        store: &'a Store,
        record: &'a RunRecord,
        cluster: &'a Cluster,
        options: RunOptions,
        prompter: Option<Arc<dyn Prompter>>,
        events: &'a dyn EventSink,
        secrets: Vec<String>,
    ) -> Result<Engine<'a>, EngineError> {
        let view = Self::load_view(store, record)?;
        Ok(Engine {
            store,
            record,
            cluster,
            options,
            prompter,
            events,
            changer: Changer::new(store, &record.id, cluster, secrets),
            view: Mutex::new(view),
        })
    }

    fn load_view(store: &Store, record: &RunRecord) -> Result<RunView, EngineError> {
        let journal = store.journal(&record.id)?;
        RunView::replay(&record.plan, &journal).map_err(|e| EngineError::Journal {
            run: record.id.clone(),
            detail: e.to_string(),
        })
    }

    /// The run's current view.
    pub fn view(&self) -> RunView {
        self.view.lock().expect("view lock").clone()
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
        let view = Self::load_view(self.store, self.record)?;
        self.store.write_snapshot(&self.record.id, &view)?;
        *self.view.lock().expect("view lock") = view;
        Ok(())
    }

    fn state_of(&self, id: &str) -> (StepState, u32, u32) {
        let v = self.view.lock().expect("view lock");
        v.step(id)
            .map(|s| (s.state, s.attempts, s.undo_attempts))
            .unwrap_or((StepState::Pending, 0, 0))
    }

    fn emit(&self, e: Event) {
        self.events.emit(&stamp(e));
    }

    /// Who approves a yes/no gate: `--yes`, the operator at a prompt, or nobody (None, when
    /// there is no terminal or the operator said no).
    fn confirm_gate(&self, question: String) -> Option<&'static str> {
        if self.options.yes {
            return Some("--yes");
        }
        let p = self.prompter.clone()?;
        tokio::task::block_in_place(move || p.confirm(&question)).then_some("operator")
    }

    /// Journals and announces an approved gate.
    fn approve(&self, gate: String, by: &str, message: String) -> Result<(), EngineError> {
        self.record(Record::GateApproved {
            gate: gate.clone(),
            by: by.into(),
        })?;
        self.emit(Event::Gate {
            gate,
            decision: "approved".into(),
            message,
        });
        Ok(())
    }

    /// Journals a pause at a gate, announces it waiting, and returns the outcome.
    fn wait_at(
        &self,
        gate: String,
        reason: String,
        message: String,
    ) -> Result<Outcome, EngineError> {
        self.record(Record::RunPaused { reason })?;
        self.emit(Event::Gate {
            gate: gate.clone(),
            decision: "waiting".into(),
            message,
        });
        Ok(Outcome::AtGate { gate })
    }

    /// Runs (or resumes) the run to its end or to the next stop.
    pub async fn execute(&self, resumed: bool) -> Result<Outcome, EngineError> {
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
            to: self.record.plan.to.clone(),
            resumed,
            total_steps: total,
            done_steps: done,
        });
        loop {
            match self.forward().await? {
                Flow::Continue => break,
                Flow::Halt(o) => return Ok(o),
                Flow::Rollback => return self.rollback(None).await,
                Flow::Failed(step, error) => {
                    let choice = match &self.prompter {
                        Some(p) => {
                            let p = p.clone();
                            let (s, e) = (step.clone(), error.clone());
                            tokio::task::block_in_place(move || p.failure(&s, &e))
                        }
                        None => match self.options.on_failure {
                            OnFailure::Pause => FailureChoice::Stop,
                            OnFailure::Rollback => FailureChoice::Rollback,
                        },
                    };
                    match choice {
                        FailureChoice::Retry => continue,
                        FailureChoice::Rollback => return self.rollback(Some(error)).await,
                        FailureChoice::Stop => return Ok(Outcome::Failed { step, error }),
                    }
                }
            }
        }
        self.record(Record::RunFinished)?;
        Ok(Outcome::Done)
    }

    async fn forward(&self) -> Result<Flow, EngineError> {
        for phase in &self.record.plan.phases {
            let pending: Vec<&Step> = phase
                .steps
                .iter()
                .filter(|s| !matches!(self.state_of(&s.id).0, StepState::Done | StepState::Skipped))
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
                match self.gate(phase).await? {
                    Flow::Continue => {}
                    stop => return Ok(stop),
                }
            }
            self.emit(Event::PhaseStarted {
                phase: phase.id.to_string(),
            });
            checkpoint::hit(&format!("phase:{}", phase.id));
            let r = match phase.id {
                PhaseId::Masters => self.masters(phase).await?,
                PhaseId::Agents => self.agents(phase).await?,
                _ => {
                    let mut r = Flow::Continue;
                    for s in pending {
                        r = self.step(s).await?;
                        if !matches!(r, Flow::Continue) {
                            break;
                        }
                    }
                    r
                }
            };
            if !matches!(r, Flow::Continue) {
                return Ok(r);
            }
        }
        Ok(Flow::Continue)
    }

    /// A phase gate: approved before, by `--yes`, or at a prompt; else the run stops.
    async fn gate(&self, phase: &Phase) -> Result<Flow, EngineError> {
        let gate = format!("before:{}", phase.id);
        if self.view().approved_gates.contains(&gate) {
            return Ok(Flow::Continue);
        }
        checkpoint::hit(&format!("in-gate:{gate}"));
        let n = phase
            .steps
            .iter()
            .filter(|s| s.action != Action::Skip)
            .count();
        let message = format!(
            "about to start the {} phase ({n} step(s) that change the cluster)",
            phase.id
        );
        if self.options.yes {
            self.approve(gate, "--yes", message)?;
            return Ok(Flow::Continue);
        }
        let Some(p) = self.prompter.clone() else {
            let reason = format!("waiting for approval at gate {gate}");
            return Ok(Flow::Halt(self.wait_at(gate, reason, message)?));
        };
        let (g, m) = (gate.clone(), message.clone());
        let choice = tokio::task::block_in_place(move || p.gate(&g, &m));
        let decision = match choice {
            GateChoice::Continue => "approved",
            GateChoice::Stop => "stopped",
            GateChoice::Rollback => "rollback",
            GateChoice::Abort => "abort",
        };
        self.emit(Event::Gate {
            gate: gate.clone(),
            decision: decision.into(),
            message,
        });
        match choice {
            GateChoice::Continue => {
                self.record(Record::GateApproved {
                    gate,
                    by: "operator".into(),
                })?;
                Ok(Flow::Continue)
            }
            GateChoice::Stop => {
                let reason = format!("stopped by the operator at gate {gate}");
                self.record(Record::RunPaused {
                    reason: reason.clone(),
                })?;
                Ok(Flow::Halt(Outcome::Stopped { reason }))
            }
            GateChoice::Rollback => Ok(Flow::Rollback),
            GateChoice::Abort => {
                self.record(Record::RunPaused {
                    reason: format!("aborted by the operator at gate {gate}"),
                })?;
                Ok(Flow::Halt(Outcome::Failed {
                    step: gate,
                    error: "aborted by the operator".into(),
                }))
            }
        }
    }

    /// The release-notes gate, before anything changes: the target's notes must be acknowledged
    /// at a prompt or by `--ack-release-notes VERSION` (`--yes` is not enough); a different
    /// version is refused.
    async fn release_notes_gate(&self) -> Result<Flow, EngineError> {
        use crate::release_notes::{self as rn, Ack};
        let to = self.record.plan.to.clone();
        let gate = rn::gate_name(&to);
        if self.view().approved_gates.contains(&gate) {
            return Ok(Flow::Continue);
        }
        let notes = match rn::load(&self.cluster.inventory, &to) {
            Ok(n) => n,
            Err(e) => {
                return Ok(Flow::Halt(Outcome::Failed {
                    step: gate,
                    error: e,
                }));
            }
        };
        let shown = match &notes {
            Some(n) => n.render(),
            None => format!("no release notes for DC/OS {to} are shipped or named in the inventory ([release_notes] file); read them in the DC/OS documentation"),
        };
        match rn::check_ack(self.options.ack_release_notes.as_deref(), &to) {
            Ack::Accepted => {
                self.record(Record::GateApproved {
                    gate: gate.clone(),
                    by: "--ack-release-notes".into(),
                })?;
                self.emit(Event::Gate {
                    gate,
                    decision: "approved".into(),
                    message: format!("release notes for DC/OS {to} acknowledged"),
                });
                return Ok(Flow::Continue);
            }
            Ack::Mismatch { given } => {
                let error = format!("--ack-release-notes {given} does not match the target version {to}: read the release notes of {to} and acknowledge those");
                self.record(Record::RunPaused {
                    reason: error.clone(),
                })?;
                self.emit(Event::Gate {
                    gate: gate.clone(),
                    decision: "refused".into(),
                    message: error.clone(),
                });
                return Ok(Flow::Halt(Outcome::Failed { step: gate, error }));
            }
            Ack::Missing => {}
        }
        self.emit(Event::Warning { message: shown });
        let message = format!("acknowledge the release notes of DC/OS {to} (non-interactively: --ack-release-notes {to})");
        let Some(p) = self.prompter.clone() else {
            let reason = format!("waiting for the release notes of {to} to be acknowledged (--ack-release-notes {to})");
            return Ok(Flow::Halt(self.wait_at(gate, reason, message)?));
        };
        let question = format!(
            "Have you read the release notes of DC/OS {to} above, and do they allow this upgrade?"
        );
        let yes = tokio::task::block_in_place(move || p.confirm(&question));
        self.emit(Event::Gate {
            gate: gate.clone(),
            decision: if yes { "approved" } else { "stopped" }.into(),
            message,
        });
        if yes {
            self.record(Record::GateApproved {
                gate,
                by: "operator".into(),
            })?;
            Ok(Flow::Continue)
        } else {
            let reason = format!("the release notes of {to} were not acknowledged");
            self.record(Record::RunPaused {
                reason: reason.clone(),
            })?;
            Ok(Flow::Halt(Outcome::Stopped { reason }))
        }
    }

    /// Masters one at a time; before each, the leader is re-resolved and kept for last.
    async fn masters(&self, phase: &Phase) -> Result<Flow, EngineError> {
        loop {
            let pending: Vec<&Step> = phase
                .steps
                .iter()
                .filter(|s| !matches!(self.state_of(&s.id).0, StepState::Done | StepState::Skipped))
                .collect();
            if pending.is_empty() {
                return Ok(Flow::Continue);
            }
            let next = if let Some(s) = pending.iter().find(|s| {
                self.state_of(&s.id).0 == StepState::Running || s.kind == StepKind::NodeSkip
            }) {
                s
            } else {
                let c = self.cluster;
                let leader = c.leader_address().await.ok().flatten();
                if let Some(l) = &leader {
                    self.emit(Event::Warning {
                        message: format!("Mesos leader is {l}; it is upgraded last"),
                    })
                }
                pending
                    .iter()
                    .find(|s| s.node.as_deref() != leader.as_deref())
                    .unwrap_or(&pending[0])
            };
            match self.step(next).await? {
                Flow::Continue => {}
                other => return Ok(other),
            }
        }
    }

    /// Agents batch by batch; the steps of one batch run at once.
    async fn agents(&self, phase: &Phase) -> Result<Flow, EngineError> {
        let mut batches: Vec<u32> = phase.steps.iter().filter_map(|s| s.batch).collect();
        batches.sort_unstable();
        batches.dedup();
        for s in phase.steps.iter().filter(|s| s.batch.is_none()) {
            match self.step(s).await? {
                Flow::Continue => {}
                other => return Ok(other),
            }
        }
        for b in batches {
            let steps: Vec<&Step> = phase
                .steps
                .iter()
                .filter(|s| s.batch == Some(b))
                .filter(|s| !matches!(self.state_of(&s.id).0, StepState::Done | StepState::Skipped))
                .collect();
            let results = join_all(steps.iter().map(|s| self.step(s))).await;
            for r in results {
                match r? {
                    Flow::Continue => {}
                    other => return Ok(other),
                }
            }
        }
        Ok(Flow::Continue)
    }

    fn ctx<'b>(&'b self, step: &'b Step, attempt: u32) -> StepCtx<'b> {
        StepCtx {
            cluster: self.cluster,
            changer: &self.changer,
            run: &self.record.id,
            step,
            attempt,
            to: &self.record.plan.to,
            from: self.record.plan.from.as_deref(),
            events: self.events,
            state_dir: self.store.dir(),
            options: &self.options,
        }
    }

    /// One step: journal Started (unless resuming one in flight), act, journal the outcome.
    async fn step(&self, step: &Step) -> Result<Flow, EngineError> {
        let (state, _, _) = self.state_of(&step.id);
        if matches!(state, StepState::Done | StepState::Skipped) {
            return Ok(Flow::Continue);
        }
        let skip_reason = match step.kind {
            StepKind::NodeSkip => step.reason.clone(),
            StepKind::AppUpgrade if step.action == Action::Skip => step.reason.clone(),
            StepKind::ZkBackup if self.options.skip_backup => {
                Some("--skip-backup was given: no ZooKeeper backup was taken".to_string())
            }
            _ => None,
        };
        if let Some(reason) = skip_reason {
            self.record(Record::StepSkipped {
                step: step.id.clone(),
                reason: reason.clone(),
            })?;
            self.emit(Event::StepFinished {
                step: step.id.clone(),
                state: "skipped".into(),
                message: Some(reason),
                duration_ms: 0,
            });
            return Ok(Flow::Continue);
        }
        if state != StepState::Running {
            self.record(Record::StepStarted {
                step: step.id.clone(),
            })?;
        }
        let (_, attempt, _) = self.state_of(&step.id);
        self.emit(Event::StepStarted {
            step: step.id.clone(),
            node: step.node.clone(),
            description: step.description.clone(),
        });
        let started = Instant::now();
        let ctx = self.ctx(step, attempt.max(1));
        let res = match step.kind {
            StepKind::Precheck => match phases::checks::precheck(&ctx).await {
                Ok(out) => Ok(phases::guards::with_baseline(&ctx, out).await),
                Err(e) => Err(e),
            },
            StepKind::ZkBackup => phases::backup::zookeeper(&ctx).await,
            StepKind::ValidateVersions => phases::validate::versions(&ctx).await,
            StepKind::ValidateScript => phases::validate::upgrade_script(&ctx).await,
            StepKind::NodeUpgrade => {
                match phases::node_upgrade::run(&ctx, Direction::Upgrade).await {
                    // Rollout guards after every master and agent step (phases::guards).
                    Ok(out) => phases::guards::after_node_step(&ctx, &self.view(), out).await,
                    Err(e) => Err(e),
                }
            }
            StepKind::AppUpgrade => phases::frameworks::upgrade(&ctx, None).await,
            StepKind::Postcheck => phases::checks::postcheck(&ctx).await,
            StepKind::NodeSkip => Ok(serde_json::Value::Null),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        match res {
            Ok(output) => {
                self.record(Record::StepSucceeded {
                    step: step.id.clone(),
                    output,
                })?;
                self.emit(Event::StepFinished {
                    step: step.id.clone(),
                    state: "done".into(),
                    message: None,
                    duration_ms,
                });
                Ok(Flow::Continue)
            }
            Err(error) => {
                let error = self.changer.redact(&error);
                self.record(Record::StepFailed {
                    step: step.id.clone(),
                    error: error.clone(),
                })?;
                self.emit(Event::StepFinished {
                    step: step.id.clone(),
                    state: "failed".into(),
                    message: Some(error.clone()),
                    duration_ms,
                });
                Ok(Flow::Failed(step.id.clone(), error))
            }
        }
    }
}
