//! dcos-upgrade: guided, resumable, rollback-able rolling upgrades of DC/OS clusters.
//!
//! How the pieces fit (DESIGN.md):
//! - `playbook` reads the inventory and the playbook; `probe::facts` observes the cluster;
//! - `plan::build` turns facts into a `Plan` (pure); `machine` folds a run's journal (pure);
//! - `door` is the only way to the cluster: `Observe` (read-only) and `Change` (the audited
//!   chokepoint), over OpenSSH and HTTP or an in-process cluster;
//! - `engine` walks the plan, journaling in `store` before acting and running each step through
//!   its `action::Action` (listed in `phases::registry`); `phases` say how each step is done and
//!   undone;
//! - `ops` owns a command's inputs, locks, heartbeat and interruption and returns typed results;
//! - `cli` turns argv into one `ops` call and events into terminal or JSON-lines output.
#![deny(missing_docs)]

pub mod action;
pub mod checkpoint;
pub mod cli;
pub mod cluster;
pub mod door;
pub mod engine;
pub mod events;
pub mod facts;
pub mod machine;
pub mod model;
pub mod ops;
pub mod options;
pub mod phases;
pub mod plan;
pub mod playbook;
pub mod probe;
pub mod read_ahead;
pub mod release_notes;
pub mod report;
pub mod secrets;
pub mod shell;
pub mod store;
#[cfg(test)]
mod testkit;
pub mod versions;
