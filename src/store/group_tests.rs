//! Unit tests of the group commit: what a kill -9 at a given moment would leave on disk (a copy
//! of the state directory taken at that moment, opened as the next process would) holds every
//! record the contract says is durable by then.

use super::group::MAX_DELAY;
use super::sled_store::Store;
use super::AuditEntry;
use crate::door::fake::{ok, FakeCluster};
use crate::door::{AuditedChange, Change, NodeTarget, ScriptChange};
use crate::machine::Record;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The state directory as a process killed now would leave it, opened by the next process.
fn crash_copy(dir: &Path, into: &Path) -> Store {
    let copy = into.join(format!("crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(dir, &copy);
    Store::open(&copy).unwrap()
}

fn started(step: &str) -> Record {
    Record::StepStarted { step: step.into() }
}

fn view_lines(dir: &Path, file: &str) -> usize {
    std::fs::read_to_string(dir.join("runs/r1").join(file))
        .unwrap_or_default()
        .lines()
        .count()
}

/// A store with a run; without the background flush unless `background` (so that what is
/// pending stays pending however slow the machine is).
fn new_store(background: bool) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    let s = if background {
        Store::open(&path).unwrap()
    } else {
        Store::open_without_background_flush(&path).unwrap()
    };
    s.create_run(&super::tests::record("r1")).unwrap();
    (dir, s)
}

#[tokio::test]
async fn a_kill_as_a_change_is_sent_keeps_its_intent_and_every_record_before_it() {
    let (dir, store) = new_store(false);
    let state = dir.path().join("state");
    store.append("r1", &started("s")).unwrap();
    let noted = Record::StepNoted {
        step: "s".into(),
        output: serde_json::json!({"undo": "needs this"}),
    };
    store.append("r1", &noted).unwrap();
    assert_eq!(
        store.pending(),
        2,
        "a step's records wait for a group commit"
    );
    assert_eq!(
        view_lines(&state, "journal.jsonl"),
        0,
        "the view is not ahead"
    );
    // The cluster copies the state directory the moment the change reaches it: what a kill at
    // the `before-remote` checkpoint (or any later moment) leaves.
    let copied: Arc<Mutex<Option<PathBuf>>> = Arc::default();
    let (from, into, slot) = (state.clone(), dir.path().to_path_buf(), copied.clone());
    let fake = FakeCluster::new().on_script(move |_, script| {
        if script == "start-it" {
            let copy = into.join("at-change");
            copy_dir(&from, &copy);
            *slot.lock().unwrap() = Some(copy);
        }
        Some(ok(""))
    });
    let change = AuditedChange::in_process(&store, "r1", &fake, vec![]);
    let node = NodeTarget {
        address: "10.0.0.1".into(),
        port: None,
    };
    change
        .script(ScriptChange {
            step: "s",
            node: &node,
            description: "start it",
            script: "start-it",
            input: None,
            timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
    let copy = copied.lock().unwrap().clone().expect("the change was sent");
    let after = Store::open(&copy).unwrap();
    assert_eq!(after.journal("r1").unwrap(), vec![started("s"), noted]);
    let audit: Vec<AuditEntry> = after.audit("r1").unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].phase, "intent");
    assert_eq!(audit[0].description, "start it");
    // The read-only view of the copy was written with the flush, before the change.
    assert_eq!(view_lines(&copy, "journal.jsonl"), 2);
    assert_eq!(view_lines(&copy, "audit.jsonl"), 1);
    // The outcome is journaled after the fact: it waits for the next group commit.
    assert_eq!(store.pending(), 1);
}

#[test]
fn a_run_level_record_is_durable_at_once_with_the_records_before_it() {
    let (dir, store) = new_store(false);
    store.append("r1", &started("s")).unwrap();
    let paused = Record::RunPaused {
        reason: "waiting".into(),
    };
    store.append("r1", &paused).unwrap();
    assert_eq!(store.pending(), 0);
    let after = crash_copy(&dir.path().join("state"), dir.path());
    assert_eq!(after.journal("r1").unwrap(), vec![started("s"), paused]);
}

#[test]
fn a_record_with_no_change_after_it_is_durable_within_the_group_delay() {
    let (dir, store) = new_store(true);
    store.append("r1", &started("s")).unwrap();
    let t = Instant::now();
    // The background flush's own record: polled, bounded.
    while store.pending() > 0 {
        assert!(t.elapsed() < MAX_DELAY * 50, "never flushed");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        t.elapsed() >= MAX_DELAY / 2,
        "flushed by the timer, not at once"
    );
    let state = dir.path().join("state");
    assert_eq!(view_lines(&state, "journal.jsonl"), 1);
    let after = crash_copy(&state, dir.path());
    assert_eq!(after.journal("r1").unwrap(), vec![started("s")]);
}

#[test]
fn closing_the_store_flushes_what_is_pending() {
    let (dir, store) = new_store(false);
    store.append("r1", &started("s")).unwrap();
    drop(store);
    let s = Store::open(&dir.path().join("state")).unwrap();
    assert_eq!(s.journal("r1").unwrap(), vec![started("s")]);
}
