//! `run`, `resume` and `rollback`: take the local lock, record a new run or reopen a saved one,
//! then execute it.

use super::execute::{execute, Action, End, Exec, Finished};
use super::handoff::Handoff;
use super::observe::{plan, plan_options, PlanRequest};
use super::{connect, load, Io, OpsError};
use crate::cluster::Cluster;
use crate::engine::RunOptions;
use crate::machine::{RunState, RunView};
use crate::model::Role;
use crate::plan::Plan;
use crate::playbook::{Inventory, NodeSpec, Playbook, SourceFile};
use crate::probe::facts;
use crate::store::{LockError, LockInfo, RunRecord, StateLock, Store};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// What `run` asks for.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The plan to make and execute.
    pub plan: PlanRequest,
    /// The run's options (persisted with it).
    pub options: RunOptions,
    /// Take over a stale cluster lock.
    pub take_over_lock: bool,
    /// How suggested commands are written.
    pub handoff: Handoff,
}

/// What `resume` and `rollback` ask for.
#[derive(Debug, Clone, Default)]
pub struct ResumeRequest {
    /// The run (default: the latest).
    pub run: Option<String>,
    /// Approve every gate.
    pub yes: bool,
    /// Take over a stale cluster lock.
    pub take_over_lock: bool,
    /// Acknowledge the release notes of this version.
    pub ack_release_notes: Option<String>,
    /// rollback only: restore the ZooKeeper backup afterwards.
    pub restore_zookeeper: bool,
    /// Trust host keys seen for the first time.
    pub trust_new_host_keys: bool,
    /// How suggested commands are written.
    pub handoff: Handoff,
}

/// The flags a suggested `rollback` of this request carries (`--yes` when `yes`).
fn rollback_flags(r: &ResumeRequest, yes: bool) -> Vec<&'static str> {
    let mut v = Vec::new();
    if yes {
        v.push("--yes");
    }
    if r.restore_zookeeper {
        v.push("--restore-zookeeper");
    }
    if r.trust_new_host_keys {
        v.push("--trust-new-host-keys");
    }
    v
}

pub(super) fn new_run_id() -> String {
    let r: u16 = rand::random();
    format!("{}-{r:04x}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"))
}

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Takes the state directory's lock (created private if missing).
pub(super) fn lock(dir: &Path, run: &str, command: &str) -> Result<StateLock, OpsError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| OpsError::Failed(format!("state directory {}: {e}", dir.display())))?;
    StateLock::acquire(
        dir,
        &LockInfo {
            run: run.to_string(),
            pid: std::process::id(),
            command: command.to_string(),
            since: now(),
        },
    )
    .map_err(|e| match e {
        LockError::Held(_) | LockError::HeldUnknown(_) => OpsError::Locked(e.to_string()),
        LockError::Io { .. } => OpsError::Failed(e.to_string()),
    })
}

/// `run`: a new run. `on_plan` is shown the plan before anything changes. The run is recorded
/// only once the local lock is held, the version path passed, no other unfinished run of the
/// same cluster is in this state directory, and the cluster lock is held (`execute`).
pub async fn run(
    r: &RunRequest,
    dir: &Path,
    io: &Io,
    on_plan: &dyn Fn(&Plan),
) -> Result<Finished, OpsError> {
    let run_id = new_run_id();
    // Bad input is refused before the state directory is touched (not even its lock file).
    let inputs = load(&r.plan.inputs)?;
    plan_options(&inputs.inventory, &r.plan)?;
    let _lk = lock(dir, &run_id, "run")?;
    let store = Store::open(dir)?;
    refuse_unfinished(&store, &inputs.inventory.cluster_name, &r.handoff)?;
    let planned = plan(&r.plan).await?;
    on_plan(&planned.plan);
    let inventory_text = std::fs::read_to_string(&r.plan.inputs.inventory).unwrap_or_default();
    let record = RunRecord {
        id: run_id.clone(),
        created_at: now(),
        cluster: planned.plan.cluster.clone(),
        plan: planned.plan,
        inventory_path: std::fs::canonicalize(&r.plan.inputs.inventory)
            .unwrap_or(r.plan.inputs.inventory.clone()),
        inventory_text,
        playbook_text: planned.playbook_text,
        options: serde_json::to_value(&r.options).unwrap_or_default(),
    };
    execute(
        Exec {
            store: &store,
            record: &record,
            cluster: &planned.cluster,
            options: r.options.clone(),
            io,
            action: Action::Run,
            take_over_lock: r.take_over_lock,
            create: true,
            handoff: &r.handoff,
            replayed: None,
        },
        &planned.transport,
    )
    .await
}

/// Refuses a new run while another run of the same cluster is unfinished, naming it and the
/// two ways on.
pub(super) fn refuse_unfinished(store: &Store, cluster: &str, h: &Handoff) -> Result<(), OpsError> {
    for rec in store.runs()? {
        if rec.cluster != cluster {
            continue;
        }
        let Ok(view) = RunView::replay(&rec.plan, &store.journal(&rec.id)?) else {
            continue;
        };
        if view.state.is_unfinished() {
            return Err(OpsError::Locked(format!(
                "run {} of cluster {cluster} ({} -> {}) is unfinished ({}); a new run would not know what it left behind\nhelp: continue it with `{}`, or undo it with `{}`",
                rec.id,
                rec.plan.from.as_ref().map_or("?", |f| f.as_str()),
                rec.plan.to,
                view.state.as_str(),
                h.resume(&rec.id, &[]),
                h.rollback(&rec.id, &[]),
            )));
        }
    }
    Ok(())
}

/// Refuses to go on when `dir` holds no state database (nothing is created there).
pub fn require_state(dir: &Path, command: &str) -> Result<(), OpsError> {
    if dir.exists() && !dir.is_dir() {
        return Err(OpsError::Failed(format!(
            "state directory {}: exists and is not a directory",
            dir.display()
        )));
    }
    if !dir.join("state.sled").exists() {
        return Err(OpsError::BadInput(format!(
            "no state in {}: no run has been started there, so `{command}` has nothing to read (nothing was created)\nhelp: pass the directory the run used with --state-dir DIR (or DCOS_UPGRADE_STATE_DIR)",
            dir.display()
        )));
    }
    Ok(())
}

/// `resume`, or `rollback` when `rollback` is set: reopens a saved run and executes it.
pub async fn resume(
    r: &ResumeRequest,
    dir: &Path,
    io: &Io,
    rollback: bool,
) -> Result<Finished, OpsError> {
    let command = if rollback { "rollback" } else { "resume" };
    require_state(dir, command)?;
    let _lk = lock(dir, r.run.as_deref().unwrap_or("?"), command)?;
    let store = Store::open(dir)?;
    let id = match &r.run {
        Some(x) => x.clone(),
        None => store.latest_run()?,
    };
    let record = store.run(&id)?;
    // Replayed once: the engine takes this view rather than reading the journal again.
    let journal = store.journal(&id)?;
    let replay = crate::machine::Replay::of(&record.plan, &journal)
        .map_err(|e| OpsError::Failed(format!("run {id}: {e}")))?;
    let (state, in_rollback) = (replay.view().state, replay.view().rollback);
    let replayed = Some((replay, journal.len() as u64));
    drop(journal);
    let rollback_after_done = rollback
        && (state == RunState::Done || (r.restore_zookeeper && state == RunState::RolledBack));
    if !state.is_unfinished() && !rollback_after_done {
        return Ok(Finished {
            run: id,
            to: record.plan.to.to_string(),
            end: End::NothingToDo {
                state: state.as_str().to_string(),
            },
            summary: String::new(),
            yes: r.yes,
            timing: None,
            log: None,
        });
    }
    let src = SourceFile::from_text(
        &record.inventory_path.to_string_lossy(),
        &record.inventory_text,
    );
    let inventory = Inventory::parse(&src).map_err(OpsError::bad_input)?;
    let playbook = match &record.playbook_text {
        Some(t) => Playbook::parse(&SourceFile::from_text("<playbook saved with the run>", t))
            .map_err(OpsError::bad_input)?,
        None => Playbook::builtin(),
    };
    if let Some(p) = &io.prompter {
        p.cluster(&record.cluster);
    }
    let (mut cluster, transport) = connect(inventory, playbook, r.trust_new_host_keys)?;
    if facts::resolve_agents(&mut cluster).await.is_err() {
        cluster.agents = cluster.inventory.agents.clone().unwrap_or_default();
    }
    add_planned_agents(&mut cluster, &record.plan);
    // An agent the plan excluded (`--exclude`) and discovery found again stays left out.
    let excluded = &record.plan.excluded;
    cluster
        .agents
        .retain(|a| !crate::plan::is_excluded(excluded, &a.address, &a.name));
    let mut options: RunOptions =
        serde_json::from_value(record.options.clone()).unwrap_or_default();
    options.yes = r.yes;
    if r.ack_release_notes.is_some() {
        options.ack_release_notes = r.ack_release_notes.clone();
    }
    // Continuing an interrupted rollback (with `resume` too) needs the same approval.
    if (rollback || in_rollback) && !r.yes {
        let confirmed = match &io.prompter {
            None => {
                transport.close().await;
                let what = if rollback {
                    "rollback"
                } else {
                    "the interrupted rollback"
                };
                return Err(OpsError::NeedsApproval(format!(
                    "{what} of run {id} changes every upgraded node: run `{}` to confirm",
                    r.handoff.rollback(&id, &rollback_flags(r, true))
                )));
            }
            Some(p) => p.confirm(&format!(
                "Roll back run {id} on cluster {}?",
                record.cluster
            )),
        };
        if !confirmed {
            transport.close().await;
            return Err(OpsError::NeedsApproval(format!(
                "rollback of run {id} not confirmed; nothing was changed"
            )));
        }
    }
    let action = if rollback {
        Action::Rollback {
            restore_zookeeper: r.restore_zookeeper,
        }
    } else {
        Action::Resume
    };
    execute(
        Exec {
            store: &store,
            record: &record,
            cluster: &cluster,
            options,
            io,
            action,
            take_over_lock: r.take_over_lock,
            create: false,
            handoff: &r.handoff,
            replayed,
        },
        &transport,
    )
    .await
}

/// Agents named in the plan but not discovered now (e.g. down) still need their step.
fn add_planned_agents(cluster: &mut Cluster, plan: &Plan) {
    for (_, s) in plan.steps() {
        let (Some(addr), Some(role)) = (&s.node, s.role) else {
            continue;
        };
        if role != Role::Master && cluster.node(addr).is_none() {
            cluster.agents.push(NodeSpec {
                address: addr.clone(),
                name: s.name.clone().unwrap_or_else(|| addr.clone()),
                ssh_port: cluster.inventory.ssh.port,
                root: String::new(),
                role,
                public_listed: true,
            });
        }
    }
}
