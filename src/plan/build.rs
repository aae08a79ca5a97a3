//! `build`: facts + options -> Plan. Pure: no I/O, no clock.

use super::step::{Action, Phase, PhaseId, Plan, Step, StepKind};
use super::StepVersion;
use crate::facts::{ClusterFacts, NodeFacts};
use crate::model::Role;
use crate::playbook::inventory::FrameworkUpgrade;
use std::collections::HashMap;

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// Cluster name (from the inventory).
    pub cluster: String,
    /// Target DC/OS version.
    pub to: String,
    /// Agents upgraded at once after the canary (at least 1; a `--max-unavailable` percentage
    /// is resolved against the cluster's agents before planning, [`super::MaxUnavailable`]).
    pub max_unavailable: u32,
    /// At most this many agents of one Mesos fault-domain zone in a batch (`None`: no limit).
    pub max_unavailable_per_zone: Option<u32>,
    /// App changes for the frameworks phase.
    pub frameworks: Vec<FrameworkUpgrade>,
}

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A node's installed version is unknown, so nothing can be decided about it.
    #[error("cannot plan: the installed version of {node} is unknown ({why})")]
    UnknownVersion {
        /// The node.
        node: String,
        /// What went wrong reading it.
        why: String,
    },
    /// `--max-unavailable 0`.
    #[error("--max-unavailable must be at least 1")]
    ZeroUnavailable,
    /// A framework upgrade names an app Marathon does not have.
    #[error("cannot plan: Marathon has no app {0} (listed under [[frameworks]] in the inventory)")]
    UnknownApp(String),
}

/// A phase's planner: the steps of that phase, from the facts and the options.
pub type Planner = fn(&ClusterFacts, &PlanOptions) -> Result<Vec<Step>, PlanError>;

/// The workflow, as data: every phase and its planner, in the order they run. Adding a phase is
/// one line here, one planner, and one action in `phases::registry`.
pub const PLANNERS: [(PhaseId, Planner); 7] = [
    (PhaseId::Precheck, precheck),
    (PhaseId::Backup, backup),
    (PhaseId::Validate, validate),
    (PhaseId::Masters, masters),
    (PhaseId::Agents, agents),
    (PhaseId::Frameworks, frameworks),
    (PhaseId::Postcheck, postcheck),
];

/// Builds the ordered plan.
pub fn build(facts: &ClusterFacts, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let mut plan = assemble(facts, opts, |_| true)?;
    // A backup is the way back from a change: a plan that changes nothing takes none (no
    // Exhibitor stopped for it, nothing copied).
    if plan.changes_nothing() {
        for s in plan
            .phases
            .iter_mut()
            .filter(|p| p.id == PhaseId::Backup)
            .flat_map(|p| p.steps.iter_mut())
        {
            s.action = Action::Skip;
            s.reason = Some(format!(
                "nothing to upgrade (every node is at {} and no app changes): no backup is needed",
                opts.to
            ));
        }
    }
    Ok(plan)
}

/// The backup phase alone (the `backup` command, planned for the installed version): its
/// backups are taken whatever else the cluster would need, and no point of no return applies.
pub fn backups_only(facts: &ClusterFacts, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let mut plan = assemble(facts, opts, |id| id == PhaseId::Backup)?;
    plan.doors = Vec::new();
    Ok(plan)
}

/// The plan of the phases `wanted` picks, from their planners, as they are.
fn assemble(
    facts: &ClusterFacts,
    opts: &PlanOptions,
    wanted: impl Fn(PhaseId) -> bool,
) -> Result<Plan, PlanError> {
    if opts.max_unavailable == 0 {
        return Err(PlanError::ZeroUnavailable);
    }
    for n in facts.nodes() {
        if n.version.is_none() {
            return Err(PlanError::UnknownVersion {
                node: n.address.clone(),
                why: n.error.clone().unwrap_or_else(|| "not reported".into()),
            });
        }
    }
    let phases = PLANNERS
        .iter()
        .filter(|(id, _)| wanted(*id))
        .map(|(id, planner)| {
            Ok(Phase {
                id: *id,
                steps: planner(facts, opts)?,
            })
        })
        .collect::<Result<Vec<Phase>, PlanError>>()?;
    let from = most_common_from(facts, &opts.to);
    Ok(Plan {
        cluster: opts.cluster.clone(),
        to: opts.to.clone().into(),
        doors: super::doors::for_path(from.as_deref(), &opts.to),
        security: Default::default(),
        excluded: Vec::new(),
        from: from.map(Into::into),
        max_unavailable: opts.max_unavailable,
        max_unavailable_per_zone: opts.max_unavailable_per_zone,
        phases,
    })
}

fn precheck(_: &ClusterFacts, _: &PlanOptions) -> Result<Vec<Step>, PlanError> {
    Ok(vec![simple(
        "precheck/cluster",
        Action::Check,
        StepKind::Precheck,
        "cluster health before anything changes",
    )])
}

fn backup(facts: &ClusterFacts, _: &PlanOptions) -> Result<Vec<Step>, PlanError> {
    let backup_node = facts
        .masters
        .iter()
        .find(|m| !m.is_leader)
        .or(facts.masters.first());
    let mut backup = simple(
        "backup/zookeeper",
        Action::Backup,
        StepKind::ZkBackup,
        "ZooKeeper backup on a standby master, copied to this machine",
    );
    if let Some(n) = backup_node {
        backup.node = Some(n.address.clone());
        backup.name = Some(n.name.clone());
        backup.role = Some(Role::Master);
    }
    let state = simple(
        "backup/state",
        Action::Backup,
        StepKind::StateBackup,
        "IAM (CockroachDB), etcd and Marathon app-definition backups where the version has them, copied to this machine",
    );
    Ok(vec![backup, state])
}

fn validate(_: &ClusterFacts, _: &PlanOptions) -> Result<Vec<Step>, PlanError> {
    Ok(vec![
        simple(
            "validate/versions",
            Action::Validate,
            StepKind::ValidateVersions,
            "installed versions and the from -> to path are supported",
        ),
        simple(
            "validate/upgrade-script",
            Action::Validate,
            StepKind::ValidateScript,
            "the script at the bootstrap URL upgrades to the requested version",
        ),
    ])
}

/// Masters: one at a time, standbys first (inventory order), the leader last.
fn masters(facts: &ClusterFacts, opts: &PlanOptions) -> Result<Vec<Step>, PlanError> {
    let mut masters: Vec<&NodeFacts> = facts.masters.iter().collect();
    masters.sort_by_key(|m| m.is_leader);
    Ok(masters
        .iter()
        .map(|m| {
            let mut s = node_step("masters", m, &opts.to, None);
            s.leader = Some(m.is_leader);
            s
        })
        .collect())
}

/// Agents: private before public; a canary, then batches of max_unavailable with at most
/// max_unavailable_per_zone agents of one zone ([`super::batch::split`]). Without a zone limit
/// the steps keep the inventory order; with one, the steps that change nothing come first and
/// the others in batch order.
fn agents(facts: &ClusterFacts, opts: &PlanOptions) -> Result<Vec<Step>, PlanError> {
    let mut agents: Vec<&NodeFacts> = facts.agents.iter().collect();
    agents.sort_by_key(|a| a.role == Role::PublicAgent);
    let todo: Vec<usize> = (0..agents.len())
        .filter(|i| !is_at_target(agents[*i], &opts.to) && is_older(agents[*i], &opts.to))
        .collect();
    // batch of agents[i] for every agent that is upgraded
    let mut batch_of: HashMap<usize, u32> = HashMap::new();
    if let Some((&canary, rest)) = todo.split_first() {
        batch_of.insert(canary, 0);
        let mut next: u32 = 1;
        // A role change starts a new batch: private agents all before public ones.
        for role in [Role::Agent, Role::PublicAgent] {
            let group: Vec<usize> = rest
                .iter()
                .copied()
                .filter(|i| (agents[*i].role == Role::PublicAgent) == (role == Role::PublicAgent))
                .collect();
            let zones: Vec<Option<&str>> =
                group.iter().map(|i| agents[*i].zone.as_deref()).collect();
            for b in
                super::batch::split(&zones, opts.max_unavailable, opts.max_unavailable_per_zone)
            {
                for k in b {
                    batch_of.insert(group[k], next);
                }
                next += 1;
            }
        }
    }
    let mut steps: Vec<(u32, Step)> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let batch = batch_of.get(&i).copied();
            let mut s = node_step("agents", a, &opts.to, batch);
            s.zone = a.zone.clone();
            (batch.map_or(0, |b| b + 1), s)
        })
        .collect();
    if opts.max_unavailable_per_zone.is_some() {
        steps.sort_by_key(|(k, _)| *k);
    }
    Ok(steps.into_iter().map(|(_, s)| s).collect())
}

/// Marathon apps named in the inventory's `[[frameworks]]`.
fn frameworks(facts: &ClusterFacts, opts: &PlanOptions) -> Result<Vec<Step>, PlanError> {
    let apps: HashMap<&str, _> = facts.apps.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut fw_steps = Vec::new();
    for f in &opts.frameworks {
        let app = apps
            .get(f.app.as_str())
            .ok_or_else(|| PlanError::UnknownApp(f.app.clone()))?;
        let same = f.image.is_none() || f.image == app.image;
        fw_steps.push(Step {
            id: format!("frameworks/{}/upgrade", f.app.trim_start_matches('/')),
            action: if same { Action::Skip } else { Action::Upgrade },
            kind: StepKind::AppUpgrade,
            description: format!("Marathon app {}", f.app),
            node: None,
            name: None,
            role: None,
            leader: None,
            batch: None,
            zone: None,
            app: Some(f.app.clone()),
            from: app.image.clone().map(StepVersion::Image),
            to: f.image.clone().map(StepVersion::Image),
            reason: same.then(|| "already runs the requested image".to_string()),
            gates: Vec::new(),
            pause_after: false,
        });
    }
    Ok(fw_steps)
}

fn postcheck(_: &ClusterFacts, _: &PlanOptions) -> Result<Vec<Step>, PlanError> {
    Ok(vec![simple(
        "postcheck/cluster",
        Action::Check,
        StepKind::Postcheck,
        "every node at the target version and healthy",
    )])
}

fn simple(id: &str, action: Action, kind: StepKind, description: &str) -> Step {
    Step {
        id: id.to_string(),
        action,
        kind,
        description: description.to_string(),
        node: None,
        name: None,
        role: None,
        leader: None,
        batch: None,
        zone: None,
        app: None,
        from: None,
        to: None,
        reason: None,
        gates: Vec::new(),
        pause_after: false,
    }
}

/// A version's ordering key. A cluster has a few distinct version strings and a plan compares
/// every node's with the target several times, so the keys are remembered per thread (a plan of
/// 10,000 agents otherwise spends most of its time parsing the same two strings).
fn version_key(v: &str) -> Option<semver::Version> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static KEYS: RefCell<HashMap<String, Option<semver::Version>>> = RefCell::new(HashMap::new());
    }
    KEYS.with(|k| {
        let mut k = k.borrow_mut();
        if let Some(hit) = k.get(v) {
            return hit.clone();
        }
        let key = crate::versions::DcosVersion::parse(v)
            .ok()
            .map(|v| v.semver().clone());
        if k.len() > 256 {
            k.clear();
        }
        k.insert(v.to_string(), key.clone());
        key
    })
}

fn is_at_target(n: &NodeFacts, to: &str) -> bool {
    match (n.version.as_deref().and_then(version_key), version_key(to)) {
        (Some(a), Some(b)) => a == b,
        _ => n.version.as_deref() == Some(to),
    }
}

fn is_older(n: &NodeFacts, to: &str) -> bool {
    match (n.version.as_deref().and_then(version_key), version_key(to)) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    }
}

fn node_step(phase: &str, n: &NodeFacts, to: &str, batch: Option<u32>) -> Step {
    let (action, kind, reason) = if is_at_target(n, to) {
        (
            Action::Skip,
            StepKind::NodeSkip,
            Some(format!("already at {to}")),
        )
    } else if !is_older(n, to) {
        (
            Action::Skip,
            StepKind::NodeSkip,
            Some(format!(
                "installed {} is newer than the target {to} (downgrades are refused)",
                n.version.as_deref().unwrap_or("?")
            )),
        )
    } else {
        (Action::Upgrade, StepKind::NodeUpgrade, None)
    };
    Step {
        id: format!("{phase}/{}/upgrade", n.address),
        action,
        kind,
        description: format!(
            "{} {} ({})",
            n.role,
            n.name,
            if action == Action::Skip {
                "skip"
            } else {
                "node upgrade script, then health gates"
            }
        ),
        node: Some(n.address.clone()),
        name: Some(n.name.clone()),
        role: Some(n.role),
        leader: None,
        batch,
        zone: None,
        app: None,
        from: n.version.as_deref().map(|v| StepVersion::Dcos(v.into())),
        to: Some(StepVersion::Dcos(to.into())),
        reason,
        gates: Vec::new(),
        pause_after: false,
    }
}

fn most_common_from(facts: &ClusterFacts, to: &str) -> Option<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for n in facts.nodes().filter(|n| !is_at_target(n, to)) {
        if let Some(v) = &n.version {
            match counts.iter_mut().find(|(k, _)| k == v) {
                Some((_, c)) => *c += 1,
                None => counts.push((v.clone(), 1)),
            }
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts.into_iter().next().map(|(v, _)| v)
}

#[cfg(test)]
mod tests;
