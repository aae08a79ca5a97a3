//! Typed events of a run. The engine emits them; the terminal view and the JSON-lines view are
//! two consumers of the same stream. Producers never print. The enums deserialize with an
//! `Unknown` fallback, so a reader built today keeps reading the events of a newer version.

use serde::{Deserialize, Serialize};

macro_rules! words {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $v:ident => $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $v,)+
            /// A value this version does not know (written by a newer one).
            #[serde(other)]
            Unknown,
        }

        impl $name {
            /// The word used in JSON and on the terminal.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$v => $s,)+
                    $name::Unknown => "unknown",
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words! {
    /// How a step (or its undo) ended.
    StepOutcome {
        /// Done.
        Done => "done",
        /// Failed.
        Failed => "failed",
        /// Nothing to do.
        Skipped => "skipped",
        /// Undone by a rollback.
        Undone => "undone",
        /// Its undo failed.
        UndoFailed => "undo_failed",
    }
}

words! {
    /// What was decided at a gate.
    Decision {
        /// Passed.
        Approved => "approved",
        /// Waiting for an approval that was not given (no terminal, no `--yes`).
        Waiting => "waiting",
        /// The operator stopped the run there.
        Stopped => "stopped",
        /// The operator asked for a rollback.
        Rollback => "rollback",
        /// The operator aborted the run.
        Abort => "abort",
        /// The answer given does not fit the gate (e.g. another version's release notes).
        Refused => "refused",
    }
}

words! {
    /// The state a run is left in when a command ends.
    FinalState {
        /// Every step done.
        Done => "done",
        /// Stopped, to be resumed.
        Paused => "paused",
        /// A step failed.
        Failed => "failed",
        /// Rolled back.
        RolledBack => "rolled_back",
    }
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
        /// How it ended.
        state: StepOutcome,
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
        /// What was decided.
        decision: Decision,
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
        /// The state the run is left in.
        state: FinalState,
        /// The process exit code.
        exit_code: i32,
        /// One line for people.
        message: String,
        /// Where the time of this command went (absent when nothing was executed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<RunSummary>,
    },
    /// An event this version does not know (written by a newer one).
    #[serde(other)]
    Unknown,
}

/// Where the time of one `run`, `resume` or `rollback` went (all in milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunSummary {
    /// From the command's start to its end.
    pub wall_ms: u64,
    /// Time inside steps, per phase, in the order the phases ran.
    pub phases: Vec<Span>,
    /// Time inside each node's steps.
    pub nodes: Vec<Span>,
    /// Time inside steps that act on a node (scripts, waits for it to be healthy).
    pub waiting_on_nodes_ms: u64,
    /// Time waiting for an answer at a gate (prompts).
    pub waiting_at_gates_ms: u64,
    /// Everything else: the tool's own work between steps (observation, planning, locks).
    pub overhead_ms: u64,
}

/// A named duration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Span {
    /// The phase or node.
    pub name: String,
    /// Milliseconds.
    pub ms: u64,
}

/// The version of the JSON objects this build writes (`schema_version`; schemas/ holds them).
pub const SCHEMA_VERSION: u32 = 1;

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// An event with its timestamp, as written to JSON lines.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stamped {
    /// The version of this object's shape (see schemas/event.schema.json).
    #[serde(default = "schema_version")]
    pub schema_version: u32,
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
        schema_version: SCHEMA_VERSION,
        ts: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        event,
    }
}

/// A sink that drops everything (for `plan`, tests).
pub struct NullSink;

impl EventSink for NullSink {
    fn emit(&self, _: &Stamped) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_of_a_newer_version_reads_as_unknown_and_new_words_do_too() {
        let e: Event = serde_json::from_str(r#"{"event":"node_rebooted","node":"m1"}"#).unwrap();
        assert_eq!(e, Event::Unknown);
        let e: Event = serde_json::from_str(
            r#"{"event":"step_finished","step":"s","state":"teleported","duration_ms":1}"#,
        )
        .unwrap();
        assert!(matches!(
            e,
            Event::StepFinished {
                state: StepOutcome::Unknown,
                ..
            }
        ));
    }

    #[test]
    fn the_words_on_the_wire_are_unchanged() {
        let e = Event::StepFinished {
            step: "s".into(),
            state: StepOutcome::UndoFailed,
            message: None,
            duration_ms: 3,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["state"], "undo_failed");
        assert_eq!(v["event"], "step_finished");
        let g = serde_json::to_value(Event::Gate {
            gate: "before:masters".into(),
            decision: Decision::Waiting,
            message: String::new(),
        })
        .unwrap();
        assert_eq!(g["decision"], "waiting");
        let f = serde_json::to_value(FinalState::RolledBack).unwrap();
        assert_eq!(f, "rolled_back");
    }
}
