//! Upgrading one node: the documented script, run detached on the node so that it survives the
//! CLI or the connection dying, then the documented gates. Also the reverse (rollback).
//!
//! The run lives in `<work_dir>/<run>/<step>/attempt-N/` on the node (`pid`, `out.log`, `rc`).
//! Starting it is idempotent: `mkdir` of the attempt directory is the atomic "started" marker,
//! so sending the start command twice never starts the script twice.

use super::gates;
use super::procedure::{before_node, Before, Patience};
use super::StepCtx;
use crate::action::{StepError, Upcoming};
use crate::door::RemoteError;
use crate::model::Role;
use crate::plan::StepVersion;
use crate::playbook::NodeSpec;
use crate::probe::node::Read;
use crate::probe::wait::{self, Poll, WaitError};
use crate::versions::RecordedVersion;
use std::time::Duration;

mod script;

use script::{error_line, launch_script, status_script, wait_script};
pub use script::{parse_status, Detached};

/// What an agent's upgrade step journals before its script starts (write-ahead).
#[derive(serde::Serialize, serde::Deserialize)]
struct BeforeNote {
    /// The agent id and running tasks at the leader.
    agent_before: super::procedure::agents::AgentBefore,
}

/// Why the node script did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeUpgradeError {
    /// The script ended with a non-zero exit status.
    #[error("{node}: dcos_node_upgrade.sh exited with status {status}: {error} (its whole output is on the node: {log})")]
    ScriptExited {
        /// The node, `name (address)`.
        node: String,
        /// Its exit status.
        status: i32,
        /// The script's own error line (else its last line).
        error: String,
        /// The path of its whole output on the node.
        log: String,
    },
    /// The script's process vanished without an exit status.
    #[error("{node}: dcos_node_upgrade.sh ended without an exit status (was the node restarted?): {error} (its output so far is on the node: {log})")]
    Vanished {
        /// The node, `name (address)`.
        node: String,
        /// The script's own error line (else its last line).
        error: String,
        /// The path of its output on the node.
        log: String,
    },
    /// A rollback of a step whose plan records no from-version (a hand-edited plan).
    #[error("the step records no from-version to go back to")]
    NoFromVersion,
    /// A rollback without a script to go back with.
    #[error("no rollback_script_url in the inventory's [bootstrap]: generate the node script from the target back to the from-version and list it")]
    NoRollbackScript,
    /// The node's version could not be read (the message names the node).
    #[error("{0}")]
    Unread(String),
    /// A playbook template of the node script does not render.
    #[error(transparent)]
    Template(#[from] crate::shell::TemplateError),
    /// The script could not be started.
    #[error("{node}: could not start the node upgrade script: {tail}")]
    NotStarted {
        /// The node's address.
        node: String,
        /// The end of the launcher's output.
        tail: String,
    },
}

/// Which way a node goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// from → to with the upgrade script.
    Upgrade,
    /// to → from with the rollback script.
    Rollback,
}

/// The attempt directory on a node (not quoted).
pub fn attempt_dir(ctx: &StepCtx<'_>, node: &NodeSpec, direction: Direction) -> String {
    let kind = match direction {
        Direction::Upgrade => "",
        Direction::Rollback => "rollback-",
    };
    format!(
        "{}{}/{}/{}/{}attempt-{}",
        node.root,
        ctx.cluster.playbook.paths.work_dir,
        ctx.run,
        ctx.slug(),
        kind,
        ctx.attempt
    )
}

/// How long one on-node wait for the detached script lasts before it reports "still running"
/// (well under the 60 s limit of one query; a dead CLI leaves at most this much of a read-only
/// loop behind on the node).
const WAIT_BOUND_SECS: u64 = 20;

/// The pause between two polls of a node gate. Each poll is one command over the node's open
/// multiplexed connection, so a gate is noticed within this plus one round trip, whatever the
/// playbook's `poll_ms` (which paces the slower waits: backups, deployments, SSH retries). 50 ms
/// is the interval of the benchmark's floor (`benches/floor_node.sh`).
pub const GATE_POLL: Duration = Duration::from_millis(50);

/// How long one SSH command polls an agent's registration on the agent (every [`GATE_POLL`])
/// before it answers, so that a gate that waits still reports and checks its deadline.
const ON_NODE_POLL: Duration = Duration::from_secs(5);

/// How long a started script may go without writing its pid before it counts as dead.
const NO_PID_LIMIT: Duration = Duration::from_secs(60);

async fn status(ctx: &StepCtx<'_>, node: &NodeSpec, dir: &str) -> Result<Detached, RemoteError> {
    let out = ctx.cluster.query(node, &status_script(dir)).await?;
    Ok(parse_status(&out.stdout))
}

/// The status once the script has ended or `WAIT_BOUND_SECS` (capped by `left`) have passed.
async fn wait_status(
    ctx: &StepCtx<'_>,
    node: &NodeSpec,
    dir: &str,
    left: Duration,
) -> Result<Detached, RemoteError> {
    let bound = left.as_secs().clamp(1, WAIT_BOUND_SECS);
    let out = ctx.cluster.query(node, &wait_script(dir, bound)).await?;
    Ok(parse_status(&out.stdout))
}

/// Upgrades (or rolls back) the step's node and gates on its health; after an upgrade, the
/// rollout guards judge the cluster. Returns the step output.
pub async fn run(ctx: &StepCtx<'_>, direction: Direction) -> Result<serde_json::Value, StepError> {
    let c = ctx.cluster;
    let node = ctx.node()?;
    let (target, url) = match direction {
        Direction::Upgrade => (
            ctx.to.clone(),
            c.inventory.bootstrap.upgrade_script_url.clone(),
        ),
        Direction::Rollback => (
            (ctx.step.from.as_ref())
                .and_then(StepVersion::dcos)
                .cloned()
                .ok_or(NodeUpgradeError::NoFromVersion)?,
            (c.inventory.bootstrap.rollback_script_url.clone())
                .ok_or(NodeUpgradeError::NoRollbackScript)?,
        ),
    };
    let dir = attempt_dir(ctx, node, direction);
    // Both only read: at once (the version is used when the script has not started yet).
    let (state, identity) = tokio::join!(status(ctx, node, &dir), c.identity(node));
    let mut state = state?;
    let mut installed = None;
    // The agent as it was before this step's script first started, journalled then: what a
    // resumed or retried step compares with (the agent may have lost its tasks since).
    let mut before = (direction == Direction::Upgrade)
        .then(|| super::outputs::read::<BeforeNote>(ctx.noted()))
        .flatten()
        .map(|n| Before {
            agent: Some(n.agent_before),
            said: Vec::new(),
        });
    if state == Detached::NotStarted {
        let id = identity.map_err(NodeUpgradeError::Unread)?;
        if target.is(&id.version) {
            ctx.progress(format!(
                "{} already reports {target}; the script is not started",
                node.address
            ));
            state = Detached::Exited {
                rc: 0,
                tail: String::new(),
            };
        } else {
            let seen = match ctx.ahead.take::<Before>(&ctx.step.id) {
                // The step before read these gates for this node once its own node was back,
                // a moment ago, and they passed.
                Some(seen) if direction == Direction::Upgrade => {
                    if node.role == Role::Master {
                        crate::checkpoint::hit(&format!("in-gate:quorum:{}", ctx.step.id));
                    }
                    tracing::debug!("the gates before the node were read ahead by the step before");
                    seen
                }
                _ => before_gates(ctx, node, direction).await?,
            };
            seen.say(ctx);
            before = (direction == Direction::Upgrade).then_some(seen);
            // Write-ahead: the agent as it was before its script, for a resumed step to compare.
            if let Some(agent) = before.as_ref().and_then(|b| b.agent.as_ref()) {
                ctx.note(super::outputs::write(&BeforeNote {
                    agent_before: agent.clone(),
                }))?;
            }
            let script =
                launch_script(c, node, &dir, &url, &target).map_err(NodeUpgradeError::from)?;
            let out = ctx
                .change(
                    node,
                    "start dcos_node_upgrade.sh detached",
                    &script,
                    None,
                    Duration::from_secs(60),
                )
                .await?;
            if !out.ok() {
                return Err(NodeUpgradeError::NotStarted {
                    node: node.address.clone(),
                    tail: out.tail(500),
                }
                .into());
            }
            ctx.progress(format!(
                "{}: dcos_node_upgrade.sh started ({} -> {target})",
                node.address, id.version
            ));
            state = Detached::Starting;
        }
        installed = Some(id.version);
    }
    // Wait for the detached script to end: each poll waits on the node itself and returns as
    // soon as the script ends, so there is no pause between polls; only a failed query (the
    // connection broke) waits the playbook's poll interval before the next try.
    let timeout = Duration::from_secs(c.timeouts.node_script_secs);
    let started_wait = std::time::Instant::now();
    let ended = wait::until(
        &format!("{}: dcos_node_upgrade.sh to finish", node.address),
        timeout,
        Duration::ZERO,
        || {
            let known = state.clone();
            let dir = dir.clone();
            let left = timeout.saturating_sub(started_wait.elapsed());
            async move {
                let s = if matches!(known, Detached::Exited { .. }) {
                    known
                } else {
                    match wait_status(ctx, node, &dir, left).await {
                        Ok(s) => s,
                        Err(e) => {
                            tokio::time::sleep(c.poll()).await;
                            return Poll::NotYet(e.to_string());
                        }
                    }
                };
                match s {
                    Detached::Exited { .. } | Detached::Died { .. } => Poll::Ready(s),
                    Detached::Starting if started_wait.elapsed() > NO_PID_LIMIT => {
                        Poll::Ready(Detached::Died {
                            tail: "the script never wrote its pid".into(),
                        })
                    }
                    Detached::NotStarted => {
                        Poll::Abort(format!("the attempt directory {dir} vanished"))
                    }
                    _ => Poll::NotYet("still running".into()),
                }
            }
        },
    )
    .await?;
    match ended {
        Detached::Exited { rc: 0, .. } => {}
        Detached::Exited { rc, tail } => {
            return Err(NodeUpgradeError::ScriptExited {
                node: named(node),
                status: rc,
                error: error_line(&tail),
                log: format!("{dir}/out.log"),
            }
            .into())
        }
        Detached::Died { tail } => {
            return Err(NodeUpgradeError::Vanished {
                node: named(node),
                error: error_line(&tail),
                log: format!("{dir}/out.log"),
            }
            .into())
        }
        _ => unreachable!("wait returns only ended states"),
    }
    // Exit 0 does not mean healthy (facts §1.10): gate on our own checks.
    let settled = post_gates(ctx, node, &target, direction == Direction::Upgrade).await?;
    let taken = match direction {
        Direction::Upgrade => {
            // The rollout guards' sample only reads: beside the procedure's gates (for a
            // master, from the health gate's round that passed), taken again when those gates
            // waited longer than the sample may be old.
            let after = super::procedure::after_node(
                ctx,
                node,
                &target,
                before,
                settled.all_masters_at,
                settled.marathon,
            );
            let ahead = read_ahead(ctx, node, settled.leader.as_deref());
            let guards = super::guards::take(ctx, settled.masters);
            let (after, taken, ahead) = tokio::join!(after, guards, ahead);
            after?;
            if let Some(ahead) = ahead {
                for (step, at, seen) in ahead.seen {
                    ctx.ahead.leave(&ahead.next, step, at, seen);
                }
            }
            super::guards::fresh(ctx, taken).await
        }
        // A master undone: CockroachDB (IAM) healthy again where it runs (issue 12), before the
        // rollback takes the next master down.
        Direction::Rollback => {
            super::procedure::after_undo(ctx, node, &target).await?;
            None
        }
    };
    let output = super::outputs::write(&super::outputs::NodeOutput {
        node: node.address.clone(),
        installed_before: installed,
        version: target.to_string(),
        attempt: ctx.attempt,
        work_dir: dir,
        guard: None,
    });
    Ok(super::guards::after_node_step(
        ctx, ctx.view, taken, output,
    )?)
}

/// A node as people know it: `m1 (10.0.0.11)`, or the address alone when it has no other name.
fn named(node: &NodeSpec) -> String {
    if node.name == node.address {
        node.address.clone()
    } else {
        format!("{} ({})", node.name, node.address)
    }
}

/// The gates before `node` goes down, its script not started, waiting for each: for a master
/// the quorum, and for an upgrade the procedure's (`procedure::before_node`). All only read,
/// and all must pass: at once.
async fn before_gates(
    ctx: &StepCtx<'_>,
    node: &NodeSpec,
    direction: Direction,
) -> Result<Before, StepError> {
    let quorum = async {
        match node.role {
            Role::Master => quorum_gate(ctx, node).await.map_err(StepError::from),
            _ => Ok(()),
        }
    };
    let checks = async {
        match direction {
            Direction::Upgrade => before_node(ctx, node, Patience::Wait)
                .await
                .map_err(StepError::from),
            Direction::Rollback => Ok(Before::default()),
        }
    };
    let ((), seen) = tokio::try_join!(quorum, checks)?;
    Ok(seen)
}

/// What a step read ahead for the steps that run next: the ids of all of them (one, or the
/// next batch), and for each of its own that passed, when the oldest of its reads was taken and
/// what they saw (`crate::read_ahead`).
struct ReadFor<'s> {
    /// Every step expected next, together.
    next: Vec<&'s str>,
    /// What passed, by step.
    seen: Vec<(&'s str, std::time::Instant, Before)>,
}

/// Once this step's node is back and healthy: the gates before the nodes of the steps expected
/// next, read once without waiting, beside this step's own gates after its node. In a serial
/// schedule that is the step expected next (the first of [`Upcoming::OneOf`] that upgrades a
/// node and is not on the Mesos `leader`, or the first; after the last master, the agents
/// phase's first agent); before a batch, this step's share of it ([`Upcoming::Batch`]), read at
/// once. A gate that did not pass at once leaves nothing (that step waits on its own).
///
/// A master's quorum gate is the round of every master that this step's health gate has just
/// passed (the same reads: Exhibitor, `registrar/log/recovered`, a Mesos leader), so its time
/// is the oldest; its node checks and CockroachDB's ranges are read now, on that master.
async fn read_ahead<'s>(
    ctx: &StepCtx<'s>,
    node: &NodeSpec,
    leader: Option<&str>,
) -> Option<ReadFor<'s>> {
    let started = std::time::Instant::now();
    let upgrades = |steps: &'s [&'s crate::plan::Step]| -> Vec<&'s crate::plan::Step> {
        (steps.iter().copied())
            .filter(|s| {
                s.kind == crate::plan::StepKind::NodeUpgrade
                    && s.action == crate::plan::Action::Upgrade
            })
            .collect()
    };
    let (next, mine): (Vec<&'s str>, Vec<&'s crate::plan::Step>) = match ctx.upcoming {
        Upcoming::Nothing => return None,
        Upcoming::OneOf(steps) => {
            let upgrades = upgrades(steps);
            let one = (upgrades.iter())
                .find(|s| s.node.as_deref() != leader)
                .or(upgrades.first())?;
            (vec![one.id.as_str()], vec![*one])
        }
        Upcoming::Batch { next, mine } => {
            (next.iter().map(|s| s.id.as_str()).collect(), upgrades(mine))
        }
    };
    // A master only after a master: its health round stands for the next one's quorum gate.
    // An agent has none, so its gates are read ahead after a master too (the last master's
    // step, for the agents phase's first agent or batch).
    let master = |n: &NodeSpec| n.role == Role::Master;
    let reads = (mine.iter()).filter_map(|step| {
        let next_node = ctx.cluster.node(step.node.as_deref()?)?;
        if (master(next_node) && !master(node)) || next_node.address == node.address {
            return None;
        }
        Some(async move {
            let seen = before_node(ctx, next_node, Patience::Once).await.ok()?;
            tracing::debug!(step = %step.id, "gates read ahead for the next step");
            Some((step.id.as_str(), started, seen))
        })
    });
    let seen: Vec<_> = futures::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect();
    Some(ReadFor { next, seen })
}

/// Before a master goes down: the ensemble and the masters are healthy (quorum can survive).
async fn quorum_gate(ctx: &StepCtx<'_>, node: &NodeSpec) -> Result<(), WaitError> {
    let c = ctx.cluster;
    crate::checkpoint::hit(&format!("in-gate:quorum:{}", ctx.step.id));
    wait::until(
        &format!("quorum gate before taking master {} down", node.address),
        Duration::from_secs(c.timeouts.master_gate_secs),
        GATE_POLL,
        || gates::masters_healthy(c),
    )
    .await
    .map(|_| ())
}

/// What the health gates after a node's script saw in the round that passed.
pub struct Settled {
    /// Every master reported `target` (false after an agent's step).
    pub all_masters_at: bool,
    /// After a master's step: that round of every master (their redirect and metrics among
    /// its reads), which the rollout guards' sample is taken from.
    pub masters: Option<super::guards::MastersRound>,
    /// After a master's step: the Mesos leader that round found (its address).
    pub leader: Option<String>,
    /// After a master's upgrade, when the procedure's Marathon gate was ready in that round
    /// (`procedure::marathon::after_master_from`): the Marathon leader it found. `None`: the
    /// gate reads and waits on its own.
    pub marathon: Option<String>,
}

/// After the script: the node reports the target version and its role's health checks pass.
/// Returns what the round that passed saw; with `marathon` (a master's upgrade), each master's
/// round reads its Marathon besides, for the procedure's gate after the master.
///
/// Each poll reads the node's version file in the same round as the role's health (one command
/// per node: for a master, every master's metrics, Exhibitor, redirect and version file), so
/// that a node which is back and healthy at the first poll costs one round, and the procedure's
/// gates after a master learn from the same round whether it was the last one. The health gate
/// waits on its own only when that round found the version but not the health yet.
pub async fn post_gates(
    ctx: &StepCtx<'_>,
    node: &NodeSpec,
    target: &RecordedVersion,
    marathon: bool,
) -> Result<Settled, WaitError> {
    let c = ctx.cluster;
    crate::checkpoint::hit(&format!("in-gate:health:{}:{target}", ctx.step.id));
    let master = node.role == Role::Master;
    let (secs, what) = if master {
        (c.timeouts.master_gate_secs, "master")
    } else {
        (c.timeouts.agent_gate_secs, "agent")
    };
    let deadline = Duration::from_secs(secs);
    let started = std::time::Instant::now();
    // One round: the node's version, the role's health (ready with the Mesos leader for a
    // master, with "" for an agent), and what else it saw (`leader` is set once it passes).
    let round = || async {
        if master {
            let mut reads = gates::MASTER_HEALTH.to_vec();
            reads.push(Read::Version);
            if marathon {
                reads.extend(super::procedure::marathon::MARATHON);
            }
            let rounds = gates::masters_round(c, &reads).await;
            let at = |r| matches!(gates::read_at_version(node, r, target), Poll::Ready(()));
            let version = match c.master_position(node) {
                Some(i) => gates::read_at_version(node, &rounds[i], target),
                None => gates::node_at_version(c, node, target).await,
            };
            let all = rounds.iter().all(at);
            let judged = gates::masters_judged(c, &rounds).await;
            let from = super::procedure::marathon::after_master_from;
            let marathon_leader = match marathon.then(|| from(c, node, target, all, &rounds)) {
                Some(Poll::Ready(leader)) => Some(leader),
                _ => None,
            };
            let seen = Settled {
                all_masters_at: all,
                masters: Some(super::guards::MastersRound::taken_now(rounds)),
                leader: None,
                marathon: marathon_leader,
            };
            (version, judged, seen)
        } else {
            // Polled on the agent itself until it says it is registered (one SSH command for
            // many polls), at most until the gate's deadline.
            let until = crate::probe::node::Until {
                read: Read::AgentMetrics,
                pattern: gates::AGENT_REGISTERED,
                every: GATE_POLL,
                within: deadline.saturating_sub(started.elapsed()).min(ON_NODE_POLL),
            };
            let reads = [Read::AgentMetrics, Read::Version];
            let r = crate::probe::node::read_until(c, node, &reads, &until).await;
            let health = match gates::agent_judged(node, &r) {
                Poll::Ready(()) => Poll::Ready(String::new()),
                Poll::NotYet(e) => Poll::NotYet(e),
                Poll::Abort(e) => Poll::Abort(e),
            };
            let seen = Settled {
                all_masters_at: false,
                masters: None,
                leader: None,
                marathon: None,
            };
            (gates::read_at_version(node, &r, target), health, seen)
        }
    };
    // Some((the health's answer, what the round saw)) when the health was ready with the
    // version, None when not yet.
    let healthy = wait::until(
        &format!(
            "gate after upgrading {what} {}: version {target}",
            node.address
        ),
        deadline,
        GATE_POLL,
        || async {
            match round().await {
                (Poll::Ready(()), Poll::Ready(leader), seen) => Poll::Ready(Some((leader, seen))),
                (Poll::Ready(()), ..) => Poll::Ready(None),
                (Poll::Abort(e), ..) => Poll::Abort(e),
                (Poll::NotYet(e), ..) => Poll::NotYet(e),
            }
        },
    )
    .await?;
    let (leader, mut seen) = match healthy {
        Some(h) => h,
        None => {
            let gate = if master {
                format!("gate after upgrading master {}: Exhibitor serving, registrar/log/recovered = 1, leader elected", node.address)
            } else {
                format!("gate after upgrading agent {}: slave/registered = 1 within the re-registration window", node.address)
            };
            wait::until(&gate, deadline, GATE_POLL, || async {
                match round().await {
                    (_, Poll::Ready(leader), seen) => Poll::Ready((leader, seen)),
                    (_, Poll::NotYet(e), ..) => Poll::NotYet(e),
                    (_, Poll::Abort(e), ..) => Poll::Abort(e),
                }
            })
            .await?
        }
    };
    if master {
        ctx.progress(format!("masters healthy, Mesos leader {leader}"));
    }
    seen.leader = master.then_some(leader);
    Ok(seen)
}

#[cfg(test)]
mod tests;
