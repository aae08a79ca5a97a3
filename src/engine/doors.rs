//! Points of no return during a run: watched after every master step, journaled durably once
//! crossed (with the observation that proved it), and honoured by the rollback, which never
//! downgrades a master past one.

use super::{Engine, EngineError, GateId, Outcome};
use crate::events::Event;
use crate::machine::{CrossedDoor, Record};
use crate::model::Role;
use crate::phases::outputs::BackupOutput;
use crate::plan::{Door, Step, StepKind};

impl Engine<'_> {
    /// Whether a step is one after which the doors are looked at (a master's upgrade or undo).
    pub(super) fn watches_doors(step: &Step) -> bool {
        step.kind == StepKind::NodeUpgrade && step.role == Some(Role::Master)
    }

    /// Observes the plan's doors not yet journaled as crossed, and journals every one the
    /// cluster shows crossed, seen `after` a step (or the rollback's start).
    pub(super) async fn watch_doors(
        &self,
        step: &Step,
        after: &str,
    ) -> Result<Vec<CrossedDoor>, EngineError> {
        let seen = self.view().doors_crossed;
        let open: Vec<Door> = self
            .record
            .plan
            .doors
            .iter()
            .filter(|d| !seen.iter().any(|s| s.door == d.id.to_string()))
            .cloned()
            .collect();
        if !open.is_empty() {
            let view = self.view();
            let ctx = self.ctx(step, 1, &view);
            for c in self.registry.doors_crossed(&ctx, &open).await {
                let door = open.iter().find(|d| d.id == c.door);
                self.record(Record::DoorCrossed {
                    door: c.door.to_string(),
                    observation: c.observation.clone(),
                    after: after.to_string(),
                })?;
                self.emit(Event::Warning {
                    message: format!(
                        "point of no return crossed: {} after {after}: {}{}",
                        c.door,
                        c.observation,
                        door.map(|d| format!(" ({})", d.reason)).unwrap_or_default()
                    ),
                });
            }
        }
        Ok(self.view().doors_crossed)
    }

    /// `rollback --restore-zookeeper` past a door: the masters may be downgraded only when the
    /// run has a ZooKeeper backup to put the old storage back, and with the restore's approval
    /// (asked here, before any master is touched). Some(outcome) when it stops.
    pub(super) fn approve_last_resort(
        &self,
        crossed: &[CrossedDoor],
    ) -> Result<Option<Outcome>, EngineError> {
        let gate = GateId::RestoreZookeeper;
        if self.passed(&gate) {
            return Ok(None);
        }
        let has_backup = self
            .view()
            .step("backup/zookeeper")
            .and_then(|s| crate::phases::outputs::read::<BackupOutput>(&s.output))
            .is_some();
        if !has_backup {
            let out = self.stop_at_door(
                crossed,
                None,
                "this run took no ZooKeeper backup, so the last resort cannot put the old storage back; ",
            )?;
            return Ok(Some(out));
        }
        let doors: Vec<&str> = crossed.iter().map(|d| d.door.as_str()).collect();
        let message = format!(
            "LAST RESORT past {}: downgrade every master (their Marathon stays down until ZooKeeper is restored), then restore ZooKeeper on every master from the run's backup: the cluster is unavailable meanwhile, and every change made to ZooKeeper since the backup is lost (on Enterprise, restore the IAM backup too)",
            doors.join(", ")
        );
        match self.confirm_gate(format!("{message}. Go on?")) {
            Some(by) => {
                self.approve(&gate, by, message)?;
                Ok(None)
            }
            None => {
                let reason = format!("rollback stopped before the masters: {message}");
                Ok(Some(self.wait_at(gate, reason, message)?))
            }
        }
    }

    /// The rollback past a door: masters stay as they are. Journals the stop (the run is paused,
    /// no longer rolling back: `resume` fixes forward) and returns a failure naming the door.
    pub(super) fn stop_at_door(
        &self,
        crossed: &[CrossedDoor],
        after_failure: Option<&str>,
        preface: &str,
    ) -> Result<Outcome, EngineError> {
        let doors: Vec<String> = crossed
            .iter()
            .map(|d| format!("{} (crossed after {}: {})", d.door, d.after, d.observation))
            .collect();
        let id = &self.record.id;
        let failed = after_failure
            .map(|e| format!(" The failure was: {e}."))
            .unwrap_or_default();
        let reason = format!(
            "{preface}paused past a point of no return: {}. The masters are not downgraded (agents and frameworks were rolled back where they had changed); the cluster is NOT back at its old version.{failed} Fix forward: `dcos-upgrade resume --run {id}` retries the failed step (or leave it paused); last resort: `dcos-upgrade rollback --run {id} --restore-zookeeper` (with confirmation; on Enterprise also restore the IAM backup)",
            doors.join("; ")
        );
        self.record(Record::RollbackStopped {
            reason: reason.clone(),
        })?;
        Ok(Outcome::RollbackStopped { reason })
    }
}
