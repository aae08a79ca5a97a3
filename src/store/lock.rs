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
    holder: String,
    path: PathBuf,
}

/// What the lock file holds: the holder's details and identity.
#[derive(Serialize)]
struct LockBody {
    #[serde(flatten)]
    info: LockInfo,
    holder: String,
}

/// `host:device:inode:id` without creating the id (the lock must not add files to a state
/// directory whose database turns out to be unusable).
fn local_holder(dir: &Path) -> String {
    let id = super::files::read_small(&dir.join("id"))
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .filter(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| "-".into());
    super::dir::holder_parts(dir, &id).unwrap_or_else(|| format!("unknown:{id}"))
}

impl StateLock {
    /// Takes the lock or says who holds it.
    ///
    /// The directory must pass [`super::check_dir`] (owned by the user, not writable by
    /// others), and `lock` is opened without following a link (a planted link is refused, its
    /// target left alone). The lock file records the holder's identity next to `info`
    /// (`holder`: host, device and inode of the directory, its random id).
    pub fn acquire(dir: &Path, info: &LockInfo) -> Result<StateLock, LockError> {
        let path = dir.join("lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        super::check_dir(dir).map_err(|e| {
            io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                e.to_string(),
            ))
        })?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ELOOP) {
                    io(std::io::Error::other(
                        "is a symbolic link; dcos-upgrade never follows links inside its state directory (one planted there could make it overwrite another file). Remove the link and try again",
                    ))
                } else {
                    io(e)
                }
            })?;
        if !file.metadata().map_err(io)?.is_file() {
            return Err(io(std::io::Error::other(
                "is not a regular file; remove it and try again",
            )));
        }
        // SAFETY: flock on a valid, owned file descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut text = String::new();
            let _ = Read::by_ref(&mut file)
                .take(64 * 1024)
                .read_to_string(&mut text);
            return Err(match serde_json::from_str::<LockInfo>(&text) {
                Ok(holder) => LockError::Held(holder),
                Err(_) => LockError::HeldUnknown(path),
            });
        }
        let mut lock = StateLock {
            file,
            holder: local_holder(dir),
            path: path.clone(),
        };
        lock.update(info).map_err(io)?;
        Ok(lock)
    }

    /// Rewrites the holder's details (e.g. once the run id is known).
    pub fn update(&mut self, info: &LockInfo) -> std::io::Result<()> {
        // The directory's id may have been created since the lock was taken (first run).
        if let Some(dir) = self.path.parent() {
            self.holder = local_holder(dir);
        }
        let body = LockBody {
            info: info.clone(),
            holder: self.holder.clone(),
        };
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file
            .write_all(serde_json::to_string(&body).unwrap_or_default().as_bytes())?;
        self.file.sync_all()
    }

    /// The holder identity written into the lock file: `host:device:inode:random-id` of the
    /// state directory (`-` for the id while the directory has none yet: [`super::Store::open`]
    /// creates it, and [`StateLock::update`] then records it).
    pub fn holder_id(&self) -> &str {
        &self.holder
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
