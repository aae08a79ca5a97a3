//! The plan: a pure function of facts, playbook and options. What `plan` prints is what `run`
//! executes.

mod build;
mod step;

pub use build::{build, PlanError, PlanOptions};
pub use step::{Action, Phase, PhaseId, Plan, Step, StepKind};
