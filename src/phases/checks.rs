//! Cluster health checks of the precheck and postcheck steps.

use super::gates::{self, same_version};
use super::StepCtx;
use crate::probe::marathon;
use crate::probe::wait::Poll;

/// Before anything changes: every node reachable, masters healthy, agents registered,
/// no Marathon deployment in progress.
pub async fn precheck(ctx: &StepCtx<'_>) -> Result<serde_json::Value, String> {
    let c = ctx.cluster;
    let mut problems = Vec::new();
    for n in c.nodes() {
        if let Err(e) = c.identity(n).await {
            problems.push(e);
        }
    }
    let leader = match gates::masters_healthy(c).await {
        Poll::Ready(l) => Some(l),
        Poll::NotYet(e) | Poll::Abort(e) => {
            problems.push(e);
            None
        }
    };
    for a in &c.agents {
        if let Poll::NotYet(e) | Poll::Abort(e) = gates::agent_registered(c, a).await {
            problems.push(e);
        }
    }
    if let Some(l) = &leader {
        match marathon::deployments(&c.http, l, c.playbook.ports.marathon).await {
            Ok(d) if !d.is_empty() => problems.push(format!(
                "{} Marathon deployment(s) in progress; wait for them to finish",
                d.len()
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!("Marathon: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(serde_json::json!({"leader": leader}))
    } else {
        Err(format!("precheck blocked: {}", problems.join("; ")))
    }
}

/// At the end: every node at the target and healthy.
pub async fn postcheck(ctx: &StepCtx<'_>) -> Result<serde_json::Value, String> {
    let c = ctx.cluster;
    let mut problems = Vec::new();
    for n in c.nodes() {
        match c.identity(n).await {
            Ok(id) if same_version(&id.version, ctx.to) => {}
            Ok(id) => problems.push(format!("{} is at {}, not {}", n.address, id.version, ctx.to)),
            Err(e) => problems.push(e),
        }
    }
    if let Poll::NotYet(e) | Poll::Abort(e) = gates::masters_healthy(c).await {
        problems.push(e);
    }
    for a in &c.agents {
        if let Poll::NotYet(e) | Poll::Abort(e) = gates::agent_registered(c, a).await {
            problems.push(e);
        }
    }
    if problems.is_empty() {
        Ok(serde_json::json!({"to": ctx.to}))
    } else {
        Err(format!("postcheck: {}", problems.join("; ")))
    }
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
}

/// The checklist.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checklist {
    /// Every check, in order.
    pub checks: Vec<CheckResult>,
}

impl Checklist {
    fn add(&mut self, id: &str, severity: Severity, passed: bool, found: String, remedy: &str) {
        self.checks.push(CheckResult {
            id: id.into(),
            severity,
            passed,
            found,
            remedy: if passed { String::new() } else { remedy.into() },
        });
    }

    /// Whether a blocker failed.
    pub fn blocked(&self) -> bool {
        self.checks.iter().any(|c| !c.passed && c.severity == Severity::Blocker)
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
        let blockers = self.checks.iter().filter(|c| !c.passed && c.severity == Severity::Blocker).count();
        s.push_str(&format!(
            "\n{} checks, {} blocker(s), {} warning(s)\n",
            self.checks.len(),
            blockers,
            self.warnings().len()
        ));
        s
    }
}

/// Runs the production checklist against the live cluster (read-only).
pub async fn checklist(c: &crate::cluster::Cluster, facts: &crate::facts::ClusterFacts) -> Checklist {
    let mut list = Checklist::default();
    let n = facts.masters.len();
    list.add(
        "masters.odd_count",
        Severity::Warning,
        n % 2 == 1,
        format!("{n} masters"),
        "run an odd number of masters (3, or 5 in production): an even ensemble tolerates no more failures than the odd one below it",
    );
    let unreachable: Vec<String> = facts
        .nodes()
        .filter(|x| x.version.is_none())
        .map(|x| format!("{} ({})", x.address, x.error.clone().unwrap_or_default()))
        .collect();
    list.add(
        "nodes.reachable",
        Severity::Blocker,
        unreachable.is_empty(),
        if unreachable.is_empty() {
            format!("{} nodes reachable over SSH, versions read", facts.nodes().count())
        } else {
            format!("unreachable: {}", unreachable.join(", "))
        },
        "fix SSH access (user, key, known_hosts, sudo) to every node",
    );
    let (ok, found) = match gates::masters_healthy(c).await {
        Poll::Ready(l) => (true, format!("Exhibitor serving, registrar recovered, leader {l}")),
        Poll::NotYet(e) | Poll::Abort(e) => (false, e),
    };
    list.add(
        "masters.healthy",
        Severity::Blocker,
        ok,
        found,
        "every master must be in the ZooKeeper quorum (Exhibitor serving) with registrar/log/recovered = 1 before an upgrade",
    );
    let mut unregistered = Vec::new();
    for a in &c.agents {
        if let Poll::NotYet(e) | Poll::Abort(e) = gates::agent_registered(c, a).await {
            unregistered.push(e);
        }
    }
    list.add(
        "agents.registered",
        Severity::Blocker,
        unregistered.is_empty(),
        if unregistered.is_empty() {
            format!("{} agents registered", c.agents.len())
        } else {
            unregistered.join("; ")
        },
        "bring every agent back (dcos-mesos-slave running, slave/registered = 1) before upgrading",
    );
    if let Some(l) = &facts.leader {
        let (ok, found) = match marathon::deployments(&c.http, l, c.playbook.ports.marathon).await {
            Ok(d) if d.is_empty() => (true, "no deployment in progress".to_string()),
            Ok(d) => (false, format!("{} deployment(s) in progress", d.len())),
            Err(e) => (false, e.to_string()),
        };
        list.add(
            "marathon.no_deployment",
            Severity::Blocker,
            ok,
            found,
            "wait for Marathon deployments to finish (GET /v2/deployments is empty)",
        );
    }
    list
}
