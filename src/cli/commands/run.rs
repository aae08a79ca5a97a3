//! `run`, `resume` and `rollback`: record a new run or reopen a saved one, then execute it.

use super::execute::{execute, Action};
use super::plan::{make_plan, plan_options};
use super::{
    bad_input, connect, load_inputs, lock, prompter, render_plan, sink, store_error, CliResult,
};
use crate::cli::args::{ResumeArgs, RunArgs};
use crate::cli::exit;
use crate::cli::CliError;
use crate::cluster::Cluster;
use crate::engine::RunOptions;
use crate::machine::RunView;
use crate::model::Role;
use crate::plan::Plan;
use crate::playbook::{Inventory, NodeSpec, Playbook, SourceFile};
use crate::probe::facts;
use crate::store::{LockInfo, RunRecord, Store};
use std::path::Path;

fn new_run_id() -> String {
    let r: u16 = rand::random();
    format!("{}-{r:04x}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"))
}

/// Runs `run`: a new run.
pub(super) async fn exec(a: RunArgs, json: bool, dir: &Path) -> CliResult<i32> {
    let run_id = new_run_id();
    // Bad input is refused before the state directory is touched (not even its lock file).
    let (inventory, _, _) = load_inputs(&a.plan.inputs)?;
    plan_options(&inventory, &a.plan)?;
    let mut lk = lock(dir, &run_id, "run")?;
    let store = Store::open(dir).map_err(store_error)?;
    let (cluster, plan, pb_text) = make_plan(&a.plan).await?;
    let (events, human) = sink(json);
    if let Some(h) = &human {
        h.line(&render_plan(&plan));
    }
    let options = RunOptions {
        yes: a.yes,
        on_failure: a.on_failure,
        skip_backup: a.skip_backup,
        ack_release_notes: a.ack_release_notes.clone(),
    };
    let inventory_text = std::fs::read_to_string(&a.plan.inputs.inventory).unwrap_or_default();
    let record = RunRecord {
        id: run_id.clone(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        cluster: plan.cluster.clone(),
        plan,
        inventory_path: std::fs::canonicalize(&a.plan.inputs.inventory)
            .unwrap_or(a.plan.inputs.inventory.clone()),
        inventory_text,
        playbook_text: pb_text,
        options: serde_json::to_value(&options).unwrap_or_default(),
    };
    store.create_run(&record).map_err(store_error)?;
    let _ = lk.update(&LockInfo {
        run: run_id.clone(),
        pid: std::process::id(),
        command: "run".into(),
        since: record.created_at.clone(),
    });
    if a.skip_backup {
        let _ = store.append_audit(
            &run_id,
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
    let prompter = prompter(a.yes, human.clone(), &record.cluster);
    execute(
        &store,
        &record,
        &cluster,
        options,
        prompter,
        events.as_ref(),
        Action::Run,
        a.take_over_lock,
    )
    .await
}

/// Runs `resume`, or `rollback` when `rollback` is set.
pub(super) async fn resume(
    a: ResumeArgs,
    json: bool,
    dir: &Path,
    rollback: bool,
) -> CliResult<i32> {
    let command = if rollback { "rollback" } else { "resume" };
    let _lk = lock(dir, a.run.as_deref().unwrap_or("?"), command)?;
    let store = Store::open(dir).map_err(store_error)?;
    let id = match &a.run {
        Some(r) => r.clone(),
        None => store.latest_run().map_err(store_error)?,
    };
    let record = store.run(&id).map_err(store_error)?;
    let view = RunView::replay(&record.plan, &store.journal(&id).map_err(store_error)?)
        .map_err(|e| CliError::new(exit::FAILED, format!("run {id}: {e}")))?;
    let rollback_after_done = rollback
        && (view.state == crate::machine::RunState::Done
            || (a.restore_zookeeper && view.state == crate::machine::RunState::RolledBack));
    if !view.state.is_unfinished() && !rollback_after_done {
        let msg = format!("run {id} is {}; nothing to {command}", view.state.as_str());
        eprintln!("{msg}");
        return Ok(exit::OK);
    }
    let src = SourceFile::from_text(
        &record.inventory_path.to_string_lossy(),
        &record.inventory_text,
    );
    let inventory = Inventory::parse(&src).map_err(bad_input)?;
    let playbook = match &record.playbook_text {
        Some(t) => Playbook::parse(&SourceFile::from_text("<playbook saved with the run>", t))
            .map_err(bad_input)?,
        None => Playbook::builtin(),
    };
    let mut cluster = connect(inventory, playbook, false)?;
    if facts::resolve_agents(&mut cluster).await.is_err() {
        cluster.agents = cluster.inventory.agents.clone().unwrap_or_default();
    }
    add_planned_agents(&mut cluster, &record.plan);
    let mut options: RunOptions =
        serde_json::from_value(record.options.clone()).unwrap_or_default();
    options.yes = a.yes;
    if a.ack_release_notes.is_some() {
        options.ack_release_notes = a.ack_release_notes.clone();
    }
    let (events, human) = sink(json);
    let prompter = prompter(a.yes, human.clone(), &record.cluster);
    if rollback && !a.yes && prompter.is_none() {
        return Err(CliError::new(
            exit::GATE,
            format!("rollback of run {id} changes every upgraded node: run `dcos-upgrade rollback --run {id} --yes` to confirm"),
        ));
    }
    if rollback {
        if let Some(p) = &prompter {
            if !p.confirm(&format!(
                "Roll back run {id} on cluster {}?",
                record.cluster
            )) {
                return Ok(exit::GATE);
            }
        }
    }
    execute(
        &store,
        &record,
        &cluster,
        options,
        prompter,
        events.as_ref(),
        if rollback {
            Action::Rollback {
                restore_zookeeper: a.restore_zookeeper,
            }
        } else {
            Action::Resume
        },
        a.take_over_lock,
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
