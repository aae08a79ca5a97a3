//! The operator's gates and pauses attached to the node steps they follow: pure, so `plan` shows
//! each gate's command exactly as `run` sends it (placeholders substituted, shell-quoted).

use super::step::{Plan, Step, StepKind};
use crate::playbook::gates::{OperatorGate, RunOn};
use crate::shell::{render, TemplateError};
use serde::{Deserialize, Serialize};

/// One operator gate as the plan runs it after a node step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedGate {
    /// The gate's name (inventory `[[gates]] name`).
    pub name: String,
    /// Where the command runs: a node's address, or `local` (this machine).
    pub run_on: String,
    /// The command, placeholders substituted and quoted.
    pub command: String,
    /// How long it may take to pass.
    pub timeout_secs: u64,
    /// Seconds between two tries.
    pub interval_secs: u64,
}

impl PlannedGate {
    /// Whether the command runs on this machine rather than on a node.
    pub fn is_local(&self) -> bool {
        self.run_on == "local"
    }

    /// The gate's id in events and the journal: `operator:<name>@<node just upgraded>`.
    pub fn id(&self, step: &Step) -> String {
        format!(
            "operator:{}@{}",
            self.name,
            step.node.as_deref().unwrap_or("-")
        )
    }
}

/// The gates that follow the step of one node, rendered for it.
fn for_step(
    step: &Step,
    to: &str,
    gates: &[OperatorGate],
) -> Result<Vec<PlannedGate>, TemplateError> {
    let (Some(node), Some(role)) = (step.node.as_deref(), step.role) else {
        return Ok(Vec::new());
    };
    let name = step.name.as_deref().unwrap_or(node);
    let vars = [
        ("node", node),
        ("name", name),
        ("role", role.as_str()),
        ("to", to),
    ];
    gates
        .iter()
        .filter(|g| g.after.matches(node, role))
        .map(|g| {
            Ok(PlannedGate {
                name: g.name.clone(),
                run_on: match &g.run_on {
                    RunOn::Node => node.to_string(),
                    RunOn::Local => "local".into(),
                    RunOn::At(a) => a.clone(),
                },
                command: render(&g.command, &vars)?,
                timeout_secs: g.timeout_secs,
                interval_secs: g.interval_secs,
            })
        })
        .collect()
}

/// Attaches the inventory's gates to every node upgrade step they follow, and marks the steps
/// of the nodes in `pause_after` (upgraded or skipped) to wait for an approval after them.
///
/// # Errors
/// A command template that does not render (the inventory checks every one at load).
pub fn attach(
    plan: &mut Plan,
    gates: &[OperatorGate],
    pause_after: &[String],
) -> Result<(), TemplateError> {
    let to = plan.to.to_string();
    for phase in &mut plan.phases {
        for step in &mut phase.steps {
            if step.kind == StepKind::NodeUpgrade {
                step.gates = for_step(step, &to, gates)?;
            }
            let paused = matches!(step.kind, StepKind::NodeUpgrade | StepKind::NodeSkip)
                && step
                    .node
                    .as_deref()
                    .is_some_and(|n| pause_after.iter().any(|p| p == n));
            step.pause_after = paused;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;
    use crate::playbook::gates::GateAfter;

    fn step(node: &str, role: Role, kind: StepKind) -> Step {
        let mut s =
            crate::testkit::step(&format!("x/{node}/upgrade"), kind, Some(node), Some(role));
        s.name = Some("it's".into());
        s
    }

    #[test]
    fn gates_follow_their_role_or_node_and_quote_what_they_substitute() {
        let g = |after, cmd: &str| OperatorGate {
            name: "g".into(),
            after,
            run_on: RunOn::Node,
            command: cmd.into(),
            timeout_secs: 10,
            interval_secs: 1,
        };
        let gates = [
            g(GateAfter::Agents, "check {name} {node}"),
            g(GateAfter::Node("10.0.0.11".into()), "m"),
        ];
        let a = step("10.0.1.1", Role::PublicAgent, StepKind::NodeUpgrade);
        let out = for_step(&a, "2.2.1", &gates).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].command, "check 'it'\\''s' 10.0.1.1");
        assert_eq!(out[0].run_on, "10.0.1.1");
        let m = step("10.0.0.11", Role::Master, StepKind::NodeUpgrade);
        assert_eq!(for_step(&m, "2.2.1", &gates).unwrap()[0].command, "m");
    }
}
