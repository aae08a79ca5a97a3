//! Schedules, as values: the order in which a phase's steps run. One list says which phase uses
//! which schedule.

use super::walk::Flow;
use super::{Engine, EngineError, Outcome};
use crate::action::Upcoming;
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

    /// What the phase runs first, for the step before the phase to read ahead for: the first
    /// group with unfinished steps ([`groups`]; a batch of several runs together), or for
    /// [`Schedule::LeaderLast`] every unfinished step (the one that runs first is picked from
    /// them as it is within the phase); nothing for a phase whose steps are all finished.
    pub(super) fn lead<'p>(self, engine: &Engine<'_>, phase: &'p Phase) -> Lead<'p> {
        match self {
            Schedule::LeaderLast => Lead::one_of(unfinished(engine, &phase.steps)),
            Schedule::InOrder => Lead::one_of(
                unfinished(engine, &phase.steps)
                    .into_iter()
                    .take(1)
                    .collect(),
            ),
            Schedule::Batches => (groups(phase).iter())
                .map(|g| unfinished(engine, g.iter().copied()))
                .find(|g| !g.is_empty())
                .map(Lead::group)
                .unwrap_or_default(),
        }
    }

    /// Runs the phase's unfinished steps in this order; stops at the first that does not
    /// continue. `after` is what the next phase runs first ([`Schedule::lead`]): the phase's
    /// last steps may read ahead for it.
    pub(super) async fn walk<'p>(
        self,
        engine: &Engine<'_>,
        phase: &'p Phase,
        after: &Lead<'p>,
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
                let others: Vec<&Step> = pending
                    .iter()
                    .copied()
                    .filter(|s| s.id != next.id)
                    .collect();
                let upcoming = if others.is_empty() {
                    after.share(0, 1)
                } else {
                    Upcoming::OneOf(&others)
                };
                match engine.step_before(next, upcoming).await? {
                    Flow::Continue => {}
                    other => return Ok(other),
                }
            },
            Schedule::Batches => {
                let groups = groups(phase);
                let pending = |g: &[&'p Step]| unfinished(engine, g.iter().copied());
                for (i, group) in groups.iter().enumerate() {
                    let steps = pending(group);
                    // What runs after this group: the next group with unfinished steps, or
                    // what the next phase runs first. Each step of this group reads ahead for
                    // its share of it.
                    let next = (groups[i + 1..].iter())
                        .map(|g| pending(g))
                        .find(|g| !g.is_empty())
                        .map(Lead::group);
                    let next = next.as_ref().unwrap_or(after);
                    let results = join_all(
                        (steps.iter().enumerate())
                            .map(|(j, s)| engine.step_before(s, next.share(j, steps.len()))),
                    )
                    .await;
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

/// What a phase, or the next group of a phase, runs first: what the steps before it may read
/// ahead for.
#[derive(Debug, Default)]
pub(super) enum Lead<'p> {
    /// Nothing to read for.
    #[default]
    Nothing,
    /// One of these runs first, alone.
    OneOf(Vec<&'p Step>),
    /// These run first, together (a batch of several).
    Together(Vec<&'p Step>),
}

impl<'p> Lead<'p> {
    /// One of `steps` runs first (none: nothing).
    fn one_of(steps: Vec<&'p Step>) -> Lead<'p> {
        if steps.is_empty() {
            Lead::Nothing
        } else {
            Lead::OneOf(steps)
        }
    }

    /// A group of `steps` runs first: one alone, or several together.
    fn group(steps: Vec<&'p Step>) -> Lead<'p> {
        if steps.len() > 1 {
            Lead::Together(steps)
        } else {
            Lead::one_of(steps)
        }
    }

    /// What step `j` of `of` steps that run at once before this may read for: one that runs
    /// next alone is read for by the first of them; a batch is shared between them in runs of
    /// equal length, in plan order (a canary alone reads for the whole batch after it).
    fn share(&self, j: usize, of: usize) -> Upcoming<'_> {
        match self {
            Lead::Nothing => Upcoming::Nothing,
            Lead::OneOf(steps) if j == 0 => Upcoming::OneOf(steps),
            Lead::OneOf(_) => Upcoming::Nothing,
            Lead::Together(steps) => {
                let run = steps.len().div_ceil(of.max(1));
                let start = (j * run).min(steps.len());
                let end = (start + run).min(steps.len());
                Upcoming::Batch {
                    next: steps,
                    mine: &steps[start..end],
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn agents(n: usize) -> Vec<Step> {
        (1..=n)
            .map(|i| {
                let node = format!("10.0.1.{i}");
                let id = format!("agents/{node}/upgrade");
                crate::testkit::step(&id, StepKind::NodeUpgrade, Some(&node), Some(Role::Agent))
            })
            .collect()
    }

    /// The ids of what step `j` of `of` reads for, and whether it is the whole batch's.
    fn share_of(lead: &Lead<'_>, j: usize, of: usize) -> (Vec<String>, usize) {
        match lead.share(j, of) {
            Upcoming::Nothing => (Vec::new(), 0),
            Upcoming::OneOf(steps) => (steps.iter().map(|s| s.id.clone()).collect(), 1),
            Upcoming::Batch { next, mine } => {
                (mine.iter().map(|s| s.id.clone()).collect(), next.len())
            }
        }
    }

    #[test]
    fn a_canary_reads_for_the_whole_next_batch_and_a_batch_shares_the_next_one() {
        let steps = agents(5);
        let ids: Vec<String> = steps.iter().map(|s| s.id.clone()).collect();
        let batch = Lead::group(steps.iter().collect());
        // A canary alone: the whole batch, which it knows as the batch.
        assert_eq!(share_of(&batch, 0, 1), (ids.clone(), 5));
        // Five before five: one each, in plan order.
        for (j, id) in ids.iter().enumerate() {
            assert_eq!(share_of(&batch, j, 5), (vec![id.clone()], 5));
        }
        // Two before five: three, then two.
        assert_eq!(share_of(&batch, 0, 2).0, ids[..3].to_vec());
        assert_eq!(share_of(&batch, 1, 2).0, ids[3..].to_vec());
        // Five before four: the last reads for none.
        let four = Lead::group(steps[..4].iter().collect());
        assert_eq!(share_of(&four, 3, 5).0, vec![ids[3].clone()]);
        assert_eq!(share_of(&four, 4, 5).0, Vec::<String>::new());
        // One alone next: the first of the steps before reads for it, the others for nothing.
        let one = Lead::group(steps[..1].iter().collect());
        assert_eq!(share_of(&one, 0, 5), (vec![ids[0].clone()], 1));
        assert_eq!(share_of(&one, 1, 5), (Vec::new(), 0));
        assert_eq!(share_of(&Lead::Nothing, 0, 1), (Vec::new(), 0));
    }
}
