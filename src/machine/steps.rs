//! `StepList`: a run view's steps, each shared (`Arc`) so that a copy of the view (one per step
//! started: the step's context) copies pointers, not every step's output; a changed step is
//! copied alone (copy on write). Read like a slice of `StepView`s, (de)serialized as one.

use super::view::StepView;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

/// The steps of a [`super::RunView`], in plan order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepList(Vec<Arc<StepView>>);

impl StepList {
    /// The steps, in plan order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &StepView> + ExactSizeIterator {
        self.0.iter().map(|s| &**s)
    }

    /// How many steps.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Step `i` to change (copied first if another view shares it).
    pub(super) fn get_mut(&mut self, i: usize) -> &mut StepView {
        Arc::make_mut(&mut self.0[i])
    }
}

impl std::ops::Index<usize> for StepList {
    type Output = StepView;
    fn index(&self, i: usize) -> &StepView {
        &self.0[i]
    }
}

impl FromIterator<StepView> for StepList {
    fn from_iter<I: IntoIterator<Item = StepView>>(it: I) -> StepList {
        StepList(it.into_iter().map(Arc::new).collect())
    }
}

impl<'a> IntoIterator for &'a StepList {
    type Item = &'a StepView;
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, Arc<StepView>>, fn(&'a Arc<StepView>) -> &'a StepView>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|s| &**s)
    }
}

impl Serialize for StepList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for StepList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StepList, D::Error> {
        Ok(Vec::<StepView>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::StepState;

    fn step(id: &str) -> StepView {
        StepView {
            id: id.into(),
            state: StepState::Pending,
            message: None,
            output: serde_json::Value::Null,
            attempts: 0,
            undo_attempts: 0,
        }
    }

    #[test]
    fn a_copy_shares_the_steps_and_a_change_copies_only_the_changed_one() {
        let mut a: StepList = [step("x"), step("y")].into_iter().collect();
        let b = a.clone();
        a.get_mut(0).state = StepState::Done;
        assert_eq!(b[0].state, StepState::Pending, "the copy is unchanged");
        assert_eq!(a[0].state, StepState::Done);
        assert!(
            Arc::ptr_eq(&a.0[1], &b.0[1]),
            "the unchanged step is shared"
        );
    }

    #[test]
    fn it_serializes_as_a_plain_list_of_steps() {
        let a: StepList = [step("x")].into_iter().collect();
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(text, serde_json::to_string(&vec![step("x")]).unwrap());
        let back: StepList = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
    }
}
