//! Read-only work a step does ahead for the step the schedule is expected to run after it.
//!
//! A node step's gates before its node goes down (DC/OS's node checks, CockroachDB, the agent's
//! tasks) only read, and the step before has just seen the cluster healthy: a serial schedule's
//! step reads them once for the next step beside its own gates after its node
//! (`phases::node_upgrade`), and leaves what passed here. The next step takes it instead of
//! reading again when it is its own and fresh; anything else (another step, too old, a step
//! that failed in between) is dropped, and the step reads and waits on its own as before.
//! Nothing is ever journalled from here: a resumed run starts with an empty slot.

use std::any::Any;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How old what was read ahead may be for the next step to take it: what the step before does
/// after its gates (its rollout guards, the journal, the operator's gates) takes tens of
/// milliseconds; a pause for an approval, a retry or a slow guard makes it older than this, and
/// the next step reads again.
pub const FRESH: Duration = Duration::from_millis(1000);

/// What a step read ahead for another.
struct Left {
    /// The step it was read for.
    step: String,
    /// When its oldest read was taken.
    at: Instant,
    /// What was read, as the action that reads it ahead (and takes it) knows it.
    value: Box<dyn Any + Send>,
}

/// The one place a step leaves what it read ahead and the next step takes it (one per engine).
#[derive(Default)]
pub struct ReadAhead(Mutex<Option<Left>>);

impl ReadAhead {
    /// Leaves `value` for step `step`, read at `at` (its oldest read), in place of anything
    /// left before.
    pub fn leave<T: Any + Send>(&self, step: &str, at: Instant, value: T) {
        if let Ok(mut m) = self.0.lock() {
            *m = Some(Left {
                step: step.to_string(),
                at,
                value: Box::new(value),
            });
        }
    }

    /// What was left for `step`, if it is of type `T` and at most [`FRESH`] old. Takes whatever
    /// was left, for this step or not: nothing outlives the next step's look.
    pub fn take<T: Any>(&self, step: &str) -> Option<T> {
        let left = self.0.lock().ok()?.take()?;
        if left.step != step || left.at.elapsed() > FRESH {
            return None;
        }
        left.value.downcast::<T>().ok().map(|b| *b)
    }

    /// Drops whatever was left (a step failed: nothing it read ahead is taken).
    pub fn clear(&self) {
        if let Ok(mut m) = self.0.lock() {
            *m = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_step_it_was_read_for_takes_it_once_and_only_while_fresh() {
        let slot = ReadAhead::default();
        slot.leave("masters/m3/upgrade", Instant::now(), 7u32);
        assert_eq!(slot.take::<u32>("masters/m1/upgrade"), None);
        // Another step's look dropped it.
        assert_eq!(slot.take::<u32>("masters/m3/upgrade"), None);
        slot.leave("masters/m3/upgrade", Instant::now(), 7u32);
        assert_eq!(slot.take::<u32>("masters/m3/upgrade"), Some(7));
        assert_eq!(slot.take::<u32>("masters/m3/upgrade"), None);
        let old = Instant::now()
            .checked_sub(FRESH + Duration::from_millis(1))
            .unwrap();
        slot.leave("agents/a1/upgrade", old, 1u32);
        assert_eq!(slot.take::<u32>("agents/a1/upgrade"), None);
        slot.leave("agents/a1/upgrade", Instant::now(), 1u32);
        assert_eq!(slot.take::<String>("agents/a1/upgrade"), None);
        slot.leave("agents/a1/upgrade", Instant::now(), 1u32);
        slot.clear();
        assert_eq!(slot.take::<u32>("agents/a1/upgrade"), None);
    }
}
