//! Observing the plan's points of no return (`plan::doors`) on the cluster, and the Marathon
//! gate every master undo must pass.
//!
//! - Marathon storage: crossed once the Marathon leader (`/v2/info` `elected`/`leader` on any
//!   master) runs the door's new Marathon version or newer: it has migrated its storage (facts
//!   §8.4). Leadership is Marathon's own, so this is checked after every master step.
//! - CockroachDB finalization: crossed once every master reports the target DC/OS version.

use super::procedure::marathon::{self, Info};
use super::StepCtx;
use crate::action::{Crossing, StepError};
use crate::plan::doors::version_key;
use crate::plan::{Door, DoorId};
use crate::probe::wait::{self, Poll};
use std::time::Duration;

/// Each master's `/v2/info`, or why it did not answer.
async fn infos(ctx: &StepCtx<'_>) -> Vec<(String, Result<Info, String>)> {
    let c = ctx.cluster;
    futures::future::join_all(
        c.inventory
            .masters
            .iter()
            .map(|m| async move { (m.address.clone(), marathon::info(c, m).await) }),
    )
    .await
}

/// The Marathon leader's address and version, if one answers.
fn leader(infos: &[(String, Result<Info, String>)]) -> Option<(String, String)> {
    infos.iter().find_map(|(m, i)| match i {
        Ok(i) if i.elected => Some((m.clone(), i.version.clone())),
        _ => None,
    })
}

/// Which of `doors` the cluster shows crossed now.
pub async fn crossed(ctx: &StepCtx<'_>, doors: &[Door]) -> Vec<Crossing> {
    let per_door = futures::future::join_all(doors.iter().map(|d| crossing(ctx, d))).await;
    per_door.into_iter().flatten().collect()
}

/// Whether the cluster shows `d` crossed now.
async fn crossing(ctx: &StepCtx<'_>, d: &Door) -> Option<Crossing> {
    match d.id {
        DoorId::MarathonStorage => {
            let all = infos(ctx).await;
            let (at, v) = leader(&all)?;
            (version_key(&v) >= version_key(&d.to)).then(|| Crossing {
                door: d.id,
                observation: format!(
                    "the Marathon leader on {at} runs Marathon {v} (the path goes {} -> {}): it has migrated Marathon's storage in ZooKeeper",
                    d.from, d.to
                ),
            })
        }
        DoorId::CockroachFinalize => {
            let c = ctx.cluster;
            let ids =
                futures::future::join_all(c.inventory.masters.iter().map(|m| c.identity(m))).await;
            let all = !ids.is_empty()
                && ids
                    .iter()
                    .all(|id| matches!(id, Ok(id) if ctx.to.is(&id.version)));
            all.then(|| Crossing {
                door: d.id,
                observation: format!(
                    "every master runs DC/OS {} (CockroachDB {}): the CockroachDB cluster version finalizes",
                    ctx.to, d.to
                ),
            })
        }
    }
}

/// After a master was undone: Marathon answers on it and a Marathon leader exists (a rollback
/// that leaves Marathon down is a failed rollback).
pub async fn marathon_serves(ctx: &StepCtx<'_>, master: &str) -> Result<(), StepError> {
    let c = ctx.cluster;
    let node = c
        .inventory
        .masters
        .iter()
        .find(|m| m.address == master)
        .ok_or_else(|| crate::action::NodeError::NotAMaster {
            node: master.into(),
        })?;
    wait::until(
        &format!("Marathon answers on {master} and has a leader"),
        Duration::from_secs(c.timeouts.master_gate_secs),
        c.poll(),
        || async {
            match marathon::info(c, node).await {
                Ok(i) if i.leader.is_some() => Poll::Ready(()),
                Ok(_) => Poll::NotYet(format!("Marathon on {master} names no leader")),
                Err(e) => Poll::NotYet(format!("Marathon on {master}: {e}")),
            }
        },
    )
    .await
    .map_err(StepError::from)
}
