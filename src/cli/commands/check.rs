//! `check`: observe the cluster and print the prechecks checklist; exit 1 if it blocks.

use super::CliResult;
use crate::cli::args::CheckArgs;
use crate::cli::exit;
use crate::cli::CliError;
use crate::ops::{self, InputFiles};

/// Runs `check`.
pub(super) async fn exec(a: CheckArgs, json: bool) -> CliResult<i32> {
    let report = ops::check(
        &InputFiles {
            inventory: a.inputs.inventory.clone(),
            playbook: a.inputs.playbook.clone(),
            trust_new_host_keys: a.inputs.trust_new_host_keys,
        },
        &a.exclude,
    )
    .await
    .map_err(CliError::from)?;
    if json {
        super::print_versioned(&report);
    } else {
        print!("{}", crate::secrets::for_people(&report.render()));
    }
    Ok(if report.blocked() {
        exit::FAILED
    } else {
        exit::OK
    })
}
