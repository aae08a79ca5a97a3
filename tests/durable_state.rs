//! Durable state: the sled journal survives `kill -9` during writes.
//!
//! A child process (this test binary re-executed with `DCOS_UPGRADE_DURABLE_WRITER` set, running
//! only the ignored `writer` test) appends journal and audit records in a loop and prints each
//! sequence number once `append` has returned (i.e. after the transaction and the flush). The
//! parent SIGKILLs it at a random moment, reopens the store and checks:
//! - the database always opens;
//! - the journal holds records `0..n` with no gap, every record decodes and has the expected
//!   body (`RunPaused { reason: "<seq>" }`);
//! - `n` never goes backwards from one kill to the next;
//! - every sequence number the writer reported as flushed is present.
//!
//! Kills: `DCOS_UPGRADE_DURABLE_KILLS` (default 30).

use dcos_upgrade::machine::Record;
mod common;

use dcos_upgrade::store::{AuditEntry, RunRecord, Store};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ENV_DIR: &str = "DCOS_UPGRADE_DURABLE_WRITER";
const RUN: &str = "durable-run";

fn run_record() -> RunRecord {
    common::one_master_run(RUN, "c")
}

/// The writer (only runs in the child, selected by the environment).
#[test]
#[ignore = "helper: the child process of kill_9_during_writes_never_loses_a_flushed_record"]
fn writer() {
    let Some(dir) = std::env::var_os(ENV_DIR) else {
        return;
    };
    let dir = Path::new(&dir);
    let store = Store::open(dir).expect("writer: open");
    if store.latest_run().is_err() {
        store.create_run(&run_record()).expect("writer: create run");
    }
    let mut next = store.journal(RUN).expect("writer: journal").len() as u64;
    let stdout = std::io::stdout();
    let started = std::time::Instant::now();
    loop {
        let seq = store
            .append(
                RUN,
                &Record::RunPaused {
                    reason: next.to_string(),
                },
            )
            .expect("writer: append");
        assert_eq!(seq, next, "writer: sequence numbers are contiguous");
        // Every other record also writes the audit tree (two trees in flight at once).
        if seq % 2 == 0 {
            let entry = AuditEntry {
                at: "t".into(),
                step: format!("s{seq}"),
                node: "n".into(),
                description: "d".repeat((seq % 97) as usize),
                command: "true".into(),
                exit_status: Some(0),
                duration_ms: seq,
                output_tail: String::new(),
                phase: "outcome".into(),
            };
            store.append_audit(RUN, &entry).expect("writer: audit");
        }
        use std::io::Write;
        let mut out = stdout.lock();
        // The parent reads every line; when it is gone (the pipe broke), or after two minutes
        // whatever happens, the writer stops instead of running on as an orphan.
        if writeln!(out, "flushed {seq}").is_err()
            || out.flush().is_err()
            || started.elapsed() > std::time::Duration::from_secs(120)
        {
            std::process::exit(0);
        }
        next += 1;
    }
}

fn kills() -> usize {
    std::env::var("DCOS_UPGRADE_DURABLE_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

/// Checks the journal after a kill; returns its length.
fn check_consistent(dir: &Path, round: usize) -> (u64, usize) {
    let store = Store::open(dir)
        .unwrap_or_else(|e| panic!("round {round}: the store does not open after kill -9: {e}"));
    let journal = store
        .journal(RUN)
        .unwrap_or_else(|e| panic!("round {round}: the journal does not read: {e}"));
    for (i, rec) in journal.iter().enumerate() {
        assert_eq!(
            rec,
            &Record::RunPaused {
                reason: i.to_string()
            },
            "round {round}: record {i} is not the one written at that position (gap or damage)"
        );
    }
    let audit = store
        .audit(RUN)
        .unwrap_or_else(|e| panic!("round {round}: the audit log does not read: {e}"));
    // An audit entry follows its journal record (a kill between the two leaves a record without
    // its entry), so entries are even sequence numbers, strictly increasing, within the journal.
    let mut prev: Option<u64> = None;
    for (i, a) in audit.iter().enumerate() {
        assert_eq!(
            a.duration_ms % 2,
            0,
            "round {round}: audit entry {i} is damaged"
        );
        assert!(
            prev.is_none_or(|p| a.duration_ms > p),
            "round {round}: audit entry {i} out of order"
        );
        assert!(
            a.duration_ms < journal.len() as u64,
            "round {round}: audit entry {i} is ahead of the journal"
        );
        prev = Some(a.duration_ms);
    }
    (journal.len() as u64, audit.len())
}

#[test]
fn kill_9_during_writes_never_loses_a_flushed_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current_exe");
    let rounds = kills();
    let mut last_len = 0u64;
    let mut total_flushed_seen = 0u64;
    let started = Instant::now();
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "writer",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(ENV_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn writer");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line
                    .strip_prefix("flushed ")
                    .and_then(|n| n.trim().parse().ok())
                {
                    let _ = tx.send(n);
                }
            }
        });
        // Wait for the first flushed record, then a random 0..150 ms more, then SIGKILL.
        let first = rx.recv_timeout(Duration::from_secs(30));
        assert!(
            first.is_ok(),
            "round {round}: the writer never reported a flushed record"
        );
        let delay = rand_ms(round) % 150;
        std::thread::sleep(Duration::from_millis(delay));
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        let status = child.wait().expect("wait writer");
        assert!(
            !status.success(),
            "round {round}: the writer exited on its own: {status:?}"
        );
        let _ = reader.join();
        let mut max_flushed = first.ok();
        while let Ok(n) = rx.try_recv() {
            max_flushed = Some(max_flushed.map_or(n, |m: u64| m.max(n)));
        }
        let (len, _audit) = check_consistent(dir.path(), round);
        assert!(
            len >= last_len,
            "round {round}: the journal went backwards: {last_len} -> {len}"
        );
        if let Some(m) = max_flushed {
            assert!(
                len > m,
                "round {round}: record {m} was reported flushed but the journal holds only {len}"
            );
        }
        total_flushed_seen = total_flushed_seen.max(len);
        last_len = len;
    }
    eprintln!(
        "durable_state: {rounds} kills survived, {total_flushed_seen} records intact, {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// A cheap pseudo-random delay (no extra dependency in the test binary).
fn rand_ms(round: usize) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    nanos
        .wrapping_mul(6364136223846793005)
        .wrapping_add((round as u64).wrapping_mul(1442695040888963407))
        >> 33
}
