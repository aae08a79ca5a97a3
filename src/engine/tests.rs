//! Hermetic tests of the engine: the in-process doors, fake actions that record what ran, and
//! scripted answers. They judge the order of the work, the journal, and the outcome.

use super::*;
use crate::door::fake::FakeCluster;
use crate::door::AuditedChange;
use crate::machine::{Record, RunState};
use crate::plan::Plan;
use crate::testkit::{self, FakeActions, Leader, Scripted, MASTERS};

fn acked() -> RunOptions {
    RunOptions {
        yes: true,
        ack_release_notes: Some("2.2.1".into()),
        ..RunOptions::default()
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    record: RunRecord,
    fake: Arc<FakeCluster>,
    cluster: Cluster,
    events: testkit::Events,
}

fn world(plan: Plan, leader: &Leader, options: &RunOptions) -> World {
    let agents = plan
        .steps()
        .filter(|(p, _)| p.id == crate::plan::PhaseId::Agents)
        .count();
    let (dir, store, record) = testkit::store_with(plan, options);
    let fake = Arc::new(testkit::fake_cluster(leader.clone()));
    let cluster = testkit::cluster(agents, fake.clone());
    World {
        _dir: dir,
        store,
        record,
        fake,
        cluster,
        events: testkit::Events::default(),
    }
}

async fn walk(
    w: &World,
    actions: &FakeActions,
    options: RunOptions,
    prompter: Option<Arc<dyn Prompter>>,
    resumed: bool,
) -> (Outcome, RunView) {
    let change = AuditedChange::in_process(&w.store, &w.record.id, &w.fake, vec![]);
    let engine = Engine::new(EngineParts {
        store: &w.store,
        record: &w.record,
        cluster: &w.cluster,
        change: &change,
        registry: actions,
        options,
        prompter,
        events: &w.events,
    })
    .expect("engine");
    let outcome = engine.execute(resumed).await.expect("journal ok");
    (outcome, engine.view())
}

fn leader(addr: &str) -> Leader {
    Arc::new(std::sync::Mutex::new(addr.to_string()))
}

#[tokio::test(flavor = "multi_thread")]
async fn masters_go_one_at_a_time_with_the_leader_last_even_when_it_moves() {
    // m2 leads at first; after m1 is upgraded, leadership moves to m3.
    let l = leader(MASTERS[1]);
    let w = world(testkit::plan(1, 1), &l, &acked());
    let actions = FakeActions {
        leader: Some(l.clone()),
        move_after: Some((
            format!("masters/{}/upgrade", MASTERS[0]),
            MASTERS[2].to_string(),
        )),
        ..FakeActions::default()
    };
    let (outcome, view) = walk(&w, &actions, acked(), None, false).await;
    assert_eq!(outcome, Outcome::Done);
    assert_eq!(view.state, RunState::Done);
    let order: Vec<String> = actions
        .trace
        .with("start masters/")
        .iter()
        .map(|s| s.trim_end_matches("/upgrade").to_string())
        .collect();
    // m1 (m2 leads), then m2 (m3 leads now), then m3 the leader, last.
    assert_eq!(order, vec![MASTERS[0], MASTERS[1], MASTERS[2]]);
    let leaders = actions.trace.with("leader ");
    for (i, m) in order.iter().enumerate().take(2) {
        assert_ne!(&leaders[i], m, "master {m} was upgraded while it led");
    }
    // Exactly one step per master: nothing upgraded twice.
    assert_eq!(actions.trace.with("do masters/").len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_run_a_canary_alone_then_each_batch_at_once() {
    let l = leader(MASTERS[0]);
    let w = world(testkit::plan(5, 2), &l, &acked());
    let actions = FakeActions::default();
    let (outcome, _) = walk(&w, &actions, acked(), None, false).await;
    assert_eq!(outcome, Outcome::Done);
    let t: Vec<String> = actions
        .trace
        .all()
        .into_iter()
        .filter(|e| e.contains("agents/"))
        .collect();
    let pos = |e: &str| {
        t.iter()
            .position(|x| x == e)
            .unwrap_or_else(|| panic!("{e} not in {t:?}"))
    };
    let a = |i: usize| format!("agents/10.9.1.{}/upgrade", 21 + i);
    // The canary ends before any other agent starts.
    for i in 1..5 {
        assert!(pos(&format!("do {}", a(0))) < pos(&format!("start {}", a(i))));
    }
    // Batch 1 = agents 1 and 2, at once: both start before either ends.
    assert!(pos(&format!("start {}", a(2))) < pos(&format!("do {}", a(1))));
    // Batch 2 starts only after batch 1 ended.
    for i in [3, 4] {
        assert!(pos(&format!("do {}", a(1))) < pos(&format!("start {}", a(i))));
        assert!(pos(&format!("do {}", a(2))) < pos(&format!("start {}", a(i))));
    }
}

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

/// A fake cluster whose `/master/redirect` names `redirect` while the masters' own
/// `master/elected` say `elected`.
fn stale_redirect(redirect: &str, elected: &[&str]) -> FakeCluster {
    let redirect = redirect.to_string();
    let elected: Vec<String> = elected.iter().map(|s| s.to_string()).collect();
    FakeCluster::new()
        .on_script(move |node, script| {
            testkit::node_round(script, &node.address, |key| match key {
                "redirect" => Some((307, Some(format!("//{redirect}:5050")), String::new())),
                "master-metrics" => {
                    let e = if elected.contains(&node.address) {
                        1.0
                    } else {
                        0.0
                    };
                    Some((
                        200,
                        None,
                        format!(r#"{{"master/elected": {e}, "registrar/log/recovered": 1.0}}"#),
                    ))
                }
                _ => None,
            })
        })
        .on_script(|_, script| {
            script
                .contains("cluster.lock")
                .then(|| crate::door::fake::ok("TAKEN\n"))
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_redirect_is_cross_checked_against_master_elected() {
    let fake = Arc::new(stale_redirect(MASTERS[0], &[MASTERS[2]]));
    let cluster = testkit::cluster(0, fake);
    assert_eq!(
        cluster.leader_address().await.unwrap().as_deref(),
        Some(MASTERS[2]),
        "the master that says it is elected leads, not the one a stale redirect names"
    );
    let fake = Arc::new(stale_redirect(MASTERS[2], &[MASTERS[2]]));
    let cluster = testkit::cluster(0, fake);
    assert_eq!(
        cluster.leader_address().await.unwrap().as_deref(),
        Some(MASTERS[2])
    );
    let fake = Arc::new(stale_redirect(MASTERS[0], &[MASTERS[1], MASTERS[2]]));
    let cluster = testkit::cluster(0, fake);
    assert!(matches!(
        cluster.leader_address().await,
        Err(crate::cluster::LeaderError::Disagree { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn masters_that_keep_disagreeing_about_the_leader_stop_the_run_before_any_goes_down() {
    let opts = acked();
    let (dir, store, record) = testkit::store_with(testkit::plan(1, 1), &opts);
    // Nobody says it is elected, while the redirect names m1.
    let fake = Arc::new(stale_redirect(MASTERS[0], &[]));
    let mut cluster = testkit::cluster(1, fake.clone());
    cluster.timeouts.poll_ms = 1;
    let w = World {
        _dir: dir,
        store,
        record,
        fake,
        cluster,
        events: testkit::Events::default(),
    };
    let actions = FakeActions::default();
    let (o, v) = walk(&w, &actions, opts, None, false).await;
    assert!(
        matches!(&o, Outcome::Failed { error, .. } if error.contains("leader is unknown")),
        "{o:?}"
    );
    assert!(
        actions.trace.with("do masters/").is_empty(),
        "a master went down"
    );
    assert_eq!(v.state, RunState::Paused);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_past_a_crossed_door_undoes_the_agents_and_stops_paused_with_the_masters_kept() {
    let l = leader(MASTERS[0]);
    let mut plan = testkit::plan(2, 1);
    plan.doors = vec![crate::plan::Door {
        id: crate::plan::DoorId::MarathonStorage,
        from: "1.10.36".into(),
        to: "1.11.24".into(),
        reason: "Marathon migrates its storage".into(),
    }];
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
    let mut plan = testkit::plan(2, 1);
    plan.doors = vec![crate::plan::Door {
        id: crate::plan::DoorId::MarathonStorage,
        from: "1.10.36".into(),
        to: "1.11.24".into(),
        reason: "Marathon migrates its storage".into(),
    }];
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
