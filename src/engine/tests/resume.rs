//! Engine tests of resume: only what is not done runs again, a step in flight is verified.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn resume_reruns_only_what_is_not_done_and_verifies_a_step_in_flight() {
    let l = leader(MASTERS[2]);
    let w = world(testkit::plan(2, 1), &l, &acked());
    let m = |i: usize| format!("masters/{}/upgrade", MASTERS[i]);
    let j = |r: Record| w.store.append(&w.record.id, &r).expect("append");
    // The journal of a run killed mid-way: precheck done, m1 done, m2 failed once, m3 (the
    // leader) in flight, agents pending.
    j(Record::StepStarted {
        step: "precheck/cluster".into(),
    });
    j(Record::StepSucceeded {
        step: "precheck/cluster".into(),
        output: serde_json::json!({}),
    });
    for g in ["release-notes:2.2.1", "before:masters"] {
        j(Record::GateApproved {
            gate: g.into(),
            by: "--yes".into(),
        });
    }
    j(Record::StepStarted { step: m(0) });
    j(Record::StepSucceeded {
        step: m(0),
        output: serde_json::json!({}),
    });
    j(Record::StepStarted { step: m(1) });
    j(Record::StepFailed {
        step: m(1),
        error: "boom".into(),
    });
    j(Record::StepStarted { step: m(2) });
    let actions = FakeActions::default();
    let (outcome, view) = walk(&w, &actions, acked(), None, true).await;
    assert_eq!(outcome, Outcome::Done);
    let done = actions.trace.with("do ");
    assert!(
        !done.contains(&"precheck/cluster".to_string()),
        "a done step ran again"
    );
    assert!(!done.contains(&m(0)), "a done master was upgraded twice");
    // The step in flight is verified first, then run (verify said "not done").
    assert_eq!(actions.trace.with("verify "), vec![m(2)]);
    // In flight goes first, before the failed one is retried.
    assert_eq!(done[0], m(2));
    assert_eq!(done[1], m(1));
    let s = |id: &str| view.step(id).cloned().expect("step");
    assert_eq!(s(&m(1)).attempts, 2, "the failed step is a second attempt");
    assert_eq!(
        s(&m(2)).attempts,
        1,
        "resuming in flight is not a new attempt"
    );
    assert!(view.steps.iter().all(|s| s.state == StepState::Done));
}

/// `resume` hands the engine the view it replayed; one that is behind the journal (a record
/// appended since) is not trusted: the engine replays the journal itself.
#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_view_is_taken_only_while_the_journal_holds_what_it_replayed() {
    let l = leader(MASTERS[0]);
    let w = world(testkit::plan(1, 1), &l, &acked());
    let paused = Record::RunPaused {
        reason: "operator".into(),
    };
    let mut replay = crate::machine::Replay::new(&w.record.plan);
    replay.apply(&paused).expect("apply");
    w.store.append(&w.record.id, &paused).expect("append");
    let (change, actions) = (change_door(&w), FakeActions::default());
    let handed = |replayed| EngineParts {
        replayed,
        ..parts(&w, &change, &actions, acked(), None)
    };
    // The journal holds as many records as the caller replayed: its view is taken as it is,
    // not read again (shown by a view that differs from the journal's: the caller vouches).
    let e = Engine::new(handed(Some((replay.clone(), 1)))).expect("engine");
    assert_eq!(e.view().state, RunState::Paused);
    let unread = crate::machine::Replay::new(&w.record.plan);
    let e = Engine::new(handed(Some((unread, 1)))).expect("engine");
    assert_eq!(e.view().state, RunState::Running);
    // A view replayed before that record (0 records) is behind: the journal is read again.
    let stale = crate::machine::Replay::new(&w.record.plan);
    let e = Engine::new(handed(Some((stale, 0)))).expect("engine");
    assert_eq!(e.view().state, RunState::Paused);
    // And one claiming a count the journal does not hold is not taken either.
    let e = Engine::new(handed(Some((
        crate::machine::Replay::new(&w.record.plan),
        2,
    ))))
    .expect("engine");
    assert_eq!(e.view().state, RunState::Paused);
}
