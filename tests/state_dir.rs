//! State-directory abuse (issue 13 #3, #4, #10, #12): planted links, a directory owned by
//! someone else or open to others, the directory deleted or replaced mid-run, two copies of one
//! directory, and `status`/`log` on a read-only, a full and an empty directory.

mod common;

use dcos_upgrade::machine::Record;
use dcos_upgrade::store::{AuditEntry, LockError, LockInfo, StateLock, Store, StoreError};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn cli(state: &Path, args: &[&str]) -> Output {
    Command::new(common::bin())
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("DCOS_UPGRADE_STATE_DIR")
        .output()
        .expect("run dcos-upgrade")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn info(run: &str) -> LockInfo {
    LockInfo {
        run: run.into(),
        pid: std::process::id(),
        command: "run".into(),
        since: "now".into(),
    }
}

fn audit(step: &str) -> AuditEntry {
    AuditEntry {
        at: "2024-01-01T00:00:00Z".into(),
        step: step.into(),
        node: "m1".into(),
        description: "upgrade the node".into(),
        command: "bash dcos_node_upgrade.sh".into(),
        exit_status: Some(0),
        duration_ms: 5,
        output_tail: "ok".into(),
        phase: "outcome".into(),
    }
}

/// A state directory with one paused run, 3 journal records and 2 audit entries.
fn seeded(dir: &Path) {
    let s = Store::open(dir).expect("seed: open");
    s.create_run(&common::one_master_run("seed-run", "c"))
        .expect("run");
    for i in 0..3 {
        s.append(
            "seed-run",
            &Record::RunPaused {
                reason: format!("seed {i}"),
            },
        )
        .expect("append");
    }
    s.append_audit("seed-run", &audit("masters:m1"))
        .expect("audit");
    s.append_audit("seed-run", &audit("agents:a1"))
        .expect("audit");
}

/// Every path under `dir`, sorted.
fn listing(dir: &Path) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            out.push(e.path());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(&e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// #3: links and ownership
// ---------------------------------------------------------------------------------------------

#[test]
fn a_planted_lock_link_is_refused_and_its_target_left_alone() {
    let state = tempfile::tempdir().unwrap();
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("passwd");
    std::fs::write(&victim, b"root:x:0:0\n").unwrap();
    std::os::unix::fs::symlink(&victim, state.path().join("lock")).unwrap();
    match StateLock::acquire(state.path(), &info("r1")) {
        Err(e @ LockError::Io { .. }) => {
            assert!(e.to_string().contains("symbolic link"), "{e}")
        }
        other => panic!("a lock link must be refused, got {other:?}"),
    }
    // Through the CLI too: `resume` refuses (the directory holds no state, or its lock is a
    // link), and the link's target is never touched.
    let o = cli(state.path(), &["resume", "--yes"]);
    let refused = (o.status.code() == Some(1) && stderr(&o).contains("symbolic link"))
        || (o.status.code() == Some(2) && stderr(&o).contains("no state"));
    assert!(refused, "exit {:?}: {}", o.status.code(), stderr(&o));
    assert_eq!(std::fs::read(&victim).unwrap(), b"root:x:0:0\n");
}

#[test]
fn linked_runs_and_database_directories_are_refused_and_not_chmoded() {
    for name in ["runs", "state.sled", "state.json", "id"] {
        let state = tempfile::tempdir().unwrap();
        seeded(state.path());
        let elsewhere = tempfile::tempdir().unwrap();
        let target = elsewhere.path().join("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = state.path().join(name);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
        std::os::unix::fs::symlink(&target, &p).unwrap();
        match Store::open(state.path()) {
            Err(e @ StoreError::Unsafe { .. }) => {
                assert!(e.to_string().contains("symbolic link"), "{name}: {e}")
            }
            Err(e) => panic!("{name}: expected Unsafe, got {e}"),
            Ok(_) => panic!("{name}: a linked {name} must be refused"),
        }
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "{name}: the link's target was chmod'ed");
        assert!(
            listing(&target).is_empty(),
            "{name}: written through the link"
        );
    }
}

#[test]
fn a_link_inside_the_database_is_refused() {
    let state = tempfile::tempdir().unwrap();
    seeded(state.path());
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&victim, state.path().join("state.sled/planted")).unwrap();
    assert!(matches!(
        Store::open(state.path()),
        Err(StoreError::Unsafe { .. })
    ));
    let mode = std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
}

#[test]
fn a_state_dir_open_to_others_is_refused_not_silently_chmoded() {
    let state = tempfile::tempdir().unwrap();
    seeded(state.path());
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    match Store::open(state.path()) {
        Err(e @ StoreError::Unsafe { .. }) => {
            let shown = e.to_string();
            assert!(shown.contains("writable by everyone"), "{shown}");
            assert!(shown.contains("chmod 700"), "{shown}");
        }
        Err(e) => panic!("expected Unsafe, got {e}"),
        Ok(_) => panic!("a world-writable state directory must be refused"),
    }
    let mode = std::fs::metadata(state.path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        mode, 0o777,
        "the directory was chmod'ed behind the operator's back"
    );
    let o = cli(state.path(), &["resume", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("writable by everyone"),
        "{}",
        stderr(&o)
    );
    // Group-writable too.
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
    assert!(matches!(
        Store::open(state.path()),
        Err(StoreError::Unsafe { .. })
    ));
    // Readable by others only: ours, made private.
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    Store::open(state.path()).expect("a 0755 directory of ours opens");
    let mode = std::fs::metadata(state.path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn a_state_dir_owned_by_another_user_is_refused() {
    let state = tempfile::tempdir().unwrap();
    seeded(state.path());
    if std::os::unix::fs::chown(state.path(), Some(54321), None).is_err() {
        eprintln!("SKIPPED: cannot chown here (needs root)");
        return;
    }
    match Store::open(state.path()) {
        Err(e @ StoreError::Unsafe { .. }) => {
            assert!(e.to_string().contains("owned by uid 54321"), "{e}")
        }
        Err(e) => panic!("expected Unsafe, got {e}"),
        Ok(_) => panic!("a directory owned by someone else must be refused"),
    }
    assert!(StateLock::acquire(state.path(), &info("r1")).is_err());
    assert_eq!(std::fs::metadata(state.path()).unwrap().uid(), 54321);
}

// ---------------------------------------------------------------------------------------------
// #4: the directory deleted or replaced mid-run
// ---------------------------------------------------------------------------------------------

#[test]
fn deleting_the_state_dir_mid_run_stops_the_next_append() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    let _lock = StateLock::acquire(
        {
            std::fs::create_dir(&dir).unwrap();
            &dir
        },
        &info("r1"),
    )
    .unwrap();
    let s = Store::open(&dir).unwrap();
    s.create_run(&common::one_master_run("r1", "c")).unwrap();
    s.append("r1", &Record::StepStarted { step: "a".into() })
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    match s.append("r1", &Record::StepStarted { step: "b".into() }) {
        Err(e @ StoreError::Vanished { .. }) => {
            let shown = e.to_string();
            assert!(shown.contains("removed or replaced"), "{shown}");
            assert!(shown.contains(&dir.display().to_string()), "{shown}");
        }
        other => panic!("expected Vanished, got {other:?}"),
    }
    assert!(matches!(
        s.append_audit("r1", &audit("a")),
        Err(StoreError::Vanished { .. })
    ));
}

#[test]
fn a_state_dir_replaced_or_a_lock_file_removed_is_noticed() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("state");
    std::fs::create_dir(&dir).unwrap();
    let lock = StateLock::acquire(&dir, &info("r1")).unwrap();
    let s = Store::open(&dir).unwrap();
    s.create_run(&common::one_master_run("r1", "c")).unwrap();
    // The lock file alone is removed (e.g. `rm state/*`).
    std::fs::remove_file(lock.path()).unwrap();
    assert!(matches!(
        s.append("r1", &Record::StepStarted { step: "a".into() }),
        Err(StoreError::Vanished { .. })
    ));
    // The whole directory moved aside and an empty one put in its place.
    let parent2 = tempfile::tempdir().unwrap();
    let dir2 = parent2.path().join("state");
    std::fs::create_dir(&dir2).unwrap();
    let s2 = Store::open(&dir2).unwrap();
    s2.create_run(&common::one_master_run("r1", "c")).unwrap();
    std::fs::rename(&dir2, parent2.path().join("aside")).unwrap();
    std::fs::create_dir(&dir2).unwrap();
    assert!(matches!(
        s2.append("r1", &Record::StepStarted { step: "a".into() }),
        Err(StoreError::Vanished { .. })
    ));
    assert!(s2.check_identity().is_err());
}

// ---------------------------------------------------------------------------------------------
// #10: two copies of one state directory
// ---------------------------------------------------------------------------------------------

#[test]
fn two_copies_of_a_state_dir_have_different_holder_ids() {
    let a = tempfile::tempdir().unwrap();
    seeded(a.path());
    let id_a = Store::open(a.path()).unwrap().holder_id().unwrap();
    assert_eq!(
        Store::open(a.path()).unwrap().holder_id().unwrap(),
        id_a,
        "the same directory keeps its identity"
    );
    let b = tempfile::tempdir().unwrap();
    let ok = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", a.path().display()))
        .arg(b.path())
        .status()
        .unwrap();
    assert!(ok.success());
    let id_b = Store::open(b.path()).unwrap().holder_id().unwrap();
    assert_ne!(id_a, id_b, "a copy must not claim the original's identity");
    // A fresh directory: the lock is taken before the store makes the id; `update` records it.
    let fresh = tempfile::tempdir().unwrap();
    let mut lk = StateLock::acquire(fresh.path(), &info("r")).unwrap();
    assert!(lk.holder_id().ends_with(":-"), "{}", lk.holder_id());
    let id_f = Store::open(fresh.path()).unwrap().holder_id().unwrap();
    lk.update(&info("r")).unwrap();
    assert_eq!(lk.holder_id(), id_f);
    drop(lk);
    // The random part was copied along: the device and inode tell them apart.
    assert_eq!(id_a.rsplit(':').next(), id_b.rsplit(':').next());
    // And the local lock file names the holder.
    let lock = StateLock::acquire(b.path(), &info("seed-run")).unwrap();
    assert_eq!(lock.holder_id(), id_b);
    let text = std::fs::read_to_string(lock.path()).unwrap();
    assert!(text.contains(&id_b), "{text}");
}

// ---------------------------------------------------------------------------------------------
// #12: status and log read-only
// ---------------------------------------------------------------------------------------------

/// Mounts a tmpfs (root only).
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let d = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(d.path())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Tmpfs(d))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

fn assert_status_and_log_show_the_run(state: &Path, what: &str) {
    let o = cli(state, &["status"]);
    // The seeded run is paused: `status` says so with its exit code (5, issue 15).
    assert!(
        matches!(o.status.code(), Some(0) | Some(3) | Some(5)),
        "{what}: status exit {:?}: {}",
        o.status.code(),
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("seed-run") && stdout(&o).contains("paused"),
        "{what}: {}",
        stdout(&o)
    );
    let o = cli(state, &["log"]);
    assert_eq!(o.status.code(), Some(0), "{what}: log: {}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("masters:m1") && out.contains("agents:a1"),
        "{what}: {out}"
    );
    let o = cli(state, &["log", "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{what}: log json: {}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 2, "{what}: {}", stdout(&o));
}

#[test]
fn status_and_log_work_on_a_read_only_state_dir() {
    let Some(fs) = Tmpfs::mount("8m") else { return };
    let state = fs.path().join("state");
    seeded(&state);
    let before = listing(&state);
    let ok = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(fs.path())
        .status()
        .unwrap();
    assert!(ok.success(), "remount read-only");
    assert_status_and_log_show_the_run(&state, "read-only");
    assert_eq!(listing(&state), before);
}

#[test]
fn status_and_log_work_on_a_full_disk_and_copy_nothing() {
    let Some(fs) = Tmpfs::mount("4m") else { return };
    let state = fs.path().join("state");
    seeded(&state);
    let mut f = std::fs::File::create(fs.path().join("filler")).unwrap();
    let chunk = vec![0u8; 4096];
    use std::io::Write;
    while f.write_all(&chunk).is_ok() {}
    drop(f);
    let before = listing(&state);
    assert_status_and_log_show_the_run(&state, "full disk");
    assert_eq!(listing(&state), before, "status/log left files behind");
}

#[test]
fn status_and_log_work_while_a_run_holds_the_database() {
    let state = tempfile::tempdir().unwrap();
    seeded(state.path());
    let _held = Store::open(state.path()).unwrap();
    assert_status_and_log_show_the_run(state.path(), "database held");
}

#[test]
fn status_and_log_never_create_state_where_there_is_none() {
    let parent = tempfile::tempdir().unwrap();
    let empty = parent.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = parent.path().join("missing");
    for dir in [&empty, &missing] {
        for cmd in ["status", "log"] {
            let o = cli(dir, &[cmd]);
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd} {}: {e}", dir.display());
            assert!(e.contains("no state in"), "{e}");
            assert!(e.contains(&dir.display().to_string()), "{e}");
        }
    }
    assert!(
        listing(&empty).is_empty(),
        "files created in an empty directory"
    );
    assert!(!missing.exists(), "the missing directory was created");
}

#[test]
fn a_view_behind_the_database_is_brought_up_to_date_when_the_store_opens() {
    let state = tempfile::tempdir().unwrap();
    seeded(state.path());
    let journal = state.path().join("runs/seed-run/journal.jsonl");
    let full = std::fs::read(&journal).unwrap();
    // A kill between the database commit and the view line: one line and a half left.
    let first_end = full.iter().position(|b| *b == b'\n').unwrap() + 1;
    std::fs::write(&journal, &full[..first_end + 5]).unwrap();
    // And a run written before the view existed: no view at all.
    std::fs::remove_file(state.path().join("runs/seed-run/audit.jsonl")).unwrap();
    drop(Store::open(state.path()).unwrap());
    assert_eq!(
        std::fs::read(&journal).unwrap(),
        full,
        "the journal view was not repaired"
    );
    assert_status_and_log_show_the_run(state.path(), "repaired view");
    // Whole view gone (an older dcos-upgrade wrote this directory).
    std::fs::remove_dir_all(state.path().join("runs")).unwrap();
    drop(Store::open(state.path()).unwrap());
    assert_status_and_log_show_the_run(state.path(), "recreated view");
    // When they agree, opening writes nothing.
    let before: Vec<_> = listing(state.path())
        .into_iter()
        .filter(|p| p.starts_with(state.path().join("runs")))
        .map(|p| {
            (
                p.clone(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    drop(Store::open(state.path()).unwrap());
    let after: Vec<_> = listing(state.path())
        .into_iter()
        .filter(|p| p.starts_with(state.path().join("runs")))
        .map(|p| {
            (
                p.clone(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    assert_eq!(before, after);
}

#[test]
fn status_falls_back_to_the_database_for_a_run_without_a_view() {
    let state = tempfile::tempdir().unwrap();
    seeded(state.path());
    std::fs::remove_dir_all(state.path().join("runs")).unwrap();
    // No Store::open in between: status itself finds no view and reads the database.
    let o = cli(state.path(), &["status"]);
    assert!(
        matches!(o.status.code(), Some(0) | Some(3) | Some(5)),
        "exit {:?}: {}",
        o.status.code(),
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("seed-run") && stdout(&o).contains("paused"),
        "{}",
        stdout(&o)
    );
}
