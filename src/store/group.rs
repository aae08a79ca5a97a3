//! Group commit of the journal and the audit log: records are committed to sled at once, and
//! made durable (one sled flush, an fsync) together, at the latest when the next change is sent.
//!
//! The contract the rest of the tool relies on ("journaled before acted"):
//! - an audit entry of phase `intent` (written by the change door just before it sends a change)
//!   and every run-level journal record (a pause, a gate approval, the end of a run or of a
//!   rollback, a door seen crossed, a restore) is durable when its append returns, with every
//!   record appended before it;
//! - any other record (a step started, noted, succeeded, failed; an outcome) waits for the next
//!   of those, for the background flush (every [`MAX_DELAY`], of what has waited that long: so
//!   between one and two `MAX_DELAY`s after the commit), or for the store's drop.
//!
//! So a kill -9 loses at most the records written since the last change was sent: reads only
//! (the steps between two changes are re-run, `verify` decides for a step that changed
//! something). The read-only view's lines (`journal.jsonl`, `audit.jsonl`) are written right
//! after the flush that made their records durable, so the view is never ahead of the database.

use super::mirror::append_lines;
use super::sled_store::db_err;
use super::{StoreError, StoreResult};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the background flush looks, and how long a record waits at least before it flushes
/// it (so at most twice this when nothing forces a flush sooner).
pub const MAX_DELAY: Duration = Duration::from_millis(100);

/// A read-only view line waiting for its record's flush.
pub(super) struct Line {
    pub run: String,
    pub file: &'static str,
    pub body: Vec<u8>,
}

/// What is committed to sled and not flushed yet.
#[derive(Default)]
pub(super) struct Pending {
    lines: Vec<Line>,
    /// When the oldest pending record was committed.
    since: Option<Instant>,
    /// A background flush that failed: reported by the next append.
    failed: Option<String>,
}

impl Pending {
    /// Notes a committed record whose view line is `line`.
    pub fn push(&mut self, line: Line) {
        self.since.get_or_insert_with(Instant::now);
        self.lines.push(line);
    }

    /// The error of a failed background flush, once.
    pub fn take_failure(&mut self) -> StoreResult<()> {
        match self.failed.take() {
            Some(e) => Err(db_err(format!("a background flush failed: {e}"))),
            None => Ok(()),
        }
    }

    /// How many records wait for a flush.
    pub fn len(&self) -> usize {
        self.lines.len()
    }
}

/// The database and its pending records, shared with the background flusher.
pub(super) struct Group {
    pub db: sled::Db,
    pub dir: PathBuf,
    pending: Mutex<Pending>,
    /// How many group commits (flushes of pending records) were made.
    pub commits: AtomicU64,
}

impl Group {
    pub fn new(db: sled::Db, dir: PathBuf) -> Group {
        Group {
            db,
            dir,
            pending: Mutex::new(Pending::default()),
            commits: AtomicU64::new(0),
        }
    }

    /// The pending records; hold the guard across a commit so that view lines keep the
    /// database's order.
    pub fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes everything pending durable (one flush), then writes its view lines.
    pub fn sync(&self, p: &mut Pending) -> StoreResult<()> {
        if p.since.is_none() {
            return Ok(());
        }
        self.db.flush().map_err(db_err)?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        p.since = None;
        let lines = std::mem::take(&mut p.lines);
        // Consecutive lines of one file go in one write; the order within each file is kept.
        let mut first_err = None;
        let mut i = 0;
        while i < lines.len() {
            let (run, file) = (&lines[i].run, lines[i].file);
            let j = i + lines[i..]
                .iter()
                .take_while(|l| &l.run == run && l.file == file)
                .count();
            let bodies: Vec<&[u8]> = lines[i..j].iter().map(|l| l.body.as_slice()).collect();
            if let Err(source) = append_lines(&self.dir, run, file, &bodies) {
                // The database holds the records; the view is repaired at the next open.
                first_err.get_or_insert(StoreError::Dir {
                    path: self.dir.join("runs").join(run).join(file),
                    source,
                });
            }
            i = j;
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// The background flusher of one open store: every [`MAX_DELAY`], flushes what has been pending
/// that long.
pub(super) struct Flusher {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    pub fn start(group: Arc<Group>) -> Flusher {
        let (stop, rx) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("dcu-group-commit".into())
            .spawn(move || {
                // Until the store drops its end of the channel.
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(MAX_DELAY) {
                    let mut p = group.lock();
                    if p.since.is_some_and(|t| t.elapsed() >= MAX_DELAY) {
                        if let Err(e) = group.sync(&mut p) {
                            p.failed = Some(e.to_string());
                        }
                    }
                }
            })
            .ok();
        Flusher {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
