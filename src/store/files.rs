//! The files around the database: the saved copy taken before sled opens it, the `state.json`
//! sidecar and the per-run status snapshots, all opened without following links.

use super::{StoreError, StoreResult};
use crate::machine::RunView;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Copies the database aside before sled opens it; None when there is nothing to copy or the
/// copy cannot be made (e.g. a full disk: sled then opens the files as they are).
pub(super) fn save_copy(dir: &Path, db: &Path) -> Option<PathBuf> {
    let copy = dir.join(".state.sled.opening");
    if copy.exists() {
        if db.exists() {
            let _ = fs::remove_dir_all(&copy);
        } else {
            // An earlier open died while putting the copy back: finish it.
            let _ = fs::rename(&copy, db);
        }
    }
    if !db.is_dir() {
        return None;
    }
    match copy_tree(db, &copy) {
        Ok(()) => Some(copy),
        Err(e) => {
            tracing::warn!("cannot copy {} before opening it: {e}", db.display());
            let _ = fs::remove_dir_all(&copy);
            None
        }
    }
}

pub(super) fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new().mode(0o700).create(to)?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        let ft = e.file_type()?;
        if ft.is_symlink() {
            return Err(std::io::Error::other(format!(
                "{} is a symbolic link",
                e.path().display()
            )));
        }
        if ft.is_dir() {
            copy_tree(&e.path(), &dest)?;
        } else {
            fs::copy(e.path(), &dest)?;
        }
    }
    Ok(())
}

/// Puts the saved copy back in place of what sled left (the refused database is unchanged).
pub(super) fn restore_copy(db: &Path, copy: &Path) {
    let aside = db.with_extension("sled.refused");
    let _ = fs::remove_dir_all(&aside);
    if fs::rename(db, &aside).is_ok() && fs::rename(copy, db).is_ok() {
        let _ = fs::remove_dir_all(&aside);
    }
}

/// The sidecar file next to the database: what the database must contain at least.
pub(super) const SIDECAR: &str = "state.json";

/// Written atomically after every new run; read before sled opens the database.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Sidecar {
    /// The layout version that wrote it.
    pub(super) schema: u64,
    /// How many runs the database holds at least.
    pub(super) runs: u64,
    /// The latest run.
    pub(super) latest: Option<String>,
}

pub(super) fn read_sidecar(dir: &Path, db: &Path) -> StoreResult<Option<Sidecar>> {
    let p = dir.join(SIDECAR);
    match read_small(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Open {
                path: db.to_path_buf(),
                reason: format!("{} is damaged: {e}", p.display()),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::Open {
            path: db.to_path_buf(),
            reason: format!("{}: {e}", p.display()),
        }),
    }
}

pub(super) fn write_sidecar(dir: &Path, sc: &Sidecar) -> StoreResult<()> {
    let p = dir.join(SIDECAR);
    let tmp = dir.join(format!("{SIDECAR}.tmp"));
    let err = |source| StoreError::Dir {
        path: p.clone(),
        source,
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(&serde_json::to_vec(sc).map_err(super::sled_store::db_err)?)
        .map_err(err)?;
    f.sync_all().map_err(err)?;
    fs::rename(&tmp, &p).map_err(err)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The path of a run's audit lines (the store's plain-file mirror, `runs/<id>/audit.jsonl`), read without opening the database.
pub fn audit_lines_path(dir: &Path, run: &str) -> PathBuf {
    dir.join("runs").join(run).join("audit.jsonl")
}

/// Largest state file read whole (sidecar, snapshot, run record).
pub(super) const MAX_STATE_FILE: u64 = 64 * 1024 * 1024;

/// Reads a state file whole, never through a link, up to [`MAX_STATE_FILE`] bytes.
pub(super) fn read_small(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let mut out = Vec::new();
    f.take(MAX_STATE_FILE + 1).read_to_end(&mut out)?;
    if out.len() as u64 > MAX_STATE_FILE {
        return Err(std::io::Error::other(format!(
            "{} is larger than {MAX_STATE_FILE} bytes",
            path.display()
        )));
    }
    Ok(out)
}

/// Whether a run id is safe as a file name (`runs/<id>`): letters, digits, `.`, `_`, `-`, not
/// starting with `.`, at most 128 characters.
pub fn valid_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `<dir>/runs/<id>`, created 0700 if missing; a link at `runs` or at the run directory, or a
/// run id that is not a plain name, is refused.
pub(super) fn run_dir(dir: &Path, run: &str) -> std::io::Result<PathBuf> {
    if !valid_run_id(run) {
        return Err(std::io::Error::other(format!(
            "run id {run:?} is not a plain name"
        )));
    }
    let runs = dir.join("runs");
    let d = runs.join(run);
    for p in [&runs, &d] {
        match fs::symlink_metadata(p) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(std::io::Error::other(format!(
                    "{} is a symbolic link; links inside the state directory are never followed",
                    p.display()
                )))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::DirBuilder::new().mode(0o700).create(p)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(d)
}

/// Reads the status snapshot of a run without opening the database (never through a link).
pub fn read_snapshot(dir: &Path, run: &str) -> Option<RunView> {
    if !valid_run_id(run) {
        return None;
    }
    let text = read_small(&dir.join("runs").join(run).join("status.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

pub(super) fn write_snapshot_file(dir: &Path, run: &str, view: &RunView) -> std::io::Result<()> {
    let d = run_dir(dir, run)?;
    let tmp = d.join("status.json.tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(view).unwrap_or_default())?;
    // No fsync: the snapshot is only read while the run is live (`status`), is rebuilt from the
    // journal, and an fsync per record would undo the journal's group commit.
    fs::rename(&tmp, d.join("status.json"))
}

pub(super) fn check_readable(path: &Path) -> StoreResult<()> {
    let probe = path.join("conf");
    if probe.exists() {
        fs::File::open(&probe).map_err(|e| StoreError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

pub(super) fn restrict_files(path: &Path) {
    if let Ok(entries) = fs::read_dir(path) {
        for e in entries.flatten() {
            // `symlink_metadata`: a link is never followed (and was refused before opening).
            if let Ok(m) = fs::symlink_metadata(e.path()) {
                if m.file_type().is_symlink() {
                    continue;
                }
                let mode = if m.is_dir() { 0o700 } else { 0o600 };
                let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(mode));
            }
        }
    }
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
}

/// sled reports a database held by another process only as text (`could not acquire lock on
/// ...`, sled 0.34 `config.rs`); this is the one place that reads it, so callers get
/// [`StoreError::Locked`].
pub(super) fn sled_open_error(path: &Path, e: sled::Error) -> StoreError {
    let reason = e.to_string();
    if reason.contains("could not acquire lock") {
        StoreError::Locked {
            path: path.to_path_buf(),
        }
    } else {
        StoreError::Open {
            path: path.to_path_buf(),
            reason,
        }
    }
}

/// Refuses a database whose file another process holds (sled takes an exclusive `flock` on
/// `<db>/db` for as long as it is open): tried with `LOCK_NB` and released at once.
pub(super) fn probe_sled_lock(path: &Path) -> StoreResult<()> {
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path.join("db"))
    {
        Ok(f) => f,
        // No database file yet (or unreadable: sled's own open reports it).
        Err(_) => return Ok(()),
    };
    // SAFETY: flock on a valid, owned file descriptor; closing the file releases it.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Err(StoreError::Locked {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}
