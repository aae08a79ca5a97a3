//! What the engine decides and reports: typed gates, the operator's answers, the outcome of a
//! walk, and the engine's own errors.

use crate::plan::PhaseId;
use crate::store::StoreError;
use std::fmt;

/// A gate of a run, as a type. Its string form is what the journal records
/// (`before:masters`, `release-notes:2.2.1`, `no-undo:<step>`, `restore-zookeeper`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateId {
    /// Approval before a phase that changes the cluster.
    Phase(PhaseId),
    /// The target version's release notes were acknowledged.
    ReleaseNotes(String),
    /// A step without a safe undo is left as it is by the rollback.
    NoUndo(String),
    /// The last resort: restore the ZooKeeper backup on every master.
    RestoreZookeeper,
    /// The operator's approval after a node (inventory `pause_after`; the node's address).
    PauseAfter(String),
}

impl GateId {
    /// Whether approving this gate belongs to a rollback (continue with `rollback --yes`).
    pub fn is_rollback_gate(&self) -> bool {
        matches!(self, GateId::NoUndo(_) | GateId::RestoreZookeeper)
    }
}

impl fmt::Display for GateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GateId::Phase(p) => write!(f, "before:{p}"),
            GateId::ReleaseNotes(v) => write!(f, "{}", crate::release_notes::gate_name(v)),
            GateId::NoUndo(step) => write!(f, "no-undo:{step}"),
            GateId::RestoreZookeeper => f.write_str("restore-zookeeper"),
            GateId::PauseAfter(node) => write!(f, "pause-after:{node}"),
        }
    }
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

/// Asks the operator (implemented by the CLI with dialoguer; by scripted answers in tests).
pub trait Prompter: Send + Sync {
    /// At a gate.
    fn gate(&self, gate: &str, message: &str) -> GateChoice;
    /// After a failed step.
    fn failure(&self, step: &str, error: &str) -> FailureChoice;
    /// Before undoing a step that has no safe undo.
    fn confirm(&self, message: &str) -> bool;
    /// Names the cluster the questions are about (once the run is known).
    fn cluster(&self, _name: &str) {}
}

/// How a walk of the plan ended (for now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step done.
    Done,
    /// Stopped at a gate waiting for approval.
    AtGate {
        /// The gate.
        gate: GateId,
    },
    /// Stopped by the operator.
    Stopped {
        /// Why.
        reason: String,
    },
    /// A step failed.
    Failed {
        /// The step (or gate) that failed.
        step: String,
        /// Why.
        error: String,
    },
    /// Rolled back (after a failure, when `after_failure` says which).
    RolledBack {
        /// The failure that caused it, if any.
        after_failure: Option<String>,
    },
    /// The ZooKeeper backup was restored on every master (the last resort).
    Restored {
        /// The archive restored.
        archive: String,
    },
    /// Rollback undid what it safely could and stopped with the cluster not back at its old
    /// version (past a point of no return, or nodes another run changed): the run is paused,
    /// and the reason names the way forward.
    RollbackStopped {
        /// What is not back, why, and what to run next.
        reason: String,
    },
    /// Rollback could not finish.
    RollbackFailed {
        /// The step whose undo failed.
        step: String,
        /// Why.
        error: String,
    },
}

/// Where the journal is copied at every step boundary and gate (the masters' mirrors); a copy
/// that cannot be written is a warning, never a failure.
#[async_trait::async_trait]
pub trait JournalMirror: Send + Sync {
    /// Copies what the journal gained since the last call.
    async fn flush(&self);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_ids_keep_the_journal_names() {
        assert_eq!(
            GateId::Phase(PhaseId::Masters).to_string(),
            "before:masters"
        );
        assert_eq!(
            GateId::ReleaseNotes("2.2.1".into()).to_string(),
            "release-notes:2.2.1"
        );
        assert_eq!(
            GateId::NoUndo("agents/a1/upgrade".into()).to_string(),
            "no-undo:agents/a1/upgrade"
        );
        assert_eq!(GateId::RestoreZookeeper.to_string(), "restore-zookeeper");
        assert_eq!(
            GateId::PauseAfter("10.0.1.3".into()).to_string(),
            "pause-after:10.0.1.3"
        );
    }
}
