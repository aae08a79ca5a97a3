//! Unit tests of the sled store: durability, privacy and schema refusal.

use super::sled_store::Store;
use super::*;
use crate::machine::Record;
use crate::plan::{build, PlanOptions};
use std::fs;
use std::os::unix::fs::PermissionsExt;

pub(super) fn record(id: &str) -> RunRecord {
    let facts = crate::facts::ClusterFacts {
        masters: vec![crate::facts::NodeFacts {
            address: "10.0.0.1".into(),
            name: "m1".into(),
            role: crate::model::Role::Master,
            version: Some("2.1.3".into()),
            is_leader: true,
            error: None,
            zone: None,
        }],
        ..Default::default()
    };
    let plan = build(
        &facts,
        &PlanOptions {
            cluster: "c".into(),
            to: "2.2.1".into(),
            max_unavailable: 1,
            max_unavailable_per_zone: None,
            frameworks: vec![],
        },
    )
    .unwrap();
    RunRecord {
        id: id.into(),
        created_at: "t".into(),
        cluster: "c".into(),
        plan,
        inventory_path: "/x".into(),
        inventory_text: String::new(),
        playbook_text: None,
        options: serde_json::Value::Null,
    }
}

#[test]
fn records_survive_reopening_in_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.create_run(&record("r1")).unwrap();
        for i in 0..300 {
            s.append(
                "r1",
                &Record::RunPaused {
                    reason: format!("{i}"),
                },
            )
            .unwrap();
        }
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.latest_run().unwrap(), "r1");
    let j = s.journal("r1").unwrap();
    assert_eq!(j.len(), 300);
    assert_eq!(
        j[299],
        Record::RunPaused {
            reason: "299".into()
        }
    );
    assert!(s.journal("r2").unwrap().is_empty());
}

#[test]
fn the_state_dir_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("state");
    Store::open(&d).unwrap();
    let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.meta.insert("schema", &99u64.to_be_bytes()).unwrap();
        s.flush().unwrap();
    }
    let e = Store::open(dir.path()).err().unwrap();
    assert!(
        matches!(e, StoreError::NewerSchema { found: 99, .. }),
        "{e}"
    );
}

#[test]
fn a_database_open_in_another_store_is_refused_as_locked_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.create_run(&record("r1")).unwrap();
    let e = Store::open(dir.path()).err().unwrap();
    assert!(matches!(e, StoreError::Locked { .. }), "{e}");
    assert!(
        !dir.path().join(".state.sled.opening").exists(),
        "no copy of a live database is taken"
    );
    drop(s);
    assert_eq!(Store::open(dir.path()).unwrap().latest_run().unwrap(), "r1");
}

#[test]
fn open_existing_never_creates_state_and_names_the_directory() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("missing");
    let e = Store::open_existing(&missing).err().unwrap();
    assert!(matches!(e, StoreError::NoState { .. }), "{e}");
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );
    assert!(!missing.exists());
    let empty = parent.path().join("empty");
    fs::create_dir(&empty).unwrap();
    assert!(matches!(
        Store::open_existing(&empty),
        Err(StoreError::NoState { .. })
    ));
    assert_eq!(fs::read_dir(&empty).unwrap().count(), 0);
    Store::open(&empty)
        .unwrap()
        .create_run(&record("r1"))
        .unwrap();
    assert_eq!(
        Store::open_existing(&empty).unwrap().latest_run().unwrap(),
        "r1"
    );
}

#[test]
fn journal_len_counts_each_run_s_records_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.create_run(&record("r1")).unwrap();
    s.create_run(&record("r2")).unwrap();
    assert_eq!(s.journal_len("r1").unwrap(), 0);
    for i in 0..5 {
        s.append(
            "r1",
            &Record::RunPaused {
                reason: format!("{i}"),
            },
        )
        .unwrap();
    }
    s.append("r2", &Record::RunPaused { reason: "x".into() })
        .unwrap();
    assert_eq!(s.journal_len("r1").unwrap(), 5);
    assert_eq!(s.journal_len("r2").unwrap(), 1);
    assert_eq!(
        s.journal_len("r1").unwrap() as usize,
        s.journal("r1").unwrap().len()
    );
    assert_eq!(s.journal_len("nobody").unwrap(), 0);
}

#[test]
fn journal_from_reads_a_run_s_records_after_the_first_n_and_no_other_run_s() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    // "r1" is a prefix of "r10": the range must stop at r1's own records.
    s.create_run(&record("r1")).unwrap();
    s.create_run(&record("r10")).unwrap();
    let paused = |i: usize| Record::RunPaused {
        reason: format!("{i}"),
    };
    for i in 0..4 {
        s.append("r1", &paused(i)).unwrap();
        s.append("r10", &paused(100 + i)).unwrap();
    }
    let all = s.journal("r1").unwrap();
    for from in 0..=5 {
        let got = s.journal_from("r1", from as u64).unwrap();
        let want: Vec<Record> = all.iter().skip(from).cloned().collect();
        assert_eq!(got, want, "from {from}");
    }
    assert_eq!(s.journal_from("r10", 3).unwrap(), vec![paused(103)]);
    assert!(s.journal_from("nobody", 0).unwrap().is_empty());
}
