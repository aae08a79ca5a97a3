//! Executing a run: the change door, the cluster lock and its heartbeat, interruption by
//! SIGINT, SIGTERM or SIGHUP, and the engine's outcome with the run's summary.

use super::cluster_lock::{ClusterLock, ClusterLockError};
use super::handoff::Handoff;
use super::runlog::{summarize, Recording, RunLog, TimedPrompter};
use super::{secrets, Io, OpsError};
use crate::action::Registry;
use crate::cluster::Cluster;
use crate::door::{AuditedChange, Change, Transport};
use crate::engine::Prompter;
use crate::engine::{Engine, EngineParts, Outcome, RunOptions};
use crate::events::RunSummary;
use crate::machine::{Record, RunView};
use crate::phases::registry::Phases;
use crate::store::{RunRecord, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

mod summary;

pub use summary::summary;

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
        /// It was rolling back: `rollback` continues it (with the same approval as starting
        /// one), not `resume`.
        rolling_back: bool,
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
    /// Every gate was approved (`--yes`): the suggested `resume` carries it too.
    pub yes: bool,
    /// Where the time went (None when nothing was executed).
    pub timing: Option<RunSummary>,
    /// The run's event files, for the closing event.
    pub log: Option<RunLog>,
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
    /// A new run: recorded in the store only once the cluster lock is held.
    pub create: bool,
    /// How suggested commands are written.
    pub handoff: &'a Handoff,
    /// The run's journal as the caller replayed it, and how many records (see
    /// [`EngineParts::replayed`]).
    pub replayed: Option<(crate::machine::Replay, u64)>,
}

/// Executes a run over the real transports, stopping cleanly on SIGINT, SIGTERM or SIGHUP.
pub(super) async fn execute(exec: Exec<'_>, transport: &Transport) -> Result<Finished, OpsError> {
    let change = AuditedChange::new(exec.store, &exec.record.id, transport, secrets());
    let (store, record, yes) = (exec.store, exec.record, exec.options.yes);
    let res = execute_timed(exec, &change, &Phases, interrupted(), true).await;
    transport.close().await;
    let (end, view, timing, log) = res?;
    let summary = match end {
        End::Engine(_) => summary(record, &view),
        _ => String::new(),
    };
    let _ = store;
    Ok(Finished {
        run: record.id.clone(),
        to: record.plan.to.to_string(),
        end,
        summary,
        yes,
        timing: Some(timing),
        log: Some(log),
    })
}

/// Executes a run through the given change door and actions: takes the cluster lock, beats its
/// heart, walks the engine, and stops cleanly when `interrupt` resolves (the run is journaled as
/// paused and the lock released). Returns how it ended and the run's view.
#[cfg(test)]
pub(crate) async fn execute_with(
    exec: Exec<'_>,
    change: &dyn Change,
    registry: &dyn Registry,
    interrupt: impl std::future::Future<Output = &'static str>,
) -> Result<(End, RunView), OpsError> {
    let (end, view, _, _) = execute_timed(exec, change, registry, interrupt, false).await?;
    Ok((end, view))
}

/// As `execute_with`, also returning where the time went and the run's event files; with
/// `mirror`, the journal is copied to every master at each step boundary and gate.
async fn execute_timed(
    exec: Exec<'_>,
    change: &dyn Change,
    registry: &dyn Registry,
    interrupt: impl std::future::Future<Output = &'static str>,
    mirror: bool,
) -> Result<(End, RunView, RunSummary, RunLog), OpsError> {
    let started = Instant::now();
    let Exec {
        store,
        record,
        cluster,
        options,
        io,
        action,
        take_over_lock,
        create,
        handoff,
        replayed,
    } = exec;
    let holder =
        crate::store::holder_id(store.dir()).map_err(|e| OpsError::Failed(e.to_string()))?;
    let cluster_lock = ClusterLock::new(
        &record.id,
        &holder,
        cluster.inventory.lock.stale_secs.unwrap_or(0),
    );
    if let Err(e) = cluster_lock.acquire(change, cluster, take_over_lock).await {
        return Err(match e {
            ClusterLockError::Held(_)
            | ClusterLockError::Stale { .. }
            | ClusterLockError::Abandoned { .. } => OpsError::Locked(e.to_string()),
            ClusterLockError::Remote { .. } => OpsError::Failed(e.to_string()),
        });
    }
    tracing::debug!(run = %record.id, "cluster lock held");
    if create {
        tracing::debug!(run = %record.id, "recording the run");
        if let Err(e) = record_new_run(store, record, &options) {
            let _ = cluster_lock.release(change, cluster).await;
            return Err(e);
        }
    }
    let log = RunLog::open(store.dir(), &record.id);
    let recording = Recording {
        inner: io.events.as_ref(),
        log: log.clone(),
        seen: Mutex::new(Vec::new()),
    };
    let waited = Arc::new(AtomicU64::new(0));
    let prompter = io.prompter.clone().map(|p| {
        Arc::new(TimedPrompter {
            inner: p,
            waited_ms: waited.clone(),
        }) as Arc<dyn Prompter>
    });
    let timing = || {
        let mut t = summarize(
            &recording.seen.lock().expect("seen"),
            started.elapsed().as_millis() as u64,
            waited.load(Ordering::Relaxed),
        );
        // Node names next to their addresses.
        for n in &mut t.nodes {
            if let Some(name) = record
                .plan
                .steps()
                .find(|(_, st)| st.node.as_deref() == Some(n.name.as_str()))
                .and_then(|(_, st)| st.name.clone())
                .filter(|name| *name != n.name)
            {
                n.name = format!("{name} ({})", n.name);
            }
        }
        t
    };
    let copy = super::mirror::Mirror::new(store, record, cluster, change, &recording);
    let engine = match Engine::new(EngineParts {
        store,
        record,
        cluster,
        change,
        registry,
        options,
        prompter,
        events: &recording,
        replayed,
    }) {
        Ok(e) if mirror => e.with_mirror(&copy),
        Ok(e) => e,
        Err(e) => {
            let _ = cluster_lock.release(change, cluster).await;
            return Err(OpsError::Failed(e.to_string()));
        }
    };
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
            let rolling_back = matches!(action, Action::Rollback { .. })
                || engine.view().state == crate::machine::RunState::RollingBack;
            let _ = cluster_lock.release(change, cluster).await;
            let _ = store.append(&record.id, &Record::RunPaused { reason: format!("interrupted ({signal})") });
            let view = store
                .journal(&record.id)
                .ok()
                .and_then(|j| RunView::replay(&record.plan, &j).ok())
                .unwrap_or_else(|| engine.view());
            let _ = store.write_snapshot(&record.id, &view);
            tracing::info!(run = %record.id, signal, "interrupted: paused and the cluster lock released");
            return Ok((End::Interrupted { signal, rolling_back }, view, timing(), log));
        }
    };
    // A state directory that vanished under the run: stop at once, and leave the cluster lock
    // (run id, owner, state directory, heartbeat) on the masters for a take-over from another
    // machine; nothing else is sent.
    if let Err(crate::engine::EngineError::Store(e @ crate::store::StoreError::Vanished { .. })) =
        &result
    {
        return Err(OpsError::Failed(format!(
            "{e}\nthe run stopped at once. The cluster lock of run {} is left on the masters; from a machine with the run's state, `dcos-upgrade resume --run {} --take-over-lock` continues it",
            record.id, record.id
        )));
    }
    if let Err(e) = cluster_lock.release(change, cluster).await {
        tracing::warn!("{e}");
    }
    let outcome = result.map_err(|e| {
        OpsError::Failed(format!(
            "{e}\nthe state is kept as it was; `{}` shows it",
            handoff.status(&record.id)
        ))
    })?;
    let view = engine.view();
    let _ = store.write_snapshot(&record.id, &view);
    let t = timing();
    drop(engine);
    Ok((End::Engine(outcome), view, t, log))
}

/// Records a new run (its cluster lock is held), and a `--skip-backup` decision in its audit.
fn record_new_run(store: &Store, record: &RunRecord, options: &RunOptions) -> Result<(), OpsError> {
    store.create_run(record)?;
    if options.skip_backup {
        let _ = store.append_audit(
            &record.id,
            &crate::store::AuditEntry {
                at: record.created_at.clone(),
                step: "backup/zookeeper".into(),
                node: "-".into(),
                description: "--skip-backup given: the ZooKeeper backup will not be taken".into(),
                command: String::new(),
                exit_status: None,
                duration_ms: 0,
                output_tail: String::new(),
                phase: "decision".into(),
            },
        );
    }
    Ok(())
}
