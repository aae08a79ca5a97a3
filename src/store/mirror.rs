//! The read-only view of a state directory: plain files the store writes next to the database
//! (`runs/<id>/run.json`, `journal.jsonl`, `audit.jsonl`) so that `status` and `log` read a run
//! without opening sled, which writes and needs free space even to open.
//!
//! The database stays the truth for `resume` and `rollback`; the view's lines are written after
//! the flush that made their records durable (so it is never ahead of it) and read without
//! taking any lock, writing, copying or creating anything: it works on a read-only or full file
//! system and while a run is active. A line still being written (no final newline yet) is not read.

use super::files::{read_sidecar, read_small, run_dir, valid_run_id, Sidecar};
use super::{AuditEntry, RunRecord, StoreError, StoreResult, SCHEMA_VERSION};
use crate::machine::Record;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The view's file of a run's record.
pub(super) const RUN_FILE: &str = "run.json";
/// The view's file of a run's journal, one JSON record per line.
pub(super) const JOURNAL_FILE: &str = "journal.jsonl";
/// The view's file of a run's audit log, one JSON entry per line.
pub(super) const AUDIT_FILE: &str = "audit.jsonl";

/// Writes `runs/<id>/run.json` atomically (never through a link).
pub(super) fn write_run_file(dir: &Path, run: &RunRecord) -> std::io::Result<()> {
    let d = run_dir(dir, &run.id)?;
    let tmp = d.join(format!("{RUN_FILE}.tmp"));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    f.write_all(&serde_json::to_vec(run).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    fs::rename(&tmp, d.join(RUN_FILE))
}

/// Appends lines to a run's view file in one write; a failed write is cut back so that no half
/// line is left for the next one to follow.
pub(super) fn append_lines(
    dir: &Path,
    run: &str,
    file: &str,
    bodies: &[&[u8]],
) -> std::io::Result<()> {
    let d = run_dir(dir, run)?;
    let mut f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(d.join(file))?;
    let len = f.metadata()?.len();
    let mut lines = Vec::with_capacity(bodies.iter().map(|b| b.len() + 1).sum());
    for b in bodies {
        lines.extend_from_slice(b);
        lines.push(b'\n');
    }
    if let Err(e) = f.write_all(&lines) {
        let _ = f.set_len(len);
        return Err(e);
    }
    Ok(())
}

/// A run's view file as it is (None when it cannot be read).
pub(super) fn view_bytes(dir: &Path, run: &str, file: &str) -> Option<Vec<u8>> {
    read_small(&dir.join("runs").join(run).join(file)).ok()
}

/// Replaces a run's view file with `bodies`, one per line (temporary file, then rename).
pub(super) fn rewrite_lines(
    dir: &Path,
    run: &str,
    file: &str,
    bodies: &[Vec<u8>],
) -> std::io::Result<()> {
    let d = run_dir(dir, run)?;
    let tmp = d.join(format!("{file}.tmp"));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let mut all = Vec::new();
    for b in bodies {
        all.extend_from_slice(b);
        all.push(b'\n');
    }
    f.write_all(&all)?;
    f.sync_all()?;
    fs::rename(&tmp, d.join(file))
}

/// A read-only view of a state directory, for `status` and `log`.
#[derive(Debug, Clone)]
pub struct StateReader {
    dir: PathBuf,
    sidecar: Option<Sidecar>,
}

impl StateReader {
    /// Opens the view of `dir` without writing, copying or creating anything.
    ///
    /// # Errors
    /// [`StoreError::NoState`] when `dir` is missing or holds neither `state.json` nor
    /// `state.sled`; [`StoreError::Dir`] when it is not a directory; [`StoreError::NewerSchema`]
    /// for a newer layout; [`StoreError::Open`] for a damaged `state.json`.
    pub fn open(dir: &Path) -> StoreResult<StateReader> {
        match fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(StoreError::Dir {
                    path: dir.to_path_buf(),
                    source: std::io::Error::other("exists and is not a directory"),
                })
            }
            Err(_) => {
                return Err(StoreError::NoState {
                    path: dir.to_path_buf(),
                })
            }
        }
        let db = dir.join("state.sled");
        let sidecar = read_sidecar(dir, &db)?;
        if sidecar.is_none() && fs::symlink_metadata(&db).is_err() {
            return Err(StoreError::NoState {
                path: dir.to_path_buf(),
            });
        }
        if let Some(sc) = &sidecar {
            if sc.schema > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema {
                    path: db,
                    found: sc.schema,
                });
            }
        }
        Ok(StateReader {
            dir: dir.to_path_buf(),
            sidecar,
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The latest run's id, from `state.json`.
    ///
    /// # Errors
    /// [`StoreError::NotMirrored`] for a directory written before `state.json` existed;
    /// [`StoreError::NoRuns`] when no run was ever recorded.
    pub fn latest_run(&self) -> StoreResult<String> {
        match &self.sidecar {
            None => Err(StoreError::NotMirrored {
                path: self.dir.clone(),
                run: "(latest)".into(),
            }),
            Some(sc) => sc.latest.clone().ok_or(StoreError::NoRuns),
        }
    }

    fn run_path(&self, id: &str, file: &str) -> StoreResult<PathBuf> {
        if !valid_run_id(id) {
            return Err(StoreError::NoRun(id.to_string()));
        }
        Ok(self.dir.join("runs").join(id).join(file))
    }

    /// A run's record.
    ///
    /// # Errors
    /// [`StoreError::NotMirrored`] when the view has no such run but a database exists (a run
    /// written by an older dcos-upgrade, or none: ask [`super::Store::open`]);
    /// [`StoreError::NoRun`] when there is no database either.
    pub fn run(&self, id: &str) -> StoreResult<RunRecord> {
        let path = self.run_path(id, RUN_FILE)?;
        match read_small(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                key: path.display().to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Not in the view: the database may still have it (written by an older
                // dcos-upgrade); only the database can say "no such run".
                if self.dir.join("state.sled").exists() {
                    return Err(StoreError::NotMirrored {
                        path: self.dir.clone(),
                        run: id.to_string(),
                    });
                }
                Err(StoreError::NoRun(id.to_string()))
            }
            Err(e) => Err(StoreError::Dir { path, source: e }),
        }
    }

    /// A run's journal, in order (complete lines only).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a line that is not a record.
    pub fn journal(&self, id: &str) -> StoreResult<Vec<Record>> {
        self.lines(id, JOURNAL_FILE)
    }

    /// A run's audit log, in order (complete lines only).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a line that is not an audit entry.
    pub fn audit(&self, id: &str) -> StoreResult<Vec<AuditEntry>> {
        self.lines(id, AUDIT_FILE)
    }

    fn lines<T: serde::de::DeserializeOwned>(&self, id: &str, file: &str) -> StoreResult<Vec<T>> {
        let path = self.run_path(id, file)?;
        let bytes = match read_small(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::Dir { path, source: e }),
        };
        // Only lines ended by a newline: the last one may still be being written.
        let complete = match bytes.iter().rposition(|b| *b == b'\n') {
            Some(end) => &bytes[..end],
            None => return Ok(Vec::new()),
        };
        complete
            .split(|b| *b == b'\n')
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_slice(line).map_err(|e| StoreError::Corrupt {
                    key: format!("{}:{}", path.display(), i + 1),
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}
