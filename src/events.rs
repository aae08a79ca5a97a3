//! Typed events of a run. The engine emits them; the terminal view and the JSON-lines view are
//! two consumers of the same stream. Producers never print.

use serde::Serialize;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run began (or resumed), with the whole plan's size.
    RunStarted {
        /// Run id.
        run: String,
        /// Cluster name.
        cluster: String,
        /// Target version.
        to: String,
        /// Whether this is a resume.
        resumed: bool,
        /// Steps in the plan.
        total_steps: usize,
        /// Steps already done or skipped.
        done_steps: usize,
    },
    /// A phase began.
    PhaseStarted {
        /// Phase id.
        phase: String,
    },
    /// A step began.
    StepStarted {
        /// Step id.
        step: String,
        /// The node, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        /// What it does.
        description: String,
    },
    /// Something worth saying while a step runs.
    StepProgress {
        /// Step id.
        step: String,
        /// What.
        message: String,
    },
    /// A step ended.
    StepFinished {
        /// Step id.
        step: String,
        /// `done`, `failed`, `skipped`, `undone`.
        state: String,
        /// Why, when not done.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// How long it took.
        duration_ms: u64,
    },
    /// A gate was reached and decided.
    Gate {
        /// Gate id.
        gate: String,
        /// `approved`, `waiting`, `stopped`, `rollback`, `abort`.
        decision: String,
        /// What the gate is about.
        message: String,
    },
    /// A warning.
    Warning {
        /// What.
        message: String,
    },
    /// The run ended (for now).
    RunFinished {
        /// Run id.
        run: String,
        /// Run state (`done`, `paused`, `failed`, `rolled_back`).
        state: String,
        /// The process exit code.
        exit_code: i32,
        /// One line for people.
        message: String,
    },
}

/// An event with its timestamp, as written to JSON lines.
#[derive(Debug, Clone, Serialize)]
pub struct Stamped {
    /// RFC 3339 UTC.
    pub ts: String,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
}

/// A consumer of events.
pub trait EventSink: Send + Sync {
    /// Receives one event.
    fn emit(&self, event: &Stamped);
}

/// Timestamps an event.
pub fn stamp(event: Event) -> Stamped {
    Stamped {
        ts: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        event,
    }
}

/// A sink that drops everything (for `plan`, tests).
pub struct NullSink;

impl EventSink for NullSink {
    fn emit(&self, _: &Stamped) {}
}
