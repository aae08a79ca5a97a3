//! Plan types: phases of steps with stable ids, serialized as DESIGN.md's `plan --output json`.

use crate::model::Role;
use serde::{Deserialize, Serialize};

/// The phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseId {
    /// Health checks; changes nothing.
    Precheck,
    /// ZooKeeper backup.
    Backup,
    /// Version path, upgrade script, release notes.
    Validate,
    /// Masters one at a time, the leader last.
    Masters,
    /// Agents: a canary, then batches.
    Agents,
    /// Marathon app upgrades.
    Frameworks,
    /// Final health checks.
    Postcheck,
}

impl PhaseId {
    /// Every phase in order.
    pub const ALL: [PhaseId; 7] = [
        PhaseId::Precheck,
        PhaseId::Backup,
        PhaseId::Validate,
        PhaseId::Masters,
        PhaseId::Agents,
        PhaseId::Frameworks,
        PhaseId::Postcheck,
    ];

    /// The id used in JSON and step ids.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseId::Precheck => "precheck",
            PhaseId::Backup => "backup",
            PhaseId::Validate => "validate",
            PhaseId::Masters => "masters",
            PhaseId::Agents => "agents",
            PhaseId::Frameworks => "frameworks",
            PhaseId::Postcheck => "postcheck",
        }
    }

    /// Whether the phase changes the cluster (and so is preceded by an approval gate).
    pub fn changes_cluster(self) -> bool {
        matches!(
            self,
            PhaseId::Backup | PhaseId::Masters | PhaseId::Agents | PhaseId::Frameworks
        )
    }
}

impl std::fmt::Display for PhaseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a step does, in the JSON contract's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Upgrade a node or an app.
    Upgrade,
    /// Nothing to do (see `reason`).
    Skip,
    /// Observe and judge; changes nothing.
    Check,
    /// Take a backup.
    Backup,
    /// Validate inputs against documented data.
    Validate,
}

impl Action {
    /// Whether a step with this action can change the cluster (an upgrade, or a backup that
    /// stops Exhibitor); checks, validations and skips only read.
    pub fn changes_cluster(self) -> bool {
        matches!(self, Action::Upgrade | Action::Backup)
    }
}

/// Which implementation runs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Cluster health before anything changes.
    Precheck,
    /// ZooKeeper backup on one standby master.
    ZkBackup,
    /// IAM, etcd and Marathon app-definition backups, where the version has them.
    StateBackup,
    /// Installed versions and the from → to path.
    ValidateVersions,
    /// The script at the bootstrap URL targets the requested versions.
    ValidateScript,
    /// Run the node upgrade script on a node, then gate on its health.
    NodeUpgrade,
    /// A node already at the target: nothing runs.
    NodeSkip,
    /// Change a Marathon app and wait for its deployment.
    AppUpgrade,
    /// Cluster health at the end.
    Postcheck,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Stable id, e.g. `masters/10.0.0.12/upgrade`.
    pub id: String,
    /// What the step does.
    pub action: Action,
    /// Which implementation runs it.
    pub kind: StepKind,
    /// One line for people.
    pub description: String,
    /// The node it acts on.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub node: Option<String>,
    /// The node's display name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// The node's role.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub role: Option<Role>,
    /// Masters: whether it was the Mesos leader when planned.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub leader: Option<bool>,
    /// Agents: the batch (0 is the canary).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub batch: Option<u32>,
    /// Agents: the Mesos fault-domain zone (`domain.fault_domain.zone.name` in `/slaves`), when
    /// the plan limits agents per zone and the agent reports one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub zone: Option<String>,
    /// The app, for framework steps.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub app: Option<String>,
    /// Version before (a node's, as it reported it), or the app's image before.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from: Option<super::StepVersion>,
    /// Version after (the target), or the app's image after.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub to: Option<super::StepVersion>,
    /// Why a step is skipped.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// The operator's gates run after the step's own (inventory `[[gates]]`), in order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub gates: Vec<super::gates::PlannedGate>,
    /// Whether the run waits for an approval after this step (inventory `pause_after`).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub pause_after: bool,
}

/// One phase and its steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    /// Which phase.
    pub id: PhaseId,
    /// Its steps, in order (their versions typed by kind as they load).
    #[serde(deserialize_with = "super::step_version::retype")]
    pub steps: Vec<Step>,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The cluster's name.
    pub cluster: String,
    /// The version the cluster goes to, as recorded (a plan saved by an older release loads
    /// whatever its text; [`crate::versions::RecordedVersion::version`] parses it).
    pub to: crate::versions::RecordedVersion,
    /// The version it comes from (the most common installed version), as recorded.
    pub from: Option<crate::versions::RecordedVersion>,
    /// Agents upgraded at once after the canary.
    pub max_unavailable: u32,
    /// At most this many agents of one zone at once (`--max-unavailable-per-zone`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_unavailable_per_zone: Option<u32>,
    /// Phases in order.
    pub phases: Vec<Phase>,
    /// The path's points of no return (see `plan::doors`).
    #[serde(default)]
    pub doors: Vec<super::doors::Door>,
    /// Each node's security mode as its `bootstrap-config.json` said when the plan was made
    /// (node name -> `disabled` | `permissive` | `strict`; empty for plans made without a cluster).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub security: std::collections::BTreeMap<String, crate::model::Security>,
    /// Nodes DC/OS knows that the operator left out by name (`--exclude`): not upgraded, named
    /// with a warning in the plan and the summary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<super::Excluded>,
}

impl Plan {
    /// Every step in execution order.
    pub fn steps(&self) -> impl Iterator<Item = (&Phase, &Step)> {
        self.phases
            .iter()
            .flat_map(|p| p.steps.iter().map(move |s| (p, s)))
    }

    /// A step by id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps().map(|(_, s)| s).find(|s| s.id == id)
    }

    /// Whether the plan changes nothing: every node is at the target and no app changes.
    pub fn changes_nothing(&self) -> bool {
        self.phases
            .iter()
            .filter(|p| {
                matches!(
                    p.id,
                    PhaseId::Masters | PhaseId::Agents | PhaseId::Frameworks
                )
            })
            .flat_map(|p| p.steps.iter())
            .all(|s| s.action == Action::Skip)
    }

    /// The approvals a run of this plan asks for, in order, with what each approves: the
    /// target's release notes (before anything changes), then one gate before each phase that
    /// changes the cluster and has work (mirrors `engine::walk`). Answered at a prompt, or by
    /// `--ack-release-notes VERSION` and `--yes`.
    pub fn gates(&self) -> Vec<(String, String)> {
        let mut out = vec![(
            crate::release_notes::gate_name(self.to.as_str()),
            format!(
                "DC/OS {}'s release notes acknowledged (at the prompt, or --ack-release-notes {})",
                self.to, self.to
            ),
        )];
        for p in &self.phases {
            let work = p.steps.iter().filter(|s| s.action != Action::Skip).count();
            if p.id.changes_cluster() && work > 0 {
                out.push((
                    format!("before:{}", p.id),
                    format!(
                        "approve {work} step(s) of {} (at the prompt, or --yes)",
                        p.id
                    ),
                ));
            }
        }
        out
    }

    /// The phase a step belongs to.
    pub fn phase_of(&self, id: &str) -> Option<PhaseId> {
        self.steps().find(|(_, s)| s.id == id).map(|(p, _)| p.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gates_are_the_release_notes_then_one_per_changing_phase_with_work() {
        let mut plan = crate::testkit::plan(2, 1);
        assert!(!plan.changes_nothing());
        let ids: Vec<String> = plan.gates().into_iter().map(|(id, _)| id).collect();
        assert_eq!(
            ids,
            [
                "release-notes:2.2.1",
                "before:masters",
                "before:agents",
                "before:frameworks"
            ]
        );
        // Every node at the target and no app to change: nothing to upgrade.
        for p in &mut plan.phases {
            if matches!(
                p.id,
                PhaseId::Masters | PhaseId::Agents | PhaseId::Frameworks
            ) {
                for s in &mut p.steps {
                    s.action = Action::Skip;
                }
            }
        }
        assert!(plan.changes_nothing());
        assert!(!plan.gates().iter().any(|(id, _)| id == "before:masters"));
    }
}
