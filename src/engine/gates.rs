//! Gates: approval before each phase that changes the cluster, the release-notes gate before
//! anything changes, and the yes/no gates of the rollback. Each is journaled when passed, so a
//! resumed run does not ask again.

use super::walk::Flow;
use super::{Engine, EngineError, GateChoice, GateId, Outcome};
use crate::checkpoint;
use crate::events::{Decision, Event};
use crate::machine::Record;
use crate::plan::{Action, Phase};

impl Engine<'_> {
    /// Whether a gate was passed before (journaled).
    pub(super) fn passed(&self, gate: &GateId) -> bool {
        self.view().approved_gates.contains(&gate.to_string())
    }

    /// Who approves a yes/no gate: `--yes`, the operator at a prompt, or nobody (None, when
    /// there is no terminal or the operator said no).
    pub(super) fn confirm_gate(&self, question: String) -> Option<&'static str> {
        if self.options.yes {
            return Some("--yes");
        }
        let p = self.prompter.clone()?;
        tokio::task::block_in_place(move || p.confirm(&question)).then_some("operator")
    }

    /// Journals and announces an approved gate.
    pub(super) fn approve(
        &self,
        gate: &GateId,
        by: &str,
        message: String,
    ) -> Result<(), EngineError> {
        self.record(Record::GateApproved {
            gate: gate.to_string(),
            by: by.into(),
        })?;
        self.announce(gate, Decision::Approved, message);
        Ok(())
    }

    fn announce(&self, gate: &GateId, decision: Decision, message: String) {
        self.emit(Event::Gate {
            gate: gate.to_string(),
            decision,
            message,
        });
    }

    /// Journals a pause at a gate, announces it waiting, and returns the outcome.
    pub(super) fn wait_at(
        &self,
        gate: GateId,
        reason: String,
        message: String,
    ) -> Result<Outcome, EngineError> {
        self.record(Record::RunPaused { reason })?;
        self.announce(&gate, Decision::Waiting, message);
        Ok(Outcome::AtGate { gate })
    }

    /// Journals a stop and returns the outcome.
    fn stop(&self, reason: String) -> Result<Flow, EngineError> {
        self.record(Record::RunPaused {
            reason: reason.clone(),
        })?;
        Ok(Flow::Halt(Outcome::Stopped { reason }))
    }

    /// A phase gate: approved before, by `--yes`, or at a prompt; else the run stops.
    pub(super) async fn gate(&self, phase: &Phase) -> Result<Flow, EngineError> {
        let gate = GateId::Phase(phase.id);
        if self.passed(&gate) {
            return Ok(Flow::Continue);
        }
        checkpoint::hit(&format!("in-gate:{gate}"));
        let n = phase
            .steps
            .iter()
            .filter(|s| s.action != Action::Skip)
            .count();
        let message = format!(
            "about to start the {} phase ({n} step(s) that change the cluster)",
            phase.id
        );
        self.ask(gate, message, self.options.yes).await
    }

    /// A yes/stop/rollback/abort gate: approved by `--yes` (when `yes` allows it), at a
    /// prompt, or else the run stops there waiting for an approval.
    pub(super) async fn ask(
        &self,
        gate: GateId,
        message: String,
        yes: bool,
    ) -> Result<Flow, EngineError> {
        if yes {
            self.approve(&gate, "--yes", message)?;
            return Ok(Flow::Continue);
        }
        let Some(p) = self.prompter.clone() else {
            let reason = format!("waiting for approval at gate {gate}");
            return Ok(Flow::Halt(self.wait_at(gate, reason, message)?));
        };
        // A person looks at the cluster now: what a step read ahead for the next one is not
        // taken after the answer (that step's gates read again), however quick the answer.
        self.ahead.clear();
        let (g, m) = (gate.to_string(), message.clone());
        let choice = tokio::task::block_in_place(move || p.gate(&g, &m));
        let decision = match choice {
            GateChoice::Continue => Decision::Approved,
            GateChoice::Stop => Decision::Stopped,
            GateChoice::Rollback => Decision::Rollback,
            GateChoice::Abort => Decision::Abort,
        };
        self.announce(&gate, decision, message);
        match choice {
            GateChoice::Continue => {
                self.record(Record::GateApproved {
                    gate: gate.to_string(),
                    by: "operator".into(),
                })?;
                Ok(Flow::Continue)
            }
            GateChoice::Stop => self.stop(format!("stopped by the operator at gate {gate}")),
            GateChoice::Rollback => Ok(Flow::Rollback),
            GateChoice::Abort => {
                self.record(Record::RunPaused {
                    reason: format!("aborted by the operator at gate {gate}"),
                })?;
                Ok(Flow::Halt(Outcome::Failed {
                    step: gate.to_string(),
                    error: "aborted by the operator".into(),
                }))
            }
        }
    }

    /// The release-notes gate, before anything changes: the target's notes must be acknowledged
    /// at a prompt or by `--ack-release-notes VERSION` (`--yes` is not enough); a different
    /// version is refused.
    pub(super) async fn release_notes_gate(&self) -> Result<Flow, EngineError> {
        use crate::release_notes::{self as rn, Ack};
        let to = self.record.plan.to.to_string();
        let gate = GateId::ReleaseNotes(to.clone());
        if self.passed(&gate) {
            return Ok(Flow::Continue);
        }
        let notes = match rn::load(&self.cluster.inventory, &to) {
            Ok(n) => n,
            Err(e) => {
                return Ok(Flow::Halt(Outcome::Failed {
                    step: gate.to_string(),
                    error: e,
                }));
            }
        };
        let shown = match &notes {
            Some(n) => n.render(),
            None => format!("no release notes for DC/OS {to} are shipped or named in the inventory ([release_notes] file); read them in the DC/OS documentation"),
        };
        match rn::check_ack(self.options.ack_release_notes.as_deref(), &to) {
            Ack::Accepted => {
                self.approve(
                    &gate,
                    "--ack-release-notes",
                    format!("release notes for DC/OS {to} acknowledged"),
                )?;
                return Ok(Flow::Continue);
            }
            Ack::Mismatch { given } => {
                let error = format!("--ack-release-notes {given} does not match the target version {to}: read the release notes of {to} and acknowledge those");
                self.record(Record::RunPaused {
                    reason: error.clone(),
                })?;
                self.announce(&gate, Decision::Refused, error.clone());
                return Ok(Flow::Halt(Outcome::Failed {
                    step: gate.to_string(),
                    error,
                }));
            }
            Ack::Missing => {}
        }
        self.emit(Event::Warning { message: shown });
        let message = format!("acknowledge the release notes of DC/OS {to} (non-interactively: --ack-release-notes {to})");
        let Some(p) = self.prompter.clone() else {
            let reason = format!("waiting for the release notes of {to} to be acknowledged (--ack-release-notes {to})");
            return Ok(Flow::Halt(self.wait_at(gate, reason, message)?));
        };
        let question = format!(
            "Have you read the release notes of DC/OS {to} above, and do they allow this upgrade?"
        );
        let yes = tokio::task::block_in_place(move || p.confirm(&question));
        self.announce(
            &gate,
            if yes {
                Decision::Approved
            } else {
                Decision::Stopped
            },
            message,
        );
        if yes {
            self.record(Record::GateApproved {
                gate: gate.to_string(),
                by: "operator".into(),
            })?;
            Ok(Flow::Continue)
        } else {
            self.stop(format!("the release notes of {to} were not acknowledged"))
        }
    }
}
