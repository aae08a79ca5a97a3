//! The options of a run, persisted with it so that `resume` keeps them.

use serde::{Deserialize, Serialize};

/// What to do when a step fails without a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Stop, keep the state, exit 1.
    #[default]
    Pause,
    /// Undo what this run did, then exit 1.
    Rollback,
}

/// Options of a run (persisted with it, so `resume` keeps them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunOptions {
    /// Approve every gate.
    pub yes: bool,
    /// Failure policy without a terminal.
    pub on_failure: OnFailure,
    /// Skip the ZooKeeper backup (recorded in the audit log).
    pub skip_backup: bool,
    /// The version whose release notes were acknowledged.
    pub ack_release_notes: Option<String>,
}
