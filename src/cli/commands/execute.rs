//! Executing a run: the cluster lock and its heartbeat, Ctrl-C, and the outcome turned into an
//! exit code, a message and a summary.

use super::{secrets, CliResult};
use crate::cli::exit;
use crate::cli::CliError;
use crate::cluster::Cluster;
use crate::engine::cluster_lock::{ClusterLock, ClusterLockError};
use crate::engine::{Engine, Outcome, Prompter, RunOptions};
use crate::events::{stamp, Event, EventSink};
use crate::machine::{Record, RunView, StepState};
use crate::store::{RunRecord, Store};
use std::path::Path;
use std::sync::Arc;

/// What `execute` does with the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// A new run.
    Run,
    /// Continue a run.
    Resume,
    /// Undo a run (then, on request, restore the ZooKeeper backup).
    Rollback {
        /// `--restore-zookeeper` was given.
        restore_zookeeper: bool,
    },
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn execute(
    store: &Store,
    record: &RunRecord,
    cluster: &Cluster,
    options: RunOptions,
    prompter: Option<Arc<dyn Prompter>>,
    events: &dyn EventSink,
    action: Action,
    take_over_lock: bool,
) -> CliResult<i32> {
    let engine = Engine::new(store, record, cluster, options, prompter, events, secrets())
        .map_err(|e| CliError::new(exit::FAILED, e.to_string()))?;
    // The cluster-side lock on the masters (engine::cluster_lock), through the chokepoint.
    let changer = crate::engine::chokepoint::Changer::new(store, &record.id, cluster, secrets());
    let cluster_lock = ClusterLock::new(&record.id, cluster.inventory.lock.stale_secs.unwrap_or(0));
    if let Err(e) = cluster_lock
        .acquire(&changer, cluster, take_over_lock)
        .await
    {
        cluster.ssh.close().await;
        let code = match e {
            ClusterLockError::Held(_) | ClusterLockError::Stale { .. } => exit::LOCKED,
            ClusterLockError::Remote { .. } => exit::FAILED,
        };
        return Err(CliError::new(code, e.to_string()));
    }
    let heartbeat = async {
        loop {
            tokio::time::sleep(cluster_lock.heartbeat_interval()).await;
            if let Err(e) = cluster_lock.heartbeat(&changer, cluster).await {
                tracing::warn!("{e}");
            }
        }
    };
    let work = async {
        match action {
            Action::Run => engine.execute(false).await,
            Action::Resume => engine.execute(true).await,
            Action::Rollback { restore_zookeeper } => {
                let already = engine.view().state == crate::machine::RunState::RolledBack;
                let outcome = if already {
                    Outcome::RolledBack {
                        after_failure: None,
                    }
                } else {
                    engine.rollback(None).await?
                };
                match outcome {
                    Outcome::RolledBack { .. } if restore_zookeeper => {
                        engine.restore_zookeeper().await
                    }
                    other => Ok(other),
                }
            }
        }
    };
    let result = tokio::select! {
        r = work => r,
        _ = heartbeat => unreachable!("the heartbeat loop never ends"),
        _ = tokio::signal::ctrl_c() => {
            let _ = cluster_lock.release(&changer, cluster).await;
            let _ = store.append(&record.id, &Record::RunPaused { reason: "interrupted (Ctrl-C)".into() });
            let msg = format!("interrupted; the state is saved. A node script already started keeps running on its node. Continue with `dcos-upgrade resume --run {}`", record.id);
            events.emit(&stamp(Event::RunFinished { run: record.id.clone(), state: "paused".into(), exit_code: exit::INTERRUPTED, message: msg }));
            return Ok(exit::INTERRUPTED);
        }
    };
    if let Err(e) = cluster_lock.release(&changer, cluster).await {
        tracing::warn!("{e}");
    }
    let outcome = result.map_err(|e| {
        CliError::new(
            exit::FAILED,
            format!("{e}\nthe state is kept as it was; `dcos-upgrade status` shows it"),
        )
    })?;
    let view = engine.view();
    let _ = store.write_snapshot(&record.id, &view);
    cluster.ssh.close().await;
    let (state, code, message) = match &outcome {
        Outcome::Done => ("done", exit::OK, format!("run {} done: every node at {}", record.id, record.plan.to)),
        Outcome::AtGate { gate } if gate.starts_with("no-undo:") || gate == "restore-zookeeper" => (
            "paused",
            exit::GATE,
            format!(
                "rollback stopped at gate {gate}: it needs an explicit approval (see above). Approve with: dcos-upgrade rollback --run {} --yes",
                record.id
            ),
        ),
        Outcome::AtGate { gate } if gate.starts_with("release-notes") => (
            "paused",
            exit::GATE,
            format!(
                "stopped at gate {gate}: the release notes of DC/OS {to} must be acknowledged. Read them (playbooks/release-notes/), then continue with: dcos-upgrade resume --run {} --yes --ack-release-notes {to}",
                record.id,
                to = record.plan.to
            ),
        ),
        Outcome::AtGate { gate } => (
            "paused",
            exit::GATE,
            format!("stopped at gate {gate}, waiting for approval (no terminal and no --yes). Continue with: dcos-upgrade resume --run {} --yes", record.id),
        ),
        Outcome::Stopped { reason } => ("paused", exit::GATE, format!("{reason}. Continue with: dcos-upgrade resume --run {}", record.id)),
        Outcome::Failed { step, error } => (
            "failed",
            exit::FAILED,
            format!("step {step} failed: {error}\nthe run is paused and its state saved. Choices: `dcos-upgrade resume --run {id}` retries the step; `dcos-upgrade rollback --run {id}` undoes this run's changes", id = record.id),
        ),
        Outcome::RolledBack { after_failure } => (
            "rolled_back",
            if after_failure.is_some() { exit::FAILED } else { exit::OK },
            match after_failure {
                Some(e) => format!("rolled back after a failure: {e}"),
                None => format!("run {} rolled back", record.id),
            },
        ),
        Outcome::Restored { archive } => (
            "rolled_back",
            exit::OK,
            format!("ZooKeeper restored on every master from {archive}; check the cluster's services before using it"),
        ),
        Outcome::RollbackFailed { step, error } => (
            "failed",
            exit::FAILED,
            format!("rollback stopped at {step}: {error}\n`dcos-upgrade rollback --run {}` tries again", record.id),
        ),
    };
    let summary = summary(record, &view, store.dir());
    events.emit(&stamp(Event::RunFinished {
        run: record.id.clone(),
        state: state.into(),
        exit_code: code,
        message: format!("{summary}{message}"),
    }));
    Ok(code)
}

fn summary(record: &RunRecord, view: &RunView, _dir: &Path) -> String {
    let mut s = String::from("\nSummary:\n");
    for (p, st) in record.plan.steps() {
        let v = view.step(&st.id);
        let state = v.map(|v| v.state).unwrap_or(StepState::Pending);
        let state = serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        s.push_str(&format!(
            "  {:<10} {:<40} {}\n",
            p.id.as_str(),
            st.id,
            state
        ));
        if let Some(a) = v
            .and_then(|v| v.output.get("archive"))
            .and_then(|a| a.as_str())
        {
            s.push_str(&format!("             ZooKeeper backup: {a}\n"));
        }
    }
    let undone: Vec<&str> = view
        .steps
        .iter()
        .filter(|v| v.state == StepState::Undone)
        .map(|v| v.id.as_str())
        .collect();
    if !undone.is_empty() {
        s.push_str(&format!(
            "Undone ({}): {}\n",
            undone.len(),
            undone.join(", ")
        ));
    }
    s.push_str("Nodes and apps:\n");
    for t in crate::engine::rollback::target_states(&record.plan, view) {
        s.push_str(&format!("  {:<24} {}\n", t.target, t.state));
    }
    s
}
