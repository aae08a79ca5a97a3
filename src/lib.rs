//! dcos-upgrade: guided, resumable, rollback-able rolling upgrades of DC/OS clusters.
//!
//! How the pieces fit (DESIGN.md):
//! - `playbook` reads the inventory and the playbook; `probe::facts` observes the cluster;
//! - `plan::build` turns facts into a `Plan` (pure); `machine` folds a run's journal (pure);
//! - `engine` walks the plan, sending every node change through `engine::chokepoint` and
//!   journaling in `store` before acting; `phases` say how each step is done and undone;
//! - `cli` turns argv into one call and events into terminal or JSON-lines output.
#![deny(missing_docs)]

pub mod checkpoint;
pub mod cli;
pub mod cluster;
pub mod engine;
pub mod events;
pub mod facts;
pub mod machine;
pub mod model;
pub mod phases;
pub mod plan;
pub mod playbook;
pub mod probe;
pub mod release_notes;
pub mod remote;
pub mod shell;
pub mod store;
pub mod versions;
