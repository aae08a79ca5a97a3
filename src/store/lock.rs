//! The state-directory lock: one run or resume at a time, the holder named when refused.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// The run id.
    pub run: String,
    /// Process id.
    pub pid: u32,
    /// The command (`run`, `resume`, `rollback`).
    pub command: String,
    /// When it was taken.
    pub since: String,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("another dcos-upgrade holds the state lock: run {} ({} since {}, pid {})", .0.run, .0.command, .0.since, .0.pid)]
    Held(LockInfo),
    /// Another process holds it but its details are unreadable.
    #[error("another dcos-upgrade holds the state lock {0}")]
    HeldUnknown(PathBuf),
    /// The lock file cannot be used.
    #[error("state lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// An exclusive `flock` on `<state-dir>/lock`, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct StateLock {
    file: File,
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock or says who holds it.
    pub fn acquire(dir: &Path, info: &LockInfo) -> Result<StateLock, LockError> {
        let path = dir.join("lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        // SAFETY: flock on a valid, owned file descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(match serde_json::from_str::<LockInfo>(&text) {
                Ok(holder) => LockError::Held(holder),
                Err(_) => LockError::HeldUnknown(path),
            });
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let body = serde_json::to_string(info).unwrap_or_default();
        file.write_all(body.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(StateLock { file, path })
    }

    /// Rewrites the holder's details (e.g. once the run id is known).
    pub fn update(&mut self, info: &LockInfo) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file
            .write_all(serde_json::to_string(info).unwrap_or_default().as_bytes())?;
        self.file.sync_all()
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(run: &str) -> LockInfo {
        LockInfo {
            run: run.into(),
            pid: std::process::id(),
            command: "run".into(),
            since: "now".into(),
        }
    }

    #[test]
    fn a_second_holder_is_refused_and_told_the_first_run_id() {
        let dir = tempfile::tempdir().unwrap();
        let _a = StateLock::acquire(dir.path(), &info("r1")).unwrap();
        match StateLock::acquire(dir.path(), &info("r2")) {
            Err(LockError::Held(h)) => assert_eq!(h.run, "r1"),
            other => panic!("expected Held, got {other:?}"),
        }
    }

    #[test]
    fn the_lock_is_free_again_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        drop(StateLock::acquire(dir.path(), &info("r1")).unwrap());
        assert!(StateLock::acquire(dir.path(), &info("r2")).is_ok());
    }
}
