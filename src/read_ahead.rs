//! Read-only work a step does ahead for the steps the schedule is expected to run after it.
//!
//! A node step's gates before its node goes down (DC/OS's node checks, CockroachDB, the agent's
//! tasks) only read, and the step before has just seen the cluster healthy: a step reads them
//! once for what runs next beside its own gates after its node (`phases::node_upgrade`), and
//! leaves what passed here. In a serial schedule that is the one step expected next; before a
//! batch of several, it is this step's share of the batch (each step of a batch reads for some
//! of the next batch's steps, the canary for all of them). A step takes what was left for it
//! instead of reading again when it is its own and fresh; anything else is dropped: a step that
//! is not among those read for (the leader moved, another step ran in between) drops all that
//! was left, as does a step that failed, and the step reads and waits on its own as before.
//! Nothing is ever journalled from here: a resumed run starts with an empty slot.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How old what was read ahead may be for the next step to take it: what the step before does
/// after its gates (its rollout guards, the journal, the operator's gates) takes tens of
/// milliseconds; a pause for an approval, a retry or a slow guard makes it older than this, and
/// the next step reads again.
pub const FRESH: Duration = Duration::from_millis(1000);

/// What a step read ahead for another.
struct Left {
    /// When its oldest read was taken.
    at: Instant,
    /// What was read, as the action that reads it ahead (and takes it) knows it.
    value: Box<dyn Any + Send>,
}

/// What is left for the steps that run next, together.
#[derive(Default)]
struct Slot {
    /// The steps expected to run next (one, or a batch): those that may take what is left.
    next: Vec<String>,
    /// What was left, by the step it was read for (some of `next`).
    left: BTreeMap<String, Left>,
}

/// The one place a step leaves what it read ahead and the next steps take it (one per engine).
#[derive(Default)]
pub struct ReadAhead(Mutex<Slot>);

impl ReadAhead {
    /// Leaves `value` for step `step`, read at `at` (its oldest read), one of `next`: the steps
    /// expected to run next, together. What was left for another set of next steps is dropped;
    /// what was left for the others of the same set stays (the steps of a batch each leave
    /// their share of the next batch).
    pub fn leave<T: Any + Send>(&self, next: &[&str], step: &str, at: Instant, value: T) {
        if let Ok(mut m) = self.0.lock() {
            if m.next.iter().map(String::as_str).ne(next.iter().copied()) {
                *m = Slot {
                    next: next.iter().map(|s| s.to_string()).collect(),
                    left: BTreeMap::new(),
                };
            }
            m.left.insert(
                step.to_string(),
                Left {
                    at,
                    value: Box::new(value),
                },
            );
        }
    }

    /// What was left for `step`, if it is of type `T` and at most [`FRESH`] old; taken once.
    /// A step that is not one of the steps read for drops everything left: nothing outlives
    /// the look of a step that was not expected.
    pub fn take<T: Any>(&self, step: &str) -> Option<T> {
        let mut m = self.0.lock().ok()?;
        if !m.next.iter().any(|s| s == step) {
            *m = Slot::default();
            return None;
        }
        let left = m.left.remove(step)?;
        if left.at.elapsed() > FRESH {
            return None;
        }
        left.value.downcast::<T>().ok().map(|b| *b)
    }

    /// Drops whatever was left (a step failed, a person looks: nothing read before is taken).
    pub fn clear(&self) {
        if let Ok(mut m) = self.0.lock() {
            *m = Slot::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_step_it_was_read_for_takes_it_once_and_only_while_fresh() {
        let slot = ReadAhead::default();
        let m3 = "masters/m3/upgrade";
        slot.leave(&[m3], m3, Instant::now(), 7u32);
        assert_eq!(slot.take::<u32>("masters/m1/upgrade"), None);
        // Another step's look dropped it.
        assert_eq!(slot.take::<u32>(m3), None);
        slot.leave(&[m3], m3, Instant::now(), 7u32);
        assert_eq!(slot.take::<u32>(m3), Some(7));
        assert_eq!(slot.take::<u32>(m3), None);
        let a1 = "agents/a1/upgrade";
        let old = Instant::now()
            .checked_sub(FRESH + Duration::from_millis(1))
            .unwrap();
        slot.leave(&[a1], a1, old, 1u32);
        assert_eq!(slot.take::<u32>(a1), None);
        slot.leave(&[a1], a1, Instant::now(), 1u32);
        assert_eq!(slot.take::<String>(a1), None);
        slot.leave(&[a1], a1, Instant::now(), 1u32);
        slot.clear();
        assert_eq!(slot.take::<u32>(a1), None);
    }

    #[test]
    fn each_step_of_the_next_batch_takes_its_own_and_a_step_outside_it_drops_all() {
        let slot = ReadAhead::default();
        let batch = [
            "agents/a2/upgrade",
            "agents/a3/upgrade",
            "agents/a4/upgrade",
        ];
        // The steps before leave their shares; a4's did not pass at once (nothing left).
        slot.leave(&batch, batch[1], Instant::now(), 3u32);
        slot.leave(&batch, batch[0], Instant::now(), 2u32);
        // a4 finds nothing and reads on its own; the others' stay, in any order.
        assert_eq!(slot.take::<u32>(batch[2]), None);
        assert_eq!(slot.take::<u32>(batch[1]), Some(3));
        assert_eq!(slot.take::<u32>(batch[0]), Some(2));
        // A step outside the batch drops what was left for it.
        slot.leave(&batch, batch[0], Instant::now(), 2u32);
        assert_eq!(slot.take::<u32>("agents/a9/upgrade"), None);
        assert_eq!(slot.take::<u32>(batch[0]), None);
        // What is left for another set of next steps replaces the earlier set's.
        slot.leave(&batch, batch[0], Instant::now(), 2u32);
        let later = ["agents/a5/upgrade"];
        slot.leave(&later, later[0], Instant::now(), 5u32);
        assert_eq!(slot.take::<u32>(later[0]), Some(5));
        assert_eq!(slot.take::<u32>(batch[0]), None);
    }
}
