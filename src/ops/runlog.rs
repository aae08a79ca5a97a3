//! A run's own files beside the database: `events.jsonl` (every event, for `report`) and
//! `run.log` (the same as text, for people), written as the run goes; and the end-of-run
//! summary of where the time went.

use crate::engine::{FailureChoice, GateChoice, Prompter};
use crate::events::{Event, EventSink, RunSummary, Span, Stamped};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The run's event files (appended, best effort: the journal stays the record).
#[derive(Debug, Clone)]
pub struct RunLog {
    files: Arc<Mutex<Option<(File, File)>>>,
    dir: PathBuf,
}

/// `<state>/runs/<run>/events.jsonl`.
pub fn events_path(state_dir: &Path, run: &str) -> PathBuf {
    state_dir.join("runs").join(run).join("events.jsonl")
}

/// Every event recorded for a run, in order (empty when none were).
pub fn read_events(state_dir: &Path, run: &str) -> Vec<Stamped> {
    std::fs::read_to_string(events_path(state_dir, run))
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

impl RunLog {
    /// Opens (creates) the run's files.
    pub fn open(state_dir: &Path, run: &str) -> RunLog {
        let dir = state_dir.join("runs").join(run);
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir);
        let open = |name: &str| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(dir.join(name))
        };
        let files = match (open("events.jsonl"), open("run.log")) {
            (Ok(a), Ok(b)) => Some((a, b)),
            _ => None,
        };
        RunLog {
            files: Arc::new(Mutex::new(files)),
            dir,
        }
    }

    /// The text log's path.
    pub fn text_path(&self) -> PathBuf {
        self.dir.join("run.log")
    }

    /// Appends one event to both files.
    pub fn record(&self, e: &Stamped) {
        let mut g = self.files.lock().expect("run log");
        if let Some((jsonl, text)) = g.as_mut() {
            if let Ok(l) = serde_json::to_string(e) {
                let _ = writeln!(jsonl, "{l}");
            }
            let _ = writeln!(text, "{} {}", e.ts, as_text(&e.event));
        }
    }
}

/// One event as a line of text.
fn as_text(e: &Event) -> String {
    match e {
        Event::RunStarted {
            run,
            cluster,
            to,
            resumed,
            ..
        } => format!(
            "{} run {run} of cluster {cluster} to {to}",
            if *resumed { "resumed" } else { "started" }
        ),
        Event::PhaseStarted { phase } => format!("phase {phase}"),
        Event::StepStarted {
            step,
            node,
            description,
        } => format!(
            "start {step}{}: {description}",
            node.as_ref()
                .map(|n| format!(" on {n}"))
                .unwrap_or_default()
        ),
        Event::StepProgress { step, message } => format!("      {step}: {message}"),
        Event::StepFinished {
            step,
            state,
            message,
            duration_ms,
        } => format!(
            "{state} {step} ({duration_ms} ms){}",
            message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        Event::Gate {
            gate,
            decision,
            message,
        } => format!("gate {gate}: {decision} ({message})"),
        Event::Warning { message } => format!("warning: {message}"),
        Event::RunFinished {
            state,
            exit_code,
            message,
            ..
        } => {
            format!("finished {state} (exit {exit_code}): {}", message.trim())
        }
        Event::Unknown => "unknown event".into(),
    }
}

/// Passes events on and records them in the run's files and in memory (for the summary).
pub(crate) struct Recording<'a> {
    pub inner: &'a dyn EventSink,
    pub log: RunLog,
    pub seen: Mutex<Vec<Stamped>>,
}

impl EventSink for Recording<'_> {
    fn emit(&self, e: &Stamped) {
        self.log.record(e);
        self.seen.lock().expect("seen").push(e.clone());
        self.inner.emit(e);
    }
}

/// A prompter that measures the time spent waiting for answers.
pub(crate) struct TimedPrompter {
    pub inner: Arc<dyn Prompter>,
    pub waited_ms: Arc<AtomicU64>,
}

impl TimedPrompter {
    fn timed<R>(&self, f: impl FnOnce() -> R) -> R {
        let t = Instant::now();
        let r = f();
        self.waited_ms
            .fetch_add(t.elapsed().as_millis() as u64, Ordering::Relaxed);
        r
    }
}

impl Prompter for TimedPrompter {
    fn gate(&self, gate: &str, message: &str) -> GateChoice {
        self.timed(|| self.inner.gate(gate, message))
    }
    fn failure(&self, step: &str, error: &str) -> FailureChoice {
        self.timed(|| self.inner.failure(step, error))
    }
    fn confirm(&self, message: &str) -> bool {
        self.timed(|| self.inner.confirm(message))
    }
    fn cluster(&self, name: &str) {
        self.inner.cluster(name)
    }
}

/// Where the time of one command went, from its events, its wall time and its gate waits.
pub fn summarize(events: &[Stamped], wall_ms: u64, gates_ms: u64) -> RunSummary {
    let mut phases: Vec<Span> = Vec::new();
    let mut nodes: Vec<Span> = Vec::new();
    let mut node_of = std::collections::HashMap::new();
    let mut phase = String::new();
    let (mut in_steps, mut on_nodes) = (0u64, 0u64);
    let add = |v: &mut Vec<Span>, name: &str, ms: u64| match v.iter_mut().find(|s| s.name == name) {
        Some(s) => s.ms += ms,
        None => v.push(Span {
            name: name.to_string(),
            ms,
        }),
    };
    for e in events {
        match &e.event {
            Event::PhaseStarted { phase: p } => phase = p.clone(),
            Event::StepStarted {
                step,
                node: Some(n),
                ..
            } => {
                node_of.insert(step.clone(), n.clone());
            }
            Event::StepFinished {
                step, duration_ms, ..
            } => {
                in_steps += duration_ms;
                let p = if phase.is_empty() {
                    step.split('/').next().unwrap_or("").to_string()
                } else {
                    phase.clone()
                };
                add(&mut phases, &p, *duration_ms);
                if let Some(n) = node_of.get(step) {
                    on_nodes += duration_ms;
                    add(&mut nodes, n, *duration_ms);
                }
            }
            _ => {}
        }
    }
    RunSummary {
        wall_ms,
        phases,
        nodes,
        waiting_on_nodes_ms: on_nodes,
        waiting_at_gates_ms: gates_ms,
        overhead_ms: wall_ms.saturating_sub(in_steps + gates_ms),
    }
}

/// The summary for people, a few lines.
pub fn summary_text(s: &RunSummary) -> String {
    let secs = |ms: u64| format!("{:.1} s", ms as f64 / 1000.0);
    let list = |v: &[Span]| {
        v.iter()
            .map(|p| format!("{} {}", p.name, secs(p.ms)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut t = format!(
        "Time: {} wall; on nodes {}, at gates {}, the tool's own work {}\n",
        secs(s.wall_ms),
        secs(s.waiting_on_nodes_ms),
        secs(s.waiting_at_gates_ms),
        secs(s.overhead_ms)
    );
    if !s.phases.is_empty() {
        t.push_str(&format!("  phases: {}\n", list(&s.phases)));
    }
    if !s.nodes.is_empty() {
        t.push_str(&format!("  nodes: {}\n", list(&s.nodes)));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{stamp, StepOutcome};

    #[test]
    fn the_summary_splits_the_wall_time_into_steps_nodes_gates_and_overhead() {
        let ev = vec![
            stamp(Event::PhaseStarted {
                phase: "masters".into(),
            }),
            stamp(Event::StepStarted {
                step: "masters/a/upgrade".into(),
                node: Some("a".into()),
                description: String::new(),
            }),
            stamp(Event::StepFinished {
                step: "masters/a/upgrade".into(),
                state: StepOutcome::Done,
                message: None,
                duration_ms: 600,
            }),
            stamp(Event::PhaseStarted {
                phase: "postcheck".into(),
            }),
            stamp(Event::StepStarted {
                step: "postcheck/x".into(),
                node: None,
                description: String::new(),
            }),
            stamp(Event::StepFinished {
                step: "postcheck/x".into(),
                state: StepOutcome::Done,
                message: None,
                duration_ms: 100,
            }),
        ];
        let s = summarize(&ev, 1000, 200);
        assert_eq!(s.waiting_on_nodes_ms, 600);
        assert_eq!(s.overhead_ms, 100);
        assert_eq!(
            s.phases,
            vec![
                Span {
                    name: "masters".into(),
                    ms: 600
                },
                Span {
                    name: "postcheck".into(),
                    ms: 100
                }
            ]
        );
        assert_eq!(
            s.nodes,
            vec![Span {
                name: "a".into(),
                ms: 600
            }]
        );
    }
}
