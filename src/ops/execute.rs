//! Executing a run: the change door, the cluster lock and its heartbeat, interruption by
//! SIGINT, SIGTERM or SIGHUP, and the engine's outcome with the run's summary.

use super::cluster_lock::{ClusterLock, ClusterLockError};
use super::{secrets, Io, OpsError};
use crate::action::Registry;
use crate::cluster::Cluster;
use crate::door::{AuditedChange, Change, Transport};
use crate::engine::{Engine, EngineParts, Outcome, RunOptions};
use crate::machine::{Record, RunView, StepState};
use crate::phases::registry::Phases;
use crate::store::{RunRecord, Store};

/// What `execute` does with the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
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

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The engine's outcome.
    Engine(Outcome),
    /// A signal stopped it; the run is journaled as paused and the cluster lock released.
    Interrupted {
        /// Which signal (`SIGINT`, `SIGTERM`, `SIGHUP`).
        signal: &'static str,
    },
    /// The run was already finished: nothing was done.
    NothingToDo {
        /// Its state.
        state: String,
    },
}

/// A run after `run`, `resume` or `rollback` returned.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The run id.
    pub run: String,
    /// The target version.
    pub to: String,
    /// How it ended.
    pub end: End,
    /// The run's summary (steps, backups, nodes and apps), for people.
    pub summary: String,
}

/// Waits for the first of SIGINT, SIGTERM and SIGHUP; its name.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}

/// Everything an execution needs besides its doors.
pub(crate) struct Exec<'a> {
    /// The state database.
    pub store: &'a Store,
    /// The run.
    pub record: &'a RunRecord,
    /// The cluster and its observe door.
    pub cluster: &'a Cluster,
    /// The run's options.
    pub options: RunOptions,
    /// Events and prompts.
    pub io: &'a Io,
    /// What to do.
    pub action: Action,
    /// Take over a stale cluster lock.
    pub take_over_lock: bool,
}

/// Executes a run over the real transports, stopping cleanly on SIGINT, SIGTERM or SIGHUP.
pub(super) async fn execute(exec: Exec<'_>, transport: &Transport) -> Result<Finished, OpsError> {
    let change = AuditedChange::new(exec.store, &exec.record.id, transport, secrets());
    let (store, record) = (exec.store, exec.record);
    let res = execute_with(exec, &change, &Phases, interrupted()).await;
    transport.close().await;
    let (end, view) = res?;
    let summary = match end {
        End::Engine(_) => summary(record, &view),
        _ => String::new(),
    };
    let _ = store;
    Ok(Finished {
        run: record.id.clone(),
        to: record.plan.to.clone(),
        end,
        summary,
    })
}

/// Executes a run through the given change door and actions: takes the cluster lock, beats its
/// heart, walks the engine, and stops cleanly when `interrupt` resolves (the run is journaled as
/// paused and the lock released). Returns how it ended and the run's view.
pub(crate) async fn execute_with(
    exec: Exec<'_>,
    change: &dyn Change,
    registry: &dyn Registry,
    interrupt: impl std::future::Future<Output = &'static str>,
) -> Result<(End, RunView), OpsError> {
    let Exec {
        store,
        record,
        cluster,
        options,
        io,
        action,
        take_over_lock,
    } = exec;
    let engine = Engine::new(EngineParts {
        store,
        record,
        cluster,
        change,
        registry,
        options,
        prompter: io.prompter.clone(),
        events: io.events.as_ref(),
    })
    .map_err(|e| OpsError::Failed(e.to_string()))?;
    let cluster_lock = ClusterLock::new(&record.id, cluster.inventory.lock.stale_secs.unwrap_or(0));
    if let Err(e) = cluster_lock.acquire(change, cluster, take_over_lock).await {
        return Err(match e {
            ClusterLockError::Held(_) | ClusterLockError::Stale { .. } => {
                OpsError::Locked(e.to_string())
            }
            ClusterLockError::Remote { .. } => OpsError::Failed(e.to_string()),
        });
    }
    let heartbeat = async {
        loop {
            tokio::time::sleep(cluster_lock.heartbeat_interval()).await;
            if let Err(e) = cluster_lock.heartbeat(change, cluster).await {
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
                } else if restore_zookeeper {
                    // The last resort may downgrade masters past a door (ZooKeeper comes back).
                    engine.rollback_for_restore().await?
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
        signal = interrupt => {
            let _ = cluster_lock.release(change, cluster).await;
            let _ = store.append(&record.id, &Record::RunPaused { reason: format!("interrupted ({signal})") });
            let view = store
                .journal(&record.id)
                .ok()
                .and_then(|j| RunView::replay(&record.plan, &j).ok())
                .unwrap_or_else(|| engine.view());
            let _ = store.write_snapshot(&record.id, &view);
            return Ok((End::Interrupted { signal }, view));
        }
    };
    if let Err(e) = cluster_lock.release(change, cluster).await {
        tracing::warn!("{e}");
    }
    let outcome = result.map_err(|e| {
        OpsError::Failed(format!(
            "{e}\nthe state is kept as it was; `dcos-upgrade status` shows it"
        ))
    })?;
    let view = engine.view();
    let _ = store.write_snapshot(&record.id, &view);
    Ok((End::Engine(outcome), view))
}

/// The run's summary for people: steps, backups, undone steps, nodes and apps.
pub fn summary(record: &RunRecord, view: &RunView) -> String {
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
        if let Some(b) = v.and_then(|v| {
            crate::phases::outputs::read::<crate::phases::outputs::BackupOutput>(&v.output)
        }) {
            s.push_str(&format!(
                "             ZooKeeper backup: {} (sha256 {})\n",
                b.archive.display(),
                b.sha256
            ));
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
    for t in crate::engine::target_states(&record.plan, view) {
        s.push_str(&format!("  {:<24} {}\n", t.target, t.state));
    }
    s
}
