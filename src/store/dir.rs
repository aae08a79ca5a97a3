//! The state directory's safety and identity: who owns it and who may write it, no symlinks
//! inside it, and the identity (device, inode, a random id made with it) that every journal
//! append checks so that a directory deleted or replaced mid-run stops the run.

use super::{StoreError, StoreResult};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The file holding the directory's random id, created once with the directory.
const ID_FILE: &str = "id";

fn unsafe_dir(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Unsafe {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Creates the directory (0700) if it is missing, then refuses it unless it is a directory
/// owned by the effective user and not writable by group or others. A directory only readable
/// by others (e.g. made by `mkdir` with the default umask) is ours and is made private (0700):
/// it holds the journal, the audit log and the ZooKeeper backups.
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
    let meta = check_dir(dir)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(err)?;
        tracing::warn!(
            "state directory {} was readable by others (mode {mode:o}); made it private (700)",
            dir.display()
        );
    }
    Ok(())
}

/// Refuses a state directory that another user could have prepared or could change under us:
/// not a directory, owned by someone else, or writable by group or others.
pub fn check_dir(dir: &Path) -> StoreResult<fs::Metadata> {
    let meta = fs::metadata(dir).map_err(|source| StoreError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(StoreError::Dir {
            path: dir.to_path_buf(),
            source: std::io::Error::other("exists and is not a directory"),
        });
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(unsafe_dir(
            dir,
            format!(
                "it is owned by uid {}, not by the user running dcos-upgrade (uid {me}); another user could have planted files in it. Use a directory of your own (e.g. --state-dir ~/.local/state/dcos-upgrade), or move this one's contents into one after checking them",
                meta.uid()
            ),
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(unsafe_dir(
            dir,
            format!(
                "it is writable by {} (mode {mode:o}); anyone who can write it can replace the journal or plant links. Check its contents, then `chmod 700 {}`",
                if mode & 0o002 != 0 { "everyone" } else { "its group" },
                dir.display()
            ),
        ));
    }
    Ok(meta)
}

/// Refuses `path` when it is a symbolic link (it is not followed); a missing path is fine.
pub(super) fn refuse_symlink(path: &Path) -> StoreResult<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(unsafe_dir(
            path,
            "it is a symbolic link; dcos-upgrade never follows links inside its state directory (one planted there could make it overwrite another file). Remove the link and restore the real file or directory",
        )),
        _ => Ok(()),
    }
}

/// Refuses links at the database, inside it (one level: sled keeps its files flat, plus
/// `blobs/`), at the sidecar, at `runs/` and at every run directory.
pub(super) fn refuse_links_in(dir: &Path) -> StoreResult<()> {
    for name in [
        "state.sled",
        "state.json",
        "runs",
        ".state.sled.opening",
        ID_FILE,
    ] {
        refuse_symlink(&dir.join(name))?;
    }
    for sub in ["state.sled", "runs"] {
        if let Ok(entries) = fs::read_dir(dir.join(sub)) {
            for e in entries.flatten() {
                refuse_symlink(&e.path())?;
            }
        }
    }
    Ok(())
}

/// `(device, inode)` of a path, not following a final link.
pub(super) fn file_id(path: &Path) -> Option<(u64, u64)> {
    fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// What the store checks at every append: the directory, its lock file and its database file
/// are the ones it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DirIdentity {
    dir: PathBuf,
    at_open: Vec<(PathBuf, (u64, u64))>,
}

impl DirIdentity {
    /// Records the identity of the directory and of those of `lock` and `state.sled/db` that
    /// exist now.
    pub(super) fn record(dir: &Path) -> DirIdentity {
        let at_open = [
            dir.to_path_buf(),
            dir.join("lock"),
            dir.join("state.sled/db"),
        ]
        .into_iter()
        .filter_map(|p| file_id(&p).map(|id| (p, id)))
        .collect();
        DirIdentity {
            dir: dir.to_path_buf(),
            at_open,
        }
    }

    /// [`StoreError::Vanished`] when any recorded path is gone or is another file now.
    pub(super) fn check(&self) -> StoreResult<()> {
        for (path, id) in &self.at_open {
            let what = match file_id(path) {
                None => "is gone",
                Some(now) if now != *id => "was replaced by another file",
                Some(_) => continue,
            };
            return Err(StoreError::Vanished {
                path: self.dir.clone(),
                what: format!("{} {what}", path.display()),
            });
        }
        Ok(())
    }
}

/// The directory's random id, created (0600, never through a link) the first time.
pub(super) fn state_id(dir: &Path) -> StoreResult<String> {
    let path = dir.join(ID_FILE);
    let err = |source| StoreError::Dir {
        path: path.clone(),
        source,
    };
    let open = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path);
    match open {
        Ok(mut f) => {
            let mut s = String::new();
            Read::by_ref(&mut f)
                .take(128)
                .read_to_string(&mut s)
                .map_err(err)?;
            let s = s.trim().to_string();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(unsafe_dir(
                    &path,
                    "it does not hold a state-directory id (hex digits); move it aside",
                ));
            }
            Ok(s)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = format!("{:032x}", rand::random::<u128>());
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .map_err(err)?;
            f.write_all(id.as_bytes()).map_err(err)?;
            f.sync_all().map_err(err)?;
            Ok(id)
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(unsafe_dir(
            &path,
            "it is a symbolic link; dcos-upgrade never follows links inside its state directory",
        )),
        Err(e) => Err(err(e)),
    }
}

/// This machine's host name (`unknown-host` when it cannot be read).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `host:device:inode:random-id` of a state directory: two copies of one directory (even on
/// the same host, even with the same random id copied along) never share it. Creates the
/// random id (`<dir>/id`) if the directory has none yet.
///
/// # Errors
/// When the directory fails [`check_dir`] or its id file cannot be read or created.
pub fn holder_id(dir: &Path) -> StoreResult<String> {
    check_dir(dir)?;
    let id = state_id(dir)?;
    holder_parts(dir, &id).ok_or_else(|| StoreError::Dir {
        path: dir.to_path_buf(),
        source: std::io::Error::other("cannot stat the state directory"),
    })
}

/// `host:device:inode:id` for a given id.
pub(super) fn holder_parts(dir: &Path, id: &str) -> Option<String> {
    let meta = fs::metadata(dir).ok()?;
    Some(format!("{}:{}:{}:{id}", hostname(), meta.dev(), meta.ino()))
}
