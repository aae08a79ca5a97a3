//! `status`: a run's state, steps and targets, read from the state directory's read-only view
//! (nothing is written, copied or created; works on a read-only or full disk and while a run
//! is active). Exit 2 when the directory holds no state, 1 when the state is unreadable.

use super::{store_error, CliResult};
use crate::cli::args::RunSelect;
use crate::cli::exit;
use crate::cli::CliError;
use crate::machine::RunView;
use crate::store::{read_snapshot, LockInfo, StateReader, Store, StoreError};
use std::path::Path;

/// Opens the read-only view; "no state here" is bad input (the wrong `--state-dir`).
pub(super) fn open_for_reading(dir: &Path) -> Result<StateReader, CliError> {
    Store::open_read_only(dir).map_err(|e| match e {
        StoreError::NoState { .. } => CliError::new(exit::BAD_INPUT, e.to_string()),
        e => store_error(e),
    })
}

/// Opens the database itself, for state written before the read-only view existed; `None`
/// when a run holds it.
pub(super) fn open_legacy(dir: &Path) -> Result<Option<Store>, CliError> {
    match Store::open(dir) {
        Ok(s) => Ok(Some(s)),
        Err(StoreError::Locked { .. }) => Ok(None),
        Err(e) => Err(store_error(e)),
    }
}

/// The run to show: `--run`, else the latest; `None` when the view predates this version.
pub(super) fn pick_run(reader: &StateReader, a: &RunSelect) -> Result<Option<String>, CliError> {
    match &a.run {
        Some(r) => Ok(Some(r.clone())),
        None => match reader.latest_run() {
            Ok(id) => Ok(Some(id)),
            Err(StoreError::NotMirrored { .. }) => Ok(None),
            Err(e) => Err(store_error(e)),
        },
    }
}

type Shown = (String, RunView, Vec<crate::engine::rollback::TargetState>);

fn from_view(reader: &StateReader, id: &str) -> Result<Option<Shown>, CliError> {
    let record = match reader.run(id) {
        Ok(r) => r,
        Err(StoreError::NotMirrored { .. }) => return Ok(None),
        Err(e) => return Err(store_error(e)),
    };
    let journal = reader.journal(id).map_err(store_error)?;
    let view = RunView::replay(&record.plan, &journal)
        .map_err(|e| CliError::new(exit::FAILED, e.to_string()))?;
    let targets = crate::engine::rollback::target_states(&record.plan, &view);
    Ok(Some((id.to_string(), view, targets)))
}

/// State from before the read-only view: the database, or the snapshot while a run holds it.
fn from_legacy(a: &RunSelect, dir: &Path) -> Result<Shown, CliError> {
    match open_legacy(dir)? {
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
            Ok((id, view, targets))
        }
        None => {
            // A run holds the database: read its snapshot.
            let lock_text =
                crate::playbook::read_bounded(&dir.join("lock"), 64 * 1024).unwrap_or_default();
            let holder: Option<LockInfo> = serde_json::from_slice(&lock_text).ok();
            let id = a.run.clone().or(holder.map(|h| h.run)).ok_or_else(|| {
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
            Ok((id, view, Vec::new()))
        }
    }
}

/// Runs `status`.
pub(super) fn exec(a: RunSelect, json: bool, dir: &Path) -> CliResult<i32> {
    let reader = open_for_reading(dir)?;
    let shown = match pick_run(&reader, &a)? {
        Some(id) => from_view(&reader, &id)?,
        None => None,
    };
    let (id, view, targets) = match shown {
        Some(s) => s,
        None => from_legacy(&a, dir)?,
    };
    if json {
        let v = serde_json::json!({
            "run": id,
            "state": view.state.as_str(),
            "phase": view.phase,
            "pause_reason": view.pause_reason,
            "rollback": view.rollback,
            "restore": view.restore,
            "steps": view.steps,
            "targets": targets,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!("run {id}: {} (phase {})", view.state.as_str(), view.phase);
        if let Some(r) = &view.pause_reason {
            println!("  paused: {r}");
        }
        if let Some(r) = view.restore.as_ref().filter(|r| r.unfinished()) {
            println!(
                "  ZooKeeper restore from {} is {} ({}): Exhibitor may be stopped on the masters; `dcos-upgrade rollback --run {id} --yes` finishes it",
                r.archive,
                r.state,
                r.error.as_deref().unwrap_or("interrupted")
            );
        }
        for s in &view.steps {
            let state = serde_json::to_value(s.state)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            print!("  {:<12} {}", state, s.id);
            if let Some(m) = &s.message {
                print!("  ({m})");
            }
            println!();
        }
        if !targets.is_empty() {
            println!("nodes and apps:");
            for t in &targets {
                println!("  {:<24} {}", t.target, t.state);
            }
        }
    }
    Ok(exit::OK)
}
