//! The one list that says which action runs which step kind, and the actions themselves: thin
//! adapters from the [`Action`] contract to each phase's functions.

use super::node_upgrade::Direction;
use super::outputs::{self, AppOutput};
use super::{backup, checks, frameworks, gates, guards, node_upgrade, validate, StepCtx};
use crate::action::{Action, Crossing, Registry, StepError, Undo};
use crate::machine::StepState;
use crate::options::RunOptions;
use crate::plan::{Action as PlanAction, Door, Step, StepKind};
use async_trait::async_trait;
use serde_json::Value;

/// The production registry: every step kind and its action.
pub struct Phases;

#[async_trait]
impl Registry for Phases {
    async fn doors_crossed(&self, ctx: &StepCtx<'_>, doors: &[Door]) -> Vec<Crossing> {
        super::doors::crossed(ctx, doors).await
    }

    fn action(&self, kind: StepKind) -> &dyn Action {
        match kind {
            StepKind::Precheck => &Precheck,
            StepKind::ZkBackup => &ZkBackup,
            StepKind::StateBackup => &StateBackup,
            StepKind::ValidateVersions => &ValidateVersions,
            StepKind::ValidateScript => &ValidateScript,
            StepKind::NodeUpgrade => &NodeUpgrade,
            StepKind::NodeSkip => &NodeSkip,
            StepKind::AppUpgrade => &AppUpgrade,
            StepKind::Postcheck => &Postcheck,
        }
    }

    fn last_resort(&self) -> &dyn Action {
        &super::zk_restore::ZkRestore
    }
}

/// The precheck checklist, plus the rollout guards' baseline.
pub struct Precheck;

#[async_trait]
impl Action for Precheck {
    async fn run(&self, ctx: &StepCtx<'_>) -> Result<Value, StepError> {
        let out = checks::precheck(ctx).await?;
        Ok(guards::with_baseline(ctx, out).await)
    }
}

/// The ZooKeeper backup on one standby master (skipped by `--skip-backup`).
pub struct ZkBackup;

#[async_trait]
impl Action for ZkBackup {
    fn skip(&self, _step: &Step, options: &RunOptions) -> Option<String> {
        options
            .skip_backup
            .then(|| "--skip-backup was given: no ZooKeeper backup was taken".to_string())
    }

    async fn run(&self, ctx: &StepCtx<'_>) -> Result<Value, StepError> {
        Ok(backup::zookeeper(ctx).await?)
    }
}

/// IAM, etcd and Marathon app-definition backups (skipped by `--skip-backup`).
pub struct StateBackup;

#[async_trait]
impl Action for StateBackup {
    fn skip(&self, _step: &Step, options: &RunOptions) -> Option<String> {
        options.skip_backup.then(|| {
            "--skip-backup was given: no IAM, etcd or app-definition backup was taken".to_string()
        })
    }

    async fn run(&self, ctx: &StepCtx<'_>) -> Result<Value, StepError> {
        Ok(super::backup_state::take(ctx).await?)
    }
}

/// Installed versions and the documented path.
pub struct ValidateVersions;

#[async_trait]
impl Action for ValidateVersions {
    async fn run(&self, ctx: &StepCtx<'_>) -> Result<Value, StepError> {
        Ok(validate::versions(ctx).await?)
    }
}

/// The script at the bootstrap URL upgrades exactly this path.
pub struct ValidateScript;

#[async_trait]
impl Action for ValidateScript {
    async fn run(&self, ctx: &StepCtx<'_>) -> Result<Value, StepError> {
        Ok(validate::upgrade_script(ctx).await?)
    }
}

/// The node script on one node, its gates and the rollout guards.
pub struct NodeUpgrade;

#[async_trait]
impl Action for NodeUpgrade {
    fn changes_cluster(&self) -> bool {
        true
    }

    async fn run(&self, ctx: &StepCtx<'_>) -> Result<Value, StepError> {
        node_upgrade::run(ctx, Direction::Upgrade).await
    }

    async fn undo_plan(&self, ctx: &StepCtx<'_>, _output: &Value, _state: StepState) -> Undo {
        let c = ctx.cluster;
        if c.inventory.bootstrap.rollback_script_url.is_some() {
            return Undo::Compensate;
        }
        let from = ctx.step.from.as_ref().map(crate::plan::StepVersion::as_str);
        let (Some(from), Ok(node)) = (from, ctx.node()) else {
            return Undo::Compensate;
        };
        match c.identity(node).await {
            // Still (or again) at its old version: the undo only confirms it.
            Ok(id) if gates::same_version(&id.version, from) => Undo::Compensate,
            Ok(id) => Undo::NoSafeUndo(format!(
                "{} runs {} and the inventory names no rollback_script_url (a node script generated from {} back to {from}); DC/OS documents no downgrade",
                node.address, id.version, id.version
            )),
            Err(e) => Undo::NoSafeUndo(format!(
                "its node cannot be read ({e}) and no rollback_script_url is named"
            )),
        }
    }

    async fn undo(&self, ctx: &StepCtx<'_>, _output: &Value) -> Result<(), StepError> {
        node_upgrade::run(ctx, Direction::Rollback).await?;
        // An undone master must serve Marathon again, under a Marathon leader (issue 12);
        // past a door only the last resort downgrades masters, and checks Marathon after the
        // ZooKeeper restore instead.
        let last_resort = !ctx.view.doors_crossed.is_empty()
            && ctx.view.approved_gates.contains("restore-zookeeper");
        if ctx.step.role == Some(crate::model::Role::Master) && !last_resort {
            super::doors::marathon_serves(ctx, &ctx.node()?.address).await?;
        }
        Ok(())
    }
}

/// A node already at the target: nothing runs.
pub struct NodeSkip;

#[async_trait]
impl Action for NodeSkip {
    fn skip(&self, step: &Step, _options: &RunOptions) -> Option<String> {
        Some(
            step.reason
                .clone()
                .unwrap_or_else(|| "already at the target".into()),
        )
    }

    async fn run(&self, _ctx: &StepCtx<'_>) -> Result<Value, StepError> {
        Ok(Value::Null)
    }
}

/// A Marathon app change; undo puts the saved definition back.
pub struct AppUpgrade;

#[async_trait]
impl Action for AppUpgrade {
    fn changes_cluster(&self) -> bool {
        true
    }

    fn skip(&self, step: &Step, _options: &RunOptions) -> Option<String> {
        (step.action == PlanAction::Skip).then(|| {
            step.reason
                .clone()
                .unwrap_or_else(|| "nothing to change".into())
        })
    }

    async fn run(&self, ctx: &StepCtx<'_>) -> Result<Value, StepError> {
        Ok(frameworks::upgrade(ctx).await?)
    }

    async fn undo_plan(&self, _ctx: &StepCtx<'_>, output: &Value, state: StepState) -> Undo {
        // The previous definition is journaled before the change is sent (write-ahead), so an
        // output is there whenever a change may have been sent, done or failed or in flight.
        match outputs::read::<AppOutput>(output) {
            Some(_) => Undo::Compensate,
            None if state == StepState::Done => {
                Undo::NoSafeUndo("the previous app definition was not recorded".into())
            }
            // Failed or stopped before its note: nothing was sent, nothing to put back.
            None => Undo::Nothing,
        }
    }

    async fn undo(&self, ctx: &StepCtx<'_>, output: &Value) -> Result<(), StepError> {
        match outputs::read::<AppOutput>(output) {
            Some(out) => Ok(frameworks::restore(ctx, &out.previous).await?),
            None => Ok(()),
        }
    }
}

/// Every node at the target and healthy.
pub struct Postcheck;

#[async_trait]
impl Action for Postcheck {
    async fn run(&self, ctx: &StepCtx<'_>) -> Result<Value, StepError> {
        Ok(checks::postcheck(ctx).await?)
    }
}
