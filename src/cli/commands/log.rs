//! `log`: a run's audit trail, one entry per command sent to a node.

use super::status::open_for_reading;
use super::{store_error, CliResult};
use crate::cli::args::RunSelect;
use crate::cli::exit;
use crate::cli::CliError;
use std::path::Path;

/// Runs `log`.
pub(super) fn exec(a: RunSelect, json: bool, dir: &Path) -> CliResult<i32> {
    let store = open_for_reading(dir)?.ok_or_else(|| {
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
    for e in store.audit(&id).map_err(store_error)? {
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
