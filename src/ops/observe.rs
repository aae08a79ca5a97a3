//! The operations that change nothing: `check` (the precheck checklist) and `plan`.

use super::{connect, load, InputFiles, OpsError};
use crate::cluster::Cluster;
use crate::door::Transport;
use crate::facts::ClusterFacts;
use crate::phases::checks::{reconcile, Checklist};
use crate::plan::{self, Plan, PlanOptions};
use crate::playbook::Inventory;
use crate::probe::facts;
use std::sync::Arc;

/// What `plan` (and `run`) ask for.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// Inventory and playbook.
    pub inputs: InputFiles,
    /// Target DC/OS version.
    pub to: String,
    /// Agents upgraded at once after the canary: a count, or a percentage of the cluster's
    /// agents (resolved once the agents are known).
    pub max_unavailable: crate::plan::MaxUnavailable,
    /// At most this many agents of one Mesos fault-domain zone at once.
    pub max_unavailable_per_zone: Option<u32>,
    /// Nodes DC/OS knows that the plan leaves out by name (`--exclude`).
    pub exclude: Vec<String>,
}

/// A plan with the cluster it was made from (still connected).
pub struct Planned {
    /// The cluster, behind its observe door.
    pub cluster: Cluster,
    /// The transports (closed by whoever finishes with them).
    pub transport: Arc<Transport>,
    /// The plan.
    pub plan: Plan,
    /// The playbook file's text, if not the built-in one.
    pub playbook_text: Option<String>,
}

/// Validates a plan request against the inventory, before anything is contacted.
pub fn plan_options(inventory: &Inventory, r: &PlanRequest) -> Result<PlanOptions, OpsError> {
    // One strict parser, before anything is contacted: `v2.2.1`, `2.2`, `2.2.1-rc1` and
    // releases the shipped data does not name are refused here (exit 2).
    // A well-formed release the data does not name is judged with the installed versions
    // (`check_paths`), so the refusal names the path; a refused release stops here.
    use crate::versions::VersionError;
    let to = match crate::versions::parse_target(&r.to) {
        Ok(v) => v,
        Err(VersionError::UnknownRelease { .. }) => crate::versions::DcosVersion::parse(&r.to)
            .map_err(|e| OpsError::BadInput(format!("--to {:?}: {e}", r.to)))?,
        Err(e @ VersionError::Refused { .. }) => {
            return Err(OpsError::Failed(format!("versions.path: {e}")))
        }
        Err(e) => return Err(OpsError::BadInput(format!("--to {:?}: {e}", r.to))),
    };
    use crate::plan::MaxUnavailable;
    if matches!(r.max_unavailable, MaxUnavailable::Count(0)) {
        return Err(OpsError::BadInput(
            "--max-unavailable must be at least 1".into(),
        ));
    }
    if r.max_unavailable_per_zone == Some(0) {
        return Err(OpsError::BadInput(
            "--max-unavailable-per-zone must be at least 1".into(),
        ));
    }
    Ok(PlanOptions {
        cluster: inventory.cluster_name.clone(),
        to: to.to_string(),
        // A percentage is resolved in `plan`, once the agents are known.
        max_unavailable: r
            .max_unavailable
            .resolve(inventory.agents.as_ref().map_or(0, Vec::len)),
        max_unavailable_per_zone: r.max_unavailable_per_zone,
        frameworks: inventory.frameworks.clone(),
    })
}

/// Observes the cluster with the `exclude`d agents left out (see `--exclude`).
async fn observe_without(
    cluster: &mut Cluster,
    with_apps: bool,
    exclude: &[String],
) -> Result<ClusterFacts, OpsError> {
    facts::resolve_agents(cluster)
        .await
        .map_err(OpsError::Failed)?;
    reconcile::leave_out(cluster, exclude).map_err(excluding)?;
    let inv = &mut cluster.inventory;
    crate::playbook::gates::resolve_discovered(
        &inv.awaiting_discovery,
        &cluster.agents,
        &mut inv.gates,
        &mut inv.pause_after,
    )
    .map_err(OpsError::BadInput)?;
    Ok(facts::gather(cluster, with_apps).await)
}

fn excluding(e: reconcile::ExcludeError) -> OpsError {
    match e {
        reconcile::ExcludeError::BadInput(m) => OpsError::BadInput(m),
        reconcile::ExcludeError::Missing(m) => OpsError::Failed(m),
    }
}

/// Observes the cluster and builds the plan; changes nothing.
pub async fn plan(r: &PlanRequest) -> Result<Planned, OpsError> {
    let inputs = load(&r.inputs)?;
    let mut opts = plan_options(&inputs.inventory, r)?;
    let (mut cluster, transport) = connect(
        inputs.inventory,
        inputs.playbook,
        r.inputs.trust_new_host_keys,
    )?;
    // Every node found: a node DC/OS knows that the plan lacks blocks it, unless excluded.
    let observed =
        match observe_without(&mut cluster, !opts.frameworks.is_empty(), &r.exclude).await {
            Ok(f) => reconcile::before_plan(&cluster, &r.exclude)
                .await
                .map(|x| (f, x))
                .map_err(excluding),
            Err(e) => Err(e),
        };
    let (facts, excluded) = match observed {
        Ok(f) => f,
        Err(e) => {
            transport.close().await;
            return Err(e);
        }
    };
    opts.max_unavailable = r.max_unavailable.resolve(facts.agents.len());
    let facts = match with_zones(&cluster, facts, opts.max_unavailable_per_zone).await {
        Ok(f) => f,
        Err(e) => {
            transport.close().await;
            return Err(e);
        }
    };
    let plan = plan::build(&facts, &opts)
        .map_err(|e| OpsError::Failed(e.to_string()))
        .and_then(|mut p| {
            let inv = &cluster.inventory;
            plan::gates::attach(&mut p, &inv.gates, &inv.pause_after)
                .map_err(|e| OpsError::BadInput(format!("[[gates]] command: {e}")))?;
            Ok(p)
        })
        .and_then(|p| check_paths(&p).map(|()| p))
        .map(|mut p| {
            p.security = security_by_name(&cluster, &facts);
            p.excluded = excluded;
            p
        });
    match plan {
        Ok(plan) => Ok(Planned {
            cluster,
            transport,
            plan,
            playbook_text: inputs.playbook_text,
        }),
        Err(e) => {
            transport.close().await;
            Err(e)
        }
    }
}

/// Each observed node's security mode (recorded by the node-local reads under its address), by
/// the node's name.
fn security_by_name(
    cluster: &Cluster,
    facts: &crate::facts::ClusterFacts,
) -> std::collections::BTreeMap<String, crate::model::Security> {
    let seen = cluster.security.all();
    facts
        .nodes()
        .filter_map(|n| seen.get(&n.address).map(|m| (n.name.clone(), *m)))
        .collect()
}

/// The agents' fault-domain zones from the leading master's `/slaves`, when the plan limits
/// agents per zone (otherwise nothing is read). An agent the master does not list keeps no zone.
async fn with_zones(
    cluster: &Cluster,
    mut facts: ClusterFacts,
    per_zone: Option<u32>,
) -> Result<ClusterFacts, OpsError> {
    if per_zone.is_none() || facts.agents.is_empty() {
        return Ok(facts);
    }
    let slaves = crate::probe::mesos::slaves(cluster).await.map_err(|e| {
        OpsError::Failed(format!(
            "--max-unavailable-per-zone needs the agents' zones from the leading master's /slaves: {e}"
        ))
    })?;
    let mut zones: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for s in &slaves {
        if let Some(z) = s.zone() {
            zones.insert(s.hostname.clone(), z.to_string());
            zones.insert(s.address(), z.to_string());
        }
    }
    for a in &mut facts.agents {
        a.zone = zones.get(&a.address).cloned();
    }
    Ok(facts)
}

/// Every node still to move must have a documented path to the target (checked again by the
/// precheck and the validate phase): refused here, before a run is recorded or anything changes.
pub(crate) fn check_paths(plan: &Plan) -> Result<(), OpsError> {
    let to = plan
        .to
        .version()
        .map_err(|e| OpsError::BadInput(format!("--to {:?}: {e}", plan.to)))?;
    let mut refused = Vec::new();
    // A cluster has a few installed versions: each is judged once (10,000 agents, one check).
    let mut judged: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for (_, s) in plan.steps() {
        let from = s.from.as_ref().and_then(crate::plan::StepVersion::dcos);
        let (Some(node), Some(from)) = (&s.node, from) else {
            continue;
        };
        if s.role.is_none() {
            continue;
        }
        if judged.contains(from.as_str()) && from.parsed().is_some() {
            continue;
        }
        judged.insert(from.as_str());
        let from = match from.version() {
            Ok(v) => v,
            Err(e) => {
                refused.push(format!("{node}: installed version {from:?}: {e}"));
                continue;
            }
        };
        if let Err(e) = crate::versions::check_upgrade(&from, &to) {
            let line = format!("{e}");
            if !refused.iter().any(|r: &String| r.ends_with(&line)) {
                refused.push(format!("versions.path: {line}"));
            }
        }
    }
    if refused.is_empty() {
        if let Err(e) = crate::versions::parse_target(plan.to.as_str()) {
            refused.push(format!("versions.path: {e}"));
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(OpsError::Failed(format!(
            "the version path is not documented, so nothing was planned to change:\n  {}",
            refused.join("\n  ")
        )))
    }
}

/// Observes the cluster and judges the precheck checklist, with the `exclude`d nodes left out as
/// `plan` leaves them (`--exclude`); changes nothing.
pub async fn check(files: &InputFiles, exclude: &[String]) -> Result<Checklist, OpsError> {
    let inputs = load(files)?;
    let (mut cluster, transport) =
        connect(inputs.inventory, inputs.playbook, files.trust_new_host_keys)?;
    let facts = observe_without(&mut cluster, false, exclude).await;
    let report = match facts {
        Ok(f) => Ok(crate::phases::checks::checklist(&cluster, &f, None, exclude).await),
        Err(e) => Err(e),
    };
    transport.close().await;
    report
}
