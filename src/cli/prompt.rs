//! Interactive questions at a terminal (dialoguer). Never used without a terminal.

use super::render::HumanSink;
use crate::engine::{FailureChoice, GateChoice, Prompter};
use dialoguer::{Confirm, Select};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set when the operator pressed Ctrl-C at a prompt: the run stops there (paused, its state
/// saved) and the command exits 130 like any interruption (console raises SIGINT too).
pub static INTERRUPTED_AT_PROMPT: AtomicBool = AtomicBool::new(false);

/// Notes a Ctrl-C answer.
fn noted<T>(r: Result<T, dialoguer::Error>) -> Result<T, dialoguer::Error> {
    if let Err(dialoguer::Error::IO(e)) = &r {
        if e.kind() == std::io::ErrorKind::Interrupted {
            INTERRUPTED_AT_PROMPT.store(true, Ordering::SeqCst);
        }
    }
    r
}

/// Asks on the terminal, hiding progress bars while asking.
pub struct TerminalPrompter {
    /// The human renderer (its bars are hidden during a prompt).
    pub sink: Option<Arc<HumanSink>>,
    /// Cluster name shown in questions (set once the run is known, see `Prompter::cluster`).
    pub cluster: std::sync::Mutex<String>,
}

impl TerminalPrompter {
    fn name(&self) -> String {
        self.cluster.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.sink {
            Some(s) => s.suspend(f),
            None => f(),
        }
    }
}

impl Prompter for TerminalPrompter {
    fn cluster(&self, name: &str) {
        if let Ok(mut c) = self.cluster.lock() {
            *c = name.to_string();
        }
    }

    fn gate(&self, gate: &str, message: &str) -> GateChoice {
        self.suspend(|| {
            let items = [
                "continue",
                "stop here (resume later)",
                "roll back what this run did",
                "abort",
            ];
            let r = Select::new()
                .with_prompt(format!("[{}] {gate}: {message}", self.name()))
                .items(items)
                .default(0)
                .interact();
            let r = noted(r);
            match r {
                Ok(0) => GateChoice::Continue,
                Ok(2) => GateChoice::Rollback,
                Ok(3) => GateChoice::Abort,
                _ => GateChoice::Stop,
            }
        })
    }

    fn failure(&self, step: &str, error: &str) -> FailureChoice {
        self.suspend(|| {
            let items = [
                "retry",
                "roll back what this run did",
                "stop (resume later)",
            ];
            let r = Select::new()
                .with_prompt(format!("[{}] step {step} failed: {error}", self.name()))
                .items(items)
                .default(2)
                .interact();
            let r = noted(r);
            match r {
                Ok(0) => FailureChoice::Retry,
                Ok(1) => FailureChoice::Rollback,
                _ => FailureChoice::Stop,
            }
        })
    }

    fn confirm(&self, message: &str) -> bool {
        self.suspend(|| {
            noted(
                Confirm::new()
                    .with_prompt(message)
                    .default(false)
                    .interact(),
            )
            .unwrap_or(false)
        })
    }
}
