//! Points of no return ("doors") of a version path, known when the plan is made: once crossed,
//! undoing an upgraded master is a downgrade the old version cannot survive (facts §1.9, §8.4).
//!
//! - Marathon storage: the first new-version Marathon leader migrates its ZooKeeper storage; an
//!   older Marathon then refuses to start (`MigrationFailedException`). Marathon leadership is
//!   elected apart from Mesos leadership, so this can happen at any master step.
//! - CockroachDB finalization (v2.1 and later): once every master runs the new version, the
//!   cluster version finalizes and the old binary cannot open the IAM data.
//! - Mesos minimum capabilities (Mesos ≥ 1.8): recorded only when a feature such as
//!   `AGENT_DRAINING` (`DRAIN_AGENT`/`DEACTIVATE_AGENT`) is used. This tool never calls those, so
//!   no plan has that door; an operator who drains agents during the upgrade crosses it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DoorId {
    /// A new-version Marathon has led and migrated its storage.
    MarathonStorage,
    /// Every master runs the new CockroachDB; the cluster version finalizes.
    CockroachFinalize,
}

impl fmt::Display for DoorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DoorId::MarathonStorage => "marathon-storage",
            DoorId::CockroachFinalize => "cockroach-finalize",
        })
    }
}

/// One door of a plan: what crosses it and why it cannot be undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Door {
    /// Which door.
    pub id: DoorId,
    /// The component version before (e.g. Marathon `1.10.36`).
    pub from: String,
    /// The component version after (e.g. Marathon `1.11.24`).
    pub to: String,
    /// When it is crossed and why it is one-way, in words.
    pub reason: String,
}

/// Marathon per DC/OS minor (facts, table "Component versions per DC/OS minor").
pub fn marathon_of(dcos: &str) -> Option<&'static str> {
    Some(match minor(dcos)? {
        (1, 10) => "1.5.15",
        (1, 11) => "1.6.585",
        (1, 12) => "1.7.236",
        (1, 13) => "1.8.247",
        (2, 0) => "1.9.146",
        (2, 1) => "1.10.36",
        (2, 2) => "1.11.24",
        _ => return None,
    })
}

/// CockroachDB per DC/OS minor (facts §8.4: `packages/cockroach/buildinfo.json` per branch).
fn cockroach_of(dcos: &str) -> Option<&'static str> {
    Some(match minor(dcos)? {
        (1, 13) => "2.0.7",
        (2, 0) | (2, 1) => "2.1.8",
        (2, 2) => "19.1.11",
        _ => return None,
    })
}

fn minor(v: &str) -> Option<(u32, u32)> {
    let mut it = v.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// A dotted version as numbers, for ordering (`1.11.24` > `1.10.36`).
pub fn version_key(v: &str) -> Vec<u64> {
    v.split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

/// The doors of the path `from` -> `to` (none when the component does not change, e.g. a patch
/// upgrade; none for an unknown from-version: the rollback then observes instead of assuming).
pub fn for_path(from: Option<&str>, to: &str) -> Vec<Door> {
    let Some(from) = from else { return Vec::new() };
    let mut doors = Vec::new();
    if let (Some(a), Some(b)) = (marathon_of(from), marathon_of(to)) {
        if version_key(b) > version_key(a) {
            doors.push(Door {
                id: DoorId::MarathonStorage,
                from: a.into(),
                to: b.into(),
                reason: format!(
                    "once a Marathon {b} leads (at any master step: Marathon elects its leader apart from Mesos), it migrates its storage in ZooKeeper and Marathon {a} refuses to start (\"Marathon supports rollbacks, but does not support downgrades\")"
                ),
            });
        }
    }
    if let (Some(a), Some(b)) = (cockroach_of(from), cockroach_of(to)) {
        // Automatic finalization exists from v2.1 (Cockroach Labs upgrade docs v2.1, v19.1).
        if a != b && version_key(b) >= version_key("2.1") {
            doors.push(Door {
                id: DoorId::CockroachFinalize,
                from: a.into(),
                to: b.into(),
                reason: format!(
                    "once every master runs CockroachDB {b}, the cluster version finalizes and CockroachDB {a} cannot open the IAM data"
                ),
            });
        }
    }
    doors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minor_upgrade_has_the_marathon_and_cockroach_doors_and_a_patch_none() {
        let d = for_path(Some("2.1.3"), "2.2.1");
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].id, d[0].to.as_str()),
            (DoorId::MarathonStorage, "1.11.24")
        );
        assert_eq!(d[1].id, DoorId::CockroachFinalize);
        assert!(for_path(Some("2.2.0"), "2.2.1").is_empty());
        // 2.0 -> 2.1: Marathon changes, CockroachDB (2.1.8) does not.
        let d = for_path(Some("2.0.5"), "2.1.0");
        assert_eq!(
            d.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![DoorId::MarathonStorage]
        );
        assert!(for_path(None, "2.2.1").is_empty());
    }
}
