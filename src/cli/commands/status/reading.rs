//! Opening a state directory for reading (`status`, `log`, `runs`, `report`): the read-only view,
//! else the database, and who holds it.

use crate::cli::commands::store_error;
use crate::cli::exit;
use crate::cli::CliError;
use crate::ops::require_state;
use crate::store::{LockInfo, RunRecord, StateReader, Store, StoreError};
use std::path::Path;

/// What `status` and `log` read: the state directory's read-only view (plain files, never
/// written: works on a read-only or full disk and while a run is active), or, for state written
/// before the view existed, the database itself.
pub(in crate::cli::commands) enum Reading {
    /// The read-only view.
    View(StateReader),
    /// The database (legacy state).
    Db(Store),
}

impl Reading {
    /// The latest run.
    pub(in crate::cli::commands) fn latest_run(&self) -> Result<String, StoreError> {
        match self {
            Reading::View(r) => r.latest_run(),
            Reading::Db(s) => s.latest_run(),
        }
    }

    /// A run's record. A run the view does not have is looked up in the database (state from
    /// an older version); when that cannot be opened either, it is an unknown run.
    pub(in crate::cli::commands) fn run(&self, id: &str) -> Result<RunRecord, StoreError> {
        match self {
            Reading::View(r) => match r.run(id) {
                Err(StoreError::NotMirrored { .. }) => match Store::open(r.dir()) {
                    Ok(s) => s.run(id),
                    Err(_) => Err(StoreError::NoRun(id.to_string())),
                },
                other => other,
            },
            Reading::Db(s) => s.run(id),
        }
    }

    /// A run's journal (from the database for a run the view does not have).
    pub(in crate::cli::commands) fn journal(
        &self,
        id: &str,
    ) -> Result<Vec<crate::machine::Record>, StoreError> {
        match self {
            Reading::View(r) => match r.journal(id) {
                Err(StoreError::NotMirrored { .. }) => Store::open(r.dir())?.journal(id),
                other => other,
            },
            Reading::Db(s) => s.journal(id),
        }
    }

    /// A run's audit entries (from the database for a run the view does not have).
    pub(in crate::cli::commands) fn audit(
        &self,
        id: &str,
    ) -> Result<Vec<crate::store::AuditEntry>, StoreError> {
        match self {
            Reading::View(r) => match r.audit(id) {
                Err(StoreError::NotMirrored { .. }) => Store::open(r.dir())?.audit(id),
                other => other,
            },
            Reading::Db(s) => s.audit(id),
        }
    }

    /// What reads a run back, for the report.
    pub(in crate::cli::commands) fn source(&self) -> &dyn crate::store::RunSource {
        match self {
            Reading::View(r) => r,
            Reading::Db(s) => s,
        }
    }

    /// Every run's record, oldest first.
    pub(in crate::cli::commands) fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        match self {
            Reading::Db(s) => s.runs(),
            Reading::View(r) => {
                let mut out = Vec::new();
                if let Ok(rd) = std::fs::read_dir(r.dir().join("runs")) {
                    for e in rd.flatten() {
                        let id = e.file_name().to_string_lossy().to_string();
                        if crate::store::valid_run_id(&id) {
                            if let Ok(rec) = r.run(&id) {
                                out.push(rec);
                            }
                        }
                    }
                }
                out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
                Ok(out)
            }
        }
    }

    /// Whether this is the read-only view (a run may hold the database meanwhile).
    pub(in crate::cli::commands) fn is_view(&self) -> bool {
        matches!(self, Reading::View(_))
    }
}

/// Opens `dir` for reading: the read-only view, else (older state) the database; None while a
/// run holds a database that has no view. Never creates anything; the error names the
/// directory looked in.
pub(in crate::cli::commands) fn open_for_reading(
    dir: &Path,
    command: &str,
) -> Result<Option<Reading>, CliError> {
    require_state(dir, command).map_err(CliError::from)?;
    match Store::open_read_only(dir) {
        Ok(r) => match r.latest_run() {
            Err(StoreError::NotMirrored { .. }) => {}
            _ => return Ok(Some(Reading::View(r))),
        },
        Err(e @ StoreError::NoState { .. }) => {
            return Err(CliError::new(exit::BAD_INPUT, e.to_string()))
        }
        Err(StoreError::NotMirrored { .. }) => {}
        Err(e) => return Err(store_error(e)),
    }
    match Store::open(dir) {
        Ok(s) => Ok(Some(Reading::Db(s))),
        Err(StoreError::Locked { .. }) => Ok(None),
        Err(e) => Err(store_error(e)),
    }
}

/// The pid of a live process holding `dir` for run `id`, if one does.
pub(super) fn live_holder(dir: &Path, id: &str) -> Option<u32> {
    holder(dir)
        .filter(|h| h.run == id && crate::cli::commands::log::pid_alive(h.pid))
        .map(|h| h.pid)
}

/// The process holding the state directory's lock, from its lock file.
pub(in crate::cli::commands) fn holder(dir: &Path) -> Option<LockInfo> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("lock")).ok()?).ok()
}
