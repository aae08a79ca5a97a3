//! The one place that touches the state directory: the sled journal, the audit log, run records,
//! the status snapshot and the lock.
//!
//! Every append is one sled transaction; records are made durable by group commit (`group`): an
//! intent before a change and every run-level record are on disk, with everything before them,
//! when their append returns (write-ahead), the rest at the latest 200 ms later.

mod dir;
mod files;
mod group;
#[cfg(test)]
mod group_tests;
mod lock;
mod mirror;
mod sled_store;
mod sync;
#[cfg(test)]
mod tests;

pub use dir::{check_dir, holder_id};
pub use files::{audit_lines_path, read_snapshot, valid_run_id};
pub use lock::{LockError, LockInfo, StateLock};
pub use mirror::StateReader;
pub use sled_store::Store;

/// What reads a run back: the database, or the read-only view (`status`, `log`, `report`).
pub trait RunSource {
    /// The state directory.
    fn dir(&self) -> &std::path::Path;
    /// A run's record.
    fn run(&self, id: &str) -> StoreResult<RunRecord>;
    /// A run's journal.
    fn journal(&self, id: &str) -> StoreResult<Vec<Record>>;
    /// A run's audit entries.
    fn audit(&self, id: &str) -> StoreResult<Vec<AuditEntry>>;
}

impl RunSource for Store {
    fn dir(&self) -> &std::path::Path {
        Store::dir(self)
    }
    fn run(&self, id: &str) -> StoreResult<RunRecord> {
        Store::run(self, id)
    }
    fn journal(&self, id: &str) -> StoreResult<Vec<Record>> {
        Store::journal(self, id)
    }
    fn audit(&self, id: &str) -> StoreResult<Vec<AuditEntry>> {
        Store::audit(self, id)
    }
}

impl RunSource for StateReader {
    fn dir(&self) -> &std::path::Path {
        StateReader::dir(self)
    }
    fn run(&self, id: &str) -> StoreResult<RunRecord> {
        StateReader::run(self, id)
    }
    fn journal(&self, id: &str) -> StoreResult<Vec<Record>> {
        StateReader::journal(self, id)
    }
    fn audit(&self, id: &str) -> StoreResult<Vec<AuditEntry>> {
        StateReader::audit(self, id)
    }
}

use crate::machine::Record;
use crate::plan::Plan;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Version of the on-disk layout; a newer one is refused, never rewritten.
pub const SCHEMA_VERSION: u64 = 1;

/// Everything needed to resume a run on another day: the plan and the inputs it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id.
    pub id: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Cluster name.
    pub cluster: String,
    /// The plan it executes.
    pub plan: Plan,
    /// The inventory file's path when the run started.
    pub inventory_path: PathBuf,
    /// The inventory text (resume uses this copy).
    pub inventory_text: String,
    /// The playbook text, when not the built-in one.
    pub playbook_text: Option<String>,
    /// Options given to `run`.
    pub options: serde_json::Value,
}

/// One remote command that changed (or tried to change) a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When it started (RFC 3339).
    pub at: String,
    /// The step it belongs to.
    pub step: String,
    /// The node.
    pub node: String,
    /// What it does, in words.
    pub description: String,
    /// The command as sent (secrets redacted).
    pub command: String,
    /// Exit status, None while in flight or when the connection failed.
    pub exit_status: Option<i32>,
    /// Duration in milliseconds (0 while in flight).
    pub duration_ms: u64,
    /// The end of its output (or the connection error).
    pub output_tail: String,
    /// `intent` before acting, `outcome` after.
    pub phase: String,
}

/// Errors of the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory cannot be created or written.
    #[error("state directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// sled could not open the database.
    #[error("state database {path} cannot be opened: {reason}\nhelp: the database is left as it is; move it aside (do not delete it) to start afresh, or restore it from a copy")]
    Open {
        /// The database directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Written by a newer dcos-upgrade.
    #[error("state database {path} was written by a newer dcos-upgrade (schema {found}, this one understands {SCHEMA_VERSION}); use that version")]
    NewerSchema {
        /// The database directory.
        path: PathBuf,
        /// Its schema.
        found: u64,
    },
    /// Another process (a running `run`, `resume` or `rollback`) has the database open.
    #[error("state database {path} is in use by another dcos-upgrade (a run, resume or rollback holds it)\nhelp: `status` reads the run's snapshot meanwhile; other commands work when it stops")]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// The state directory (or a file in it) is not safe to use: owned by someone else,
    /// writable by others, or a symbolic link where a file or directory belongs.
    #[error("state directory {path}: refused: {reason}")]
    Unsafe {
        /// The directory or file.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },
    /// The state directory was deleted or replaced while a run was using it: nothing more can
    /// be journalled there, so the run must stop at once.
    #[error("state directory {path} was removed or replaced while in use: {what}\nhelp: the run stops here; the cluster lock on the masters still names the run, its owner and the last step; restore the directory from a copy to resume, or take the lock over from another machine")]
    Vanished {
        /// The state directory.
        path: PathBuf,
        /// What changed.
        what: String,
    },
    /// `status`/`log` (read-only): the directory holds no state at all.
    #[error("no state in {path}: no run has been started here (looked for {path}/state.json and {path}/state.sled); pass the --state-dir the run used")]
    NoState {
        /// The directory looked in.
        path: PathBuf,
    },
    /// The read-only view has no copy of this run (written by an older dcos-upgrade).
    #[error(
        "run {run} has no read-only copy in {path}/runs/{run} (written by an older dcos-upgrade)"
    )]
    NotMirrored {
        /// The state directory.
        path: PathBuf,
        /// The run.
        run: String,
    },
    /// A read or write failed.
    #[error("state database: {0}")]
    Db(String),
    /// A record could not be decoded: the database is damaged.
    #[error("state database: record {key} is damaged: {reason}")]
    Corrupt {
        /// Which record.
        key: String,
        /// Why.
        reason: String,
    },
    /// No such run.
    #[error("no run {0} in this state directory")]
    NoRun(String),
    /// No run at all.
    #[error("no run has been started in this state directory")]
    NoRuns,
}

/// Convenience alias.
pub type StoreResult<T> = Result<T, StoreError>;

/// What `Store::journal` returns: records in order.
pub type Journal = Vec<Record>;
