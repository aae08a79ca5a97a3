//! `run`, `resume` and `rollback`: translate the arguments into an `ops` request, run it, and
//! render what it returns.

use super::{exit_for, prompter, render_plan, sink, CliResult};
use crate::cli::args::{ResumeArgs, RunArgs};
use crate::cli::CliError;
use crate::engine::RunOptions;
use crate::ops::{self, InputFiles, Io, PlanRequest, ResumeRequest, RunRequest};
use std::path::Path;

/// The `ops` request of a `plan` or `run`.
pub(super) fn plan_request(a: &crate::cli::args::PlanArgs) -> PlanRequest {
    PlanRequest {
        inputs: InputFiles {
            inventory: a.inputs.inventory.clone(),
            playbook: a.inputs.playbook.clone(),
            trust_new_host_keys: a.inputs.trust_new_host_keys,
        },
        to: a.to.clone(),
        max_unavailable: a.max_unavailable,
    }
}

/// Runs `run`: a new run.
pub(super) async fn exec(a: RunArgs, json: bool, dir: &Path) -> CliResult<i32> {
    let request = RunRequest {
        plan: plan_request(&a.plan),
        options: RunOptions {
            yes: a.yes,
            on_failure: a.on_failure,
            skip_backup: a.skip_backup,
            ack_release_notes: a.ack_release_notes.clone(),
        },
        take_over_lock: a.take_over_lock,
    };
    let (events, human) = sink(json);
    let cluster_name = crate::playbook::Inventory::load(&a.plan.inputs.inventory)
        .map(|i| i.cluster_name)
        .unwrap_or_default();
    let io = Io {
        events: events.clone(),
        prompter: prompter(a.yes, human.clone(), &cluster_name),
    };
    let show = |plan: &crate::plan::Plan| {
        if let Some(h) = &human {
            h.line(&render_plan(plan));
        }
    };
    let finished = ops::run(&request, dir, &io, &show)
        .await
        .map_err(CliError::from)?;
    Ok(exit_for(&finished, events.as_ref()))
}

/// Runs `resume`, or `rollback` when `rollback` is set.
pub(super) async fn resume(
    a: ResumeArgs,
    json: bool,
    dir: &Path,
    rollback: bool,
) -> CliResult<i32> {
    let request = ResumeRequest {
        run: a.run.clone(),
        yes: a.yes,
        take_over_lock: a.take_over_lock,
        ack_release_notes: a.ack_release_notes.clone(),
        restore_zookeeper: a.restore_zookeeper,
    };
    let (events, human) = sink(json);
    let io = Io {
        events: events.clone(),
        prompter: prompter(a.yes, human, "the cluster"),
    };
    let finished = ops::resume(&request, dir, &io, rollback)
        .await
        .map_err(CliError::from)?;
    Ok(exit_for(&finished, events.as_ref()))
}
