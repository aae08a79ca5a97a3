//! The upgrade report of a run: the cluster before and after, the timeline of steps per node
//! (from the run's recorded events), gates, pauses, backups with checksums, failures, and the
//! time figures; rendered as HTML with an SVG chart, Markdown, or JSON.

mod html;
mod svg;

pub use html::{html, markdown};

use crate::events::{Event, RunSummary, Stamped, StepOutcome};
use crate::store::StoreResult;
use serde::Serialize;

/// A node's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct NodeLine {
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Role.
    pub role: String,
    /// Version before the run.
    pub from: String,
    /// Where it stands now (from the journal).
    pub now: String,
}

/// One step on the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    /// Step id.
    pub step: String,
    /// The row: the node's name, or the phase for steps without a node.
    pub row: String,
    /// Milliseconds from the run's first event.
    pub start_ms: u64,
    /// Milliseconds.
    pub duration_ms: u64,
    /// How it ended.
    pub outcome: StepOutcome,
    /// The message, when not done.
    pub message: Option<String>,
    /// The leader's upgrade (the failover to a new leader happens in it).
    pub leader_failover: bool,
}

/// A mark on the timeline: a gate or a pause.
#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    /// Milliseconds from the run's first event.
    pub at_ms: u64,
    /// `gate` or `pause`.
    pub kind: String,
    /// What.
    pub label: String,
}

/// A ZooKeeper backup taken by the run.
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    /// The archive.
    pub archive: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// Everything in a run's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Run id.
    pub run: String,
    /// Cluster.
    pub cluster: String,
    /// From version.
    pub from: String,
    /// Target version.
    pub to: String,
    /// When the run was created.
    pub started: String,
    /// Its state now.
    pub state: String,
    /// The nodes.
    pub nodes: Vec<NodeLine>,
    /// The timeline's bars.
    pub bars: Vec<Bar>,
    /// Gates and pauses.
    pub marks: Vec<Mark>,
    /// Backups.
    pub backups: Vec<Backup>,
    /// Failures: step and message.
    pub failures: Vec<(String, String)>,
    /// Where the time went, one per command (`run`, each `resume`, `rollback`).
    pub summaries: Vec<RunSummary>,
    /// Milliseconds from the first to the last event.
    pub span_ms: u64,
}

fn ms_between(a: &str, b: &str) -> u64 {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => (b - a).num_milliseconds().max(0) as u64,
        _ => 0,
    }
}

impl Report {
    /// Reads the run's record, journal and recorded events.
    pub fn load(store: &dyn crate::store::RunSource, id: &str) -> StoreResult<Report> {
        let record = store.run(id)?;
        let view = crate::machine::RunView::replay(&record.plan, &store.journal(id)?)
            .map_err(|e| crate::store::StoreError::Db(e.to_string()))?;
        let events = crate::ops::runlog::read_events(store.dir(), id);
        Ok(Report::build(&record, &view, &events))
    }

    /// Builds the report from its parts.
    pub fn build(
        record: &crate::store::RunRecord,
        view: &crate::machine::RunView,
        events: &[Stamped],
    ) -> Report {
        let plan = &record.plan;
        let targets = crate::engine::target_states(plan, view);
        let mut nodes = Vec::new();
        for (_, st) in plan.steps() {
            let (Some(addr), Some(role)) = (&st.node, st.role) else {
                continue;
            };
            if let Some(n) = nodes
                .iter_mut()
                .find(|n: &&mut NodeLine| &n.address == addr)
            {
                // The node's first step may be one without a version (e.g. its backup).
                if n.from == "?" {
                    if let Some(f) = &st.from {
                        n.from = f.to_string();
                    }
                }
                continue;
            }
            let name = st.name.clone().unwrap_or_else(|| addr.clone());
            let now = targets
                .iter()
                .find(|t| &t.target == addr)
                .map(|t| t.state.to_string())
                .unwrap_or_else(|| "-".into());
            nodes.push(NodeLine {
                name,
                address: addr.clone(),
                role: role.to_string(),
                from: (st.from.as_ref()).map_or_else(|| "?".into(), ToString::to_string),
                now,
            });
        }
        let row_of = |step: &str| -> (String, bool) {
            plan.steps()
                .find(|(_, s)| s.id == step)
                .map(|(p, s)| {
                    (
                        s.name
                            .clone()
                            .or(s.node.clone())
                            .unwrap_or_else(|| p.id.as_str().to_string()),
                        s.leader == Some(true),
                    )
                })
                .unwrap_or_else(|| (step.split('/').next().unwrap_or(step).to_string(), false))
        };
        let t0 = events.first().map(|e| e.ts.clone()).unwrap_or_default();
        let mut starts = std::collections::HashMap::new();
        let (mut bars, mut marks, mut failures, mut summaries) = (vec![], vec![], vec![], vec![]);
        let mut span_ms = 0;
        for e in events {
            let at = ms_between(&t0, &e.ts);
            span_ms = span_ms.max(at);
            match &e.event {
                Event::StepStarted { step, .. } => {
                    starts.insert(step.clone(), at);
                }
                Event::StepFinished {
                    step,
                    state,
                    message,
                    duration_ms,
                } => {
                    let start = starts
                        .remove(step)
                        .unwrap_or(at.saturating_sub(*duration_ms));
                    let (row, leader) = row_of(step);
                    if *state == StepOutcome::Failed || *state == StepOutcome::UndoFailed {
                        failures.push((step.clone(), message.clone().unwrap_or_default()));
                    }
                    bars.push(Bar {
                        step: step.clone(),
                        row,
                        start_ms: start,
                        duration_ms: *duration_ms,
                        outcome: *state,
                        message: message.clone(),
                        leader_failover: leader && step.starts_with("masters/"),
                    });
                }
                Event::Gate { gate, decision, .. } => marks.push(Mark {
                    at_ms: at,
                    kind: "gate".into(),
                    label: format!("{gate}: {decision}"),
                }),
                Event::RunFinished {
                    state,
                    message,
                    summary,
                    ..
                } => {
                    // Steps still open when a command ended were interrupted there.
                    let mut open: Vec<(String, u64)> = starts.drain().collect();
                    open.sort_by_key(|(_, t)| *t);
                    for (step, start) in open {
                        let (row, _) = row_of(&step);
                        bars.push(Bar {
                            step,
                            row,
                            start_ms: start,
                            duration_ms: at.saturating_sub(start),
                            outcome: StepOutcome::Unknown,
                            message: Some("interrupted: the command ended while it ran".into()),
                            leader_failover: false,
                        });
                    }
                    if state.as_str() != "done" {
                        marks.push(Mark {
                            at_ms: at,
                            kind: "pause".into(),
                            label: format!("{state}: {}", message.lines().last().unwrap_or("")),
                        });
                    }
                    summaries.extend(summary.clone());
                }
                _ => {}
            }
        }
        let backups = view
            .steps
            .iter()
            .filter_map(|v| {
                crate::phases::outputs::read::<crate::phases::outputs::BackupOutput>(&v.output)
            })
            .map(|b| Backup {
                archive: b.archive.display().to_string(),
                sha256: b.sha256,
            })
            .collect();
        for v in &view.steps {
            if let (crate::machine::StepState::Failed, Some(m)) = (v.state, &v.message) {
                if !failures.iter().any(|(s, _)| s == &v.id) {
                    failures.push((v.id.clone(), m.clone()));
                }
            }
        }
        Report {
            run: record.id.clone(),
            cluster: record.cluster.clone(),
            from: (plan.from.as_ref()).map_or_else(|| "?".into(), ToString::to_string),
            to: plan.to.to_string(),
            started: record.created_at.clone(),
            state: view.state.as_str().to_string(),
            nodes,
            bars,
            marks,
            backups,
            failures,
            summaries,
            span_ms,
        }
    }
}
