//! `log`: a run's audit trail, one entry per command sent to a node, read from the state
//! directory's read-only view (works on a read-only or full disk and while a run is active).
//! Exit 2 when the directory holds no state, 1 when the state is unreadable.

use super::status::{open_for_reading, open_legacy, pick_run};
use super::{store_error, CliResult};
use crate::cli::args::RunSelect;
use crate::cli::exit;
use crate::cli::CliError;
use crate::store::{AuditEntry, StoreError};
use std::path::Path;

/// The audit entries of the chosen run: from the view, or from the database for state written
/// before the view existed.
fn entries(a: &RunSelect, dir: &Path) -> CliResult<Vec<AuditEntry>> {
    let reader = open_for_reading(dir)?;
    if let Some(id) = pick_run(&reader, a)? {
        match reader.run(&id) {
            Ok(_) => return reader.audit(&id).map_err(store_error),
            Err(StoreError::NotMirrored { .. }) => {}
            Err(e) => return Err(store_error(e)),
        }
    }
    let store = open_legacy(dir)?.ok_or_else(|| {
        CliError::new(
            exit::LOCKED,
            "a run holds the state database; `log` is available when it stops (`status` works now)",
        )
    })?;
    let id = match &a.run {
        Some(r) => r.clone(),
        None => store.latest_run().map_err(store_error)?,
    };
    store.run(&id).map_err(store_error)?;
    store.audit(&id).map_err(store_error)
}

/// Runs `log`.
pub(super) fn exec(a: RunSelect, json: bool, dir: &Path) -> CliResult<i32> {
    for e in entries(&a, dir)? {
        if json {
            println!("{}", serde_json::to_string(&e).unwrap_or_default());
        } else {
            let status = e
                .exit_status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into());
            println!(
                "{} {:<7} {:<16} {:<36} exit={} {}ms  {}",
                e.at, e.phase, e.node, e.step, status, e.duration_ms, e.description
            );
            println!("    $ {}", e.command);
            if !e.output_tail.is_empty() {
                for l in e
                    .output_tail
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                {
                    println!("    | {l}");
                }
            }
        }
    }
    Ok(exit::OK)
}
