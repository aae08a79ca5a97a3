//! The pure state machine: journal records, legal transitions, and what a run's state is.
//!
//! Nothing here does I/O. The store persists `Record`s; the engine appends them before and after
//! acting; `RunView::replay` is how `status`, `resume` and `rollback` learn where a run stands.

mod journal;
pub mod mirror;
mod steps;
mod view;

pub use journal::{next_state, IllegalTransition, Record, StepState};
pub use steps::StepList;
pub use view::{CrossedDoor, Replay, RestoreView, RunState, RunView, StepView};
