//! Unit tests of `RunView`: folding a journal into a run's state.

use super::*;
use crate::facts::{ClusterFacts, NodeFacts};
use crate::model::Role;
use crate::plan::{build, PlanOptions};

fn plan() -> Plan {
    let facts = ClusterFacts {
        masters: vec![NodeFacts {
            address: "10.0.0.1".into(),
            name: "m1".into(),
            role: Role::Master,
            version: Some("2.1.3".into()),
            is_leader: true,
            error: None,
            zone: None,
        }],
        ..Default::default()
    };
    let opts = PlanOptions {
        cluster: "c".into(),
        to: "2.2.1".into(),
        max_unavailable: 1,
        max_unavailable_per_zone: None,
        frameworks: vec![],
    };
    build(&facts, &opts).unwrap()
}

const STEP: &str = "masters/10.0.0.1/upgrade";

fn started() -> Record {
    Record::StepStarted { step: STEP.into() }
}

fn done() -> Record {
    Record::StepSucceeded {
        step: STEP.into(),
        output: serde_json::Value::Null,
    }
}

#[test]
fn a_step_in_flight_is_running_and_counts_one_attempt() {
    let v = RunView::replay(&plan(), &[started()]).unwrap();
    assert_eq!(v.step(STEP).unwrap().state, StepState::Running);
    assert_eq!(v.step(STEP).unwrap().attempts, 1);
    assert_eq!(v.phase, PhaseId::Precheck);
}

#[test]
fn a_pause_after_the_end_does_not_reopen_the_run() {
    let v = RunView::replay(
        &plan(),
        &[
            Record::RunFinished,
            Record::RunPaused { reason: "x".into() },
        ],
    )
    .unwrap();
    assert_eq!(v.state, RunState::Done);
    let v = RunView::replay(
        &plan(),
        &[Record::RolledBack, Record::RunPaused { reason: "x".into() }],
    )
    .unwrap();
    assert_eq!(v.state, RunState::RolledBack);
}

#[test]
fn an_interrupted_rollback_is_still_a_rollback_and_counts_undo_attempts() {
    let undo = Record::UndoStarted { step: STEP.into() };
    let failed = Record::UndoFailed {
        step: STEP.into(),
        error: "e".into(),
    };
    let recs = vec![
        started(),
        done(),
        Record::RollbackStarted,
        undo.clone(),
        undo.clone(),
        failed,
        undo,
        Record::RunPaused {
            reason: "ctrl-c".into(),
        },
    ];
    let v = RunView::replay(&plan(), &recs).unwrap();
    assert!(v.rollback);
    assert_eq!(v.state, RunState::Paused);
    let s = v.step(STEP).unwrap();
    assert_eq!(s.state, StepState::Undoing);
    assert_eq!(
        s.undo_attempts, 2,
        "a restart in flight is the same attempt"
    );
}

#[test]
fn a_rollback_stopped_at_a_door_is_paused_not_rolling_back_and_keeps_the_door() {
    let door = Record::DoorCrossed {
        door: "marathon-storage".into(),
        observation: "leader runs 1.11.24".into(),
        after: STEP.into(),
    };
    let recs = vec![
        started(),
        done(),
        door.clone(),
        door,
        Record::RollbackStarted,
        Record::RollbackStopped {
            reason: "past marathon-storage".into(),
        },
    ];
    let v = RunView::replay(&plan(), &recs).unwrap();
    assert_eq!(v.state, RunState::Paused);
    assert!(!v.rollback, "resume fixes forward");
    assert_eq!(v.doors_crossed.len(), 1, "journaled once per door");
    assert_eq!(v.doors_crossed[0].after, STEP);
    assert_eq!(v.pause_reason.as_deref(), Some("past marathon-storage"));
}

#[test]
fn a_write_ahead_note_is_the_output_until_the_step_succeeds() {
    let note = Record::StepNoted {
        step: STEP.into(),
        output: serde_json::json!({"previous": 1}),
    };
    let v = RunView::replay(&plan(), &[started(), note.clone()]).unwrap();
    assert_eq!(v.step(STEP).unwrap().state, StepState::Running);
    assert_eq!(v.step(STEP).unwrap().output["previous"], 1);
    let failed = Record::StepFailed {
        step: STEP.into(),
        error: "e".into(),
    };
    let v = RunView::replay(&plan(), &[started(), note, failed]).unwrap();
    assert_eq!(
        v.step(STEP).unwrap().output["previous"],
        1,
        "kept for the undo"
    );
}

#[test]
fn an_illegal_sequence_is_an_error_not_a_guess() {
    assert!(RunView::replay(&plan(), &[done()]).is_err());
    let unknown = Record::StepStarted {
        step: "nope".into(),
    };
    assert!(RunView::replay(&plan(), &[unknown]).is_err());
}
