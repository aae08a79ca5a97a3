//! Agent batches: how many agents go down at once (`--max-unavailable N` or `N%`) and how many
//! of one Mesos fault-domain zone (`--max-unavailable-per-zone N`). Pure.
//!
//! Zones come from the leading master's `/slaves` (`domain.fault_domain.zone.name`, Mesos 1.5+,
//! DC/OS 1.11+; apache/mesos `docs/fault-domains.md`, facts §5 lists `domain` among a slave's
//! fields).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// `--max-unavailable`: a count of agents, or a percentage of the cluster's agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxUnavailable {
    /// At most this many agents at once.
    Count(u32),
    /// At most this percentage (1 to 100) of all the cluster's agents at once, rounded down,
    /// and never fewer than one agent.
    Percent(u32),
}

impl Default for MaxUnavailable {
    fn default() -> Self {
        MaxUnavailable::Count(1)
    }
}

impl MaxUnavailable {
    /// The number of agents at once for a cluster of `agents` agents (private and public).
    ///
    /// A percentage rounds down and is at least 1: `10%` of 25 agents is 2, of 5 agents is 1,
    /// `100%` of 7 is 7. A count is used as given.
    pub fn resolve(self, agents: usize) -> u32 {
        match self {
            MaxUnavailable::Count(n) => n,
            MaxUnavailable::Percent(p) => {
                let n = (agents as u64 * u64::from(p)) / 100;
                u32::try_from(n).unwrap_or(u32::MAX).max(1)
            }
        }
    }
}

impl fmt::Display for MaxUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxUnavailable::Count(n) => write!(f, "{n}"),
            MaxUnavailable::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl FromStr for MaxUnavailable {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            let p: u32 = p
                .trim()
                .parse()
                .map_err(|_| format!("{s:?} is not a percentage (expected e.g. 10%)"))?;
            if !(1..=100).contains(&p) {
                return Err(format!("{s:?}: a percentage must be 1% to 100%"));
            }
            return Ok(MaxUnavailable::Percent(p));
        }
        let n: u32 = s.parse().map_err(|_| {
            format!("{s:?} is not a number of agents or a percentage (expected e.g. 5 or 10%)")
        })?;
        if n == 0 {
            return Err("--max-unavailable must be at least 1".into());
        }
        Ok(MaxUnavailable::Count(n))
    }
}

/// Splits `zones` (one entry per agent, in plan order; `None` for an agent that reports no
/// zone) into batches of at most `size` agents with at most `per_zone` agents of one zone.
/// Agents without a zone count as one zone of their own (the safe reading: nothing tells they
/// are apart). Returns each batch as indices into `zones`, the batches in order.
///
/// The zones take turns (round robin, in order of first appearance), and each zone keeps its
/// agents' plan order, so one zone is not drained before the others start. Linear in the number
/// of agents.
pub fn split(zones: &[Option<&str>], size: u32, per_zone: Option<u32>) -> Vec<Vec<usize>> {
    let size = size.max(1) as usize;
    let per_zone = per_zone.map_or(usize::MAX, |z| z.max(1) as usize);
    let mut order: Vec<Option<&str>> = Vec::new();
    let mut queues: HashMap<Option<&str>, std::collections::VecDeque<usize>> = HashMap::new();
    for (i, z) in zones.iter().enumerate() {
        let q = queues.entry(*z).or_insert_with(|| {
            order.push(*z);
            Default::default()
        });
        q.push_back(i);
    }
    if per_zone == usize::MAX {
        // No zone limit: plan order, `size` at a time.
        let all: Vec<usize> = (0..zones.len()).collect();
        return all.chunks(size).map(<[usize]>::to_vec).collect();
    }
    let mut left = zones.len();
    let mut batches = Vec::new();
    // The zone to start the next batch's turn at, so every zone leads in turn.
    let mut start = 0usize;
    while left > 0 {
        let mut batch = Vec::new();
        let mut taken: HashMap<Option<&str>, usize> = HashMap::new();
        // Round robin: one agent of each zone per pass, until the batch is full or no zone
        // can give more.
        loop {
            let mut took_any = false;
            for k in 0..order.len() {
                if batch.len() >= size {
                    break;
                }
                let z = order[(start + k) % order.len()];
                let t = taken.entry(z).or_insert(0);
                if *t >= per_zone {
                    continue;
                }
                if let Some(i) = queues.get_mut(&z).and_then(|q| q.pop_front()) {
                    batch.push(i);
                    *t += 1;
                    took_any = true;
                }
            }
            if !took_any || batch.len() >= size {
                break;
            }
        }
        left -= batch.len();
        start = (start + 1) % order.len().max(1);
        batch.sort_unstable();
        batches.push(batch);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentage_rounds_down_and_is_at_least_one() {
        let p = |s: &str| s.parse::<MaxUnavailable>().unwrap();
        assert_eq!(p("10%").resolve(25), 2);
        assert_eq!(p("10%").resolve(29), 2);
        assert_eq!(p("10%").resolve(30), 3);
        assert_eq!(p("10%").resolve(5), 1);
        assert_eq!(p("10%").resolve(0), 1);
        assert_eq!(p("100%").resolve(7), 7);
        assert_eq!(p("25%").resolve(10_000), 2500);
        assert_eq!(p("3").resolve(10_000), 3);
        assert_eq!(p(" 50 % ").to_string(), "50%");
    }

    #[test]
    fn bad_values_are_refused_with_what_is_expected() {
        for bad in ["0", "0%", "101%", "-1", "x", "%", "1.5%", ""] {
            let e = bad.parse::<MaxUnavailable>().unwrap_err();
            assert!(
                e.contains("at least 1") || e.contains("1% to 100%") || e.contains("expected"),
                "{bad}: {e}"
            );
        }
    }

    /// Every batch respects both limits, and every agent is in exactly one batch.
    fn assert_batches(zones: &[Option<&str>], size: u32, per_zone: Option<u32>) -> Vec<Vec<usize>> {
        let b = split(zones, size, per_zone);
        let mut seen: Vec<usize> = b.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..zones.len()).collect::<Vec<_>>());
        for batch in &b {
            assert!(!batch.is_empty() && batch.len() <= size as usize, "{b:?}");
            if let Some(z) = per_zone {
                let mut count: HashMap<Option<&str>, u32> = HashMap::new();
                for i in batch {
                    *count.entry(zones[*i]).or_default() += 1;
                }
                assert!(count.values().all(|c| *c <= z), "{batch:?} of {zones:?}");
            }
        }
        b
    }

    #[test]
    fn no_batch_has_more_agents_of_one_zone_than_allowed() {
        let z: Vec<Option<&str>> = ["a", "a", "a", "a", "b", "b", "c", "a", "b", "c"]
            .iter()
            .map(|s| Some(*s))
            .collect();
        let b = assert_batches(&z, 5, Some(1));
        // Three zones: three agents per batch at most, and as many as the zones allow.
        assert_eq!(b[0].len(), 3);
        let b = assert_batches(&z, 5, Some(2));
        assert_eq!(b[0].len(), 5);
        assert_batches(&z, 1, Some(1));
        assert_batches(&z, 100, Some(3));
        let b = assert_batches(&z, 4, None);
        assert_eq!(b, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
    }

    #[test]
    fn agents_without_a_zone_count_as_one_zone() {
        let z = [None, None, Some("a"), None];
        let b = assert_batches(&z, 4, Some(1));
        assert!(b
            .iter()
            .all(|b| b.iter().filter(|i| z[**i].is_none()).count() <= 1));
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn many_zones_and_agents_split_in_linear_time() {
        let names: Vec<String> = (0..10_000).map(|i| format!("z{}", i % 7)).collect();
        let z: Vec<Option<&str>> = names.iter().map(|s| Some(s.as_str())).collect();
        let t = std::time::Instant::now();
        let b = assert_batches(&z, 50, Some(3));
        assert!(b.iter().all(|b| b.len() <= 21));
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
    }
}
