//! Schedules, as values: the order in which a phase's steps run. One list says which phase uses
//! which schedule.

use super::walk::Flow;
use super::{Engine, EngineError, Outcome};
use crate::cluster::LeaderError;
use crate::events::Event;
use crate::machine::Record;
use crate::machine::StepState;
use crate::plan::{Phase, PhaseId, Step, StepKind};
use futures::future::join_all;

/// How the steps of one phase are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// One after the other, in plan order.
    InOrder,
    /// One at a time; before each, the Mesos leader is re-resolved and kept for last.
    LeaderLast,
    /// Steps without a batch first (one by one), then batch by batch; a batch's steps at once.
    Batches,
}

/// How often a disagreement about the leader is re-resolved before the phase stops.
const LEADER_TRIES: u32 = 5;

/// How old a leader read may be for the next master step to take it instead of reading every
/// master again: the step before read every master's redirect and metrics once its node was
/// back (its rollout guards' sample, at most `guards::SAMPLE_FRESH` before that step ended).
/// Older than this, or taken once already, the leader is read again.
const LEADER_FRESH: std::time::Duration = std::time::Duration::from_millis(1000);

/// Which schedule each phase uses.
const SCHEDULES: [(PhaseId, Schedule); 7] = [
    (PhaseId::Precheck, Schedule::InOrder),
    (PhaseId::Backup, Schedule::InOrder),
    (PhaseId::Validate, Schedule::InOrder),
    (PhaseId::Masters, Schedule::LeaderLast),
    (PhaseId::Agents, Schedule::Batches),
    (PhaseId::Frameworks, Schedule::InOrder),
    (PhaseId::Postcheck, Schedule::InOrder),
];

impl Schedule {
    /// The schedule of a phase.
    pub fn of(phase: PhaseId) -> Schedule {
        SCHEDULES
            .iter()
            .find(|(p, _)| *p == phase)
            .map(|(_, s)| *s)
            .unwrap_or(Schedule::InOrder)
    }

    /// The phase's unfinished steps that may run first, for the step before the phase to read
    /// ahead for: the first group of one step ([`groups`]; a batch of several, or a phase whose
    /// steps are all finished, gives none); for [`Schedule::LeaderLast`], every unfinished step
    /// (the one that runs first is picked from them as it is within the phase).
    pub(super) fn lead<'p>(self, engine: &Engine<'_>, phase: &'p Phase) -> Vec<&'p Step> {
        match self {
            Schedule::LeaderLast => unfinished(engine, &phase.steps),
            Schedule::InOrder => unfinished(engine, &phase.steps)
                .into_iter()
                .take(1)
                .collect(),
            Schedule::Batches => {
                let first = (groups(phase).iter())
                    .map(|g| unfinished(engine, g.iter().copied()))
                    .find(|g| !g.is_empty())
                    .unwrap_or_default();
                if first.len() == 1 {
                    first
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Runs the phase's unfinished steps in this order; stops at the first that does not
    /// continue. `after` is what the next phase may run first ([`Schedule::lead`]): the phase's
    /// last step may read ahead for it.
    pub(super) async fn walk<'p>(
        self,
        engine: &Engine<'_>,
        phase: &'p Phase,
        after: &[&'p Step],
    ) -> Result<Flow, EngineError> {
        match self {
            Schedule::InOrder => {
                for s in &phase.steps {
                    match engine.step(s).await? {
                        Flow::Continue => {}
                        other => return Ok(other),
                    }
                }
                Ok(Flow::Continue)
            }
            Schedule::LeaderLast => loop {
                let pending = unfinished(engine, &phase.steps);
                let first = |s: &Step| {
                    engine.state_of(&s.id).0 == StepState::Running || s.kind == StepKind::NodeSkip
                };
                let next = match engine.next_leader_last(&pending, first, true).await {
                    Ok(Some(next)) => next,
                    Ok(None) => return Ok(Flow::Continue),
                    Err(e) => return engine.leader_unknown(e).map(Flow::Halt),
                };
                // The other masters, one of which runs next (the leader still last); after the
                // last one, what the next phase runs first.
                let mut upcoming: Vec<&Step> = pending
                    .iter()
                    .copied()
                    .filter(|s| s.id != next.id)
                    .collect();
                if upcoming.is_empty() {
                    upcoming = after.to_vec();
                }
                match engine.step_before(next, &upcoming).await? {
                    Flow::Continue => {}
                    other => return Ok(other),
                }
            },
            Schedule::Batches => {
                let groups = groups(phase);
                let pending = |g: &[&'p Step]| unfinished(engine, g.iter().copied());
                for (i, group) in groups.iter().enumerate() {
                    let steps = pending(group);
                    let results = match steps.as_slice() {
                        // One step alone, before a group of one: it may read ahead for it.
                        [one] => {
                            let next = match groups.get(i + 1) {
                                Some(g) => pending(g),
                                None => after.to_vec(),
                            };
                            let upcoming = if next.len() == 1 { next } else { Vec::new() };
                            vec![engine.step_before(one, &upcoming).await]
                        }
                        _ => join_all(steps.iter().map(|s| engine.step(s))).await,
                    };
                    for r in results {
                        match r? {
                            Flow::Continue => {}
                            other => return Ok(other),
                        }
                    }
                }
                Ok(Flow::Continue)
            }
        }
    }
}

impl Engine<'_> {
    /// Stops the walk before any master goes down, because the leader cannot be told.
    pub(super) fn leader_unknown(&self, e: LeaderError) -> Result<Outcome, EngineError> {
        let error = format!("no master is taken down while the leader is unknown: {e}");
        self.record(Record::RunPaused {
            reason: error.clone(),
        })?;
        Ok(Outcome::Failed {
            step: "masters".into(),
            error,
        })
    }

    /// The next master step of `pending` with the leader kept for last: a step for which
    /// `first` holds (one in flight, or one that changes nothing) goes first; otherwise the
    /// leader is re-resolved now and the first step on another node is taken.
    ///
    /// When the masters disagree about the leader (a stale `/master/redirect`), the leader is
    /// re-resolved a few times; a disagreement that persists is an error, so that no master is
    /// taken down while the leader is unknown.
    pub(super) async fn next_leader_last<'s>(
        &self,
        pending: &[&'s Step],
        first: impl Fn(&Step) -> bool,
        announce: bool,
    ) -> Result<Option<&'s Step>, LeaderError> {
        if pending.is_empty() {
            return Ok(None);
        }
        if let Some(s) = pending.iter().find(|s| first(s)) {
            return Ok(Some(s));
        }
        let mut tries = 0;
        let leader = loop {
            match self.cluster.leader_address_recent(LEADER_FRESH).await {
                Ok(l) => break l,
                Err(e @ LeaderError::Disagree { .. }) => {
                    tries += 1;
                    if tries >= LEADER_TRIES {
                        return Err(e);
                    }
                    self.emit(Event::Warning {
                        message: format!("{e}; asking again"),
                    });
                    tokio::time::sleep(self.cluster.poll()).await;
                }
                // Unreachable masters: the quorum gate of the step judges them.
                Err(LeaderError::Probe(_)) => break None,
            }
        };
        tracing::debug!(leader = ?leader, "the Mesos leader is kept for last");
        if let (Some(l), true) = (&leader, announce) {
            self.emit(Event::Warning {
                message: format!("Mesos leader is {l}; it is upgraded last"),
            })
        }
        Ok(pending
            .iter()
            .find(|s| s.node.as_deref() != leader.as_deref())
            .or(pending.first())
            .copied())
    }
}

/// A [`Schedule::Batches`] phase's groups, in the order they run: each step without a batch a
/// group of its own, in plan order, then each batch (grouped once, not a scan of the phase per
/// batch: 10,000 batches of one).
fn groups(phase: &Phase) -> Vec<Vec<&Step>> {
    let mut groups: Vec<Vec<&Step>> = (phase.steps.iter())
        .filter(|s| s.batch.is_none())
        .map(|s| vec![s])
        .collect();
    let mut batches: std::collections::BTreeMap<u32, Vec<&Step>> = Default::default();
    for s in &phase.steps {
        if let Some(b) = s.batch {
            batches.entry(b).or_default().push(s);
        }
    }
    groups.extend(batches.into_values());
    groups
}

/// The steps of `steps` not finished yet, in their order.
fn unfinished<'p>(engine: &Engine<'_>, steps: impl IntoIterator<Item = &'p Step>) -> Vec<&'p Step> {
    (steps.into_iter())
        .filter(|s| !engine.is_finished(&s.id))
        .collect()
}
