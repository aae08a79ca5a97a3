//! How each kind of step is done (and checked, and undone). One file per phase.

pub mod backup;
pub mod backup_copy;
pub mod backup_state;
pub mod checks;
pub mod doors;
pub mod frameworks;
pub mod gates;
pub mod guards;
pub mod node_upgrade;
pub mod operator_gate;
pub mod outputs;
pub mod procedure;
pub mod registry;
pub mod validate;
pub mod zk_restore;

pub use crate::action::StepCtx;
