//! The sled-backed store: runs, journal and audit trees, one transaction per append, flushed by
//! group commit (`super::group`).

use super::dir::{ensure_private_dir, refuse_links_in, DirIdentity};
use super::files::{
    check_readable, probe_sled_lock, read_sidecar, restore_copy, restrict_files, save_copy,
    sled_open_error, write_sidecar, Sidecar, SIDECAR,
};
use super::group::{Flusher, Group};
use super::mirror::StateReader;
use super::{StoreError, StoreResult, SCHEMA_VERSION};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod records;

/// The state directory's database.
pub struct Store {
    pub(super) dir: PathBuf,
    /// The database and the records committed to it and not flushed yet.
    pub(super) group: Arc<Group>,
    /// Flushes pending records at most twice `group::MAX_DELAY` after their commit (none in
    /// some tests).
    flusher: Option<Flusher>,
    pub(super) runs: sled::Tree,
    pub(super) journal: sled::Tree,
    pub(super) audit: sled::Tree,
    pub(super) meta: sled::Tree,
    /// The directory, lock file and database file as opened (checked at every write).
    identity: DirIdentity,
}

pub(super) fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

pub(super) fn prefix(run: &str) -> Vec<u8> {
    let mut k = run.as_bytes().to_vec();
    k.push(0);
    k
}

impl Store {
    /// Creates the directory (private, 0700) if needed and opens the database in it.
    ///
    /// Refused ([`StoreError::Unsafe`]): a directory owned by another user or writable by
    /// group or others, and a symbolic link at `state.sled`, inside it, at `state.json`,
    /// `runs/` or a run directory. The identity of the directory, its `lock` file and the
    /// database file is recorded here and checked at every write ([`StoreError::Vanished`]).
    pub fn open(dir: &Path) -> StoreResult<Store> {
        Store::open_with(dir, true)
    }

    /// [`Store::open`] without the background flush (tests that count pending records).
    #[cfg(test)]
    pub(super) fn open_without_background_flush(dir: &Path) -> StoreResult<Store> {
        Store::open_with(dir, false)
    }

    fn open_with(dir: &Path, background: bool) -> StoreResult<Store> {
        ensure_private_dir(dir)?;
        refuse_links_in(dir)?;
        let path = dir.join("state.sled");
        // The sidecar is read before sled opens (and rewrites) anything: a newer schema or a
        // database that has gone missing is refused with the files left exactly as they are.
        let sidecar = read_sidecar(dir, &path)?;
        if let Some(sc) = &sidecar {
            if sc.schema > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema {
                    path,
                    found: sc.schema,
                });
            }
            if sc.runs > 0 && !path.join("db").exists() {
                return Err(StoreError::Open {
                    path: path.clone(),
                    reason: format!(
                        "{} records {} run(s) but the database file is missing",
                        SIDECAR, sc.runs
                    ),
                });
            }
        }
        if path.exists() {
            check_readable(&path)?;
        }
        // Held by a running dcos-upgrade: its files are live, never copy or touch them. sled
        // releases its file lock from a background thread a moment after a `Store` is dropped,
        // so a reopen in the same process waits for that (up to 2 s) before calling it held.
        let mut tries = 0;
        while let Err(e) = probe_sled_lock(&path) {
            tries += 1;
            if tries > 40 {
                return Err(e);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // sled rewrites its files while it opens (and "recovers" a damaged file into an empty
        // database): open over a saved copy, and put the copy back if the database is refused.
        let saved = save_copy(dir, &path);
        let res = Store::open_sled(dir, &path, sidecar.as_ref(), background);
        match (&res, saved) {
            (Ok(_), Some(copy)) => {
                let _ = fs::remove_dir_all(copy);
            }
            // Taken by another process between the probe and sled: never put anything back.
            (Err(StoreError::Locked { .. }), Some(copy)) => {
                let _ = fs::remove_dir_all(copy);
            }
            (Err(_), Some(copy)) => restore_copy(&path, &copy),
            (_, None) => {}
        }
        res
    }

    fn open_sled(
        dir: &Path,
        path: &Path,
        sidecar: Option<&Sidecar>,
        background: bool,
    ) -> StoreResult<Store> {
        let path = path.to_path_buf();
        let db = sled::Config::new()
            .path(&path)
            .mode(sled::Mode::HighThroughput)
            // Durability is the store's group commit (`super::group`), not a timer of sled's.
            .flush_every_ms(None)
            .open()
            .map_err(|e| sled_open_error(&path, e))?;
        let tree = |name: &str| {
            db.open_tree(name).map_err(|e| StoreError::Open {
                path: path.clone(),
                reason: e.to_string(),
            })
        };
        let (runs, journal, audit, meta) = (
            tree("runs")?,
            tree("journal")?,
            tree("audit")?,
            tree("meta")?,
        );
        let group = Arc::new(Group::new(db, dir.to_path_buf()));
        let store = Store {
            runs,
            journal,
            audit,
            meta,
            dir: dir.to_path_buf(),
            identity: DirIdentity::record(dir),
            flusher: background.then(|| Flusher::start(group.clone())),
            group,
        };
        match store.meta.get("schema").map_err(db_err)? {
            Some(v) => {
                let found = v.as_ref().try_into().map(u64::from_be_bytes).map_err(|_| {
                    StoreError::Corrupt {
                        key: "meta/schema".into(),
                        reason: "not an 8-byte number".into(),
                    }
                })?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema { path, found });
                }
            }
            None => {
                store
                    .meta
                    .insert("schema", &SCHEMA_VERSION.to_be_bytes())
                    .map_err(db_err)?;
                store.flush()?;
            }
        }
        store.check_sidecar(sidecar, &path)?;
        restrict_files(&path);
        // The directory's random id is made with it (and kept by later opens).
        super::dir::state_id(dir)?;
        // A kill between a database commit and its line in the read-only view, or a run
        // written by an older dcos-upgrade, leaves the view behind: bring it up to date.
        store.sync_view()?;
        Ok(store)
    }

    /// Compares the database with the sidecar: a damaged sled file can open as an empty
    /// database, which must be refused rather than written over.
    fn check_sidecar(&self, sidecar: Option<&Sidecar>, path: &Path) -> StoreResult<()> {
        let found = self.runs.len() as u64;
        match sidecar {
            Some(sc) => {
                let latest_ok = match &sc.latest {
                    Some(id) => self.runs.contains_key(id.as_bytes()).map_err(db_err)?,
                    None => true,
                };
                if found < sc.runs || !latest_ok {
                    return Err(StoreError::Open {
                        path: path.to_path_buf(),
                        reason: format!(
                            "the database is damaged: {SIDECAR} records {} run(s) (latest {}), the database holds {found}",
                            sc.runs,
                            sc.latest.as_deref().unwrap_or("-")
                        ),
                    });
                }
                Ok(())
            }
            // A state directory from before the sidecar existed: write it now.
            None if found > 0 => {
                let latest = self
                    .meta
                    .get("latest")
                    .map_err(db_err)?
                    .map(|v| String::from_utf8_lossy(&v).into_owned());
                write_sidecar(
                    &self.dir,
                    &Sidecar {
                        schema: SCHEMA_VERSION,
                        runs: found,
                        latest,
                    },
                )
            }
            None => Ok(()),
        }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens the state of a directory that must already hold one (for `resume`, `rollback`):
    /// never creates the directory or a database.
    ///
    /// # Errors
    /// [`StoreError::NoState`] (naming the directory) when it is missing or holds neither
    /// `state.json` nor `state.sled`; otherwise as [`Store::open`].
    pub fn open_existing(dir: &Path) -> StoreResult<Store> {
        let has_state = dir.is_dir()
            && (fs::symlink_metadata(dir.join(SIDECAR)).is_ok()
                || fs::symlink_metadata(dir.join("state.sled")).is_ok());
        if !has_state {
            return Err(StoreError::NoState {
                path: dir.to_path_buf(),
            });
        }
        Store::open(dir)
    }

    /// A read-only view of `dir` for `status` and `log`: writes, copies and creates nothing,
    /// works on a read-only or full file system and while a run holds the database.
    ///
    /// # Errors
    /// As [`StateReader::open`].
    pub fn open_read_only(dir: &Path) -> StoreResult<StateReader> {
        StateReader::open(dir)
    }

    /// The identity of the holder of this state directory: `host:device:inode:random-id`
    /// (the random id is created with the directory, in `<dir>/id`). Two copies of one state
    /// directory have different identities; put it into the cluster lock.
    ///
    /// # Errors
    /// [`StoreError::Unsafe`]/[`StoreError::Dir`] when the directory or its id file cannot be
    /// used.
    pub fn holder_id(&self) -> StoreResult<String> {
        self.check_identity()?;
        super::dir::holder_id(&self.dir)
    }

    /// [`StoreError::Vanished`] when the state directory, its lock file or the database file
    /// is gone or is another one than at open (one `stat` each).
    pub fn check_identity(&self) -> StoreResult<()> {
        self.identity.check()
    }

    pub(super) fn flush(&self) -> StoreResult<()> {
        self.group.db.flush().map(|_| ()).map_err(db_err)
    }

    /// Makes every record appended so far durable (one flush for all of them) and writes their
    /// lines of the read-only view. Appends that need it do this themselves (see
    /// [`Store::append`], [`Store::append_audit`]); this is for a caller that is about to act
    /// outside the change door or to wait for a person.
    ///
    /// # Errors
    /// [`StoreError::Db`] when the flush fails (nothing is known durable then),
    /// [`StoreError::Dir`] when a view line cannot be written (the database has the record).
    pub fn sync(&self) -> StoreResult<()> {
        let mut p = self.group.lock();
        p.take_failure()?;
        self.group.sync(&mut p)
    }

    /// How many appended records are not durable yet (for tests and the benchmark).
    pub fn pending(&self) -> usize {
        self.group.lock().len()
    }

    /// How many group commits this store made since it was opened (for the benchmark).
    pub fn group_commits(&self) -> u64 {
        self.group
            .commits
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Store {
    /// Stops the background flusher, then flushes what is still pending.
    fn drop(&mut self) {
        drop(self.flusher.take());
        let mut p = self.group.lock();
        let _ = self.group.sync(&mut p);
    }
}
