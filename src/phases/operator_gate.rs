//! The operator's gates after a node step (inventory `[[gates]]`): each command is tried every
//! `interval_secs` through the observe door (on a node over SSH, or `sh -c` on this machine)
//! until it exits 0 or `timeout_secs` pass; one that never passes fails the step with its last
//! output. Each gate is written to the audit log (what ran, where, how it ended) and announced.
//!
//! The commands are read-only by contract: they go through the observe door, not the change
//! door, and are not undone by a rollback.

use crate::action::StepCtx;
use crate::door::Output;
use crate::events::{stamp, Decision, Event};
use crate::plan::PlannedGate;
use crate::store::AuditEntry;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Why an operator gate failed its step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorGateError {
    /// The command never exited 0 within the gate's timeout.
    #[error("operator gate {gate} did not pass on {node} within {secs} s ({attempts} tries; last: {last_status}): {last_output}")]
    NeverPassed {
        /// The gate's name (inventory `[[gates]] name`).
        gate: String,
        /// Where it ran (a node's address, or `local`).
        node: String,
        /// Its timeout (`timeout_secs`).
        secs: u64,
        /// How many times it ran.
        attempts: u32,
        /// How the last try ended (`exit 3`, `did not complete`, ...).
        last_status: String,
        /// The end of its last output, redacted.
        last_output: String,
    },
}

/// Where a gate's audit entries go (the engine writes them to the run's audit log).
pub type Audit<'a> = &'a (dyn Fn(AuditEntry) + Send + Sync);

/// How one operator gate went (part of the step's output, so `status` and the report show it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate's id (`operator:<name>@<node>`).
    pub gate: String,
    /// Where it ran.
    pub run_on: String,
    /// The command as sent.
    pub command: String,
    /// How many times it ran.
    pub attempts: u32,
    /// Milliseconds until it passed.
    pub duration_ms: u64,
}

/// The last characters of a gate's output kept in errors and the audit log.
const TAIL: usize = 1000;

/// How long a try may take at least, even when it starts just before the deadline.
const TRY_FLOOR: Duration = Duration::from_secs(10);

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One try: the exit status (None when it did not run or was killed) and the output.
async fn try_once(ctx: &StepCtx<'_>, g: &PlannedGate, timeout: Duration) -> (Option<i32>, String) {
    let out: Result<Output, String> = if g.is_local() {
        local(&g.command, timeout).await
    } else {
        match ctx.cluster.node(&g.run_on) {
            Some(n) => ctx
                .cluster
                .observe
                .query(&crate::cluster::Cluster::target(n), &g.command, timeout)
                .await
                .map_err(|e| e.to_string()),
            None => Err(format!("node {} is not in the inventory", g.run_on)),
        }
    };
    match out {
        Ok(o) => (o.status, o.tail(TAIL)),
        Err(e) => (None, e),
    }
}

/// `sh -c` on this machine, killed at the timeout.
async fn local(command: &str, timeout: Duration) -> Result<Output, String> {
    let started = Instant::now();
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(timeout, child).await {
        Err(_) => Err(format!("timed out after {} s", timeout.as_secs())),
        Ok(Err(e)) => Err(format!("cannot run sh: {e}")),
        Ok(Ok(o)) => Ok(Output {
            status: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            duration: started.elapsed(),
        }),
    }
}

/// Runs one gate to its end: passed (its result) or failed (the step's error, with the last
/// output).
async fn one(
    ctx: &StepCtx<'_>,
    g: &PlannedGate,
    audit: Audit<'_>,
) -> Result<GateResult, OperatorGateError> {
    let id = g.id(ctx.step);
    let entry = |phase: &str, status: Option<i32>, ms: u64, tail: String| AuditEntry {
        at: now(),
        step: ctx.step.id.clone(),
        node: g.run_on.clone(),
        description: format!("operator gate {} (observe door, read-only)", g.name),
        command: ctx.change.redact(&g.command),
        exit_status: status,
        duration_ms: ms,
        output_tail: ctx.change.redact(&tail),
        phase: phase.into(),
    };
    audit(entry("observe", None, 0, String::new()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(g.timeout_secs);
    let interval = Duration::from_secs(g.interval_secs);
    let mut attempts = 0u32;
    // The output of the last try that ran to its end (kept when a later one does not).
    let mut last_completed: Option<(Option<i32>, String)> = None;
    loop {
        attempts += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        // A try started before the deadline may finish (at least TRY_FLOOR).
        let (status, tail) = try_once(ctx, g, left.max(TRY_FLOOR)).await;
        if status.is_some() {
            last_completed = Some((status, tail.clone()));
        }
        let ms = started.elapsed().as_millis() as u64;
        if status == Some(0) {
            audit(entry("observed", status, ms, tail));
            let message = format!(
                "passed on {} after {attempts} tr{} ({} s)",
                g.run_on,
                if attempts == 1 { "y" } else { "ies" },
                ms / 1000
            );
            ctx.events.emit(&stamp(Event::Gate {
                gate: id.clone(),
                decision: Decision::Approved,
                message,
            }));
            return Ok(GateResult {
                gate: id,
                run_on: g.run_on.clone(),
                command: g.command.clone(),
                attempts,
                duration_ms: ms,
            });
        }
        let how = match status {
            Some(rc) => format!("exit {rc}"),
            None => "did not complete".into(),
        };
        if Instant::now() + interval > deadline {
            audit(entry("observed", status, ms, tail.clone()));
            let (how, tail) = match (&status, &last_completed) {
                (None, Some((Some(rc), t))) => (
                    format!("{how}; the last that finished: exit {rc}"),
                    format!("{t} ({tail})"),
                ),
                _ => (how, tail),
            };
            let last = crate::secrets::for_people(&ctx.change.redact(&tail));
            let error = OperatorGateError::NeverPassed {
                gate: g.name.clone(),
                node: g.run_on.clone(),
                secs: g.timeout_secs,
                attempts,
                last_status: how,
                last_output: last,
            };
            ctx.events.emit(&stamp(Event::Gate {
                gate: id,
                decision: Decision::Refused,
                message: error.to_string(),
            }));
            return Err(error);
        }
        ctx.progress(format!(
            "operator gate {} on {}: not yet ({how}); again in {} s",
            g.name, g.run_on, g.interval_secs
        ));
        tokio::time::sleep(interval).await;
    }
}

/// Runs the step's operator gates in order; the first that never passes fails the step.
pub async fn run_all(
    ctx: &StepCtx<'_>,
    audit: Audit<'_>,
) -> Result<Vec<GateResult>, OperatorGateError> {
    let mut out = Vec::new();
    for g in &ctx.step.gates {
        out.push(one(ctx, g, audit).await?);
    }
    Ok(out)
}
