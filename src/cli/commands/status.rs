//! `status`: a run's state, steps and targets, read from the store or, while a run holds it,
//! from the run's snapshot.

use super::{store_error, CliResult};
use crate::cli::args::RunSelect;
use crate::cli::exit;
use crate::cli::CliError;
use crate::machine::RunView;
use crate::store::{read_snapshot, LockInfo, Store, StoreError};
use std::path::Path;

pub(super) fn open_for_reading(dir: &Path) -> Result<Option<Store>, CliError> {
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::new(
            exit::FAILED,
            format!(
                "state directory {}: exists and is not a directory",
                dir.display()
            ),
        ));
    }
    if !dir.join("state.sled").exists() {
        return Err(CliError::new(
            exit::BAD_INPUT,
            format!(
                "no state in {}: no run has been started here",
                dir.display()
            ),
        ));
    }
    match Store::open(dir) {
        Ok(s) => Ok(Some(s)),
        Err(StoreError::Locked { .. }) => Ok(None),
        Err(e) => Err(store_error(e)),
    }
}

/// Runs `status`.
pub(super) fn exec(a: RunSelect, json: bool, dir: &Path) -> CliResult<i32> {
    let (id, view, targets) = match open_for_reading(dir)? {
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
            (id, view, targets)
        }
        None => {
            // A run holds the database: read its snapshot.
            let lock_text = std::fs::read_to_string(dir.join("lock")).unwrap_or_default();
            let holder: Option<LockInfo> = serde_json::from_str(&lock_text).ok();
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
            (id, view, Vec::new())
        }
    };
    if json {
        let v = serde_json::json!({
            "run": id,
            "state": view.state.as_str(),
            "phase": view.phase,
            "pause_reason": view.pause_reason,
            "rollback": view.rollback,
            "doors_crossed": view.doors_crossed,
            "steps": view.steps,
            "targets": targets,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!("run {id}: {} (phase {})", view.state.as_str(), view.phase);
        if let Some(r) = &view.pause_reason {
            println!("  paused: {r}");
        }
        for d in &view.doors_crossed {
            println!(
                "  point of no return crossed: {} after {} ({})",
                d.door, d.after, d.observation
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
