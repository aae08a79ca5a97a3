//! The documented procedure's own gates around every node, beside the health gates of
//! `gates.rs` (facts §8.2): Marathon, DC/OS's own node checks, CockroachDB (IAM) and the agents'
//! tasks. `node_upgrade` calls [`before_node`] before a node goes down and [`after_node`] once
//! its health gates pass; the checklist adds [`prechecks`], `postcheck` adds [`postcheck`].

pub mod marathon;

use super::StepCtx;
use crate::cluster::Cluster;
use crate::model::Role;
use crate::playbook::NodeSpec;
use crate::probe::wait;
use std::time::Duration;

/// What was seen on a node before it went down, compared after it is back.
#[derive(Debug, Clone, Default)]
pub struct Before {}

/// Before `node` goes down (its script not started yet).
pub async fn before_node(_ctx: &StepCtx<'_>, _node: &NodeSpec) -> Result<Before, String> {
    Ok(Before::default())
}

/// After `node` reports `target` and its health gates passed (upgrades only). `before` is
/// `None` when the step resumed a script started by an earlier process.
pub async fn after_node(
    ctx: &StepCtx<'_>,
    node: &NodeSpec,
    target: &str,
    _before: Option<Before>,
) -> Result<(), String> {
    let c = ctx.cluster;
    if node.role == Role::Master {
        let last = all_masters_at(c, target).await;
        let what = if last {
            format!("gate after the last master {}: Marathon {} running there, a Marathon leader at the target's version answering /v2/leader", node.address, crate::plan::doors::marathon_of(target).unwrap_or("of the target"))
        } else {
            format!("gate after upgrading master {}: its Marathon running the target's version, a Marathon leader answering /v2/leader (no storage migration in progress)", node.address)
        };
        let leader = wait::until(
            &what,
            Duration::from_secs(c.timeouts.master_gate_secs),
            c.poll(),
            || marathon::after_master(c, node, target, last),
        )
        .await
        .map_err(|e| e.to_string())?;
        ctx.progress(format!("Marathon leader {leader}"));
    }
    Ok(())
}

/// Whether every master of the inventory reports `target`.
async fn all_masters_at(c: &Cluster, target: &str) -> bool {
    for m in &c.inventory.masters {
        match c.identity(m).await {
            Ok(id) if super::gates::same_version(&id.version, target) => {}
            _ => return false,
        }
    }
    true
}

/// The procedure's prechecks (read-only), appended to the checklist.
pub async fn prechecks(c: &Cluster, to: Option<&str>) -> Vec<crate::phases::checks::CheckResult> {
    vec![marathon::deprecated_features(c, to).await]
}

/// The procedure's part of `postcheck`: what is wrong at the end, if anything.
pub async fn postcheck(c: &Cluster, to: &str) -> Vec<String> {
    let mut problems = Vec::new();
    match marathon::leader_state(c, to, true).await {
        wait::Poll::Ready(_) => {}
        wait::Poll::NotYet(e) | wait::Poll::Abort(e) => problems.push(format!("Marathon: {e}")),
    }
    problems
}
