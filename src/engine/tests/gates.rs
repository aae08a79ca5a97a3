//! Engine tests of the phase gates: continue, stop, roll back, abort; no terminal and no --yes.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_answers_at_a_phase_gate_continue_stop_roll_back_or_abort() {
    let opts = RunOptions {
        yes: false,
        ack_release_notes: Some("2.2.1".into()),
        ..RunOptions::default()
    };
    let run = |choice: GateChoice| {
        let opts = opts.clone();
        async move {
            let l = leader(MASTERS[0]);
            let w = world(testkit::plan(1, 1), &l, &opts);
            let actions = FakeActions::default();
            let p = Scripted::new(choice, FailureChoice::Stop, true);
            let (o, v) = walk(&w, &actions, opts, Some(p.clone()), false).await;
            let asked = p.asked.lock().unwrap().clone();
            (o, v, actions.trace.all(), asked)
        }
    };
    let (o, v, trace, asked) = run(GateChoice::Continue).await;
    assert_eq!(o, Outcome::Done);
    assert_eq!(v.state, RunState::Done);
    assert_eq!(
        asked,
        vec!["before:masters", "before:agents", "before:frameworks"]
    );
    assert!(trace.iter().any(|e| e == "do frameworks/web"));

    let (o, v, trace, _) = run(GateChoice::Stop).await;
    assert!(matches!(o, Outcome::Stopped { .. }), "{o:?}");
    assert_eq!(v.state, RunState::Paused);
    assert!(
        !trace.iter().any(|e| e.starts_with("do masters/")),
        "a master changed after stop"
    );

    let (o, _, trace, _) = run(GateChoice::Rollback).await;
    assert_eq!(
        o,
        Outcome::RolledBack {
            after_failure: None
        }
    );
    assert!(!trace.iter().any(|e| e.starts_with("do masters/")));

    let (o, v, trace, _) = run(GateChoice::Abort).await;
    assert!(
        matches!(&o, Outcome::Failed { step, .. } if step == "before:masters"),
        "{o:?}"
    );
    assert_ne!(v.state, RunState::Done);
    assert!(!trace.iter().any(|e| e.starts_with("do masters/")));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_or_yes_the_run_waits_at_the_first_gate_and_changes_nothing() {
    let opts = RunOptions {
        ack_release_notes: Some("2.2.1".into()),
        ..RunOptions::default()
    };
    let l = leader(MASTERS[0]);
    let w = world(testkit::plan(1, 1), &l, &opts);
    let actions = FakeActions::default();
    let (o, v) = walk(&w, &actions, opts, None, false).await;
    assert_eq!(
        o,
        Outcome::AtGate {
            gate: GateId::Phase(crate::plan::PhaseId::Masters)
        }
    );
    assert_eq!(v.state, RunState::Paused);
    assert_eq!(actions.trace.with("do "), vec!["precheck/cluster"]);
    // Nothing went through the change door.
    assert!(w
        .fake
        .calls()
        .iter()
        .all(|c| !matches!(c, crate::door::fake::Call::Change { .. })));
}

/// `pause_after` (inventory): without a terminal the run stops at the pause after the named
/// node, nothing after it started; a resume with `--yes` found waiting there approves that
/// pause only, and stops at the next one it reaches (issue 16).
#[tokio::test(flavor = "multi_thread")]
async fn a_pause_after_a_node_stops_the_run_and_a_resume_yes_approves_only_the_pause_it_found() {
    let mut plan = testkit::plan(2, 1);
    let first = format!("masters/{}/upgrade", MASTERS[1]);
    let agent = "agents/10.9.1.21/upgrade".to_string();
    for s in plan.phases.iter_mut().flat_map(|p| p.steps.iter_mut()) {
        if s.id == first || s.id == agent {
            s.pause_after = true;
        }
    }
    let opts = acked();
    let l = leader(MASTERS[0]);
    let w = world(plan, &l, &opts);
    let actions = FakeActions::default();
    let at = |node: &str| Outcome::AtGate {
        gate: GateId::PauseAfter(node.to_string()),
    };

    // `--yes` approves the phase gates, not a pause reached in this execution.
    let (o, v) = walk(&w, &actions, opts.clone(), None, false).await;
    assert_eq!(o, at(MASTERS[1]));
    assert_eq!(v.state, RunState::Paused);
    let done = actions.trace.with("do ");
    assert_eq!(done.last(), Some(&first), "{done:?}");
    assert_eq!(done.iter().filter(|s| s.starts_with("masters/")).count(), 1);

    // A resume with --yes finds the run waiting at that pause and approves it; the next pause
    // (after the canary agent) stops it again.
    let (o, _) = walk(&w, &actions, opts.clone(), None, true).await;
    assert_eq!(o, at("10.9.1.21"));
    let done = actions.trace.with("do ");
    assert_eq!(done.last(), Some(&agent), "{done:?}");
    assert!(!done.iter().any(|s| s == "agents/10.9.1.22/upgrade"));

    // And the next resume finishes; every step ran once.
    let (o, v) = walk(&w, &actions, opts, None, true).await;
    assert_eq!(o, Outcome::Done);
    assert_eq!(v.state, RunState::Done);
    let done = actions.trace.with("do ");
    let mut unique = done.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), done.len(), "a step ran twice: {done:?}");
}
