//! The test fakes: actions that record what ran, a prompter with scripted answers, an event sink
//! that keeps every event.

use crate::action::{Action, Registry, StepCtx, StepError, Undo};
use crate::engine::{FailureChoice, GateChoice, Prompter};
use crate::events::{EventSink, Stamped};
use crate::machine::StepState;
use crate::model::Role;
use crate::plan::StepKind;
use async_trait::async_trait;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use super::Leader;

/// What the fake actions saw, in order: `do <step>`, `undo <step>`, `verify <step>`, and for
/// masters the leader at the moment they started (`leader <addr>`).
#[derive(Default)]
pub struct Trace {
    /// The entries.
    pub entries: Mutex<Vec<String>>,
}

impl Trace {
    /// Appends an entry.
    pub fn push(&self, e: impl Into<String>) {
        self.entries.lock().expect("trace").push(e.into());
    }

    /// Every entry so far.
    pub fn all(&self) -> Vec<String> {
        self.entries.lock().expect("trace").clone()
    }

    /// The entries starting with `prefix`, without it.
    pub fn with(&self, prefix: &str) -> Vec<String> {
        self.all()
            .iter()
            .filter_map(|e| e.strip_prefix(prefix).map(String::from))
            .collect()
    }
}

/// Actions that record what ran. Node steps fail for the nodes in `fail`, have no safe undo for
/// the steps in `no_undo`, and move the leader to `next_leader` after upgrading the leader's
/// successor chosen by the test (`move_after`).
#[derive(Default)]
pub struct FakeActions {
    /// What ran.
    pub trace: Arc<Trace>,
    /// Step ids whose `run` fails.
    pub fail: Mutex<BTreeSet<String>>,
    /// Step ids with no safe undo.
    pub no_undo: BTreeSet<String>,
    /// When this step succeeds, the leader moves to the given address.
    pub move_after: Option<(String, String)>,
    /// The leader shared with the fake cluster.
    pub leader: Option<Leader>,
    /// Notified when this step starts (to interrupt the run there).
    pub on_start: Option<(String, tokio::sync::mpsc::UnboundedSender<()>)>,
    /// When this step succeeds, the cluster shows this door crossed from then on.
    pub cross_after: Option<(String, crate::plan::DoorId)>,
    /// The doors crossed so far (by `cross_after`).
    pub crossed: Mutex<Vec<crate::plan::DoorId>>,
}

#[async_trait]
impl Registry for FakeActions {
    fn action(&self, _kind: StepKind) -> &dyn Action {
        self
    }

    fn last_resort(&self) -> &dyn Action {
        self
    }

    async fn doors_crossed(
        &self,
        _ctx: &StepCtx<'_>,
        doors: &[crate::plan::Door],
    ) -> Vec<crate::action::Crossing> {
        let crossed = self.crossed.lock().expect("crossed").clone();
        doors
            .iter()
            .filter(|d| crossed.contains(&d.id))
            .map(|d| crate::action::Crossing {
                door: d.id,
                observation: format!("the test crossed {}", d.id),
            })
            .collect()
    }
}

#[async_trait]
impl Action for FakeActions {
    fn changes_cluster(&self) -> bool {
        true
    }

    async fn verify(&self, ctx: &StepCtx<'_>) -> Result<Option<serde_json::Value>, StepError> {
        self.trace.push(format!("verify {}", ctx.step.id));
        Ok(None)
    }

    async fn run(&self, ctx: &StepCtx<'_>) -> Result<serde_json::Value, StepError> {
        let id = &ctx.step.id;
        if let Some((s, tx)) = &self.on_start {
            if s == id {
                let _ = tx.send(());
                // Parked here until the run is interrupted.
                std::future::pending::<()>().await;
            }
        }
        if let (Some(l), Some(Role::Master)) = (&self.leader, ctx.step.role) {
            self.trace
                .push(format!("leader {}", l.lock().expect("leader")));
        }
        self.trace.push(format!("start {id}"));
        tokio::task::yield_now().await;
        self.trace.push(format!("do {id}"));
        if self.fail.lock().expect("fail").contains(id) {
            return Err(StepError::OnPurpose { step: id.clone() });
        }
        if let (Some((after, to)), Some(l)) = (&self.move_after, &self.leader) {
            if after == id {
                *l.lock().expect("leader") = to.clone();
            }
        }
        if let Some((after, door)) = &self.cross_after {
            if after == id {
                self.crossed.lock().expect("crossed").push(*door);
            }
        }
        Ok(serde_json::json!({"attempt": ctx.attempt}))
    }

    async fn undo_plan(
        &self,
        ctx: &StepCtx<'_>,
        _output: &serde_json::Value,
        _state: StepState,
    ) -> Undo {
        if self.no_undo.contains(&ctx.step.id) {
            Undo::NoSafeUndo("the test says so".into())
        } else {
            Undo::Compensate
        }
    }

    async fn undo(&self, ctx: &StepCtx<'_>, _output: &serde_json::Value) -> Result<(), StepError> {
        self.trace.push(format!("undo {}", ctx.step.id));
        Ok(())
    }
}

/// A prompter that answers every phase gate with `gate`, failures with `failure`, and
/// confirmations with `confirm`; it records the gates it was asked.
pub struct Scripted {
    /// The answer at every gate.
    pub gate: GateChoice,
    /// The answer after a failure.
    pub failure: FailureChoice,
    /// The answer to yes/no questions.
    pub confirm: bool,
    /// The gates asked, in order.
    pub asked: Mutex<Vec<String>>,
    /// The failures shown (step and message), in order.
    pub failures: Mutex<Vec<String>>,
}

impl Scripted {
    /// A prompter with these answers.
    pub fn new(gate: GateChoice, failure: FailureChoice, confirm: bool) -> Arc<Scripted> {
        Arc::new(Scripted {
            gate,
            failure,
            confirm,
            asked: Mutex::new(Vec::new()),
            failures: Mutex::new(Vec::new()),
        })
    }
}

impl Prompter for Scripted {
    fn gate(&self, gate: &str, _message: &str) -> GateChoice {
        self.asked.lock().expect("asked").push(gate.to_string());
        self.gate
    }

    fn failure(&self, step: &str, error: &str) -> FailureChoice {
        self.failures
            .lock()
            .expect("failures")
            .push(format!("{step}: {error}"));
        self.failure
    }

    fn confirm(&self, _message: &str) -> bool {
        self.confirm
    }
}

/// An event sink that keeps every event.
#[derive(Default)]
pub struct Events {
    /// The events.
    pub seen: Mutex<Vec<Stamped>>,
}

impl EventSink for Events {
    fn emit(&self, event: &Stamped) {
        self.seen.lock().expect("events").push(event.clone());
    }
}
