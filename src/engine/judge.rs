//! The rollback's verdict from the cluster itself: before `rolled_back` is recorded, every node
//! of the plan is read again and must run the plan's from-version. A node another run changed
//! (its step here was skipped as already at the target) keeps the rollback from claiming the
//! cluster is back.

use super::{Engine, EngineError, Outcome};
use crate::events::Event;
use crate::machine::{Record, StepState};
use crate::plan::StepKind;

impl Engine<'_> {
    /// The plan's nodes that observably run another version than the plan's from-version, with
    /// why, in words. A node that cannot be read is announced and not counted (its own undo
    /// checked it, if this run changed it).
    pub(super) async fn nodes_not_back(&self) -> Vec<String> {
        let Some(from) = self.record.plan.from.clone() else {
            return Vec::new();
        };
        let view = self.view();
        let mut out = Vec::new();
        for (_, s) in self.record.plan.steps() {
            if !matches!(s.kind, StepKind::NodeUpgrade | StepKind::NodeSkip) {
                continue;
            }
            let Some(node) = s.node.as_deref().and_then(|a| self.cluster.node(a)) else {
                continue;
            };
            let state = view.step(&s.id).map(|v| v.state);
            let left = self.passed(&super::GateId::NoUndo(s.id.clone()));
            match self.cluster.identity(node).await {
                Ok(id) if from.is(&id.version) => {}
                Ok(id) => {
                    let why = match state {
                        // At the target when this run began: not back only if another run of
                        // this state directory changed it and has not undone it.
                        Some(StepState::Skipped) | None => match self.changed_by_other_run(&node.address) {
                            Some(run) => format!(
                                "changed by run {run}, not by this one: roll that run back too (`dcos-upgrade rollback --run {run}`)"
                            ),
                            None => continue,
                        },
                        _ if left => "left as it is: it has no safe undo".to_string(),
                        _ => "this run's undo did not bring it back".to_string(),
                    };
                    out.push(format!("{} runs {} ({why})", node.address, id.version));
                }
                Err(e) => self.emit(Event::Warning {
                    message: format!(
                        "rollback: cannot read the version of {} to confirm it is back at {from}: {e}",
                        node.address
                    ),
                }),
            }
        }
        out
    }

    /// Another run in this state directory whose upgrade of `address` took effect and was not
    /// undone (its id).
    fn changed_by_other_run(&self, address: &str) -> Option<String> {
        let runs = std::fs::read_dir(self.store.dir().join("runs")).ok()?;
        for entry in runs.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if id == self.record.id {
                continue;
            }
            let (Ok(rec), Ok(journal)) = (self.store.run(&id), self.store.journal(&id)) else {
                continue;
            };
            let Ok(view) = crate::machine::RunView::replay(&rec.plan, &journal) else {
                continue;
            };
            let changed = rec.plan.steps().any(|(_, s)| {
                s.kind == StepKind::NodeUpgrade
                    && s.node.as_deref() == Some(address)
                    && view.step(&s.id).is_some_and(|v| {
                        matches!(
                            v.state,
                            StepState::Done
                                | StepState::Running
                                | StepState::Failed
                                | StepState::UndoFailed
                        )
                    })
            });
            if changed {
                return Some(id);
            }
        }
        None
    }

    /// The rollback undid its steps but the cluster is not back: paused, never `rolled_back`.
    pub(super) fn not_back(
        &self,
        stray: &[String],
        after_failure: Option<&str>,
    ) -> Result<Outcome, EngineError> {
        let from = (self.record.plan.from.as_ref()).map_or_else(String::new, ToString::to_string);
        let failed = after_failure
            .map(|e| format!(" The failure was: {e}."))
            .unwrap_or_default();
        let reason = format!(
            "this run's changes are undone, but the cluster is NOT back at {from}: {}.{failed} See `dcos-upgrade status` of the other runs in this state directory",
            stray.join("; ")
        );
        self.record(Record::RollbackStopped {
            reason: reason.clone(),
        })?;
        Ok(Outcome::RollbackStopped { reason })
    }
}
