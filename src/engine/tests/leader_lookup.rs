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
