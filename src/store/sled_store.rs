//! The sled-backed store: runs, journal and audit trees, one transaction and a flush per append.

use super::{AuditEntry, RunRecord, StoreError, StoreResult, SCHEMA_VERSION};
use crate::machine::{Record, RunView};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The state directory's database.
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    runs: sled::Tree,
    journal: sled::Tree,
    audit: sled::Tree,
    meta: sled::Tree,
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
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
        // sled rewrites its files while it opens (and "recovers" a damaged file into an empty
        // database): open over a saved copy, and put the copy back if the database is refused.
        let saved = save_copy(dir, &path);
        let res = Store::open_sled(dir, &path, sidecar.as_ref());
        match (&res, saved) {
            (Ok(_), Some(copy)) => {
                let _ = fs::remove_dir_all(copy);
            }
            // Held by a running dcos-upgrade: its files are live, never put anything back.
            (Err(StoreError::Open { reason, .. }), Some(copy))
                if reason.contains("WouldBlock") || reason.contains("lock") =>
            {
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
            .map_err(|e| StoreError::Open {
                path: path.clone(),
                reason: e.to_string(),
            })?;
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

    fn flush(&self) -> StoreResult<()> {
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
        self.append_to(
            &self.audit,
            "audit-seq",
            run,
            serde_json::to_vec(entry).map_err(db_err)?,
        )
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

/// Copies the database aside before sled opens it; None when there is nothing to copy or the
/// copy cannot be made (e.g. a full disk: sled then opens the files as they are).
fn save_copy(dir: &Path, db: &Path) -> Option<PathBuf> {
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

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
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
fn restore_copy(db: &Path, copy: &Path) {
    let aside = db.with_extension("sled.refused");
    let _ = fs::remove_dir_all(&aside);
    if fs::rename(db, &aside).is_ok() && fs::rename(copy, db).is_ok() {
        let _ = fs::remove_dir_all(&aside);
    }
}

/// The sidecar file next to the database: what the database must contain at least.
const SIDECAR: &str = "state.json";

/// Written atomically after every new run; read before sled opens the database.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Sidecar {
    /// The layout version that wrote it.
    schema: u64,
    /// How many runs the database holds at least.
    runs: u64,
    /// The latest run.
    latest: Option<String>,
}

fn read_sidecar(dir: &Path, db: &Path) -> StoreResult<Option<Sidecar>> {
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

fn write_sidecar(dir: &Path, sc: &Sidecar) -> StoreResult<()> {
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
    f.write_all(&serde_json::to_vec(sc).map_err(db_err)?)
        .map_err(err)?;
    f.sync_all().map_err(err)?;
    fs::rename(&tmp, &p).map_err(err)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads the status snapshot of a run without opening the database.
pub fn read_snapshot(dir: &Path, run: &str) -> Option<RunView> {
    let text = fs::read(dir.join("runs").join(run).join("status.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

fn write_snapshot_file(dir: &Path, run: &str, view: &RunView) -> std::io::Result<()> {
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

fn ensure_private_dir(dir: &Path) -> StoreResult<()> {
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

fn check_readable(path: &Path) -> StoreResult<()> {
    let probe = path.join("conf");
    if probe.exists() {
        fs::File::open(&probe).map_err(|e| StoreError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

fn restrict_files(path: &Path) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{build, PlanOptions};

    fn record(id: &str) -> RunRecord {
        let facts = crate::facts::ClusterFacts {
            masters: vec![crate::facts::NodeFacts {
                address: "10.0.0.1".into(),
                name: "m1".into(),
                role: crate::model::Role::Master,
                version: Some("2.1.3".into()),
                is_leader: true,
                error: None,
            }],
            ..Default::default()
        };
        let plan = build(
            &facts,
            &PlanOptions {
                cluster: "c".into(),
                to: "2.2.1".into(),
                max_unavailable: 1,
                frameworks: vec![],
            },
        )
        .unwrap();
        RunRecord {
            id: id.into(),
            created_at: "t".into(),
            cluster: "c".into(),
            plan,
            inventory_path: "/x".into(),
            inventory_text: String::new(),
            playbook_text: None,
            options: serde_json::Value::Null,
        }
    }

    #[test]
    fn records_survive_reopening_in_order() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.create_run(&record("r1")).unwrap();
            for i in 0..300 {
                s.append(
                    "r1",
                    &Record::RunPaused {
                        reason: format!("{i}"),
                    },
                )
                .unwrap();
            }
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.latest_run().unwrap(), "r1");
        let j = s.journal("r1").unwrap();
        assert_eq!(j.len(), 300);
        assert_eq!(
            j[299],
            Record::RunPaused {
                reason: "299".into()
            }
        );
        assert!(s.journal("r2").unwrap().is_empty());
    }

    #[test]
    fn the_state_dir_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("state");
        Store::open(&d).unwrap();
        let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_newer_schema_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.meta.insert("schema", &99u64.to_be_bytes()).unwrap();
            s.flush().unwrap();
        }
        let e = Store::open(dir.path()).err().unwrap();
        assert!(
            matches!(e, StoreError::NewerSchema { found: 99, .. }),
            "{e}"
        );
    }
}
