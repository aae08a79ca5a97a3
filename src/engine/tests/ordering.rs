//! Engine tests of ordering: masters one at a time with the leader last, agents canary then
//! batches.

use super::*;

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
