//! The contract every step kind implements ([`Action`]), what an implementation is handed
//! ([`StepCtx`]), and how it fails ([`StepError`]).
//!
//! Steps share state only through their journaled outputs (steno): `run` returns a serializable
//! output, which the journal keeps and `undo` gets back. The engine calls these and nothing else;
//! `phases::registry` says which action runs which [`StepKind`].

use crate::cluster::Cluster;
use crate::door::{Change, ChangeError, ProbeError, RemoteError};
use crate::events::{stamp, Event, EventSink};
use crate::machine::StepState;
use crate::options::RunOptions;
use crate::plan::{Step, StepKind};
use crate::playbook::NodeSpec;
use crate::probe::wait::WaitError;
use async_trait::async_trait;
use std::path::Path;

/// Why a step failed, as a type (the journal keeps its message).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A read-only SSH command could not run (connection, timeout).
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// An HTTP read did not get the documented answer.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// A change could not be made or audited.
    #[error(transparent)]
    Change(#[from] ChangeError),
    /// A gate was not met in time, or can never be met.
    #[error(transparent)]
    Gate(#[from] WaitError),
    /// The node upgrade script failed.
    #[error(transparent)]
    NodeUpgrade(#[from] crate::phases::node_upgrade::NodeUpgradeError),
    /// A Marathon app change (or its undo) failed.
    #[error(transparent)]
    Framework(#[from] crate::phases::frameworks::FrameworkError),
    /// An operator gate never passed.
    #[error(transparent)]
    OperatorGate(#[from] crate::phases::operator_gate::OperatorGateError),
    /// The last resort's ZooKeeper restore failed.
    #[error(transparent)]
    ZkRestore(#[from] crate::phases::zk_restore::ZkRestoreError),
    /// The step's write-ahead note could not be journaled.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The step's node is not in the inventory.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The installed versions, the path or the node script do not fit the target.
    #[error(transparent)]
    Validate(#[from] crate::phases::validate::ValidateError),
    /// The precheck or the postcheck failed.
    #[error(transparent)]
    Check(#[from] crate::phases::checks::CheckError),
    /// An IAM, etcd or app-definition backup failed.
    #[error(transparent)]
    StateBackup(#[from] crate::phases::backup_state::StateBackupError),
    /// A gate of the documented procedure was not met.
    #[error(transparent)]
    Procedure(#[from] crate::phases::procedure::ProcedureError),
    /// The ZooKeeper backup failed.
    #[error(transparent)]
    Backup(#[from] crate::phases::backup::BackupError),
    /// A rollout guard stopped the run.
    #[error(transparent)]
    Guard(#[from] crate::phases::guards::GuardError),
    /// A fake action of the unit tests failed as told (`testkit`).
    #[cfg(test)]
    #[error("{step} failed on purpose")]
    OnPurpose {
        /// The step.
        step: String,
    },
}

/// The step's write-ahead note could not be journaled ([`StepCtx::note`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot journal the undo of {step}: {error}")]
pub struct NoteError {
    /// The step.
    pub step: String,
    /// The journal's error.
    pub error: String,
}

/// The step's node cannot be found ([`StepCtx::node`]): a plan that does not match the inventory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The step names no node.
    #[error("step {step} names no node")]
    NoNode {
        /// The step.
        step: String,
    },
    /// The step's node is not in the inventory.
    #[error("node {node} of step {step} is not in the inventory")]
    NotInInventory {
        /// The node's address.
        node: String,
        /// The step.
        step: String,
    },
    /// A master the step names is not a master of the inventory.
    #[error("{node} is not a master of the inventory")]
    NotAMaster {
        /// The address.
        node: String,
    },
}

/// What undoing a step means, decided before the undo starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// The step changed nothing that needs putting back.
    Nothing,
    /// [`Action::undo`] puts it back.
    Compensate,
    /// It cannot be undone safely; the rollback stops and asks, naming the reason.
    NoSafeUndo(String),
}

/// One kind of step: how it is done, checked on resume, and undone.
#[async_trait]
pub trait Action: Send + Sync {
    /// Whether steps of this kind change the cluster (and so are undone by a rollback).
    fn changes_cluster(&self) -> bool {
        false
    }

    /// Why the step is skipped without running, if it is (decided before `Started` is written).
    fn skip(&self, _step: &Step, _options: &RunOptions) -> Option<String> {
        None
    }

    /// On resume of a step found in flight (`Started` without an outcome): the output if it
    /// already took effect, so it is not done again. `None` runs it again (the default; `run`
    /// must then be idempotent, as node upgrades are through their attempt directory).
    async fn verify(&self, _ctx: &StepCtx<'_>) -> Result<Option<serde_json::Value>, StepError> {
        Ok(None)
    }

    /// Does the step and returns its output (journaled; later steps and `undo` read it).
    async fn run(&self, ctx: &StepCtx<'_>) -> Result<serde_json::Value, StepError>;

    /// Whether the step, in `state` with `output`, can be undone.
    async fn undo_plan(
        &self,
        _ctx: &StepCtx<'_>,
        _output: &serde_json::Value,
        _state: StepState,
    ) -> Undo {
        Undo::Nothing
    }

    /// The compensation (only called after `undo_plan` said [`Undo::Compensate`]).
    async fn undo(&self, _ctx: &StepCtx<'_>, _output: &serde_json::Value) -> Result<(), StepError> {
        Ok(())
    }
}

/// A point of no return the cluster shows crossed, and what proved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    /// The door.
    pub door: crate::plan::DoorId,
    /// What was observed (e.g. the Marathon leader's version).
    pub observation: String,
}

/// Which action runs each step kind, and how the plan's doors are observed.
#[async_trait]
pub trait Registry: Send + Sync {
    /// The action for `kind`.
    fn action(&self, kind: StepKind) -> &dyn Action;

    /// The last resort's action (`rollback --restore-zookeeper`): not a step of the plan, run
    /// with the context of the run's ZooKeeper backup step, whose output it restores
    /// (`phases::zk_restore`).
    fn last_resort(&self) -> &dyn Action;

    /// Which of `doors` the cluster shows crossed now. A door that cannot be observed is not
    /// reported (the gate after every master undo still requires Marathon to answer). The
    /// default observes nothing (registries of fake actions).
    async fn doors_crossed(
        &self,
        _ctx: &StepCtx<'_>,
        _doors: &[crate::plan::Door],
    ) -> Vec<Crossing> {
        Vec::new()
    }
}

/// The step's own part of the journal, for write-ahead undo.
pub trait StepJournal: Send + Sync {
    /// Journals `output` durably as the step's output so far (what its undo needs), before the
    /// step changes anything; a later `StepSucceeded` replaces it.
    fn note(&self, step: &str, output: serde_json::Value) -> Result<(), String>;
}

/// What a step implementation gets.
pub struct StepCtx<'a> {
    /// The cluster (and its observe door).
    pub cluster: &'a Cluster,
    /// The change door.
    pub change: &'a dyn Change,
    /// Run id.
    pub run: &'a str,
    /// The step.
    pub step: &'a Step,
    /// Attempt number (1 for the first).
    pub attempt: u32,
    /// Target version.
    pub to: &'a crate::versions::RecordedVersion,
    /// From version (the plan's).
    pub from: Option<&'a crate::versions::RecordedVersion>,
    /// Events.
    pub events: &'a dyn EventSink,
    /// The state directory (backups are copied under it).
    pub state_dir: &'a Path,
    /// The run's journal view when the step started (guards read earlier outputs from it).
    pub view: &'a crate::machine::RunView,
    /// Where the step journals what its undo needs before it acts.
    pub journal: &'a dyn StepJournal,
    /// The nodes the plan leaves out by name (`--exclude`; the prechecks and postchecks name them).
    pub excluded: &'a [crate::plan::Excluded],
    /// What the schedule runs right after this step, as far as this step may read ahead for
    /// it (`crate::read_ahead`).
    pub upcoming: Upcoming<'a>,
    /// Where this step leaves what it read ahead for the next one, and takes what the step
    /// before read for it.
    pub ahead: &'a crate::read_ahead::ReadAhead,
}

/// What the schedule runs right after a step, as far as the step may read ahead for it.
#[derive(Debug, Clone, Copy, Default)]
pub enum Upcoming<'a> {
    /// Nothing the step may read for (what follows is not known yet, or is read by another).
    #[default]
    Nothing,
    /// One of these runs next, alone: the phase's other unfinished steps in plan order (the
    /// masters: the first that is not on the Mesos leader), or the next phase's first step.
    OneOf(&'a [&'a Step]),
    /// These run next, at once (the next batch); `mine` are the ones this step reads for (the
    /// steps of a batch share the next batch between them).
    Batch {
        /// Every step of the next batch.
        next: &'a [&'a Step],
        /// This step's share of it.
        mine: &'a [&'a Step],
    },
}

impl StepCtx<'_> {
    /// Says something about the step's progress.
    pub fn progress(&self, message: impl Into<String>) {
        self.events.emit(&stamp(Event::StepProgress {
            step: self.step.id.clone(),
            message: message.into(),
        }));
    }

    /// Journals the step's output so far, durably, before it acts (see [`StepJournal`]).
    pub fn note(&self, output: serde_json::Value) -> Result<(), NoteError> {
        self.journal
            .note(&self.step.id, output)
            .map_err(|error| NoteError {
                step: self.step.id.clone(),
                error,
            })
    }

    /// This step's output as the journal had it when the step started (a write-ahead note of an
    /// earlier attempt, or Null).
    pub fn noted(&self) -> &serde_json::Value {
        static NULL: serde_json::Value = serde_json::Value::Null;
        self.view
            .step(&self.step.id)
            .map(|s| &s.output)
            .unwrap_or(&NULL)
    }

    /// The step's node as the inventory names it.
    pub fn node(&self) -> Result<&NodeSpec, NodeError> {
        let step = || self.step.id.clone();
        let addr = (self.step.node.as_deref()).ok_or_else(|| NodeError::NoNode { step: step() })?;
        self.cluster
            .node(addr)
            .ok_or_else(|| NodeError::NotInInventory {
                node: addr.into(),
                step: step(),
            })
    }

    /// A node-changing script on `node`, through the change door, audited under this step.
    pub async fn change(
        &self,
        node: &NodeSpec,
        description: &str,
        script: &str,
        input: Option<&[u8]>,
        timeout: std::time::Duration,
    ) -> Result<crate::door::Output, ChangeError> {
        self.change
            .script(crate::door::ScriptChange {
                step: &self.step.id,
                node: &Cluster::target(node),
                description,
                script,
                input,
                timeout,
            })
            .await
    }

    /// A directory name derived from the step id.
    pub fn slug(&self) -> String {
        self.step
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}
