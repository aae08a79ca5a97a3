//! Engine tests of the last resort: the ZooKeeper restore runs the registry's last-resort
//! action with the backup step's context, between its own journal records.

use super::*;
use crate::model::Role;
use crate::plan::{Phase, PhaseId, StepKind};

/// A run whose ZooKeeper backup succeeded (its output names the archive).
fn backed_up() -> World {
    let mut plan = testkit::plan(1, 1);
    plan.phases.insert(
        1,
        Phase {
            id: PhaseId::Backup,
            steps: vec![testkit::step(
                "backup/zookeeper",
                StepKind::ZkBackup,
                Some(MASTERS[1]),
                Some(Role::Master),
            )],
        },
    );
    let w = world(plan, &leader(MASTERS[0]), &acked());
    let output = crate::phases::outputs::write(&crate::phases::outputs::BackupOutput {
        archive: "/state/run/zookeeper-backup.tar.gz".into(),
        sha256: "ab".repeat(32),
        node: MASTERS[1].into(),
        remote_archive: "/var/lib/dcos-upgrade/zookeeper-backup.tar.gz".into(),
        bytes: 1,
        method: "dcos-zk".into(),
    });
    for r in [
        Record::StepStarted {
            step: "backup/zookeeper".into(),
        },
        Record::StepSucceeded {
            step: "backup/zookeeper".into(),
            output,
        },
    ] {
        w.store.append(&w.record.id, &r).unwrap();
    }
    w
}

async fn restore(w: &World, actions: &FakeActions) -> (Outcome, RunView) {
    let change = change_door(w);
    let engine = engine(w, &change, actions, acked(), None);
    let outcome = engine.restore_zookeeper().await.expect("journal ok");
    (outcome, engine.view())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_restore_runs_the_registry_s_last_resort_with_the_backup_step_and_is_journaled() {
    let w = backed_up();
    let actions = FakeActions::default();
    let (outcome, view) = restore(&w, &actions).await;
    assert_eq!(
        outcome,
        Outcome::Restored {
            archive: "/state/run/zookeeper-backup.tar.gz".into()
        }
    );
    assert_eq!(actions.trace.with("do "), vec!["backup/zookeeper"]);
    let r = view.restore.expect("the restore is journaled");
    assert_eq!(
        (r.archive.as_str(), r.state.as_str()),
        ("/state/run/zookeeper-backup.tar.gz", "done")
    );
    assert!(view.approved_gates.contains("restore-zookeeper"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_restore_is_journaled_as_failed_with_the_action_s_error() {
    let w = backed_up();
    let actions = FakeActions::default();
    actions
        .fail
        .lock()
        .unwrap()
        .insert("backup/zookeeper".into());
    let (outcome, view) = restore(&w, &actions).await;
    assert_eq!(
        outcome,
        Outcome::Failed {
            step: "restore-zookeeper".into(),
            error: "backup/zookeeper failed on purpose".into()
        }
    );
    let r = view.restore.expect("the restore is journaled");
    assert_eq!(r.state, "failed");
    assert_eq!(
        r.error.as_deref(),
        Some("backup/zookeeper failed on purpose")
    );
    assert!(
        r.unfinished(),
        "a failed restore is finished by the next rollback"
    );
}
