//! What happens as time passes: units come up, leaders are elected, quorum is counted, tasks are
//! lost, deployments finish; and which listeners and real ZooKeeper servers should exist.

use super::*;
use crate::model::{NodeDef, Role};
use serde_json::json;
use std::time::{Duration, Instant, SystemTime};

impl Cluster {
    pub(super) fn tick(&mut self) {
        let now = Instant::now();
        // Services coming up.
        for n in &mut self.nodes {
            let never = n.fault("never-healthy");
            for u in &mut n.units {
                if let Some(t) = u.starting_until {
                    if now >= t && !never {
                        u.up = true;
                        u.starting_until = None;
                        u.since = now;
                        u.up_before = Duration::ZERO;
                    }
                }
            }
            if let Some(v) = read_version(&n.def.root) {
                n.version = v;
            }
            n.security = read_security(&n.def.root);
            if n.fault("flapping") && n.def.role == Role::Master {
                if let Some(u) = n
                    .units
                    .iter_mut()
                    .find(|u| u.name == "dcos-mesos-master" && u.up)
                {
                    if now.duration_since(u.since) >= Duration::from_secs(1) {
                        u.since = now;
                        u.up_before = Duration::ZERO;
                    }
                }
            }
        }
        // Failing tasks.
        for i in 0..self.nodes.len() {
            if self.nodes[i].fault("tasks-failing")
                && self.nodes[i].last_fail.elapsed() >= Duration::from_secs(1)
            {
                let n = self.tasks.iter().filter(|t| t.agent == i).count().max(1) as u64;
                self.nodes[i].tasks_failed += n;
                self.nodes[i].last_fail = now;
            }
        }
        // Leader election and quorum.
        if self.quorum() {
            let leader_ok = self
                .leader
                .map(|l| self.nodes[l].unit_up("dcos-mesos-master"))
                .unwrap_or(false);
            if !leader_ok {
                let new = self
                    .masters()
                    .find(|i| self.nodes[*i].unit_up("dcos-mesos-master"));
                self.leader = new;
                self.elected_wall = SystemTime::now();
                let addr = new.map(|l| self.nodes[l].def.address.clone());
                self.record("leader", json!({"leader": addr}));
            }
            self.had_quorum = true;
        } else {
            if self.had_quorum {
                self.quorum_loss_events += 1;
                self.record("quorum_lost", json!({"count": self.quorum_loss_events}));
            }
            self.had_quorum = false;
            if self.leader.is_some() {
                self.leader = None;
                self.record("leader", json!({"leader": null}));
            }
        }
        // ZooKeeper leader.
        let zk_total = self.masters().count();
        let zk_up: Vec<usize> = self
            .masters()
            .filter(|i| self.nodes[*i].unit_up("dcos-exhibitor"))
            .collect();
        if zk_up.len() > zk_total / 2 {
            if !self.zk_leader.map(|l| zk_up.contains(&l)).unwrap_or(false) {
                self.zk_leader = zk_up.first().copied();
            }
        } else {
            self.zk_leader = None;
        }
        // Agents down, lost tasks.
        let window = Duration::from_millis(self.def.reregister_window_ms);
        let agents: Vec<usize> = self.agents().collect();
        let mut agents_down = 0;
        for &i in &agents {
            let unit = self.nodes[i].main_unit();
            if self.nodes[i].unit_up(unit) {
                self.nodes[i].down_since = None;
                self.nodes[i].lost_done = false;
            } else {
                agents_down += 1;
                let since = *self.nodes[i].down_since.get_or_insert(now);
                if now.duration_since(since) > window && !self.nodes[i].lost_done {
                    self.nodes[i].lost_done = true;
                    let lost: Vec<usize> = (0..self.tasks.len())
                        .filter(|t| self.tasks[*t].agent == i)
                        .collect();
                    self.tasks_lost += lost.len() as u64;
                    let name = self.nodes[i].def.name.clone();
                    self.record("tasks_lost", json!({"node": name, "count": lost.len()}));
                    let others: Vec<usize> = agents
                        .iter()
                        .copied()
                        .filter(|a| *a != i && self.nodes[*a].unit_up(self.nodes[*a].main_unit()))
                        .collect();
                    for (k, t) in lost.into_iter().enumerate() {
                        if !others.is_empty() {
                            self.tasks[t].agent = others[k % others.len()];
                        }
                    }
                }
            }
        }
        let masters_down = self
            .masters()
            .filter(|i| !self.nodes[*i].unit_up("dcos-mesos-master"))
            .count();
        self.max_agents_down = self.max_agents_down.max(agents_down);
        self.max_masters_down = self.max_masters_down.max(masters_down as u64);
        // Marathon: its leader, storage migration, deployments.
        self.marathon_tick(now);
        self.cockroach_tick(now);
        self.agent_id_tick();
    }

    /// Real ZooKeeper mode: starts the server of every master whose Exhibitor is up and not
    /// running one, and returns the masters whose Exhibitor is down while their server still runs
    /// (the caller stops those outside the lock, see [`stop_zookeepers`]).
    pub(super) fn zk_reconcile(&mut self) -> Vec<NodeDef> {
        let mut stop = Vec::new();
        if !self.def.real_zookeeper {
            return stop;
        }
        let masters: Vec<usize> = self.masters().collect();
        for i in masters {
            let want = self.nodes[i].unit_up("dcos-exhibitor");
            let running = crate::zk::running_pid(&self.def, &self.nodes[i].def).is_some();
            if want && !running {
                let recent = self
                    .zk_started
                    .get(&i)
                    .map(|t| t.elapsed() < Duration::from_secs(2))
                    .unwrap_or(false);
                if recent {
                    continue;
                }
                self.zk_started.insert(i, Instant::now());
                let name = self.nodes[i].def.name.clone();
                match crate::zk::spawn(&self.def, &self.nodes[i].def) {
                    Ok(pid) => self.record("zookeeper", json!({"node": name, "started": pid})),
                    Err(e) => {
                        eprintln!("dcos-sim: cannot start ZooKeeper on {name}: {e:#}");
                        self.record(
                            "zookeeper",
                            json!({"node": name, "error": format!("{e:#}")}),
                        );
                    }
                }
            } else if !want && running {
                stop.push(self.nodes[i].def.clone());
            }
        }
        stop
    }
}
