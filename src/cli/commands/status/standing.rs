//! Where a run stands, in one word: its words, its exit code and the command to run next.

use crate::cli::exit;
use crate::machine::{RunState, RunView};
use crate::ops::Handoff;

/// Where a run stands, in one word for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    Done,
    RolledBack,
    Failed,
    AtGate,
    Paused,
    /// A process holds the run now.
    Running(u32),
    /// The journal says running but no process holds it (killed, crashed).
    Interrupted,
}

impl Standing {
    pub(super) fn of(view: &RunView, live: Option<u32>) -> Standing {
        if let Some(pid) = live {
            return Standing::Running(pid);
        }
        match view.state {
            RunState::Done => Standing::Done,
            RunState::RolledBack => Standing::RolledBack,
            RunState::Failed => Standing::Failed,
            RunState::Running | RunState::RollingBack => Standing::Interrupted,
            // The engine's pause reasons at a gate (engine/gates.rs `wait_at` callers, and the
            // rollback's no-safe-undo gate) start with these words.
            RunState::Paused => match view.pause_reason.as_deref() {
                Some(r)
                    if r.starts_with("waiting for") || r.starts_with("rollback stopped before") =>
                {
                    Standing::AtGate
                }
                _ => Standing::Paused,
            },
        }
    }

    pub(super) fn words(self) -> String {
        match self {
            Standing::Done => "done".into(),
            Standing::RolledBack => "rolled back".into(),
            Standing::Failed => "failed".into(),
            Standing::AtGate => "waiting at a gate".into(),
            Standing::Paused => "paused".into(),
            Standing::Running(pid) => format!("running (pid {pid})"),
            Standing::Interrupted => "interrupted (no process holds it)".into(),
        }
    }

    /// Documented in `status --help` and the README: 0 done (or rolled back, or running now),
    /// 1 failed, 3 waiting at a gate, 5 paused or interrupted.
    pub(super) fn code(self) -> i32 {
        match self {
            Standing::Done | Standing::RolledBack | Standing::Running(_) => exit::OK,
            Standing::Failed => exit::FAILED,
            Standing::AtGate => exit::GATE,
            Standing::Paused | Standing::Interrupted => exit::PAUSED,
        }
    }

    pub(super) fn next(self, h: &Handoff, id: &str, rollback: bool) -> Option<String> {
        let again = |yes: bool| {
            let y: &[&str] = if yes { &["--yes"] } else { &[] };
            if rollback {
                h.rollback(id, y)
            } else {
                h.resume(id, y)
            }
        };
        match self {
            Standing::Done => Some(format!(
                "{} writes its report",
                h.command(&["report", "--run", id, "--format", "html"])
            )),
            Standing::RolledBack => None,
            Standing::Running(_) => Some(h.command(&["log", "--run", id, "--follow"])),
            Standing::Failed => Some(format!(
                "{} retries the failed step; {} undoes the run",
                again(false),
                h.rollback(id, &["--yes"])
            )),
            Standing::AtGate => Some(format!("{} approves and continues", again(true))),
            Standing::Paused | Standing::Interrupted => Some(again(false)),
        }
    }
}
