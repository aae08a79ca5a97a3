//! Engine tests of the leader lookup: a stale redirect is cross-checked, disagreement stops the
//! run.

use super::*;

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

/// The leader another read resolved is taken once by the next lookup that accepts a recent
/// one, without reading the masters again; a second lookup, or one after the window, reads them
/// again, and what a lookup read itself is never left for the next.
#[tokio::test(flavor = "multi_thread")]
async fn a_recent_leader_is_taken_once_and_then_read_again() {
    let fake = Arc::new(stale_redirect(MASTERS[2], &[MASTERS[2]]));
    let cluster = testkit::cluster(0, fake.clone());
    // How many rounds on every master so far.
    let rounds = || {
        let reads = fake
            .calls()
            .iter()
            .filter(|c| {
                matches!(c, crate::door::fake::Call::Query { script, .. } if script.contains("/master/redirect"))
            })
            .count();
        assert_eq!(reads % MASTERS.len(), 0, "every master each round");
        reads / MASTERS.len()
    };
    let within = std::time::Duration::from_secs(60);
    let recent = |within| {
        let c = &cluster;
        async move { c.leader_address_recent(within).await.unwrap() }
    };
    let leader = Some(MASTERS[2].to_string());
    // What a lookup reads itself is not left for the next one.
    assert_eq!(recent(within).await, leader);
    assert_eq!(recent(within).await, leader);
    assert_eq!(rounds(), 2, "each lookup read every master");
    // Another read (the guards' sample) resolves the leader: the next lookup takes it, once.
    assert_eq!(cluster.leader_address().await.unwrap(), leader);
    assert_eq!(rounds(), 3);
    assert_eq!(recent(within).await, leader);
    assert_eq!(rounds(), 3, "the recent leader was taken, not read");
    assert_eq!(recent(within).await, leader);
    assert_eq!(rounds(), 4, "taken once: the next lookup reads");
    // A leader read longer ago than the window is read again.
    cluster.leader_address().await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(recent(std::time::Duration::from_millis(1)).await, leader);
    assert_eq!(rounds(), 6, "too old: read again");
}
