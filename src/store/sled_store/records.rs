//! A run's records in the sled store: saving a run, appending to its journal and audit log
//! (group commit: `crate::store::group`), reading them back, and its status snapshot.

use super::{db_err, prefix, Store};
use crate::machine::{Record, RunView};
use crate::store::files::{write_sidecar, write_snapshot_file, Sidecar};
use crate::store::group::Line;
use crate::store::mirror;
use crate::store::{AuditEntry, RunRecord, StoreError, StoreResult, SCHEMA_VERSION};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

/// The journal's counter: how many records each run's journal holds.
const JOURNAL_SEQ: &str = "journal-seq";

/// The key of a run's counter (`journal-seq`, `audit-seq`) in the meta tree.
fn counter_key(counter: &str, run: &str) -> String {
    format!("{counter}/{run}")
}

/// A counter's value as stored (8 bytes, big-endian); 0 when there is none yet.
fn counter_value(v: Option<sled::IVec>) -> u64 {
    v.and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
        .unwrap_or(0)
}

/// The first key after every record of `run` (its prefix, `run` then a NUL byte, with the NUL
/// raised to 1).
fn prefix_end(run: &str) -> Vec<u8> {
    let mut k = prefix(run);
    k.pop();
    k.push(1);
    k
}

/// Every record of `items` (a run's keys, in order) decoded; `what` names the tree in errors.
fn decode_all<T: serde::de::DeserializeOwned>(
    items: sled::Iter,
    run: &str,
    what: &str,
) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    for item in items {
        let (k, v) = item.map_err(db_err)?;
        let rec = serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
            key: format!("{what}/{run}/{}", k.len()),
            reason: e.to_string(),
        })?;
        out.push(rec);
    }
    Ok(out)
}

fn seq_key(run: &str, seq: u64) -> Vec<u8> {
    let mut k = run.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

impl Store {
    /// Saves a new run and makes it the latest.
    pub fn create_run(&self, run: &RunRecord) -> StoreResult<()> {
        self.check_identity()?;
        if !crate::store::files::valid_run_id(&run.id) {
            return Err(db_err(format!("run id {:?} is not a plain name", run.id)));
        }
        let body = serde_json::to_vec(run).map_err(db_err)?;
        (&self.runs, &self.meta)
            .transaction(|(runs, meta)| {
                runs.insert(run.id.as_bytes(), body.clone())?;
                meta.insert("latest", run.id.as_bytes())?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e: TransactionError<()>| db_err(format!("{e:?}")))?;
        self.flush()?;
        mirror::write_run_file(&self.dir, run).map_err(|source| StoreError::Dir {
            path: self.dir.join("runs").join(&run.id),
            source,
        })?;
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

    /// Appends a journal record and returns its sequence number. A run-level record (one about
    /// no step: a pause, a gate approval, the run's end, a door crossed, a restore) is durable
    /// when this returns, with every record before it; a step's record is made durable with the
    /// next such record or change intent, or by the background flush (group commit).
    pub fn append(&self, run: &str, rec: &Record) -> StoreResult<u64> {
        self.append_to(
            &self.journal,
            JOURNAL_SEQ,
            run,
            serde_json::to_vec(rec).map_err(db_err)?,
            mirror::JOURNAL_FILE,
            rec.step().is_none(),
        )
    }

    /// Appends an audit entry. An `intent` (written before a change is sent) is durable when
    /// this returns, with every record appended before it: the journal's write-ahead records of
    /// the step that sends it included. What is recorded after the fact (a change's `outcome`)
    /// or about a read (an operator gate's `observe`, `observed`) waits for the next group
    /// commit; any other phase (a `decision`) is durable at once.
    pub fn append_audit(&self, run: &str, entry: &AuditEntry) -> StoreResult<u64> {
        self.append_to(
            &self.audit,
            "audit-seq",
            run,
            serde_json::to_vec(entry).map_err(db_err)?,
            mirror::AUDIT_FILE,
            !matches!(entry.phase.as_str(), "outcome" | "observe" | "observed"),
        )
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
        view_file: &'static str,
        durable_now: bool,
    ) -> StoreResult<u64> {
        // A deleted or replaced state directory would swallow every record unseen.
        self.check_identity()?;
        // Held across the commit: the view's lines keep the database's order.
        let mut pending = self.group.lock();
        pending.take_failure()?;
        let counter_key = counter_key(counter, run);
        let seq = (tree, &self.meta)
            .transaction(|(t, meta)| {
                let next = counter_value(meta.get(counter_key.as_bytes())?);
                t.insert(seq_key(run, next), body.clone())?;
                meta.insert(counter_key.as_bytes(), &(next + 1).to_be_bytes())?;
                Ok::<u64, ConflictableTransactionError<()>>(next)
            })
            .map_err(|e: TransactionError<()>| db_err(format!("{e:?}")))?;
        pending.push(Line {
            run: run.to_string(),
            file: view_file,
            body,
        });
        if durable_now {
            self.group.sync(&mut pending)?;
        }
        Ok(seq)
    }

    /// A run's journal, in order.
    pub fn journal(&self, run: &str) -> StoreResult<Vec<Record>> {
        self.read_all(&self.journal, run, "journal")
    }

    /// A run's journal from record `from` on (0-based, in order): what was appended since a
    /// caller read the first `from` records. Only those records are read.
    pub fn journal_from(&self, run: &str, from: u64) -> StoreResult<Vec<Record>> {
        decode_all(
            self.journal.range(seq_key(run, from)..prefix_end(run)),
            run,
            "journal",
        )
    }

    /// How many records a run's journal holds (its sequence counter: no record is read), for a
    /// caller that replayed the journal to tell that nothing was appended since.
    pub fn journal_len(&self, run: &str) -> StoreResult<u64> {
        let key = counter_key(JOURNAL_SEQ, run);
        Ok(counter_value(
            self.meta.get(key.as_bytes()).map_err(db_err)?,
        ))
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
        decode_all(tree.scan_prefix(prefix(run)), run, what)
    }

    /// Writes `<dir>/runs/<id>/status.json` atomically (for `status` while a run holds the lock).
    pub fn write_snapshot(&self, run: &str, view: &RunView) -> StoreResult<()> {
        self.check_identity()?;
        write_snapshot_file(&self.dir, run, view).map_err(|source| StoreError::Dir {
            path: self.dir.join("runs").join(run),
            source,
        })
    }
}
