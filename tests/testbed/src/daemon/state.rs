//! The cluster model: nodes, units, apps and tasks, and the questions asked of them (quorum,
//! registration, health).

use super::*;
use crate::model::{NodeDef, Role, Security, SimDef, UpgradeRecord};
use crate::setup::uuid_like;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinHandle;

pub(super) struct Unit {
    pub(super) name: String,
    pub(super) up: bool,
    pub(super) starting_until: Option<Instant>,
    pub(super) since: Instant,
    /// Uptime from before the testbed started (`up --up-secs`), until the unit restarts.
    pub(super) up_before: Duration,
}

impl Unit {
    pub(super) fn status(&self) -> &'static str {
        if self.up {
            "active"
        } else if self.starting_until.is_some() {
            "activating"
        } else {
            "inactive"
        }
    }
}

pub(super) struct NodeSt {
    pub(super) def: NodeDef,
    pub(super) version: String,
    /// The mode in its `bootstrap-config.json` (the node script may switch it).
    pub(super) security: Security,
    pub(super) units: Vec<Unit>,
    pub(super) faults: BTreeSet<String>,
    pub(super) attempts: u64,
    pub(super) down_since: Option<Instant>,
    pub(super) lost_done: bool,
    pub(super) id: String,
    pub(super) last_fail: Instant,
    pub(super) tasks_failed: u64,
}

impl NodeSt {
    pub(super) fn unit(&self, name: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.name == name)
    }
    pub(super) fn unit_up(&self, name: &str) -> bool {
        self.unit(name).map(|u| u.up).unwrap_or(false)
    }
    pub(super) fn main_unit(&self) -> &'static str {
        match self.def.role {
            Role::Master => "dcos-mesos-master",
            Role::Agent => "dcos-mesos-slave",
            Role::PublicAgent => "dcos-mesos-slave-public",
        }
    }
    pub(super) fn all_up(&self) -> bool {
        self.units.iter().all(|u| u.up)
    }
    pub(super) fn fault(&self, k: &str) -> bool {
        self.faults.contains(k)
    }
}

pub(super) struct Deployment {
    pub(super) id: String,
    pub(super) version: String,
    pub(super) ends: Instant,
}

pub(super) struct App {
    pub(super) id: String,
    /// The definition as an operator set it (every field Marathon keeps; see `marathon.rs`).
    pub(super) def: serde_json::Map<String, Value>,
    pub(super) instances: u64,
    pub(super) cpus: f64,
    pub(super) mem: f64,
    pub(super) version: String,
    pub(super) last_scaling: String,
    pub(super) last_config: String,
    pub(super) deployment: Option<Deployment>,
}

pub(super) struct Task {
    pub(super) app: String,
    pub(super) agent: usize,
    pub(super) id: String,
}

pub(super) struct Cluster {
    pub(super) def: SimDef,
    pub(super) nodes: Vec<NodeSt>,
    pub(super) leader: Option<usize>,
    pub(super) zk_leader: Option<usize>,
    pub(super) had_quorum: bool,
    pub(super) quorum_loss_events: u64,
    pub(super) max_agents_down: u64,
    pub(super) max_masters_down: u64,
    pub(super) upgrade_order: Vec<UpgradeRecord>,
    pub(super) apps: Vec<App>,
    pub(super) tasks: Vec<Task>,
    pub(super) tasks_lost: u64,
    /// Requests that carried an `Authorization` header over plain HTTP.
    pub(super) plaintext_token_requests: u64,
    /// Requests answered 401.
    pub(super) unauthorized_requests: u64,
    pub(super) task_seq: u64,
    pub(super) framework_id: String,
    pub(super) start: Instant,
    pub(super) start_wall: SystemTime,
    pub(super) elected_wall: SystemTime,
    pub(super) maintenance: Value,
    /// Open listeners by (namespace or `HOST`, node or `BOOTSTRAP`, port).
    pub(super) listeners: HashMap<(usize, usize, u16), JoinHandle<()>>,
    /// Firewalled network: a thread inside each node's namespace (by node index); empty when flat.
    pub(super) ns: Vec<Option<Arc<crate::netns::NsThread>>>,
    /// TLS configurations (security permissive or strict).
    pub(super) tls: Option<Arc<Tls>>,
    /// Users, service accounts and issued tokens.
    pub(super) iam: crate::iam::Iam,
    pub(super) record_path: PathBuf,
    /// Real ZooKeeper mode: when each master's server was last started (restarts are throttled).
    pub(super) zk_started: HashMap<usize, Instant>,
    /// Marathon's own leader and storage (see `marathon.rs`).
    pub(super) marathon: MarathonSt,
    /// CockroachDB's view of the masters (see `cockroach.rs`).
    pub(super) cockroach: CockroachSt,
    /// Agents' restarts, for the `agent-new-id` fault (see `agent_ids.rs`).
    pub(super) agent_ids: AgentIdSt,
}

pub(super) type Shared = Arc<Mutex<Cluster>>;

pub(super) fn units_for(role: Role) -> Vec<&'static str> {
    match role {
        Role::Master => vec![
            "dcos-exhibitor",
            "dcos-mesos-master",
            "dcos-marathon",
            "dcos-diagnostics",
            "dcos-adminrouter",
        ],
        Role::Agent => vec![
            "dcos-mesos-slave",
            "dcos-diagnostics",
            "dcos-adminrouter-agent",
        ],
        Role::PublicAgent => vec![
            "dcos-mesos-slave-public",
            "dcos-diagnostics",
            "dcos-adminrouter-agent",
        ],
    }
}

/// A node's security mode from its `bootstrap-config.json` (`disabled` when it has none).
pub(super) fn read_security(root: &Path) -> Security {
    std::fs::read_to_string(root.join("opt/mesosphere/etc/bootstrap-config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v.get("security")?.as_str()?.parse().ok())
        .unwrap_or(Security::Disabled)
}

pub(super) fn read_version(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("opt/mesosphere/etc/dcos-version.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("version")?.as_str().map(str::to_string)
}

impl Cluster {
    pub(super) fn new(def: SimDef) -> Cluster {
        let now = Instant::now();
        let nodes: Vec<NodeSt> = def
            .nodes
            .iter()
            .map(|n| NodeSt {
                version: read_version(&n.root).unwrap_or_else(|| def.version.clone()),
                security: read_security(&n.root),
                units: units_for(n.role)
                    .into_iter()
                    .map(|u| Unit {
                        name: u.to_string(),
                        up: true,
                        starting_until: None,
                        since: now,
                        up_before: Duration::from_secs(def.up_secs),
                    })
                    .collect(),
                faults: BTreeSet::new(),
                attempts: 0,
                down_since: None,
                lost_done: false,
                id: format!(
                    "{}-S{}",
                    uuid_like(&format!("agent-{}", n.name)),
                    n.name.trim_start_matches(|c: char| c.is_alphabetic())
                ),
                last_fail: now,
                tasks_failed: 0,
                def: n.clone(),
            })
            .collect();
        let wall = iso8601(SystemTime::now());
        let apps = seed_apps(&wall);
        let record_path = def.dir.join("record.jsonl");
        let mut c = Cluster {
            framework_id: format!("{}-0001", uuid_like(&format!("fw-{}", def.subnet))),
            def,
            nodes,
            leader: None,
            zk_leader: None,
            had_quorum: false,
            quorum_loss_events: 0,
            max_agents_down: 0,
            max_masters_down: 0,
            upgrade_order: Vec::new(),
            apps,
            tasks: Vec::new(),
            tasks_lost: 0,
            plaintext_token_requests: 0,
            unauthorized_requests: 0,
            task_seq: 0,
            start: now,
            start_wall: SystemTime::now(),
            elected_wall: SystemTime::now(),
            maintenance: json!({"windows": []}),
            listeners: HashMap::new(),
            ns: Vec::new(),
            tls: None,
            iam: crate::iam::Iam::default(),
            record_path,
            zk_started: HashMap::new(),
            marathon: MarathonSt::default(),
            cockroach: CockroachSt::default(),
            agent_ids: AgentIdSt::default(),
        };
        let ids: Vec<String> = c.apps.iter().map(|a| a.id.clone()).collect();
        for id in ids {
            c.place_tasks(&id);
        }
        c
    }

    pub(super) fn record(&self, event: &str, data: Value) {
        let line = json!({"t": self.start.elapsed().as_secs_f64(), "event": event, "data": data});
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.record_path)
        {
            let _ = writeln!(f, "{line}");
        }
    }

    pub(super) fn idx(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.def.name == name)
    }

    pub(super) fn masters(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].def.role == Role::Master)
    }

    pub(super) fn agents(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].def.role != Role::Master)
    }

    pub(super) fn task_agents(&self) -> Vec<usize> {
        let private: Vec<usize> = self
            .agents()
            .filter(|i| self.nodes[*i].def.role == Role::Agent)
            .collect();
        if private.is_empty() {
            self.agents().collect()
        } else {
            private
        }
    }

    pub(super) fn place_tasks(&mut self, app: &str) {
        let Some(a) = self.apps.iter().find(|a| a.id == app) else {
            return;
        };
        let n = a.instances as usize;
        self.tasks.retain(|t| t.app != app);
        let agents = self.task_agents();
        if agents.is_empty() {
            return;
        }
        let offset = self.tasks.len();
        for i in 0..n {
            self.task_seq += 1;
            let agent = agents[(offset + i) % agents.len()];
            self.tasks.push(Task {
                app: app.into(),
                agent,
                id: format!(
                    "{}.{}",
                    app.trim_start_matches('/'),
                    uuid_like(&format!("task-{}", self.task_seq))
                ),
            });
        }
    }

    pub(super) fn quorum(&self) -> bool {
        let total = self.masters().count();
        let running = self
            .masters()
            .filter(|i| self.nodes[*i].unit_up("dcos-mesos-master"))
            .count();
        running > total / 2
    }

    pub(super) fn registered(&self, i: usize) -> bool {
        let n = &self.nodes[i];
        self.leader.is_some()
            && n.unit(n.main_unit())
                .map(|u| u.up && u.since.elapsed() >= REGISTER_DELAY)
                .unwrap_or(false)
    }

    pub(super) fn task_running(&self, t: &Task) -> bool {
        self.registered(t.agent)
    }

    pub(super) fn task_healthy(&self, t: &Task) -> bool {
        self.task_running(t) && !self.nodes[t.agent].fault("tasks-failing")
    }

    pub(super) fn healthy(&self) -> bool {
        self.leader.is_some()
            && self.agents().all(|i| self.registered(i))
            && self.nodes.iter().all(|n| n.all_up())
    }

    pub(super) fn set_units(&mut self, i: usize, unit: &str, action: &str) -> bool {
        let now = Instant::now();
        let delay = {
            let n = &self.nodes[i];
            let base = self.def.activation_ms;
            Duration::from_millis(if n.fault("slow-healthy") {
                base * 5
            } else {
                base
            })
        };
        let unit = unit.trim_end_matches(".service");
        let node = &mut self.nodes[i];
        let names: Vec<String> = if unit == "dcos.target" {
            node.units.iter().map(|u| u.name.clone()).collect()
        } else if node.unit(unit).is_some() {
            vec![unit.to_string()]
        } else {
            return false;
        };
        for u in node.units.iter_mut().filter(|u| names.contains(&u.name)) {
            match action {
                "stop" => {
                    u.up = false;
                    u.starting_until = None;
                }
                "start" => {
                    if !u.up && u.starting_until.is_none() {
                        u.starting_until = Some(now + delay);
                    }
                }
                _ => {
                    u.up = false;
                    u.starting_until = Some(now + delay);
                }
            }
        }
        if let Some(v) = read_version(&node.def.root) {
            node.version = v;
        }
        node.security = read_security(&node.def.root);
        let name = node.def.name.clone();
        self.record(
            "unit",
            json!({"node": name, "unit": unit, "action": action}),
        );
        self.tick();
        true
    }
}
