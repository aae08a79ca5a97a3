//! Hermetic tests of the operations layer: the cluster lock and interruption, through the
//! in-process doors.

use super::execute::{execute_with, Action, End, Exec};
use super::{Io, OpsError};
use crate::door::fake::{ok, Call, FakeCluster};
use crate::door::AuditedChange;
use crate::machine::RunState;
use crate::options::RunOptions;
use crate::testkit::{self, FakeActions, MASTERS};
use std::sync::{Arc, Mutex};

fn acked() -> RunOptions {
    RunOptions {
        yes: true,
        ack_release_notes: Some("2.2.1".into()),
        ..RunOptions::default()
    }
}

fn io() -> Io {
    Io {
        events: Arc::new(testkit::Events::default()),
        prompter: None,
    }
}

/// The execution of a new run (`run --yes`) of `record`.
fn run_of<'a>(
    store: &'a crate::store::Store,
    record: &'a crate::store::RunRecord,
    cluster: &'a crate::cluster::Cluster,
    io: &'a Io,
    handoff: &'a super::Handoff,
) -> Exec<'a> {
    Exec {
        store,
        record,
        cluster,
        options: acked(),
        io,
        action: Action::Run,
        take_over_lock: false,
        create: false,
        handoff,
        replayed: None,
    }
}

fn lock_scripts(fake: &FakeCluster) -> Vec<(String, String)> {
    fake.calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Change { node, script } if script.contains("cluster.lock") => {
                let what = if script.contains("put TAKEN") {
                    "take"
                } else if script.contains("rm -rf") {
                    "release"
                } else {
                    "beat"
                };
                Some((what.to_string(), node))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_pauses_the_run_durably_and_releases_the_cluster_lock() {
    let leader = Arc::new(Mutex::new(MASTERS[0].to_string()));
    let (_dir, store, record) = testkit::store_with(testkit::plan(1, 1), &acked());
    let fake = Arc::new(testkit::fake_cluster(leader));
    let cluster = testkit::cluster(1, fake.clone());
    let change = AuditedChange::in_process(&store, &record.id, &fake, vec![]);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let actions = FakeActions {
        on_start: Some((format!("masters/{}/upgrade", MASTERS[1]), tx)),
        ..FakeActions::default()
    };
    let io = io();
    let handoff = super::Handoff::default();
    let exec = run_of(&store, &record, &cluster, &io, &handoff);
    // SIGTERM arrives while the second master's step runs.
    let interrupt = async move {
        rx.recv().await;
        "SIGTERM"
    };
    let (end, view) = execute_with(exec, &change, &actions, interrupt)
        .await
        .expect("executed");
    assert_eq!(
        end,
        End::Interrupted {
            signal: "SIGTERM",
            rolling_back: false
        }
    );
    assert_eq!(view.state, RunState::Paused);
    assert_eq!(view.pause_reason.as_deref(), Some("interrupted (SIGTERM)"));
    // The journal on disk says so too (what `status` and `resume` read).
    let journal = store.journal(&record.id).unwrap();
    assert!(matches!(
        journal.last(),
        Some(crate::machine::Record::RunPaused { reason }) if reason.contains("SIGTERM")
    ));
    // Every master was locked, then released.
    let locks = lock_scripts(&fake);
    let released: Vec<&String> = locks
        .iter()
        .filter(|(w, _)| w == "release")
        .map(|(_, n)| n)
        .collect();
    assert_eq!(released.len(), 3, "{locks:?}");
    // Every lock command went through the audited change door.
    let audit = store.audit(&record.id).unwrap();
    assert!(audit
        .iter()
        .any(|e| e.step == "cluster-lock" && e.phase == "intent"));
}

#[tokio::test(flavor = "multi_thread")]
async fn masters_are_locked_in_one_canonical_order_whatever_the_inventory_says() {
    let leader = Arc::new(Mutex::new(MASTERS[0].to_string()));
    let (_dir, store, record) = testkit::store_with(testkit::plan(1, 1), &acked());
    let fake = Arc::new(testkit::fake_cluster(leader));
    let mut cluster = testkit::cluster(1, fake.clone());
    cluster.inventory.masters.reverse();
    let change = AuditedChange::in_process(&store, &record.id, &fake, vec![]);
    let lock = super::cluster_lock::ClusterLock::new(&record.id, "host:1:2:id", 0);
    lock.acquire(&change, &cluster, false).await.unwrap();
    let taken: Vec<String> = lock_scripts(&fake)
        .into_iter()
        .filter(|(w, _)| w == "take")
        .map(|(_, n)| n)
        .collect();
    assert_eq!(taken, MASTERS.to_vec());
}

/// A new run's execution against masters whose cluster lock is held by `owner` of another run
/// (heartbeat fresh): the error, after asserting that no step ran.
async fn refused_by_a_lock_of(owner: String) -> OpsError {
    let (_dir, store, record) = testkit::store_with(testkit::plan(1, 1), &acked());
    let now = 2_000_000_000u64;
    let fake = Arc::new(FakeCluster::new().on_script(move |_, script| {
        script.contains("put TAKEN").then(|| {
            ok(format!(
                "HELD\nNOW {now}\nMTIME {now}\nother-run\n{owner}\n{now}\n"
            ))
        })
    }));
    let cluster = testkit::cluster(1, fake.clone());
    let change = AuditedChange::in_process(&store, &record.id, &fake, vec![]);
    let actions = FakeActions::default();
    let io = io();
    let handoff = super::Handoff::default();
    let exec = run_of(&store, &record, &cluster, &io, &handoff);
    let err = execute_with(exec, &change, &actions, std::future::pending())
        .await
        .unwrap_err();
    assert!(
        actions.trace.all().is_empty(),
        "a step ran without the lock"
    );
    err
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_lock_held_by_another_run_refuses_with_locked_and_changes_nothing() {
    let err = refused_by_a_lock_of("ops@elsewhere".into()).await;
    assert!(
        matches!(&err, OpsError::Locked(m) if m.contains("other-run")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_lock_of_a_dead_process_of_this_host_is_named_as_left_over_with_the_way_to_take_it_over(
) {
    // The holder ran here (this host), its heartbeat is fresh, and its pid is not running.
    let me = super::cluster_lock::owner();
    let host = me.split(" pid ").next().unwrap().to_string();
    let err = refused_by_a_lock_of(format!("{host} pid 99999999")).await;
    assert!(
        matches!(&err, OpsError::Locked(m) if m.contains("pid 99999999 on this host) is no longer running") && m.contains("--take-over-lock")),
        "{err:?}"
    );
}
