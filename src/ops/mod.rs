//! Operations, as in cargo's `ops`: what `check`, `plan`, `run`, `resume` and `rollback` do, as
//! library functions. They take plain requests, own the inputs, the local and cluster locks, the
//! heartbeat and interruption, and return typed results; the CLI only translates arguments,
//! renders, and maps the result to an exit code in one place.

mod backup;
pub mod cluster_lock;
mod connect;
mod execute;
pub mod from_cluster;
pub mod handoff;
pub mod mirror;
mod observe;
pub mod runlog;
mod runs;
#[cfg(test)]
mod tests;

pub use backup::{backup, BackupRequest};
pub use connect::{connect, load, secrets, InputFiles, Inputs};
pub use execute::{End, Finished};
pub use handoff::Handoff;
#[cfg(test)]
pub(crate) use observe::check_paths;
pub use observe::{check, plan, plan_options, PlanRequest, Planned};
pub use runs::{require_state, resume, run, ResumeRequest, RunRequest};

use crate::engine::Prompter;
use crate::events::EventSink;
use crate::playbook::ConfigError;
use crate::store::StoreError;
use std::sync::Arc;

/// Why an operation could not be carried out (each maps to one exit code).
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// Bad arguments, inventory or playbook (exit 2).
    #[error("{0}")]
    BadInput(String),
    /// Another run holds the local or the cluster lock (exit 4).
    #[error("{0}")]
    Locked(String),
    /// The operation needs an approval it did not get (exit 3).
    #[error("{0}")]
    NeedsApproval(String),
    /// Anything else that stopped it (exit 1); the state is kept as it was.
    #[error("{0}")]
    Failed(String),
}

impl OpsError {
    /// A bad inventory or playbook.
    pub fn bad_input(e: ConfigError) -> OpsError {
        OpsError::BadInput(e.to_string())
    }
}

impl From<StoreError> for OpsError {
    fn from(e: StoreError) -> OpsError {
        match e {
            StoreError::NoRun(_) | StoreError::NoRuns => OpsError::BadInput(e.to_string()),
            _ => OpsError::Failed(e.to_string()),
        }
    }
}

/// How an operation talks to the operator: the event stream, and the prompter (None without a
/// terminal).
#[derive(Clone)]
pub struct Io {
    /// Where events go.
    pub events: Arc<dyn EventSink>,
    /// Who answers prompts.
    pub prompter: Option<Arc<dyn Prompter>>,
}
