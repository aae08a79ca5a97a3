//! Every node found: the nodes DC/OS knows (see `known`) against the nodes a plan covers and
//! those the operator excluded by name. A node DC/OS knows that the plan lacks blocks the plan,
//! the precheck and the postcheck, until it is listed or excluded (facts §8.6: an inventory or a
//! discovery that misses a node must not end in "done").

use super::known::{DcosNodes, Planned};
use super::{result, CheckResult, Severity};
use crate::plan::Excluded;

/// What the comparison found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciled {
    /// Nodes DC/OS knows that are neither planned nor excluded.
    pub missing: Vec<super::known::KnownNode>,
    /// Agents the leader counts as unreachable (it cannot name them) that no planned agent the
    /// leader does not list, and no excluded name DC/OS does not know, accounts for.
    pub unaccounted_unreachable: u64,
    /// Every `--exclude`, with what DC/OS said about it.
    pub excluded: Vec<Excluded>,
    /// `--exclude` names that DC/OS does not know and that no unreachable agent can stand for.
    pub unknown_excludes: Vec<String>,
}

impl Reconciled {
    /// Whether the plan lacks a node DC/OS knows.
    pub fn blocks(&self) -> bool {
        !self.missing.is_empty() || self.unaccounted_unreachable > 0
    }

    /// What is missing, for people, with the remedy.
    pub fn message(&self) -> String {
        let mut lines: Vec<String> = self.missing.iter().map(|n| n.describe()).collect();
        if self.unaccounted_unreachable > 0 {
            lines.push(format!(
                "{} agent(s) the leading master counts as unreachable (master/slaves_unreachable) and cannot name: find them (the Mesos UI's unreachable agents, your own records)",
                self.unaccounted_unreachable
            ));
        }
        let example = self
            .missing
            .first()
            .map(|n| n.address.clone())
            .unwrap_or_else(|| "NODE".into());
        format!(
            "DC/OS knows node(s) that the plan lacks: {}. List each in the inventory, or leave it out knowingly with --exclude {example} (repeatable; an excluded node is not upgraded, and the plan and the summary name it)",
            lines.join("; ")
        )
    }
}

/// Compares what DC/OS knows with the `planned` nodes and the `exclude` names.
pub fn reconcile(known: &DcosNodes, planned: &[Planned], exclude: &[String]) -> Reconciled {
    let is_planned = |n: &super::known::KnownNode| planned.iter().any(|p| p.is(n));
    let excluded_by = |n: &super::known::KnownNode| exclude.iter().any(|x| n.is(x));
    let missing = known
        .nodes
        .iter()
        .filter(|n| !is_planned(n) && !excluded_by(n))
        .cloned()
        .collect();
    // Planned agents the leader does not list may be the unreachable ones it counts.
    let planned_unlisted = planned
        .iter()
        .filter(|p| p.agent)
        .filter(|p| !known.nodes.iter().any(|n| n.at_leader() && p.is(n)))
        .count() as u64;
    let mut room = known
        .unreachable
        .unwrap_or(0)
        .saturating_sub(planned_unlisted);
    let mut excluded = Vec::new();
    let mut unknown_excludes = Vec::new();
    for x in exclude {
        if let Some(n) = known.find(x) {
            excluded.push(Excluded {
                node: x.clone(),
                known_as: n.describe(),
            });
        } else if room > 0 {
            room -= 1;
            excluded.push(Excluded {
                node: x.clone(),
                known_as: format!(
                    "DC/OS does not name it: taken for one of the {} agent(s) the leading master counts as unreachable",
                    known.unreachable.unwrap_or(0)
                ),
            });
        } else if !known.unread.is_empty() {
            excluded.push(Excluded {
                node: x.clone(),
                known_as: format!(
                    "not confirmed: DC/OS's node lists could not all be read ({})",
                    known.unread.join("; ")
                ),
            });
        } else {
            unknown_excludes.push(x.clone());
        }
    }
    Reconciled {
        missing,
        unaccounted_unreachable: room,
        excluded,
        unknown_excludes,
    }
}

/// The checklist's `nodes.all_known`: a blocker while DC/OS knows a node the plan lacks; the
/// exclusions and the lists that could not be read are named in what it found.
pub fn check(known: &DcosNodes, planned: &[Planned], exclude: &[String]) -> Vec<CheckResult> {
    let r = reconcile(known, planned, exclude);
    let mut found = if r.blocks() {
        r.message()
    } else {
        format!(
            "every node DC/OS knows ({}) is planned{}",
            known.nodes.len(),
            if known.unreachable.unwrap_or(0) > 0 {
                format!(
                    "; {} unreachable agent(s) accounted for",
                    known.unreachable.unwrap_or(0)
                )
            } else {
                String::new()
            }
        )
    };
    for e in &r.excluded {
        found.push_str(&format!("; {}", e.warning()));
    }
    let mut out = vec![result(
        "nodes.all_known",
        Severity::Blocker,
        !r.blocks(),
        found,
        "list every node DC/OS knows in the inventory, or name it with --exclude NODE",
    )];
    if !known.unread.is_empty() {
        out.push(result(
            "nodes.all_known_read",
            Severity::Info,
            false,
            format!(
                "could not read every list of DC/OS's nodes: {}",
                known.unread.join("; ")
            ),
            "make sure the leading master and Exhibitor answer through Admin Router and on the masters, then check again",
        ));
    }
    out
}

/// Why a plan cannot be made with these exclusions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExcludeError {
    /// An `--exclude` names a node the inventory lists, or one DC/OS does not know (exit 2).
    #[error("{0}")]
    BadInput(String),
    /// DC/OS knows a node the plan lacks (exit 1).
    #[error("{0}")]
    Missing(String),
}

/// Leaves the excluded agents out of the cluster's agents (an agent discovered from the leader
/// may be excluded; a node the inventory lists may not: remove it from the inventory instead).
pub fn leave_out(c: &mut crate::cluster::Cluster, exclude: &[String]) -> Result<(), ExcludeError> {
    let inv = &c.inventory;
    for x in exclude {
        let listed = inv
            .masters
            .iter()
            .chain(inv.agents.iter().flatten())
            .find(|n| n.address == *x || n.name.eq_ignore_ascii_case(x));
        if let Some(n) = listed {
            return Err(ExcludeError::BadInput(format!(
                "--exclude {x}: the inventory lists {} ({}); an excluded node must not be in the inventory (remove it there to leave it out)",
                n.address, n.role
            )));
        }
    }
    c.agents.retain(|a| {
        !exclude
            .iter()
            .any(|x| a.address == *x || a.name.eq_ignore_ascii_case(x))
    });
    Ok(())
}

/// Before planning: the nodes DC/OS knows against the cluster's nodes and the exclusions; the
/// exclusions as recorded with the plan, or why no plan can be made.
pub async fn before_plan(
    c: &crate::cluster::Cluster,
    exclude: &[String],
) -> Result<Vec<Excluded>, ExcludeError> {
    let (known, planned) = tokio::join!(super::known::read(c), super::known::planned(c.nodes()));
    let r = reconcile(&known, &planned, exclude);
    if let Some(x) = r.unknown_excludes.first() {
        return Err(ExcludeError::BadInput(format!(
            "--exclude {x}: DC/OS knows no such node (not in Exhibitor's server list, the leader's /slaves or recovered_slaves, or /system/health/v1/nodes, and no unreachable agent is left for it to stand for)"
        )));
    }
    if r.blocks() {
        return Err(ExcludeError::Missing(format!(
            "{}; nothing was planned to change",
            r.message()
        )));
    }
    Ok(r.excluded)
}

#[cfg(test)]
mod tests;
