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

#[test]
fn the_phase_follows_the_first_unfinished_step_forward_and_back_through_a_rollback() {
    let plan = plan();
    let ids: Vec<String> = plan.steps().map(|(_, s)| s.id.clone()).collect();
    let phases: Vec<PhaseId> = plan.steps().map(|(p, _)| p.id).collect();
    // The phase as the definition says: that of the first step not done or skipped.
    let scan = |v: &RunView| {
        v.steps
            .iter()
            .zip(&phases)
            .find(|(s, _)| !matches!(s.state, StepState::Done | StepState::Skipped))
            .map_or(PhaseId::Postcheck, |(_, p)| *p)
    };
    let mut journal = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        journal.push(Record::StepStarted { step: id.clone() });
        journal.push(if i % 3 == 1 {
            Record::StepFailed {
                step: id.clone(),
                error: "x".into(),
            }
        } else {
            Record::StepSucceeded {
                step: id.clone(),
                output: serde_json::Value::Null,
            }
        });
    }
    // A rollback in reverse, then a fix forward of the undone steps.
    for id in ids.iter().rev() {
        journal.push(Record::UndoStarted { step: id.clone() });
        journal.push(Record::UndoSucceeded { step: id.clone() });
    }
    for id in &ids {
        journal.push(Record::StepStarted { step: id.clone() });
        journal.push(Record::StepSucceeded {
            step: id.clone(),
            output: serde_json::Value::Null,
        });
    }
    let mut r = Replay::new(&plan);
    let mut seen = BTreeSet::new();
    for rec in &journal {
        r.apply(rec).unwrap();
        assert_eq!(r.view().phase, scan(r.view()), "after {rec:?}");
        seen.insert(format!("{:?}", r.view().phase));
    }
    assert_eq!(r.view().phase, PhaseId::Postcheck);
    assert!(
        seen.len() > 2,
        "the walk went through several phases: {seen:?}"
    );
}
