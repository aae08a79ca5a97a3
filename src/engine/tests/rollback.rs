//! Engine tests of rollback: reverse order, no-safe-undo, crossed doors.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn rollback_undoes_in_reverse_and_stops_before_a_step_with_no_safe_undo() {
    let l = leader(MASTERS[0]);
    let w = world(testkit::plan(3, 1), &l, &acked());
    let last_agent = "agents/10.9.1.23/upgrade".to_string();
    let middle_agent = "agents/10.9.1.22/upgrade".to_string();
    let actions = FakeActions {
        no_undo: [middle_agent.clone()].into(),
        ..FakeActions::default()
    };
    actions.fail.lock().unwrap().insert(last_agent.clone());
    // No terminal, --yes not given for the rollback: the no-safe-undo gate waits.
    let options = RunOptions {
        on_failure: OnFailure::Rollback,
        ..acked()
    };
    let (outcome, _) = walk(&w, &actions, options.clone(), None, false).await;
    // --yes approves the no-safe-undo gate: the rollback goes on past it.
    assert!(
        matches!(&outcome, Outcome::RolledBack { after_failure: Some(e) } if e.contains("failed on purpose")),
        "{outcome:?}"
    );
    let undone = actions.trace.with("undo ");
    assert_eq!(
        undone,
        vec![
            last_agent.clone(),
            "agents/10.9.1.21/upgrade".to_string(),
            // Masters last, in reverse, the leader (m1) last of all.
            format!("masters/{}/upgrade", MASTERS[2]),
            format!("masters/{}/upgrade", MASTERS[1]),
            format!("masters/{}/upgrade", MASTERS[0]),
        ]
    );
    assert!(
        !undone.contains(&middle_agent),
        "a step with no safe undo was undone"
    );

    // The same without --yes: the rollback stops at the gate, before the step, and says so.
    let w = world(testkit::plan(3, 1), &l, &acked());
    let actions = FakeActions {
        no_undo: [middle_agent.clone()].into(),
        ..FakeActions::default()
    };
    actions.fail.lock().unwrap().insert(last_agent.clone());
    let options = RunOptions {
        yes: false,
        on_failure: OnFailure::Rollback,
        ack_release_notes: Some("2.2.1".into()),
        ..RunOptions::default()
    };
    // Approve the phase gates beforehand, as an earlier `--yes` would have.
    for g in ["before:masters", "before:agents"] {
        w.store
            .append(
                &w.record.id,
                &Record::GateApproved {
                    gate: g.into(),
                    by: "--yes".into(),
                },
            )
            .unwrap();
    }
    let (outcome, view) = walk(&w, &actions, options, None, false).await;
    assert_eq!(
        outcome,
        Outcome::AtGate {
            gate: GateId::NoUndo(middle_agent.clone())
        }
    );
    assert_eq!(actions.trace.with("undo "), vec![last_agent]);
    assert!(view.rollback, "the rollback is recorded as under way");
    assert!(view
        .pause_reason
        .unwrap_or_default()
        .contains("no safe undo"));
}

/// Two agents, and the Marathon storage door of the 2.1 -> 2.2 path.
fn plan_past_marathon_door() -> crate::plan::Plan {
    let mut plan = testkit::plan(2, 1);
    plan.doors = vec![crate::plan::Door {
        id: crate::plan::DoorId::MarathonStorage,
        from: "1.10.36".into(),
        to: "1.11.24".into(),
        reason: "Marathon migrates its storage".into(),
    }];
    plan
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_past_a_crossed_door_undoes_the_agents_and_stops_paused_with_the_masters_kept() {
    let l = leader(MASTERS[0]);
    let plan = plan_past_marathon_door();
    let w = world(plan, &l, &acked());
    let first_master = format!("masters/{}/upgrade", MASTERS[1]);
    let last_agent = "agents/10.9.1.22/upgrade".to_string();
    let actions = FakeActions {
        cross_after: Some((first_master, crate::plan::DoorId::MarathonStorage)),
        ..FakeActions::default()
    };
    actions.fail.lock().unwrap().insert(last_agent.clone());
    let options = RunOptions {
        on_failure: OnFailure::Rollback,
        ..acked()
    };
    let (outcome, view) = walk(&w, &actions, options, None, false).await;
    let Outcome::RollbackStopped { reason } = &outcome else {
        panic!("expected a stop past the door: {outcome:?}");
    };
    assert!(reason.contains("marathon-storage"), "{reason}");
    assert!(reason.contains("resume"), "names the way forward: {reason}");
    // The journal says the same as the outcome: paused, not rolled back, not failed.
    assert_eq!(view.state, RunState::Paused);
    assert_eq!(view.doors_crossed.len(), 1);
    // The agents were undone (the failed one first: the fake may have changed it); no master.
    assert_eq!(
        actions.trace.with("undo "),
        vec![last_agent, "agents/10.9.1.21/upgrade".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_past_a_door_tells_the_operator_what_rolling_back_still_means() {
    let l = leader(MASTERS[0]);
    let plan = plan_past_marathon_door();
    let w = world(plan, &l, &acked());
    let actions = FakeActions {
        cross_after: Some((
            format!("masters/{}/upgrade", MASTERS[1]),
            crate::plan::DoorId::MarathonStorage,
        )),
        ..FakeActions::default()
    };
    actions
        .fail
        .lock()
        .unwrap()
        .insert("agents/10.9.1.22/upgrade".to_string());
    let p = Scripted::new(GateChoice::Continue, FailureChoice::Stop, true);
    let (outcome, _) = walk(&w, &actions, acked(), Some(p.clone()), false).await;
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    let shown = p.failures.lock().unwrap().clone();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].contains("point of no return marathon-storage")
            && shown[0].contains("masters stay"),
        "{shown:?}"
    );
}
