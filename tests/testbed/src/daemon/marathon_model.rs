//! Marathon's model: its version per DC/OS minor, its own leader (elected apart from the Mesos
//! leader), its storage version in ZooKeeper (migrated by a newer leader; an older Marathon then
//! refuses to start), the seeded apps and how deployments finish (or hang).
//!
//! Facts: `dcos-upgrade-facts.md` §8.4 (storage migration, `MigrationFailedException`, separate
//! election) and the component table at its top (Marathon per DC/OS minor).

use super::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

mod apps;

pub(super) use apps::{defaults, seed_apps};

/// The fault (on any node) that keeps every deployment from finishing.
pub(super) const DEPLOYMENT_HANGS: &str = "deployment-hangs";

/// Where the storage version lives on each master: inside Exhibitor's ZooKeeper data directory,
/// so `dcos-zk backup` takes it and `dcos-zk restore` puts it back (the last resort).
const STORAGE_FILE: &str = "var/lib/dcos/exhibitor/zookeeper/marathon-storage-version";

/// Marathon's own state beside the apps.
#[derive(Default)]
pub(super) struct MarathonSt {
    /// The Marathon leader (node index).
    pub(super) leader: Option<usize>,
    /// The storage version in ZooKeeper (`1.10.36`), "" until first read.
    pub(super) storage: String,
    /// Masters whose Marathon refused to start (recorded once per refusal).
    pub(super) refused: BTreeSet<usize>,
    /// The storage migration the leader is running, if any.
    pub(super) migrating: Option<Migration>,
    /// Migrations stopped before they finished (the migrating leader went away).
    pub(super) interrupted: u64,
}

/// A storage migration in progress on the Marathon leader.
pub(super) struct Migration {
    /// The leader running it (node index).
    pub(super) node: usize,
    /// The storage version it migrates from.
    pub(super) from: String,
    /// The version it migrates to.
    pub(super) to: String,
    /// When it finishes.
    pub(super) ends: Instant,
}

/// The fault (on any node) that makes every storage migration take [`SLOW_MIGRATION`].
pub(super) const MIGRATION_SLOW: &str = "marathon-migration-slow";

/// How long a migration takes under [`MIGRATION_SLOW`] (otherwise twice `--activation-ms`).
const SLOW_MIGRATION: Duration = Duration::from_secs(12);

/// The fault (on a master) that keeps its Marathon from starting once the node runs the
/// upgrade's target version (e.g. a broken configuration the new Marathon rejects).
pub(super) const CANNOT_START: &str = "marathon-cannot-start";

/// Where DC/OS's Marathon unit reads operator overrides (`EnvironmentFile`); the 2.1 release
/// notes name it for `MARATHON_DEPRECATED_FEATURES` (facts §8.2).
const ENV_FILE: &str = "var/lib/dcos/marathon/environment";

/// The deprecated features Marathon 1.11 (DC/OS 2.2) refuses to start with (mesosphere/marathon
/// `DeprecatedFeatures.scala`, `DeprecatedFeaturesSet.isValid`; facts §8.2).
const REMOVED_IN_1_11: [&str; 2] = ["sanitize_accepted_resource_roles", "text_plain_tasks"];

/// The removed deprecated features a master's Marathon environment file enables.
fn removed_features(root: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(root.join(ENV_FILE)).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("MARATHON_DEPRECATED_FEATURES="))
        .flat_map(|v| {
            v.trim_matches('"')
                .split(',')
                .map(|f| f.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|f| REMOVED_IN_1_11.contains(&f.as_str()))
        .collect()
}

/// The Marathon a DC/OS version ships (facts, table "Component versions per DC/OS minor").
pub(super) fn marathon_version(dcos: &str) -> &'static str {
    let mut it = dcos.split('.');
    let minor = (it.next().unwrap_or(""), it.next().unwrap_or(""));
    match minor {
        ("1", "10") => "1.5.15",
        ("1", "11") => "1.6.585",
        ("1", "12") => "1.7.236",
        ("1", "13") => "1.8.247",
        ("2", "0") => "1.9.146",
        ("2", "1") => "1.10.36",
        _ => "1.11.24",
    }
}

fn triple(v: &str) -> (u64, u64, u64) {
    let mut it = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// `a` is a newer Marathon (storage) version than `b`.
pub(super) fn newer(a: &str, b: &str) -> bool {
    triple(a) > triple(b)
}

impl Cluster {
    /// The storage version as the masters' ZooKeeper data says (the newest any master holds).
    fn read_storage(&self) -> Option<String> {
        self.masters()
            .filter_map(|i| std::fs::read_to_string(self.nodes[i].def.root.join(STORAGE_FILE)).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .max_by_key(|s| triple(s))
    }

    fn write_storage(&mut self, v: &str) {
        let roots: Vec<_> = self
            .masters()
            .map(|i| self.nodes[i].def.root.join(STORAGE_FILE))
            .collect();
        for p in roots {
            if let Some(d) = p.parent() {
                let _ = std::fs::create_dir_all(d);
            }
            let _ = std::fs::write(&p, format!("{v}\n"));
        }
        self.marathon.storage = v.to_string();
    }

    /// Every tick: read the storage version, refuse to start an older Marathon, elect a leader
    /// (sticky; the Mesos leader only at the very first election), migrate on a newer leader,
    /// and finish deployments unless they hang.
    pub(super) fn marathon_tick(&mut self, now: Instant) {
        match self.read_storage() {
            Some(v) => self.marathon.storage = v,
            None => {
                let v = marathon_version(&self.def.version);
                self.write_storage(v);
            }
        }
        let storage = self.marathon.storage.clone();
        let masters: Vec<usize> = self.masters().collect();
        for &i in &masters {
            let why = self.marathon_blocked(i, &storage);
            let n = &mut self.nodes[i];
            let Some(u) = n.units.iter_mut().find(|u| u.name == "dcos-marathon") else {
                continue;
            };
            if let Some(msg) = why {
                if u.up || u.starting_until.is_some() {
                    u.up = false;
                    u.starting_until = None;
                    if self.marathon.refused.insert(i) {
                        let name = n.def.name.clone();
                        self.record("marathon_refused", json!({"node": name, "error": msg}));
                    }
                }
            } else if self.marathon.refused.remove(&i) {
                // systemd restarts the unit (Restart=always): it starts once nothing stops it.
                if !u.up && u.starting_until.is_none() {
                    u.starting_until = Some(now + Duration::from_millis(self.def.activation_ms));
                }
            }
        }
        let up = |c: &Cluster, i: usize| c.nodes[i].unit_up("dcos-marathon");
        let leads = self.marathon.leader.is_some_and(|l| up(self, l)) && self.zk_leader.is_some();
        if !leads {
            let first = self.marathon.leader.is_none();
            let after = self.marathon.leader.unwrap_or(0);
            let pick = if self.zk_leader.is_none() {
                None
            } else if first && self.leader.is_some_and(|l| up(self, l)) {
                self.leader
            } else {
                let n = masters.len();
                let start = masters.iter().position(|m| *m == after).unwrap_or(0);
                (1..=n)
                    .map(|k| masters[(start + k) % n])
                    .find(|m| up(self, *m))
            };
            if pick != self.marathon.leader && (pick.is_some() || !first) {
                self.marathon.leader = pick;
                let addr = pick.map(|l| self.nodes[l].def.address.clone());
                self.record("marathon_leader", json!({"leader": addr}));
            }
        }
        self.migration_tick(now, &storage);
        let hang = self.nodes.iter().any(|n| n.fault(DEPLOYMENT_HANGS));
        for a in &mut self.apps {
            if let Some(d) = &a.deployment {
                if now >= d.ends && !hang {
                    a.version = d.version.clone();
                    a.deployment = None;
                }
            }
        }
    }
}

impl Cluster {
    /// Why master `i`'s Marathon cannot start now, if something stops it: storage newer than
    /// it (`MigrationFailedException`, facts §8.4), a deprecated feature 1.11 removed (facts
    /// §8.2), or the [`CANNOT_START`] fault after the upgrade.
    fn marathon_blocked(&self, i: usize, storage: &str) -> Option<String> {
        let n = &self.nodes[i];
        let mine = marathon_version(&n.version);
        if newer(storage, mine) {
            return Some(format!("MigrationFailedException: Migration from {storage} is not supported as it is newer than {mine}"));
        }
        if triple(mine) >= (1, 11, 0) {
            let bad = removed_features(&n.def.root);
            if !bad.is_empty() {
                // The wording is the testbed's; Marathon exits at start-up naming the features.
                return Some(format!(
                    "Marathon {mine} refuses to start: deprecated feature(s) {} no longer supported (MARATHON_DEPRECATED_FEATURES in /{ENV_FILE})",
                    bad.join(", ")
                ));
            }
        }
        if n.fault(CANNOT_START) && n.version == self.def.upgrade_to {
            return Some(format!(
                "Marathon {mine} cannot start (fault {CANNOT_START})"
            ));
        }
        None
    }

    /// A newer leader migrates the storage; the migration takes time (twice `--activation-ms`,
    /// [`SLOW_MIGRATION`] under [`MIGRATION_SLOW`]) and is interrupted when that leader stops
    /// leading before it ends (counted; the storage stays at the old version).
    fn migration_tick(&mut self, now: Instant, storage: &str) {
        let leader = marathon_leader_idx(self);
        if let Some(m) = &self.marathon.migrating {
            if leader != Some(m.node) {
                let name = self.nodes[m.node].def.name.clone();
                self.marathon.interrupted += 1;
                self.record(
                    "marathon_migration_interrupted",
                    json!({"node": name, "from": m.from, "to": m.to}),
                );
                self.marathon.migrating = None;
            } else if now >= m.ends {
                let (to, from, name) = (
                    m.to.clone(),
                    m.from.clone(),
                    self.nodes[m.node].def.name.clone(),
                );
                self.marathon.migrating = None;
                self.write_storage(&to);
                self.record(
                    "marathon_migrated",
                    json!({"node": name, "from": from, "to": to}),
                );
            }
            return;
        }
        if let Some(l) = leader {
            let mine = marathon_version(&self.nodes[l].version);
            if newer(mine, storage) {
                let slow = self.nodes.iter().any(|n| n.fault(MIGRATION_SLOW));
                let took = if slow {
                    SLOW_MIGRATION
                } else {
                    Duration::from_millis(2 * self.def.activation_ms)
                };
                let name = self.nodes[l].def.name.clone();
                self.record(
                    "marathon_migration_started",
                    json!({"node": name, "from": storage, "to": mine}),
                );
                self.marathon.migrating = Some(Migration {
                    node: l,
                    from: storage.to_string(),
                    to: mine.to_string(),
                    ends: now + took,
                });
            }
        }
    }
}

/// The Marathon leader, if its Marathon is running (and ZooKeeper has a leader).
pub(super) fn marathon_leader_idx(c: &Cluster) -> Option<usize> {
    c.marathon
        .leader
        .filter(|l| c.nodes[*l].unit_up("dcos-marathon") && c.zk_leader.is_some())
}
