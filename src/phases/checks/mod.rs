//! Cluster health checks of the precheck and postcheck steps: the checklist, its entry points,
//! and the list of every check (each family of checks lives in its own file).

mod agents;
pub mod known;
mod marathon;
mod masters;
mod node_probe;
mod nodes;
mod observe;
pub mod reconcile;
mod security_path;
mod versions;
mod zk_health;
mod zookeeper;

pub use agents::HEADROOM_RATIO;
pub use marathon::image_is_pinned;
pub use masters::RTT_WARN_MS;
pub use node_probe::{node_script, parse_node_output, variant_script, NodeShell, DISK_PATHS};
pub use nodes::{CLOCK_SKEW_WARN_S, DISK_BLOCK_BYTES, DISK_BLOCK_PCT, DISK_WARN_PCT};
pub use observe::{observe, MasterObs, NodeObs, Observed, FLAP_PROBE_INTERVAL};
pub use zk_health::{ZK_DATA_WARN_BYTES, ZK_OUTSTANDING_WARN};
pub use zookeeper::KNOWN_ZNODES;

use agents::{check_agents, check_attributes, check_headroom};
use marathon::{check_deployments, check_health_checks, check_image_tags, check_task_baseline};
use masters::{
    check_flapping, check_master_count, check_masters_reachable, check_one_leader, check_registrar,
    check_rtt, check_teardown,
};
use nodes::{check_auto_updates, check_clock, check_disks, check_os, check_ssh};
use security_path::check_security_disabled_path;
use versions::{check_mixed_versions, check_path};
use zk_health::check_zk_health;
use zookeeper::{check_exhibitor, check_zk_words, check_znodes};

use super::gates;
use super::StepCtx;
use crate::probe::wait::Poll;

/// Why the precheck or the postcheck failed its step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Blockers failed before anything changed.
    #[error("precheck blocked: {}", .blockers.join("; "))]
    Blocked {
        /// Each failed blocker: `id: what was found`.
        blockers: Vec<String>,
    },
    /// The cluster is not where the run should have left it.
    #[error("postcheck: {}", .problems.join("; "))]
    Problems {
        /// What is wrong, node by node.
        problems: Vec<String>,
    },
}

/// Before anything changes: the whole checklist. A failed blocker fails the step (nothing has
/// changed yet); failed warnings are reported and approved at the next gate (or by `--yes`).
pub async fn precheck(ctx: &StepCtx<'_>) -> Result<serde_json::Value, CheckError> {
    let c = ctx.cluster;
    let facts = crate::probe::facts::gather(c, false).await;
    let excluded: Vec<String> = ctx.excluded.iter().map(|e| e.node.clone()).collect();
    let list = checklist(c, &facts, Some(ctx.to), &excluded).await;
    for e in ctx.excluded {
        ctx.events
            .emit(&crate::events::stamp(crate::events::Event::Warning {
                message: e.warning(),
            }));
    }
    for w in list.warnings() {
        ctx.events
            .emit(&crate::events::stamp(crate::events::Event::Warning {
                message: format!("precheck {}: {} ({})", w.id, w.found, w.remedy),
            }));
    }
    let report = serde_json::to_value(&list).unwrap_or_default();
    if list.blocked() {
        let blockers: Vec<String> = list
            .checks
            .iter()
            .filter(|c| !c.passed && c.severity == Severity::Blocker)
            .map(|c| format!("{}: {}", c.id, c.found))
            .collect();
        return Err(CheckError::Blocked { blockers });
    }
    Ok(serde_json::json!({"leader": facts.leader, "checklist": report}))
}

/// At the end: every planned node at the target and healthy, and every node DC/OS knows
/// accounted for (the excluded ones reported with their version and health where readable).
pub async fn postcheck(ctx: &StepCtx<'_>) -> Result<serde_json::Value, CheckError> {
    let c = ctx.cluster;
    use futures::future::join_all;
    let left_out =
        |n: &crate::playbook::NodeSpec| crate::plan::is_excluded(ctx.excluded, &n.address, &n.name);
    // Every read is independent of the others: all at once.
    let (identities, masters, agents, procedure, known) = tokio::join!(
        c.identities(),
        gates::masters_healthy(c),
        join_all(
            c.agents
                .iter()
                .filter(|a| !left_out(a))
                .map(|a| gates::agent_registered(c, a))
        ),
        crate::phases::procedure::postcheck(c, ctx.to),
        known::read(c)
    );
    let mut problems = Vec::new();
    for (n, id) in identities {
        if left_out(n) {
            continue;
        }
        match id {
            Ok(id) if ctx.to.is(&id.version) => {}
            Ok(id) => problems.push(format!(
                "{} is at {}, not {}",
                n.address, id.version, ctx.to
            )),
            Err(e) => problems.push(e),
        }
    }
    if let Poll::NotYet(e) | Poll::Abort(e) = masters {
        problems.push(e);
    }
    for a in agents {
        if let Poll::NotYet(e) | Poll::Abort(e) = a {
            problems.push(e);
        }
    }
    problems.extend(procedure);
    // Every node DC/OS knows now, not only the planned ones (facts §8.6).
    let planned = known::planned(c.nodes().filter(|n| !left_out(n))).await;
    let names: Vec<String> = ctx.excluded.iter().map(|e| e.node.clone()).collect();
    let r = reconcile::reconcile(&known, &planned, &names);
    if r.blocks() {
        problems.push(r.message());
    }
    let excluded = excluded_now(ctx, &known).await;
    if problems.is_empty() {
        let mut out = serde_json::json!({"to": ctx.to});
        if !excluded.is_empty() {
            out["excluded"] = serde_json::Value::Array(excluded);
        }
        Ok(out)
    } else {
        Err(CheckError::Problems { problems })
    }
}

/// The excluded nodes as DC/OS sees them now: version (an agent's `dcos-version.json` through
/// Admin Router) and health where readable, each also said as a warning.
async fn excluded_now(ctx: &StepCtx<'_>, known: &known::DcosNodes) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for e in ctx.excluded {
        let n = known.find(&e.node);
        let version = match n.and_then(|n| n.agent_id.as_deref().filter(|_| n.at_leader())) {
            Some(id) => known::agent_version(ctx.cluster, id).await,
            None => Err("not read (DC/OS lists no agent id for it)".into()),
        };
        let health = match n {
            None => "DC/OS does not list it now".to_string(),
            Some(n) => {
                let mut h = Vec::new();
                if let Some(a) = n.active {
                    h.push(if a {
                        "active at the leader"
                    } else {
                        "inactive at the leader"
                    });
                }
                match n.health {
                    Some(0) => h.push("healthy in /system/health/v1/nodes"),
                    Some(_) => h.push("unhealthy in /system/health/v1/nodes"),
                    None => {}
                }
                if h.is_empty() {
                    "health not read".to_string()
                } else {
                    h.join(", ")
                }
            }
        };
        let v = version
            .clone()
            .unwrap_or_else(|why| format!("version {why}"));
        ctx.events
            .emit(&crate::events::stamp(crate::events::Event::Warning {
                message: format!(
                    "postcheck: {} was excluded (--exclude) and left as it is: {v}, {health}",
                    e.node
                ),
            }));
        out.push(serde_json::json!({
            "node": e.node, "version": version.ok(), "health": health,
        }));
    }
    out
}

/// How much a failed check matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The upgrade must not start.
    Blocker,
    /// Needs approval.
    Warning,
    /// For the record.
    Info,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckResult {
    /// Stable id, e.g. `masters.odd_count`.
    pub id: String,
    /// Severity when it does not pass.
    pub severity: Severity,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub found: String,
    /// What to do about it (when it did not pass).
    pub remedy: String,
    /// What was recorded for later comparison (agent attributes, task baseline, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// The checklist.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checklist {
    /// Every check, in order.
    pub checks: Vec<CheckResult>,
}

impl Checklist {
    /// Whether a blocker failed.
    pub fn blocked(&self) -> bool {
        self.checks
            .iter()
            .any(|c| !c.passed && c.severity == Severity::Blocker)
    }

    /// Failed warnings.
    pub fn warnings(&self) -> Vec<&CheckResult> {
        self.checks
            .iter()
            .filter(|c| !c.passed && c.severity == Severity::Warning)
            .collect()
    }

    /// The checklist for people.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for c in &self.checks {
            let mark = if c.passed {
                "pass".to_string()
            } else {
                format!("{:?}", c.severity).to_uppercase()
            };
            s.push_str(&format!("[{mark:>7}] {:<32} {}\n", c.id, c.found));
            if !c.passed {
                s.push_str(&format!("          -> {}\n", c.remedy));
            }
        }
        let blockers = self
            .checks
            .iter()
            .filter(|c| !c.passed && c.severity == Severity::Blocker)
            .count();
        s.push_str(&format!(
            "\n{} checks, {} blocker(s), {} warning(s)\n",
            self.checks.len(),
            blockers,
            self.warnings().len()
        ));
        s
    }
}

/// A check: a name and a pure function of the observations.
pub type CheckFn = fn(&Observed) -> Vec<CheckResult>;

/// Every check, in the order the checklist shows them. Add a check by adding a line here.
pub const CHECKS: &[(&str, CheckFn)] = &[
    ("nodes.ssh", check_ssh),
    ("cluster.security", check_security),
    (
        "cluster.security_disabled_path",
        check_security_disabled_path,
    ),
    ("masters.count", check_master_count),
    ("masters.reachable", check_masters_reachable),
    ("masters.registrar_recovered", check_registrar),
    ("masters.one_leader", check_one_leader),
    ("masters.not_flapping", check_flapping),
    ("zookeeper.exhibitor", check_exhibitor),
    ("zookeeper.four_letter_words", check_zk_words),
    ("zookeeper.unknown_znodes", check_znodes),
    ("zookeeper.mntr", check_zk_health),
    ("masters.rtt", check_rtt),
    ("agents.registered", check_agents),
    ("agents.attributes", check_attributes),
    ("agents.headroom", check_headroom),
    ("nodes.disk_free", check_disks),
    ("nodes.auto_updates", check_auto_updates),
    ("nodes.clock_skew", check_clock),
    ("nodes.os_tested", check_os),
    ("marathon.no_deployment", check_deployments),
    ("marathon.image_tags", check_image_tags),
    ("marathon.health_checks", check_health_checks),
    ("tasks.baseline", check_task_baseline),
    ("masters.teardown_auth", check_teardown),
    ("versions.mixed", check_mixed_versions),
    ("versions.path", check_path),
];

fn result(
    id: &str,
    severity: Severity,
    passed: bool,
    found: impl Into<String>,
    remedy: &str,
) -> CheckResult {
    CheckResult {
        id: id.into(),
        severity,
        passed,
        found: found.into(),
        remedy: if passed { String::new() } else { remedy.into() },
        data: None,
    }
}

/// For the record: the security mode each node runs in (it decides how the cluster is reached).
fn check_security(o: &Observed) -> Vec<CheckResult> {
    let found = crate::model::security_summary(&o.security)
        .unwrap_or_else(|| "not read (no node's bootstrap-config.json answered)".into());
    vec![result("cluster.security", Severity::Info, true, found, "")]
}

/// Runs every check of [`CHECKS`] on the observations.
pub fn judge(o: &Observed) -> Checklist {
    Checklist {
        checks: CHECKS.iter().flat_map(|(_, f)| f(o)).collect(),
    }
}

/// Runs the production checklist against the live cluster (read-only). `to` is the target
/// version when known (the path and the tested-OS checks use it); `excluded` are the nodes the
/// operator left out by name (`--exclude`).
pub async fn checklist(
    c: &crate::cluster::Cluster,
    facts: &crate::facts::ClusterFacts,
    to: Option<&crate::versions::RecordedVersion>,
    excluded: &[String],
) -> Checklist {
    // Read-only and independent of each other: the observations, the nodes DC/OS knows and the
    // procedure's checks are gathered at once.
    let (observed, known, planned, procedure) = tokio::join!(
        observe(c, facts, to),
        known::read(c),
        known::planned(c.nodes()),
        crate::phases::procedure::prechecks(c, to)
    );
    let mut list = judge(&observed);
    list.checks
        .extend(reconcile::check(&known, &planned, excluded));
    let poststart: Vec<(&str, &Result<_, String>)> = observed
        .nodes
        .iter()
        .map(|n| (n.address.as_str(), &n.poststart))
        .collect();
    list.checks.extend(
        procedure.with(crate::phases::procedure::node_checks::from_outcomes(
            &poststart,
        )),
    );
    list
}
