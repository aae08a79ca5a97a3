//! `status`: a run's state, times, steps and targets, read from the store or, while a run
//! holds it, from the run's snapshot; the exit code says where it stands.

use super::{store_error, CliResult, Ctx};
use crate::cli::args::RunSelect;
use crate::cli::exit;
use crate::cli::CliError;
use crate::machine::RunView;
use crate::store::{read_snapshot, RunRecord};
use std::path::Path;

mod reading;
mod standing;

use reading::live_holder;
pub(super) use reading::{holder, open_for_reading};
use standing::Standing;

/// What `status --output json` prints (one object; schemas/status.schema.json).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct StatusJson {
    /// The version of this object's shape.
    pub schema_version: u32,
    /// Run id.
    pub run: String,
    /// `running`, `paused`, `failed`, `done` or `rolled_back` (DESIGN.md).
    pub state: String,
    /// In words, with who holds it: `running (pid N)`, `interrupted (no process holds it)`,
    /// `waiting at a gate`, `paused`, `failed`, `done`, `rolled back`.
    pub standing: String,
    /// The pid of the process running it now (0 when unknown), if one is.
    pub pid: Option<u32>,
    /// Cluster name (absent while a run holds the database).
    pub cluster: Option<String>,
    /// Version before the run.
    pub from: Option<String>,
    /// Target version.
    pub to: Option<String>,
    /// When the run was created (RFC 3339).
    pub started: Option<String>,
    /// When its status last changed (RFC 3339).
    pub updated: Option<String>,
    /// The current phase.
    pub phase: String,
    /// Why it paused.
    pub pause_reason: Option<String>,
    /// A rollback is in progress.
    pub rollback: bool,
    /// Points of no return seen crossed: `door`, `observation`, `after`.
    pub doors_crossed: Vec<serde_json::Value>,
    /// The ZooKeeper restore, when one was started: `archive`, `state` (in_progress, failed,
    /// done), `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<serde_json::Value>,
    /// The command to run next, complete.
    pub next: Option<String>,
    /// Steps: `id`, `state` (pending, running, done, failed, skipped, undone), `message`.
    pub steps: Vec<serde_json::Value>,
    /// Nodes and apps: `target`, `step`, `state`.
    pub targets: Vec<serde_json::Value>,
}

/// Runs `status --from-cluster --inventory FILE`: the run as the masters' copies of its
/// journal have it, rebuilt in a throwaway directory and shown as `status` shows it; changes
/// nothing (neither the cluster nor the state directory).
pub(super) async fn from_cluster(a: RunSelect, ctx: &Ctx) -> CliResult<i32> {
    let inv = a.inventory.clone().unwrap_or_default();
    let run = crate::ops::from_cluster::read(&inv, a.playbook.as_deref(), a.run.as_deref(), false)
        .await?;
    for w in &run.warnings {
        eprintln!("note: {w}");
    }
    let tmp = tempfile::tempdir()
        .map_err(|e| CliError::new(exit::FAILED, format!("a temporary directory: {e}")))?;
    crate::ops::from_cluster::rebuild(tmp.path(), &run)?;
    let shown = Ctx {
        dir: tmp.path().to_path_buf(),
        json: ctx.json,
        handoff: ctx.handoff.clone(),
    };
    let select = RunSelect {
        run: Some(run.record.id.clone()),
        from_cluster: false,
        inventory: None,
        playbook: None,
    };
    exec(select, &shown)
}

/// Runs `status`.
pub(super) fn exec(a: RunSelect, ctx: &Ctx) -> CliResult<i32> {
    let dir = &ctx.dir;
    let (id, view, targets, record, live) = match open_for_reading(dir, "status")? {
        Some(store) => {
            let id = match &a.run {
                Some(r) => r.clone(),
                None => store.latest_run().map_err(store_error)?,
            };
            let record = store.run(&id).map_err(store_error)?;
            let journal = store.journal(&id).map_err(store_error)?;
            let view = RunView::replay(&record.plan, &journal)
                .map_err(|e| CliError::new(exit::FAILED, e.to_string()))?;
            let targets = crate::engine::rollback::target_states(&record.plan, &view);
            let live = if store.is_view() {
                live_holder(dir, &id)
            } else {
                None
            };
            (id, view, targets, Some(record), live)
        }
        None => {
            // A run holds the database: read its snapshot.
            let holder = holder(dir);
            let id = a
                .run
                .clone()
                .or(holder.as_ref().map(|h| h.run.clone()))
                .ok_or_else(|| {
                    CliError::new(
                        exit::LOCKED,
                        "a run holds the state database; pass --run ID",
                    )
                })?;
            let view = read_snapshot(dir, &id).ok_or_else(|| {
                CliError::new(
                    exit::LOCKED,
                    format!("run {id} is in progress and has no status snapshot yet"),
                )
            })?;
            let pid = holder.filter(|h| h.run == id).map(|h| h.pid).unwrap_or(0);
            (id, view, Vec::new(), None, Some(pid))
        }
    };
    let standing = Standing::of(&view, live);
    let updated = snapshot_time(dir, &id);
    let next = standing.next(&ctx.handoff, &id, view.rollback);
    if ctx.json {
        let v = StatusJson {
            schema_version: crate::cli::SCHEMA_VERSION,
            run: id.clone(),
            state: view.state.as_str().to_string(),
            standing: standing.words(),
            pid: live,
            cluster: record.as_ref().map(|r| r.cluster.clone()),
            from: (record.as_ref()).and_then(|r| r.plan.from.as_ref().map(ToString::to_string)),
            to: record.as_ref().map(|r| r.plan.to.to_string()),
            started: record.as_ref().map(|r| r.created_at.clone()),
            updated: updated.clone(),
            phase: view.phase.as_str().to_string(),
            pause_reason: view.pause_reason.clone(),
            rollback: view.rollback,
            doors_crossed: view
                .doors_crossed
                .iter()
                .map(|d| serde_json::to_value(d).unwrap_or_default())
                .collect(),
            restore: view
                .restore
                .as_ref()
                .and_then(|r| serde_json::to_value(r).ok()),
            next: next.clone(),
            steps: view
                .steps
                .iter()
                .map(|s| serde_json::to_value(s).unwrap_or_default())
                .collect(),
            targets: targets
                .iter()
                .map(|t| serde_json::to_value(t).unwrap_or_default())
                .collect(),
        };
        let v = serde_json::to_value(&v).unwrap_or_default();
        super::print_line(&serde_json::to_string(&v).unwrap_or_default());
    } else {
        let mut s = format!("run {id}: {} (phase {})\n", standing.words(), view.phase);
        if let Some(r) = &record {
            s.push_str(&cluster_line(r));
        }
        if let Some(u) = &updated {
            s.push_str(&format!("  last change {u}\n"));
        }
        if let Some(r) = view.restore.as_ref().filter(|r| r.unfinished()) {
            s.push_str(&format!(
                "  ZooKeeper restore from {} is {} ({}): Exhibitor may be stopped on the masters; rollback finishes it\n",
                r.archive,
                r.state,
                r.error.as_deref().unwrap_or("interrupted")
            ));
        }
        if let Some(r) = &view.pause_reason {
            s.push_str(&format!("  paused: {r}\n"));
        }
        for d in &view.doors_crossed {
            s.push_str(&format!(
                "  point of no return crossed: {} after {} ({})\n",
                d.door, d.after, d.observation
            ));
        }
        for st in &view.steps {
            let state = serde_json::to_value(st.state)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            s.push_str(&format!("  {state:<12} {}", st.id));
            if let Some(m) = &st.message {
                s.push_str(&format!("  ({m})"));
            }
            s.push('\n');
        }
        let outputs: Vec<&serde_json::Value> = view.steps.iter().map(|st| &st.output).collect();
        let backups = crate::phases::outputs::backup_files(&outputs);
        if !backups.is_empty() {
            s.push_str("backups:\n");
            for b in &backups {
                s.push_str(&format!("  {:<14} {b}\n", b.kind));
            }
        }
        if !targets.is_empty() {
            s.push_str("nodes and apps:\n");
            for t in &targets {
                s.push_str(&format!("  {:<24} {}\n", t.target, t.state));
            }
        }
        if let Some(n) = &next {
            s.push_str(&format!("next: {n}\n"));
        }
        super::print_line(s.trim_end());
    }
    Ok(standing.code())
}

fn cluster_line(r: &RunRecord) -> String {
    format!(
        "  cluster {}: {} -> {}, started {}\n",
        r.cluster,
        r.plan.from.as_ref().map_or("?", |f| f.as_str()),
        r.plan.to,
        r.created_at
    )
}

/// When the run's status snapshot was last written (RFC 3339 UTC), if it was.
fn snapshot_time(dir: &Path, id: &str) -> Option<String> {
    let m = std::fs::metadata(dir.join("runs").join(id).join("status.json")).ok()?;
    let t: chrono::DateTime<chrono::Utc> = m.modified().ok()?.into();
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}
