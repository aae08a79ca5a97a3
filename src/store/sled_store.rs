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
        if path.exists() {
            check_readable(&path)?;
        }
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
                let found = v
                    .as_ref()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        key: "meta/schema".into(),
                        reason: "not an 8-byte number".into(),
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
        restrict_files(&path);
        Ok(store)
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
        self.flush()
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
        let v = self.meta.get("latest").map_err(db_err)?.ok_or(StoreError::NoRuns)?;
        Ok(String::from_utf8_lossy(&v).into_owned())
    }

    /// Appends a journal record durably (transaction, then flush) and returns its sequence number.
    pub fn append(&self, run: &str, rec: &Record) -> StoreResult<u64> {
        self.append_to(&self.journal, "journal-seq", run, serde_json::to_vec(rec).map_err(db_err)?)
    }

    /// Appends an audit entry durably.
    pub fn append_audit(&self, run: &str, entry: &AuditEntry) -> StoreResult<u64> {
        self.append_to(&self.audit, "audit-seq", run, serde_json::to_vec(entry).map_err(db_err)?)
    }

    fn append_to(&self, tree: &sled::Tree, counter: &str, run: &str, body: Vec<u8>) -> StoreResult<u64> {
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

    fn read_all<T: serde::de::DeserializeOwned>(&self, tree: &sled::Tree, run: &str, what: &str) -> StoreResult<Vec<T>> {
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

/// Reads the status snapshot of a run without opening the database.
pub fn read_snapshot(dir: &Path, run: &str) -> Option<RunView> {
    let text = fs::read(dir.join("runs").join(run).join("status.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

fn write_snapshot_file(dir: &Path, run: &str, view: &RunView) -> std::io::Result<()> {
    let d = dir.join("runs").join(run);
    fs::DirBuilder::new().recursive(true).mode(0o700).create(&d)?;
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
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(err)?;
    }
    let meta = fs::metadata(dir).map_err(err)?;
    if !meta.is_dir() {
        return Err(err(std::io::Error::other("exists and is not a directory")));
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
                s.append("r1", &Record::RunPaused { reason: format!("{i}") }).unwrap();
            }
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.latest_run().unwrap(), "r1");
        let j = s.journal("r1").unwrap();
        assert_eq!(j.len(), 300);
        assert_eq!(j[299], Record::RunPaused { reason: "299".into() });
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
        assert!(matches!(e, StoreError::NewerSchema { found: 99, .. }), "{e}");
    }
}
