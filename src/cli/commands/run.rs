//! `run`, `resume` and `rollback`: translate the arguments into an `ops` request, run it, and
//! render what it returns.

use super::{exit_for, prompter, render_plan, sink, CliResult, Ctx};
use crate::cli::args::{ResumeArgs, RollbackArgs, RunArgs};
use crate::cli::CliError;
use crate::engine::RunOptions;
use crate::ops::{self, InputFiles, Io, PlanRequest, ResumeRequest, RunRequest};

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
        max_unavailable_per_zone: a.max_unavailable_per_zone,
        exclude: a.exclude.clone(),
    }
}

/// Runs `run`: a new run.
pub(super) async fn exec(a: RunArgs, ctx: &Ctx) -> CliResult<i32> {
    let request = RunRequest {
        plan: plan_request(&a.plan),
        options: RunOptions {
            yes: a.yes,
            on_failure: a.on_failure,
            skip_backup: a.skip_backup,
            ack_release_notes: a.ack_release_notes.clone(),
        },
        take_over_lock: a.take_over_lock,
        handoff: ctx.handoff.clone(),
    };
    let (events, human) = sink(ctx.json);
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
    let finished = ops::run(&request, &ctx.dir, &io, &show)
        .await
        .map_err(CliError::from)?;
    Ok(exit_for(&finished, events.as_ref(), &ctx.handoff))
}

/// Runs `resume`.
pub(super) async fn resume(a: ResumeArgs, ctx: &Ctx) -> CliResult<i32> {
    let request = ResumeRequest {
        run: a.run.clone(),
        yes: a.yes,
        take_over_lock: a.take_over_lock,
        ack_release_notes: a.ack_release_notes.clone(),
        restore_zookeeper: false,
        trust_new_host_keys: a.trust_new_host_keys,
        handoff: ctx.handoff.clone(),
    };
    if let (true, Some(inv)) = (a.from_cluster, a.inventory.as_deref()) {
        return from_cluster(request, inv, a.playbook.as_deref(), ctx).await;
    }
    continue_run(request, ctx, false).await
}

/// Runs `resume --from-cluster --inventory FILE [--playbook FILE]`.
async fn from_cluster(
    request: ResumeRequest,
    inventory: &std::path::Path,
    playbook: Option<&std::path::Path>,
    ctx: &Ctx,
) -> CliResult<i32> {
    let (events, human) = sink(ctx.json);
    let io = Io {
        events: events.clone(),
        prompter: prompter(request.yes, human, "the cluster"),
    };
    let finished = ops::from_cluster::resume(&request, inventory, playbook, &ctx.dir, &io).await?;
    Ok(exit_for(&finished, events.as_ref(), &ctx.handoff))
}

/// Runs `rollback`.
pub(super) async fn rollback(a: RollbackArgs, ctx: &Ctx) -> CliResult<i32> {
    let request = ResumeRequest {
        run: a.run.clone(),
        yes: a.yes,
        take_over_lock: a.take_over_lock,
        ack_release_notes: None,
        restore_zookeeper: a.restore_zookeeper,
        trust_new_host_keys: a.trust_new_host_keys,
        handoff: ctx.handoff.clone(),
    };
    continue_run(request, ctx, true).await
}

async fn continue_run(request: ResumeRequest, ctx: &Ctx, rollback: bool) -> CliResult<i32> {
    let (events, human) = sink(ctx.json);
    let io = Io {
        events: events.clone(),
        prompter: prompter(request.yes, human, "the cluster"),
    };
    let finished = ops::resume(&request, &ctx.dir, &io, rollback)
        .await
        .map_err(|e| {
            let mut e = CliError::from(e);
            // Ctrl-C at the rollback's confirmation: nothing was changed; an interruption.
            if crate::cli::prompt::INTERRUPTED_AT_PROMPT.load(std::sync::atomic::Ordering::SeqCst) {
                e.code = crate::cli::exit::INTERRUPTED;
            }
            e
        })?;
    Ok(exit_for(&finished, events.as_ref(), &ctx.handoff))
}
