//! `backup`: the pre-upgrade backups outside an upgrade (day-2 use), as a run whose plan is the
//! backup phase alone, so it is locked, journaled, audited, resumable and listed by `status`
//! like any run.

use super::execute::{execute, Action, Exec, Finished};
use super::handoff::Handoff;
use super::runs::{lock, new_run_id, now, refuse_unfinished};
use super::{connect, load, InputFiles, Io, OpsError};
use crate::engine::RunOptions;
use crate::plan::{self, PlanOptions};
use crate::probe::facts;
use crate::store::{RunRecord, Store};
use std::collections::HashMap;
use std::path::Path;

/// What `backup` asks for.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    /// Inventory and playbook.
    pub inputs: InputFiles,
    /// Take over a stale cluster lock.
    pub take_over_lock: bool,
    /// How suggested commands are written.
    pub handoff: Handoff,
}

/// `backup`: takes every backup of the backup phase now. Asking for it is the approval of the
/// phase (its gate is approved); nothing else is planned.
pub async fn backup(r: &BackupRequest, dir: &Path, io: &Io) -> Result<Finished, OpsError> {
    let run_id = new_run_id();
    let inputs = load(&r.inputs)?;
    let _lk = lock(dir, &run_id, "backup")?;
    let store = Store::open(dir)?;
    refuse_unfinished(&store, &inputs.inventory.cluster_name, &r.handoff)?;
    let cluster_name = inputs.inventory.cluster_name.clone();
    let (mut cluster, transport) = connect(
        inputs.inventory,
        inputs.playbook,
        r.inputs.trust_new_host_keys,
    )?;
    let made = async {
        facts::resolve_agents(&mut cluster)
            .await
            .map_err(OpsError::Failed)?;
        let facts = facts::gather(&cluster, false).await;
        // The installed version the most nodes report (the plan's "to": nothing moves).
        let mut count: HashMap<&str, usize> = HashMap::new();
        for n in facts.nodes() {
            if let Some(v) = &n.version {
                *count.entry(v.as_str()).or_default() += 1;
            }
        }
        let installed = count
            .into_iter()
            .max_by_key(|(v, n)| (*n, v.to_string()))
            .map(|(v, _)| v.to_string())
            .ok_or_else(|| OpsError::Failed("no node reported its DC/OS version".into()))?;
        plan::backups_only(
            &facts,
            &PlanOptions {
                cluster: cluster_name.clone(),
                to: installed,
                max_unavailable: 1,
                max_unavailable_per_zone: None,
                frameworks: Vec::new(),
            },
        )
        .map_err(|e| OpsError::Failed(e.to_string()))
    }
    .await;
    let plan = match made {
        Ok(p) => p,
        Err(e) => {
            transport.close().await;
            return Err(e);
        }
    };
    // Nothing is upgraded: the installed version's release notes are not asked for.
    let options = RunOptions {
        yes: true,
        ack_release_notes: Some(plan.to.to_string()),
        ..RunOptions::default()
    };
    let record = RunRecord {
        id: run_id.clone(),
        created_at: now(),
        cluster: plan.cluster.clone(),
        plan,
        inventory_path: std::fs::canonicalize(&r.inputs.inventory)
            .unwrap_or(r.inputs.inventory.clone()),
        inventory_text: std::fs::read_to_string(&r.inputs.inventory).unwrap_or_default(),
        playbook_text: inputs.playbook_text,
        options: serde_json::to_value(&options).unwrap_or_default(),
    };
    execute(
        Exec {
            store: &store,
            record: &record,
            cluster: &cluster,
            options: options.clone(),
            io,
            action: Action::Run,
            take_over_lock: r.take_over_lock,
            create: true,
            handoff: &r.handoff,
            replayed: None,
        },
        &transport,
    )
    .await
}
