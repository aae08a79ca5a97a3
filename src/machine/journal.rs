//! Journal records (an intent log, not a debug log) and the one `match` of legal transitions.

use serde::{Deserialize, Serialize};

/// One durable journal record of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// Written before a step acts (write-ahead).
    StepStarted {
        /// Step id.
        step: String,
    },
    /// The step is done; `output` is what later steps or undo need (e.g. a backup path).
    StepSucceeded {
        /// Step id.
        step: String,
        /// Serialized output.
        #[serde(default)]
        output: serde_json::Value,
    },
    /// What a step's undo needs, journaled by the step before it acts (write-ahead undo): the
    /// step's output so far, replaced by `StepSucceeded`'s.
    StepNoted {
        /// Step id.
        step: String,
        /// Serialized output so far.
        output: serde_json::Value,
    },
    /// The step failed.
    StepFailed {
        /// Step id.
        step: String,
        /// Why, naming the node and the check.
        error: String,
    },
    /// The step had nothing to do.
    StepSkipped {
        /// Step id.
        step: String,
        /// Why.
        reason: String,
    },
    /// A gate was passed.
    GateApproved {
        /// Gate id (e.g. `before:masters`).
        gate: String,
        /// `--yes`, or `operator` at a prompt.
        by: String,
    },
    /// The run stopped where it is, to be resumed.
    RunPaused {
        /// Why (e.g. waiting for approval at a gate).
        reason: String,
    },
    /// The run was continued by `resume`.
    RunResumed,
    /// Every step is done.
    RunFinished,
    /// Rollback of the run began.
    RollbackStarted,
    /// Written before a step's undo acts.
    UndoStarted {
        /// Step id.
        step: String,
    },
    /// The undo is done.
    UndoSucceeded {
        /// Step id.
        step: String,
    },
    /// The undo failed.
    UndoFailed {
        /// Step id.
        step: String,
        /// Why.
        error: String,
    },
    /// Every undoable step was undone.
    RolledBack,
    /// The last resort began: the ZooKeeper backup is being restored on every master (written
    /// before Exhibitor is stopped anywhere; an interrupted restore is finished by `rollback` or
    /// `resume`).
    RestoreStarted {
        /// The archive being restored.
        archive: String,
    },
    /// The restore finished: ZooKeeper serves the restored data on every master.
    RestoreFinished,
    /// The restore failed (Exhibitor was started again on every master).
    RestoreFailed {
        /// Why.
        error: String,
    },
    /// A point of no return was seen crossed (journaled once per door, with what proved it).
    DoorCrossed {
        /// The door (`marathon-storage`, `cockroach-finalize`).
        door: String,
        /// What was observed, e.g. the Marathon leader's version.
        observation: String,
        /// The step after which it was seen (or `rollback`).
        after: String,
    },
    /// The rollback undid what it safely could and stopped before a door: the run is paused
    /// (fix forward with `resume`, or the last resort), and no longer rolling back.
    RollbackStopped {
        /// Why, naming the door and the next commands.
        reason: String,
    },
}

impl Record {
    /// The step a record is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Record::StepStarted { step }
            | Record::StepSucceeded { step, .. }
            | Record::StepNoted { step, .. }
            | Record::StepFailed { step, .. }
            | Record::StepSkipped { step, .. }
            | Record::UndoStarted { step }
            | Record::UndoSucceeded { step }
            | Record::UndoFailed { step, .. } => Some(step),
            _ => None,
        }
    }
}

/// Where one step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Not started.
    Pending,
    /// Started and not finished: on resume, `verify` decides.
    Running,
    /// Done.
    Done,
    /// Failed (may be retried).
    Failed,
    /// Nothing to do.
    Skipped,
    /// Undo started and not finished.
    Undoing,
    /// Undone by rollback.
    Undone,
    /// Undo failed.
    UndoFailed,
}

/// A record that cannot follow the step's current state: the journal is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal record {record} is not legal for step {step} in state {state:?}")]
pub struct IllegalTransition {
    /// The step.
    pub step: String,
    /// Its state before the record.
    pub state: StepState,
    /// The record's type.
    pub record: String,
}

/// The one table of legal step transitions.
pub fn next_state(
    step: &str,
    cur: StepState,
    rec: &Record,
) -> Result<StepState, IllegalTransition> {
    use StepState::*;
    let next = match (cur, rec) {
        (Pending | Failed | Running, Record::StepStarted { .. }) => Some(Running),
        // Fixing forward after a rollback stopped at a door: an undone step is done again.
        (Undone, Record::StepStarted { .. }) => Some(Running),
        (Running, Record::StepSucceeded { .. }) => Some(Done),
        (Running, Record::StepNoted { .. }) => Some(Running),
        (Running, Record::StepFailed { .. }) => Some(Failed),
        (Pending | Running | Failed, Record::StepSkipped { .. }) => Some(Skipped),
        (Done | Undoing | UndoFailed, Record::UndoStarted { .. }) => Some(Undoing),
        (Running | Failed, Record::UndoStarted { .. }) => Some(Undoing),
        (Undoing, Record::UndoSucceeded { .. }) => Some(Undone),
        (Undoing, Record::UndoFailed { .. }) => Some(UndoFailed),
        _ => None,
    };
    next.ok_or_else(|| IllegalTransition {
        step: step.to_string(),
        state: cur,
        record: serde_json::to_value(rec)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(String::from))
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started() -> Record {
        Record::StepStarted { step: "s".into() }
    }

    #[test]
    fn a_step_goes_pending_running_done() {
        let s = next_state("s", StepState::Pending, &started()).unwrap();
        assert_eq!(s, StepState::Running);
        let rec = Record::StepSucceeded {
            step: "s".into(),
            output: serde_json::Value::Null,
        };
        assert_eq!(next_state("s", s, &rec).unwrap(), StepState::Done);
    }

    #[test]
    fn a_done_step_cannot_start_again() {
        let e = next_state("s", StepState::Done, &started()).unwrap_err();
        assert_eq!(e.record, "step_started");
    }

    #[test]
    fn a_failed_step_can_be_retried_or_undone() {
        assert_eq!(
            next_state("s", StepState::Failed, &started()).unwrap(),
            StepState::Running
        );
        let undo = Record::UndoStarted { step: "s".into() };
        assert_eq!(
            next_state("s", StepState::Failed, &undo).unwrap(),
            StepState::Undoing
        );
    }

    #[test]
    fn an_undone_step_is_never_undone_twice() {
        let undo = Record::UndoStarted { step: "s".into() };
        assert!(next_state("s", StepState::Undone, &undo).is_err());
    }

    #[test]
    fn an_interrupted_undo_can_restart() {
        let undo = Record::UndoStarted { step: "s".into() };
        assert_eq!(
            next_state("s", StepState::Undoing, &undo).unwrap(),
            StepState::Undoing
        );
    }
}
