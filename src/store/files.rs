//! The files around the database: the saved copy taken before sled opens it, the `state.json`
//! sidecar, the per-run status snapshots and the directory's permissions.

use super::{StoreError, StoreResult};
use crate::machine::RunView;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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
        if e.file_type()?.is_dir() {
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
    match fs::read(&p) {
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

/// Appends one audit entry (its JSON) as a line of `<dir>/runs/<run>/audit.jsonl`, best effort:
/// the database stays the record; the file serves readers while a run holds the database.
pub(super) fn append_audit_line(dir: &Path, run: &str, body: &[u8]) {
    let d = dir.join("runs").join(run);
    let _ = fs::DirBuilder::new().recursive(true).mode(0o700).create(&d);
    if let Ok(mut f) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(d.join("audit.jsonl"))
    {
        let mut line = body.to_vec();
        line.push(b'\n');
        let _ = f.write_all(&line);
    }
}

/// The path of a run's audit lines (see `append_audit_line`), read without opening the database.
pub fn audit_lines_path(dir: &Path, run: &str) -> PathBuf {
    dir.join("runs").join(run).join("audit.jsonl")
}

/// Reads the status snapshot of a run without opening the database.
pub fn read_snapshot(dir: &Path, run: &str) -> Option<RunView> {
    let text = fs::read(dir.join("runs").join(run).join("status.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

pub(super) fn write_snapshot_file(dir: &Path, run: &str, view: &RunView) -> std::io::Result<()> {
    let d = dir.join("runs").join(run);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&d)?;
    let tmp = d.join("status.json.tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(view).unwrap_or_default())?;
    f.sync_all()?;
    fs::rename(&tmp, d.join("status.json"))
}

pub(super) fn ensure_private_dir(dir: &Path) -> StoreResult<()> {
    let err = |source| StoreError::Dir {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
    }
    let meta = fs::metadata(dir).map_err(err)?;
    if !meta.is_dir() {
        return Err(err(std::io::Error::other("exists and is not a directory")));
    }
    // An existing directory open to others (e.g. made by `mkdir` with the default umask) is
    // made private: it holds the journal, the audit log and the ZooKeeper backups.
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
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
            if let Ok(m) = e.metadata() {
                let mode = if m.is_dir() { 0o700 } else { 0o600 };
                let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(mode));
            }
        }
    }
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
}
