//! The sled-backed store: runs, journal and audit trees, one transaction and a flush per append.

use super::files::{
    check_readable, ensure_private_dir, read_sidecar, restore_copy, restrict_files, save_copy,
    write_sidecar, write_snapshot_file, Sidecar, SIDECAR,
};
use super::{AuditEntry, RunRecord, StoreError, StoreResult, SCHEMA_VERSION};
use crate::machine::{Record, RunView};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// The state directory's database.
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    runs: sled::Tree,
    journal: sled::Tree,
    audit: sled::Tree,
    pub(super) meta: sled::Tree,
}

pub(super) fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

fn seq_key(run: &str, seq: u64) -> Vec<u8> {
    let mut k = run.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn prefix(run: &str) -> Vec<u8> {
    let mut k = run.as_bytes().to_vec();
    k.push(0);
    k
}

/// sled reports a database held by another process only as text (`could not acquire lock on
/// ...`, sled 0.34 `config.rs`); this is the one place that reads it, so callers get
/// [`StoreError::Locked`].
fn sled_open_error(path: &Path, e: sled::Error) -> StoreError {
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
fn probe_sled_lock(path: &Path) -> StoreResult<()> {
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

impl Store {
    /// Creates the directory (private, 0700) if needed and opens the database in it.
    pub fn open(dir: &Path) -> StoreResult<Store> {
        ensure_private_dir(dir)?;
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
        // Held by a running dcos-upgrade: its files are live, never copy or touch them.
        probe_sled_lock(&path)?;
        // sled rewrites its files while it opens (and "recovers" a damaged file into an empty
        // database): open over a saved copy, and put the copy back if the database is refused.
        let saved = save_copy(dir, &path);
        let res = Store::open_sled(dir, &path, sidecar.as_ref());
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

    fn open_sled(dir: &Path, path: &Path, sidecar: Option<&Sidecar>) -> StoreResult<Store> {
        let path = path.to_path_buf();
        let db = sled::Config::new()
            .path(&path)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| sled_open_error(&path, e))?;
        let tree = |name: &str| {
            db.open_tree(name).map_err(|e| StoreError::Open {
                path: path.clone(),
                reason: e.to_string(),
            })
        };
        let store = Store {
            runs: tree("runs")?,
            journal: tree("journal")?,
            audit: tree("audit")?,
            meta: tree("meta")?,
            dir: dir.to_path_buf(),
            db,
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

    pub(super) fn flush(&self) -> StoreResult<()> {
        self.db.flush().map(|_| ()).map_err(db_err)
    }

    /// Saves a new run and makes it the latest.
    pub fn create_run(&self, run: &RunRecord) -> StoreResult<()> {
        let body = serde_json::to_vec(run).map_err(db_err)?;
        (&self.runs, &self.meta)
            .transaction(|(runs, meta)| {
                runs.insert(run.id.as_bytes(), body.clone())?;
                meta.insert("latest", run.id.as_bytes())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e: TransactionError<()>| db_err(format!("{e:?}")))?;
        self.flush()?;
        write_sidecar(
            &self.dir,
            &Sidecar {
                schema: SCHEMA_VERSION,
                runs: self.runs.len() as u64,
                latest: Some(run.id.clone()),
            },
        )
    }

    /// A run's record.
    pub fn run(&self, id: &str) -> StoreResult<RunRecord> {
        let v = self
            .runs
            .get(id.as_bytes())
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NoRun(id.to_string()))?;
        serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
            key: format!("runs/{id}"),
            reason: e.to_string(),
        })
    }

    /// The latest run's id.
    pub fn latest_run(&self) -> StoreResult<String> {
        let v = self
            .meta
            .get("latest")
            .map_err(db_err)?
            .ok_or(StoreError::NoRuns)?;
        Ok(String::from_utf8_lossy(&v).into_owned())
    }

    /// Appends a journal record durably (transaction, then flush) and returns its sequence number.
    pub fn append(&self, run: &str, rec: &Record) -> StoreResult<u64> {
        self.append_to(
            &self.journal,
            "journal-seq",
            run,
            serde_json::to_vec(rec).map_err(db_err)?,
        )
    }

    /// Appends an audit entry durably.
    pub fn append_audit(&self, run: &str, entry: &AuditEntry) -> StoreResult<u64> {
        let body = serde_json::to_vec(entry).map_err(db_err)?;
        let seq = self.append_to(&self.audit, "audit-seq", run, body.clone())?;
        // A plain-file copy for readers while a run holds the database (`log`, `log --follow`).
        super::files::append_audit_line(&self.dir, run, &body);
        Ok(seq)
    }

    /// Every run's record, oldest first (run ids start with their UTC start time).
    pub fn runs(&self) -> StoreResult<Vec<RunRecord>> {
        let mut out = Vec::new();
        for item in self.runs.iter() {
            let (k, _) = item.map_err(db_err)?;
            out.push(self.run(&String::from_utf8_lossy(&k))?);
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    fn append_to(
        &self,
        tree: &sled::Tree,
        counter: &str,
        run: &str,
        body: Vec<u8>,
    ) -> StoreResult<u64> {
        let counter_key = format!("{counter}/{run}");
        let seq = (tree, &self.meta)
            .transaction(|(t, meta)| {
                let next = meta
                    .get(counter_key.as_bytes())?
                    .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
                    .unwrap_or(0);
                t.insert(seq_key(run, next), body.clone())?;
                meta.insert(counter_key.as_bytes(), &(next + 1).to_be_bytes())?;
                Ok::<u64, ConflictableTransactionError<()>>(next)
            })
            .map_err(|e: TransactionError<()>| db_err(format!("{e:?}")))?;
        self.flush()?;
        Ok(seq)
    }

    /// A run's journal, in order.
    pub fn journal(&self, run: &str) -> StoreResult<Vec<Record>> {
        self.read_all(&self.journal, run, "journal")
    }

    /// A run's audit log, in order.
    pub fn audit(&self, run: &str) -> StoreResult<Vec<AuditEntry>> {
        self.read_all(&self.audit, run, "audit")
    }

    fn read_all<T: serde::de::DeserializeOwned>(
        &self,
        tree: &sled::Tree,
        run: &str,
        what: &str,
    ) -> StoreResult<Vec<T>> {
        let mut out = Vec::new();
        for item in tree.scan_prefix(prefix(run)) {
            let (k, v) = item.map_err(db_err)?;
            let rec = serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                key: format!("{what}/{run}/{}", k.len()),
                reason: e.to_string(),
            })?;
            out.push(rec);
        }
        Ok(out)
    }

    /// Writes `<dir>/runs/<id>/status.json` atomically (for `status` while a run holds the lock).
    pub fn write_snapshot(&self, run: &str, view: &RunView) -> StoreResult<()> {
        write_snapshot_file(&self.dir, run, view).map_err(|source| StoreError::Dir {
            path: self.dir.join("runs").join(run),
            source,
        })
    }
}
