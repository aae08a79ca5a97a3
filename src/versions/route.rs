//! Routes through the matrices: minor hops, direct targets, the known releases and the
//! shortest documented route suggested when a move is unsupported.

use super::paths::row;
use super::{core_str, Core, Minor, SupportedPaths};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Bound;

impl SupportedPaths {
    /// Number of minor steps from `from` to `to` along the minors in the data.
    pub(super) fn hops(&self, from: Minor, to: Minor) -> Option<usize> {
        let a = self.minors.iter().position(|m| *m == from)?;
        let b = self.minors.iter().position(|m| *m == to)?;
        b.checked_sub(a)
    }

    /// Targets any matrix allows directly from `from`.
    pub(super) fn direct_targets(&self, from: Core) -> BTreeSet<Core> {
        self.matrices
            .values()
            .filter_map(|m| row(m, from))
            .flatten()
            .copied()
            .collect()
    }

    /// Every version named anywhere in the matrices.
    pub(super) fn known_versions(&self) -> BTreeSet<Core> {
        let mut known = BTreeSet::new();
        for m in self.matrices.values() {
            for (from, targets) in &m.rows {
                known.insert(*from);
                known.extend(targets.iter().copied());
            }
        }
        known
    }

    /// `"; a documented route is A -> B -> C"` when a multi-step route exists.
    pub(super) fn route_note(&self, from: Core, to: Core) -> String {
        match self.find_route(from, to) {
            Some(route) if route.len() > 2 => format!(
                "; a documented route is {}",
                route
                    .into_iter()
                    .map(core_str)
                    .collect::<Vec<_>>()
                    .join(" -> ")
            ),
            _ => String::new(),
        }
    }

    /// Shortest route (fewest steps) from `from` to `to` using matrix entries
    /// and, if the patch rule is on, patches to later known releases of the
    /// same minor. Ties prefer the newest intermediate versions.
    fn find_route(&self, from: Core, to: Core) -> Option<Vec<Core>> {
        let known = self.known_versions();
        let mut prev: HashMap<Core, Core> = HashMap::new();
        let mut seen = BTreeSet::from([from]);
        let mut queue = VecDeque::from([from]);
        while let Some(v) = queue.pop_front() {
            if v == to {
                let mut route = vec![v];
                let mut cur = v;
                while let Some(p) = prev.get(&cur) {
                    route.push(*p);
                    cur = *p;
                }
                route.reverse();
                return Some(route);
            }
            let mut next = self.direct_targets(v);
            if self.patch_allowed {
                next.extend(
                    known
                        .range((
                            Bound::Excluded(v),
                            Bound::Included((v.0, v.1, u64::MAX, u64::MAX)),
                        ))
                        .copied(),
                );
                if (to.0, to.1) == (v.0, v.1) && to > v {
                    next.insert(to);
                }
            }
            for n in next.into_iter().rev() {
                if n <= to && !self.refused.contains_key(&n) && seen.insert(n) {
                    prev.insert(n, v);
                    queue.push_back(n);
                }
            }
        }
        None
    }
}
