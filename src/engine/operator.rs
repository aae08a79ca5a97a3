//! The operator's own gates after a node step and the approvals after named nodes (inventory
//! `[[gates]]` and `pause_after`), wired into the walk.
//!
//! A `pause_after` approval is a person's: the `--yes` of the invocation that reaches it does
//! not pass it (the run stops there, exit 3 without a terminal); the `--yes` of a later
//! `resume`, started while the run waits there, does.

use super::walk::Flow;
use super::{Engine, EngineError, GateId};
use crate::action::{StepCtx, StepError};
use crate::events::Event;
use crate::phases::operator_gate;
use crate::plan::Step;
use crate::store::AuditEntry;
use serde_json::Value;

impl Engine<'_> {
    /// Runs the step's operator gates after its action succeeded; the output gains
    /// `operator_gates` (what ran, where, how many tries).
    pub(super) async fn operator_gates(
        &self,
        ctx: &StepCtx<'_>,
        output: Value,
    ) -> Result<Value, StepError> {
        if ctx.step.gates.is_empty() {
            return Ok(output);
        }
        let (store, run, events) = (self.store, self.record.id.as_str(), self.events);
        let audit = move |e: AuditEntry| {
            if let Err(err) = store.append_audit(run, &e) {
                events.emit(&crate::events::stamp(Event::Warning {
                    message: format!("the audit log could not record an operator gate: {err}"),
                }));
            }
        };
        let results = operator_gate::run_all(ctx, &audit).await?;
        let results = serde_json::to_value(results).unwrap_or(Value::Null);
        Ok(match output {
            Value::Object(mut m) => {
                m.insert("operator_gates".into(), results);
                Value::Object(m)
            }
            Value::Null => serde_json::json!({ "operator_gates": results }),
            other => serde_json::json!({ "output": other, "operator_gates": results }),
        })
    }

    /// The `pause_after` gates of finished steps that are not approved yet.
    pub(super) fn due_pauses(&self) -> Vec<(&Step, GateId)> {
        self.pause_steps
            .iter()
            .copied()
            .filter(|s| self.is_finished(&s.id))
            .map(|s| (s, GateId::PauseAfter(s.node.clone().unwrap_or_default())))
            .filter(|(_, g)| !self.passed(g))
            .collect()
    }

    /// Holds the walk at every due `pause_after` gate: approved at a prompt, by the `--yes` of
    /// a resume that found the run waiting there, or else the run stops there.
    pub(super) async fn pauses(&self) -> Result<Flow, EngineError> {
        for (step, gate) in self.due_pauses() {
            if self.passed(&gate) {
                continue;
            }
            let yes = self.options.yes && self.waiting_at_start.contains(&gate.to_string());
            let node = step.node.as_deref().unwrap_or("-");
            let name = step.name.as_deref().unwrap_or(node);
            let message = format!(
                "{name} ({node}) is finished: approve to go on with the next node (inventory pause_after)"
            );
            // The operator looks at the cluster before the next node: `ask` drops what the
            // step before read ahead for it when it asks a person (its gates read again after
            // the approval); a resume's `--yes` starts with nothing read ahead.
            let asked = self.ask(gate, message, yes).await;
            self.mirror().await;
            match asked? {
                Flow::Continue => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Continue)
    }
}
