//! The plan: a pure function of facts, playbook and options. What `plan` prints is what `run`
//! executes.

pub mod batch;
mod build;
pub mod doors;
mod excluded;
pub mod gates;
mod step;
mod step_version;

pub use batch::MaxUnavailable;
pub use build::{backups_only, build, PlanError, PlanOptions};
pub use doors::{Door, DoorId};
pub use excluded::{is_excluded, Excluded};
pub use gates::PlannedGate;
pub use step::{Action, Phase, PhaseId, Plan, Step, StepKind};
pub use step_version::StepVersion;
