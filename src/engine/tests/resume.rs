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
