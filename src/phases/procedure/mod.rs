//! The documented procedure's own gates around every node, beside the health gates of
//! `gates.rs` (facts §8.2): Marathon, DC/OS's own node checks, CockroachDB (IAM) and the agents'
//! tasks. `node_upgrade` calls [`before_node`] before a node goes down and [`after_node`] once
//! its health gates pass; the checklist adds [`prechecks`], `postcheck` adds [`postcheck`].

pub mod agents;
pub mod cockroach;
pub mod marathon;
pub mod node_checks;

use super::StepCtx;
use crate::cluster::Cluster;
use crate::model::Role;
use crate::phases::node_upgrade::GATE_POLL;
use crate::playbook::NodeSpec;
use crate::probe::wait;
use crate::versions::RecordedVersion;
use std::time::Duration;

/// Why a gate of the procedure failed the node's step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcedureError {
    /// A gate was not met in time (DC/OS's node checks, CockroachDB, Marathon, the agent).
    #[error(transparent)]
    Gate(#[from] wait::WaitError),
    /// The agent cannot be read at the leading master before it goes down.
    #[error("{0}")]
    Agent(String),
}

/// What was seen on a node before it went down, compared after it is back.
#[derive(Debug, Clone, Default)]
pub struct Before {
    /// An agent's id and running tasks at the leader.
    pub agent: Option<agents::AgentBefore>,
    /// What the gates found worth saying (DC/OS's check warnings, the agent's tasks,
    /// CockroachDB's ranges): the step whose node it is says it (`say`), also when another step
    /// read it ahead.
    pub said: Vec<String>,
}

impl Before {
    /// Says what the gates found, as `ctx`'s step's progress.
    pub fn say(&self, ctx: &StepCtx<'_>) {
        for m in &self.said {
            ctx.progress(m.clone());
        }
    }
}

/// How long a gate before a node waits for its condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    /// Until the gate's timeout: the step's own gates.
    Wait,
    /// One round, no waiting, nothing said while it reads: what a step reads ahead for the
    /// next one (`crate::read_ahead`), whose own gates wait when this round did not pass.
    Once,
}

impl Patience {
    /// The gate's `timeout`, or none at all for one round.
    pub fn limit(self, timeout: Duration) -> Duration {
        match self {
            Patience::Wait => timeout,
            Patience::Once => Duration::ZERO,
        }
    }
}

/// Before `node` goes down (its script not started yet): DC/OS's own node checks pass on it,
/// and CockroachDB's ranges are replicated (a master) or its agent id and running tasks are
/// read at the leader (an agent). What is worth saying is returned in `Before::said`.
pub async fn before_node(
    ctx: &StepCtx<'_>,
    node: &NodeSpec,
    patience: Patience,
) -> Result<Before, ProcedureError> {
    let c = ctx.cluster;
    let (from, to) = (ctx.from, ctx.to);
    let tolerate = move |name: &str| node_checks::transient(from, to, name);
    let checks = async {
        wait::until(
            &format!(
                "DC/OS's node checks on {} before it goes down",
                node.address
            ),
            patience.limit(gate_timeout(c, node)),
            HEAVY_POLL.min(c.poll()),
            || node_checks::node_poststart(c, node, &tolerate),
        )
        .await
        .map_err(ProcedureError::from)
    };
    // Read-only, and independent of the node checks: at once.
    let (agent, found, warnings) = if node.role == Role::Master {
        let version = ctx.from.unwrap_or(ctx.to);
        let iam = iam_gate(ctx, node, version, "before it goes down", patience);
        let (warnings, iam) = tokio::try_join!(checks, iam)?;
        (None, iam, warnings)
    } else {
        let agent = async { agents::before(c, node).await.map_err(ProcedureError::Agent) };
        let (warnings, agent) = tokio::try_join!(checks, agent)?;
        let tasks = format!(
            "agent {} is {} with {} running task(s)",
            node.address,
            agent.id,
            agent.tasks.len()
        );
        (Some(agent), tasks, warnings)
    };
    let mut said = vec![found];
    said.extend(warned(warnings));
    Ok(Before { agent, said })
}

/// CockroachDB's ranges replicated, read on master `node` (at `version`). Returns what it found
/// to say; says once while it waits, and what for (never for [`Patience::Once`]).
async fn iam_gate(
    ctx: &StepCtx<'_>,
    node: &NodeSpec,
    version: &RecordedVersion,
    when: &str,
    patience: Patience,
) -> Result<String, ProcedureError> {
    let c = ctx.cluster;
    let strict = cockroach::from_had_cockroach(ctx.from);
    let said = std::sync::atomic::AtomicBool::new(patience == Patience::Once);
    let done = wait::until(
        &format!(
            "CockroachDB (IAM) gate on master {} {when}: ranges_underreplicated = 0",
            node.address
        ),
        patience.limit(Duration::from_secs(c.timeouts.master_gate_secs)),
        HEAVY_POLL.min(c.poll()),
        || async {
            let p = cockroach::replicated(c, node, version, strict).await;
            if let wait::Poll::NotYet(why) = &p {
                if !said.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    ctx.progress(format!(
                        "waiting for CockroachDB (IAM) on {}: {why}",
                        node.address
                    ));
                }
            }
            p
        },
    )
    .await?;
    Ok(done)
}

/// The pause between two runs of a heavy on-node check (DC/OS's `dcos-check-runner`, which runs
/// every check of the node, and `cockroach node status --ranges`): at most a second, and never
/// slower than the playbook's `poll_ms`. The light reads of these gates (the leader's agents,
/// Marathon's `/v2/info`) poll like the node's health gates, every [`GATE_POLL`].
const HEAVY_POLL: Duration = Duration::from_secs(1);

fn gate_timeout(c: &Cluster, node: &NodeSpec) -> Duration {
    Duration::from_secs(if node.role == Role::Master {
        c.timeouts.master_gate_secs
    } else {
        c.timeouts.agent_gate_secs
    })
}

fn report(ctx: &StepCtx<'_>, warnings: &[String]) {
    for w in warned(warnings.to_vec()) {
        ctx.progress(w);
    }
}

/// DC/OS's check warnings as they are said.
fn warned(warnings: Vec<String>) -> Vec<String> {
    warnings
        .into_iter()
        .map(|w| format!("DC/OS check warning: {w}"))
        .collect()
}

/// DC/OS's own `node-poststart` checks pass on `node` (the path's documented transient
/// failures tolerated unless `strict`; they are waited out after the last master).
async fn node_checks_pass(
    ctx: &StepCtx<'_>,
    node: &NodeSpec,
    strict: bool,
) -> Result<(), ProcedureError> {
    let c = ctx.cluster;
    let (from, to) = (ctx.from, ctx.to);
    let tolerate = move |name: &str| !strict && node_checks::transient(from, to, name);
    let warnings = wait::until(
        &format!("DC/OS's node checks on {} after its upgrade", node.address),
        gate_timeout(c, node),
        HEAVY_POLL.min(c.poll()),
        || node_checks::node_poststart(c, node, &tolerate),
    )
    .await?;
    report(ctx, &warnings);
    Ok(())
}

/// After master `node` was rolled back to `version` and its health gates passed: CockroachDB's
/// ranges are replicated again where it runs (a rollback that leaves IAM unavailable is not
/// done). Agents have nothing more to wait for here.
pub async fn after_undo(
    ctx: &StepCtx<'_>,
    node: &NodeSpec,
    version: &RecordedVersion,
) -> Result<(), ProcedureError> {
    if node.role != Role::Master {
        return Ok(());
    }
    let done = iam_gate(ctx, node, version, "after its rollback", Patience::Wait).await?;
    ctx.progress(done);
    Ok(())
}

/// After `node` reports `target` and its health gates passed (upgrades only). `before` is
/// `None` when the step resumed a script started by an earlier process; `all_masters_at` says
/// whether every master reported `target` in the health gates' last round (for a master: it
/// was the last one); `marathon` is the Marathon leader found when the Marathon gate was ready
/// in that round (`marathon::after_master_from`): then the gate reads nothing more.
pub async fn after_node(
    ctx: &StepCtx<'_>,
    node: &NodeSpec,
    target: &RecordedVersion,
    before: Option<Before>,
    all_masters_at: bool,
    marathon: Option<String>,
) -> Result<(), ProcedureError> {
    let c = ctx.cluster;
    let last = node.role == Role::Master && all_masters_at;
    // Every gate below only reads, and each waits for its own condition: they wait at once, and
    // the step goes on when all of them pass (the first one that gives up fails it).
    let checks = async {
        node_checks_pass(ctx, node, last || node.role != Role::Master).await?;
        if last {
            // The transient failures tolerated on the earlier masters must be gone now.
            futures::future::try_join_all(
                c.inventory
                    .masters
                    .iter()
                    .filter(|m| m.address != node.address)
                    .map(|m| node_checks_pass(ctx, m, true)),
            )
            .await?;
        }
        Ok::<(), ProcedureError>(())
    };
    let rejoined = async {
        if let Some(b) = before.and_then(|b| b.agent) {
            let done = wait::until(
                &format!(
                    "agent {} rejoins with its agent id {} and its tasks RUNNING",
                    node.address, b.id
                ),
                gate_timeout(c, node),
                GATE_POLL,
                || agents::rejoined(c, node, &b),
            )
            .await?;
            ctx.progress(done);
        } else if node.role != Role::Master {
            ctx.progress(format!("{}: the agent's id and tasks before the step are not known (the step resumed); not compared", node.address));
        }
        Ok::<(), ProcedureError>(())
    };
    let master = async {
        if node.role != Role::Master {
            return Ok(());
        }
        let what = if last {
            format!("gate after the last master {}: Marathon {} running there, a Marathon leader at the target's version answering /v2/leader", node.address, crate::plan::doors::marathon_of(target.as_str()).unwrap_or("of the target"))
        } else {
            format!("gate after upgrading master {}: its Marathon running the target's version, a Marathon leader answering /v2/leader (no storage migration in progress)", node.address)
        };
        let marathon = async {
            if let Some(leader) = marathon {
                return Ok(leader);
            }
            wait::until(
                &what,
                Duration::from_secs(c.timeouts.master_gate_secs),
                GATE_POLL,
                || marathon::after_master(c, node, target, last),
            )
            .await
            .map_err(ProcedureError::from)
        };
        let iam = iam_gate(ctx, node, target, "after its upgrade", Patience::Wait);
        let (iam, leader) = tokio::try_join!(iam, marathon)?;
        ctx.progress(iam);
        ctx.progress(format!("Marathon leader {leader}"));
        Ok::<(), ProcedureError>(())
    };
    tokio::try_join!(checks, rejoined, master)?;
    Ok(())
}

/// The procedure's prechecks (read-only), appended to the checklist.
pub async fn prechecks(c: &Cluster, to: Option<&RecordedVersion>) -> Prechecks {
    // Independent reads: at once.
    let (deprecated, cluster) = tokio::join!(
        marathon::deprecated_features(c, to),
        node_checks::cluster_check(c)
    );
    Prechecks {
        deprecated,
        cluster,
    }
}

/// The procedure's checklist entries that read the cluster themselves; DC/OS's node checks are
/// read on each node in the observation's own round (issue 14) and joined by [`Self::with`].
#[derive(Debug, Clone)]
pub struct Prechecks {
    deprecated: crate::phases::checks::CheckResult,
    cluster: crate::phases::checks::CheckResult,
}

impl Prechecks {
    /// The entries in the checklist's order, with the node checks' entry (`dcos.node_checks`).
    pub fn with(
        self,
        node_checks: crate::phases::checks::CheckResult,
    ) -> Vec<crate::phases::checks::CheckResult> {
        vec![self.deprecated, node_checks, self.cluster]
    }
}

/// The procedure's part of `postcheck`: what is wrong at the end, if anything.
pub async fn postcheck(c: &Cluster, to: &RecordedVersion) -> Vec<String> {
    let mut problems = Vec::new();
    let (nodes, leader) = tokio::join!(
        node_checks::prechecks(c),
        marathon::leader_state(c, to, true)
    );
    for r in nodes {
        if !r.passed {
            problems.push(r.found);
        }
    }
    match leader {
        wait::Poll::Ready(_) => {}
        wait::Poll::NotYet(e) | wait::Poll::Abort(e) => problems.push(format!("Marathon: {e}")),
    }
    problems
}
