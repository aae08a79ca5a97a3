//! `backup`: translates the arguments into an `ops` request, runs it, and renders its end.

use super::{exit_for, sink, CliResult, Ctx};
use crate::cli::args::BackupArgs;
use crate::cli::CliError;
use crate::ops::{self, BackupRequest, InputFiles, Io};

/// Runs `backup`: the backup phase alone, as a run of its own.
pub(super) async fn exec(a: BackupArgs, ctx: &Ctx) -> CliResult<i32> {
    let request = BackupRequest {
        inputs: InputFiles {
            inventory: a.inputs.inventory.clone(),
            playbook: a.inputs.playbook.clone(),
            trust_new_host_keys: a.inputs.trust_new_host_keys,
        },
        take_over_lock: a.take_over_lock,
        handoff: ctx.handoff.clone(),
    };
    let (events, _human) = sink(ctx.json);
    let io = Io {
        events: events.clone(),
        prompter: None,
    };
    let finished = ops::backup(&request, &ctx.dir, &io)
        .await
        .map_err(CliError::from)?;
    Ok(exit_for(&finished, events.as_ref(), &ctx.handoff))
}
