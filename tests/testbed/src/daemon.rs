//! `dcos-sim serve`: the daemon that simulates every node's HTTP services, the bootstrap
//! file server and the control API. The model is one `Mutex<Cluster>` plus a ticker task.

use crate::model::{AppReport, NodeDef, NodeReport, Report, Role, SimDef, UpgradeRecord};
use crate::setup::{hex_id, mesos_version, uuid_like};
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;

const REGISTER_DELAY: Duration = Duration::from_millis(300);
const BOOTSTRAP: usize = usize::MAX;

/// Formats a `SystemTime` as ISO-8601 with milliseconds (`2020-10-01T12:00:00.000Z`).
pub fn iso8601(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let ms = d.subsec_millis();
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // civil_from_days (Howard Hinnant)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let dd = doy - (153 * mp + 2) / 5 + 1;
    let mm = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mm <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{mm:02}-{dd:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

struct Unit {
    name: String,
    up: bool,
    starting_until: Option<Instant>,
    since: Instant,
}

impl Unit {
    fn status(&self) -> &'static str {
        if self.up {
            "active"
        } else if self.starting_until.is_some() {
            "activating"
        } else {
            "inactive"
        }
    }
}

struct NodeSt {
    def: NodeDef,
    version: String,
    units: Vec<Unit>,
    faults: BTreeSet<String>,
    attempts: u64,
    down_since: Option<Instant>,
    lost_done: bool,
    id: String,
    last_fail: Instant,
    tasks_failed: u64,
}

impl NodeSt {
    fn unit(&self, name: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.name == name)
    }
    fn unit_up(&self, name: &str) -> bool {
        self.unit(name).map(|u| u.up).unwrap_or(false)
    }
    fn main_unit(&self) -> &'static str {
        match self.def.role {
            Role::Master => "dcos-mesos-master",
            Role::Agent => "dcos-mesos-slave",
            Role::PublicAgent => "dcos-mesos-slave-public",
        }
    }
    fn all_up(&self) -> bool {
        self.units.iter().all(|u| u.up)
    }
    fn fault(&self, k: &str) -> bool {
        self.faults.contains(k)
    }
}

struct Deployment {
    id: String,
    version: String,
    ends: Instant,
}

struct App {
    id: String,
    image: String,
    instances: u64,
    cpus: f64,
    mem: f64,
    version: String,
    last_scaling: String,
    last_config: String,
    deployment: Option<Deployment>,
    extra: serde_json::Map<String, Value>,
}

struct Task {
    app: String,
    agent: usize,
    id: String,
}

struct Cluster {
    def: SimDef,
    nodes: Vec<NodeSt>,
    leader: Option<usize>,
    zk_leader: Option<usize>,
    had_quorum: bool,
    quorum_loss_events: u64,
    max_agents_down: u64,
    max_masters_down: u64,
    upgrade_order: Vec<UpgradeRecord>,
    apps: Vec<App>,
    tasks: Vec<Task>,
    tasks_lost: u64,
    task_seq: u64,
    framework_id: String,
    start: Instant,
    start_wall: SystemTime,
    elected_wall: SystemTime,
    maintenance: Value,
    listeners: HashMap<(usize, u16), JoinHandle<()>>,
    record_path: PathBuf,
    /// Real ZooKeeper mode: when each master's server was last started (restarts are throttled).
    zk_started: HashMap<usize, Instant>,
}

type Shared = Arc<Mutex<Cluster>>;

fn units_for(role: Role) -> Vec<&'static str> {
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// ZooKeeper's client port (four-letter words only), served while Exhibitor is up.
    Zk,
    Master,
    Marathon,
    Exhibitor,
    Diagnostics,
    Admin,
    Agent,
    AgentAdmin,
}

fn ports_for(def: &SimDef, role: Role) -> Vec<(u16, &'static str, Kind)> {
    match role {
        Role::Master => vec![
            (5050, "dcos-mesos-master", Kind::Master),
            (8080, "dcos-marathon", Kind::Marathon),
            (8181, "dcos-exhibitor", Kind::Exhibitor),
            (2181, "dcos-exhibitor", Kind::Zk),
            (1050, "dcos-diagnostics", Kind::Diagnostics),
            (def.admin_port, "dcos-adminrouter", Kind::Admin),
        ],
        Role::Agent => vec![
            (5051, "dcos-mesos-slave", Kind::Agent),
            (61001, "dcos-adminrouter-agent", Kind::AgentAdmin),
        ],
        Role::PublicAgent => vec![
            (5051, "dcos-mesos-slave-public", Kind::Agent),
            (61001, "dcos-adminrouter-agent", Kind::AgentAdmin),
        ],
    }
}

fn read_version(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("opt/mesosphere/etc/dcos-version.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("version")?.as_str().map(str::to_string)
}

impl Cluster {
    fn new(def: SimDef) -> Cluster {
        let now = Instant::now();
        let nodes: Vec<NodeSt> = def
            .nodes
            .iter()
            .map(|n| NodeSt {
                version: read_version(&n.root).unwrap_or_else(|| def.version.clone()),
                units: units_for(n.role)
                    .into_iter()
                    .map(|u| Unit {
                        name: u.to_string(),
                        up: true,
                        starting_until: None,
                        since: now,
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
        let mk = |id: &str, image: &str, instances: u64, cpus: f64, mem: f64| App {
            id: id.into(),
            image: image.into(),
            instances,
            cpus,
            mem,
            version: wall.clone(),
            last_scaling: wall.clone(),
            last_config: wall.clone(),
            deployment: None,
            extra: serde_json::Map::new(),
        };
        let apps = vec![
            mk("/web", "nginx:1.19.0", 3, 0.5, 128.0),
            mk("/api", "example/api:1.4.2", 2, 1.0, 512.0),
            mk("/worker", "example/worker:2.0.1", 1, 0.5, 256.0),
        ];
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
            task_seq: 0,
            start: now,
            start_wall: SystemTime::now(),
            elected_wall: SystemTime::now(),
            maintenance: json!({"windows": []}),
            listeners: HashMap::new(),
            record_path,
            zk_started: HashMap::new(),
        };
        let ids: Vec<String> = c.apps.iter().map(|a| a.id.clone()).collect();
        for id in ids {
            c.place_tasks(&id);
        }
        c
    }

    fn record(&self, event: &str, data: Value) {
        let line = json!({"t": self.start.elapsed().as_secs_f64(), "event": event, "data": data});
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.record_path)
        {
            let _ = writeln!(f, "{line}");
        }
    }

    fn idx(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.def.name == name)
    }

    fn masters(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].def.role == Role::Master)
    }

    fn agents(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].def.role != Role::Master)
    }

    fn task_agents(&self) -> Vec<usize> {
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

    fn place_tasks(&mut self, app: &str) {
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

    fn quorum(&self) -> bool {
        let total = self.masters().count();
        let running = self
            .masters()
            .filter(|i| self.nodes[*i].unit_up("dcos-mesos-master"))
            .count();
        running > total / 2
    }

    fn registered(&self, i: usize) -> bool {
        let n = &self.nodes[i];
        self.leader.is_some()
            && n.unit(n.main_unit())
                .map(|u| u.up && u.since.elapsed() >= REGISTER_DELAY)
                .unwrap_or(false)
    }

    fn task_running(&self, t: &Task) -> bool {
        self.registered(t.agent)
    }

    fn task_healthy(&self, t: &Task) -> bool {
        self.task_running(t) && !self.nodes[t.agent].fault("tasks-failing")
    }

    fn healthy(&self) -> bool {
        self.leader.is_some()
            && self.agents().all(|i| self.registered(i))
            && self.nodes.iter().all(|n| n.all_up())
    }

    fn set_units(&mut self, i: usize, unit: &str, action: &str) -> bool {
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
        let name = node.def.name.clone();
        self.record(
            "unit",
            json!({"node": name, "unit": unit, "action": action}),
        );
        self.tick();
        true
    }

    fn tick(&mut self) {
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
                    }
                }
            }
            if let Some(v) = read_version(&n.def.root) {
                n.version = v;
            }
            if n.fault("flapping") && n.def.role == Role::Master {
                if let Some(u) = n
                    .units
                    .iter_mut()
                    .find(|u| u.name == "dcos-mesos-master" && u.up)
                {
                    if now.duration_since(u.since) >= Duration::from_secs(1) {
                        u.since = now;
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
        // Deployments.
        for a in &mut self.apps {
            if let Some(d) = &a.deployment {
                if now >= d.ends {
                    a.version = d.version.clone();
                    a.deployment = None;
                }
            }
        }
    }

    fn report(&self) -> Report {
        Report {
            nodes: self
                .nodes
                .iter()
                .map(|n| NodeReport {
                    name: n.def.name.clone(),
                    address: n.def.address.clone(),
                    role: n.def.role.as_str().into(),
                    version: n.version.clone(),
                    upgrade_attempts: n.attempts,
                    services_up: n.all_up(),
                })
                .collect(),
            quorum_loss_events: self.quorum_loss_events,
            max_agents_down: self.max_agents_down,
            max_masters_down: self.max_masters_down,
            upgrade_order: self.upgrade_order.clone(),
            apps: self
                .apps
                .iter()
                .map(|a| AppReport {
                    id: a.id.clone(),
                    version: a.version.clone(),
                    image: a.image.clone(),
                    instances: a.instances,
                    tasks_healthy: self
                        .tasks
                        .iter()
                        .filter(|t| t.app == a.id && self.task_healthy(t))
                        .count() as u64,
                })
                .collect(),
            tasks_lost: self.tasks_lost,
            leader: self.leader.map(|l| self.nodes[l].def.address.clone()),
        }
    }

    /// Real ZooKeeper mode: starts the server of every master whose Exhibitor is up and not
    /// running one, and returns the masters whose Exhibitor is down while their server still runs
    /// (the caller stops those outside the lock, see [`stop_zookeepers`]).
    fn zk_reconcile(&mut self) -> Vec<NodeDef> {
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

    fn desired_listeners(&self) -> Vec<(usize, u16, Kind, String)> {
        let mut out = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for (port, unit, kind) in ports_for(&self.def, n.def.role) {
                if kind == Kind::Zk && self.def.real_zookeeper {
                    // The real server owns :2181.
                    continue;
                }
                if n.unit_up(unit) {
                    out.push((i, port, kind, unit.to_string()));
                }
            }
        }
        out
    }
}

/// Stops real ZooKeeper servers (blocking kills, off the async workers) and records it.
async fn stop_zookeepers(shared: &Shared, nodes: Vec<NodeDef>) {
    for n in nodes {
        let def = shared.lock().unwrap().def.clone();
        let name = n.name.clone();
        let _ = tokio::task::spawn_blocking(move || crate::zk::stop(&def, &n)).await;
        shared
            .lock()
            .unwrap()
            .record("zookeeper", json!({"node": name, "stopped": true}));
    }
}

/// Per-listener handler context.
#[derive(Clone)]
struct Ctx {
    shared: Shared,
    node: usize,
    unit: String,
}

fn sync_listeners(shared: &Shared, c: &mut Cluster) {
    let desired = c.desired_listeners();
    let keys: BTreeSet<(usize, u16)> = desired.iter().map(|(i, p, _, _)| (*i, *p)).collect();
    let stale: Vec<(usize, u16)> = c
        .listeners
        .keys()
        .filter(|k| k.0 != BOOTSTRAP && !keys.contains(k))
        .copied()
        .collect();
    for k in stale {
        if let Some(h) = c.listeners.remove(&k) {
            h.abort();
        }
    }
    for (i, port, kind, unit) in desired {
        if c.listeners.contains_key(&(i, port)) {
            continue;
        }
        let addr = format!("{}:{port}", c.nodes[i].def.address);
        let ctx = Ctx {
            shared: shared.clone(),
            node: i,
            unit,
        };
        let h = if kind == Kind::Zk {
            spawn_zk(&addr, ctx)
        } else {
            spawn_listener(&addr, node_router(kind, ctx))
        };
        if let Some(h) = h {
            c.listeners.insert((i, port), h);
        }
    }
}

/// The answer of a simulated ZooKeeper server to a four-letter word, from the cluster state:
/// the ensemble serves while a majority of Exhibitors is up; the Exhibitor leader leads.
fn zk_answer(c: &Cluster, me: usize, word: &str) -> String {
    let total = c.masters().count();
    let up: Vec<usize> = c
        .masters()
        .filter(|i| c.nodes[*i].unit_up("dcos-exhibitor"))
        .collect();
    let serving = up.len() > total / 2;
    let leader = serving && c.zk_leader == Some(me);
    let mode = if leader { "leader" } else { "follower" };
    match word {
        "ruok" => "imok".into(),
        "srvr" if serving => format!(
            "Zookeeper version: 3.4.14-dcos-sim, built on 01/01/2020\nLatency min/avg/max: 0/0/1\nReceived: 10\nSent: 10\nConnections: 1\nOutstanding: 0\nZxid: 0x100000005\nMode: {mode}\nNode count: 12\n"
        ),
        "mntr" if serving => {
            let mut s = format!(
                "zk_version\t3.4.14-dcos-sim\nzk_server_state\t{mode}\nzk_num_alive_connections\t1\nzk_znode_count\t12\n"
            );
            if leader {
                s.push_str(&format!("zk_synced_followers\t{}\n", up.len() - 1));
            }
            s
        }
        "srvr" | "mntr" => "This ZooKeeper instance is not currently serving requests\n".into(),
        _ => String::new(),
    }
}

/// Serves the four-letter words on a master's ZooKeeper client port.
fn spawn_zk(addr: &str, ctx: Ctx) -> Option<JoinHandle<()>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let std_l = match std::net::TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("dcos-sim: cannot bind {addr}: {e} (will retry)");
            return None;
        }
    };
    std_l.set_nonblocking(true).ok()?;
    let l = tokio::net::TcpListener::from_std(std_l).ok()?;
    Some(tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let mut word = [0u8; 4];
                let read =
                    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut word)).await;
                if !matches!(read, Ok(Ok(_))) {
                    return;
                }
                let answer = {
                    let c = ctx.shared.lock().unwrap();
                    zk_answer(&c, ctx.node, &String::from_utf8_lossy(&word))
                };
                let _ = s.write_all(answer.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    }))
}

fn spawn_listener(addr: &str, router: Router) -> Option<JoinHandle<()>> {
    let std_l = match std::net::TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("dcos-sim: cannot bind {addr}: {e} (will retry)");
            return None;
        }
    };
    std_l.set_nonblocking(true).ok()?;
    let l = tokio::net::TcpListener::from_std(std_l).ok()?;
    Some(tokio::spawn(async move {
        let _ = axum::serve(l, router).await;
    }))
}

fn json_resp(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn ok_json(v: Value) -> Response {
    json_resp(StatusCode::OK, &v)
}

fn text(status: StatusCode, s: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        s.to_string(),
    )
        .into_response()
}

/// Mesos-style metrics: keys with `/` escaped as `\/`, values as doubles.
fn metrics_body(m: &[(&str, f64)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let val = if v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{v:.1}")
        } else {
            format!("{v}")
        };
        s.push_str(&format!("\"{}\":{val}", k.replace('/', "\\/")));
    }
    s.push('}');
    s
}

async fn guard(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    let (garbage, up) = {
        let c = ctx.shared.lock().unwrap();
        let n = &c.nodes[ctx.node];
        (n.fault("http-garbage"), n.unit_up(&ctx.unit))
    };
    if !up {
        let mut r = text(StatusCode::SERVICE_UNAVAILABLE, "service stopped");
        r.headers_mut()
            .insert(header::CONNECTION, "close".parse().unwrap());
        return r;
    }
    if garbage {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "<html><body>502 Bad Gateway</body></html>\n\u{0}garbage{{{",
        )
            .into_response();
    }
    next.run(req).await
}

fn node_router(kind: Kind, ctx: Ctx) -> Router {
    let r: Router<Ctx> = match kind {
        Kind::Zk => Router::new(),
        Kind::Master => Router::new()
            .route("/metrics/snapshot", get(master_metrics))
            .route("/master/redirect", get(master_redirect))
            .route("/redirect", get(master_redirect))
            .route("/state", get(master_state))
            .route("/master/state", get(master_state))
            .route("/state.json", get(master_state))
            .route("/master/state.json", get(master_state))
            .route("/slaves", get(master_slaves))
            .route("/master/slaves", get(master_slaves))
            .route("/version", get(mesos_version_h))
            .route(
                "/maintenance/schedule",
                get(maint_schedule).post(maint_schedule_post),
            )
            .route(
                "/master/maintenance/schedule",
                get(maint_schedule).post(maint_schedule_post),
            )
            .route("/maintenance/status", get(maint_status))
            .route("/master/maintenance/status", get(maint_status))
            .route("/master/teardown", post(teardown).get(method_not_allowed))
            .route("/teardown", post(teardown).get(method_not_allowed)),
        Kind::Marathon => Router::new()
            .route("/v2/info", get(marathon_info))
            .route("/v2/leader", get(marathon_leader))
            .route("/v2/apps", get(marathon_apps))
            .route("/v2/apps/{*id}", get(marathon_app).put(marathon_put))
            .route("/v2/deployments", get(marathon_deployments))
            .route("/ping", get(|| async { "pong" })),
        Kind::Exhibitor => {
            Router::new().route("/exhibitor/v1/cluster/status", get(exhibitor_status))
        }
        Kind::Diagnostics => Router::new().route("/system/health/v1", get(diag_health)),
        Kind::Admin => Router::new()
            .route("/dcos-metadata/dcos-version.json", get(dcos_version))
            .route("/system/health/v1", get(diag_health)),
        Kind::Agent => Router::new()
            .route("/metrics/snapshot", get(agent_metrics))
            .route("/state", get(agent_state))
            .route("/slave(1)/state", get(agent_state))
            .route("/state.json", get(agent_state))
            .route("/version", get(mesos_version_h)),
        Kind::AgentAdmin => Router::new()
            .route("/dcos-metadata/dcos-version.json", get(dcos_version))
            .route("/system/health/v1", get(diag_health)),
    };
    r.layer(axum::middleware::from_fn_with_state(ctx.clone(), guard))
        .with_state(ctx)
}

async fn method_not_allowed() -> Response {
    text(
        StatusCode::METHOD_NOT_ALLOWED,
        "Expecting 'POST', received 'GET'",
    )
}

fn uptime(n: &NodeSt) -> f64 {
    n.unit(n.main_unit())
        .map(|u| u.since.elapsed().as_secs_f64())
        .unwrap_or(0.0)
}

async fn master_metrics(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let n = &c.nodes[ctx.node];
    let elected = c.leader == Some(ctx.node);
    let agents: Vec<usize> = c.agents().collect();
    let connected = agents.iter().filter(|i| c.registered(**i)).count() as f64;
    let total = agents.len() as f64;
    let running = c.tasks.iter().filter(|t| c.task_running(t)).count() as f64;
    let failed: u64 = c.nodes.iter().map(|n| n.tasks_failed).sum();
    let e = |v: f64| if elected { v } else { 0.0 };
    let m = [
        ("master/elected", if elected { 1.0 } else { 0.0 }),
        ("master/uptime_secs", (uptime(n) * 1000.0).round() / 1000.0),
        (
            "registrar/log/recovered",
            if c.quorum() { 1.0 } else { 0.0 },
        ),
        ("registrar/state_fetch_ms", 12.5),
        ("master/slaves_active", e(connected)),
        ("master/slaves_connected", e(connected)),
        ("master/slaves_disconnected", e(total - connected)),
        ("master/slaves_inactive", 0.0),
        ("master/slaves_unreachable", 0.0),
        ("master/recovery_slave_removals", 0.0),
        ("master/frameworks_active", e(1.0)),
        ("master/frameworks_connected", e(1.0)),
        ("master/tasks_running", e(running)),
        ("master/tasks_staging", 0.0),
        ("master/tasks_starting", 0.0),
        ("master/tasks_unreachable", 0.0),
        ("master/tasks_failed", e(failed as f64)),
        ("master/tasks_lost", e(c.tasks_lost as f64)),
        ("master/tasks_killed", 0.0),
        ("master/tasks_finished", 0.0),
        ("master/tasks_error", 0.0),
        ("system/cpus_total", 2.0),
        ("system/mem_total_bytes", 8_000_000_000.0),
        ("system/load_1min", 0.25),
    ];
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        metrics_body(&m),
    )
        .into_response()
}

fn leader_redirect(c: &Cluster, me: usize, path: &str) -> Option<Response> {
    if c.leader == Some(me) {
        return None;
    }
    Some(match c.leader {
        Some(l) => (
            StatusCode::TEMPORARY_REDIRECT,
            [(
                header::LOCATION,
                format!("//{}:5050{path}", c.nodes[l].def.address),
            )],
            "",
        )
            .into_response(),
        None => text(StatusCode::SERVICE_UNAVAILABLE, "No leader elected"),
    })
}

async fn master_redirect(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    match c.leader {
        Some(l) => (
            StatusCode::TEMPORARY_REDIRECT,
            [(
                header::LOCATION,
                format!("//{}:5050", c.nodes[l].def.address),
            )],
            "",
        )
            .into_response(),
        None => text(StatusCode::SERVICE_UNAVAILABLE, "No leader elected"),
    }
}

fn resources(cpus: f64, mem: f64) -> Value {
    json!({"cpus": cpus, "mem": mem, "disk": 40000.0, "gpus": 0.0, "ports": "[1025-2180, 2182-3887, 3889-5049, 5052-8079, 8082-8180, 8182-32000]"})
}

fn slave_json(c: &Cluster, i: usize) -> Value {
    let n = &c.nodes[i];
    let attrs = if n.def.role == Role::PublicAgent {
        json!({"public_ip": "true"})
    } else {
        json!({})
    };
    let (ucpu, umem) = c
        .tasks
        .iter()
        .filter(|t| t.agent == i)
        .filter_map(|t| c.apps.iter().find(|a| a.id == t.app))
        .fold((0.0, 0.0), |(x, y), a| (x + a.cpus, y + a.mem));
    let reg = c
        .start_wall
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    json!({
        "id": n.id,
        "hostname": n.def.address,
        "port": 5051,
        "attributes": attrs,
        "pid": format!("slave(1)@{}:5051", n.def.address),
        "registered_time": reg,
        "reregistered_time": reg,
        "resources": resources(4.0, 14000.0),
        "used_resources": resources(ucpu, umem),
        "offered_resources": resources(0.0, 0.0),
        "reserved_resources": {},
        "unreserved_resources": resources(4.0, 14000.0),
        "active": c.registered(i),
        "deactivated": false,
        "version": mesos_version(&n.version),
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT", "RESOURCE_PROVIDER", "RESIZE_VOLUME", "AGENT_OPERATION_FEEDBACK", "AGENT_DRAINING", "TASK_RESOURCE_LIMITS"],
    })
}

fn task_json(c: &Cluster, t: &Task) -> Value {
    let running = c.task_running(t);
    json!({
        "id": t.id, "name": t.app.trim_start_matches('/'), "framework_id": c.framework_id,
        "executor_id": "", "slave_id": c.nodes[t.agent].id,
        "state": if running { "TASK_RUNNING" } else { "TASK_UNREACHABLE" },
        "resources": {"cpus": 0.5, "mem": 128.0},
    })
}

async fn master_state(State(ctx): State<Ctx>, req: Request) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, req.uri().path()) {
        return r;
    }
    let n = &c.nodes[ctx.node];
    let addr = &n.def.address;
    let mv = mesos_version(&n.version);
    let mid = uuid_like(&format!("master-{}", n.def.name));
    let slaves: Vec<Value> = c.agents().map(|i| slave_json(&c, i)).collect();
    let active = c.agents().filter(|i| c.registered(*i)).count();
    let tasks: Vec<Value> = c.tasks.iter().map(|t| task_json(&c, t)).collect();
    let start = c
        .start_wall
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let elected = c
        .elected_wall
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let ip_u32 = addr
        .split('.')
        .filter_map(|o| o.parse::<u32>().ok())
        .rev()
        .fold(0u32, |acc, o| (acc << 8) | o);
    let v = json!({
        "version": mv, "git_sha": hex_id(mv, 40), "git_tag": mv, "build_date": "2020-10-01 00:00:00",
        "build_time": 1601510400.0, "build_user": "", "start_time": start, "elected_time": elected,
        "id": mid, "pid": format!("master@{addr}:5050"), "hostname": addr,
        "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
        "activated_slaves": active as f64, "deactivated_slaves": 0.0, "unreachable_slaves": 0.0,
        "leader": format!("master@{addr}:5050"),
        "leader_info": {"id": mid, "pid": format!("master@{addr}:5050"), "port": 5050, "hostname": addr, "ip": ip_u32,
                         "address": {"hostname": addr, "ip": addr, "port": 5050}, "version": mv},
        "cluster": "dcos-sim", "log_dir": "/var/log/mesos",
        "flags": {"hostname_lookup": "false", "port": "5050", "quorum": format!("{}", c.masters().count() / 2 + 1), "zk": "zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181/mesos"},
        "slaves": slaves, "recovered_slaves": [],
        "frameworks": [{"id": c.framework_id, "name": "marathon", "hostname": addr, "active": true, "connected": true,
                         "role": "slave_public", "user": "root", "webui_url": format!("http://{addr}:8080"), "tasks": tasks,
                         "unreachable_tasks": [], "completed_tasks": [], "executors": []}],
        "completed_frameworks": [], "orphan_tasks": [], "unregistered_frameworks": [],
    });
    ok_json(v)
}

async fn master_slaves(State(ctx): State<Ctx>, req: Request) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, req.uri().path()) {
        return r;
    }
    let slaves: Vec<Value> = c.agents().map(|i| slave_json(&c, i)).collect();
    ok_json(json!({"slaves": slaves, "recovered_slaves": []}))
}

async fn mesos_version_h(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let mv = mesos_version(&c.nodes[ctx.node].version);
    ok_json(
        json!({"version": mv, "build_user": "", "build_time": 1601510400.0, "build_date": "2020-10-01 00:00:00", "git_sha": hex_id(mv, 40), "git_tag": mv}),
    )
}

async fn maint_schedule(State(ctx): State<Ctx>, req: Request) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, req.uri().path()) {
        return r;
    }
    ok_json(c.maintenance.clone())
}

async fn maint_schedule_post(State(ctx): State<Ctx>, body: String) -> Response {
    let mut c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, "/maintenance/schedule") {
        return r;
    }
    match serde_json::from_str::<Value>(&body) {
        Ok(v) if v.get("windows").map(|w| w.is_array()).unwrap_or(false) => {
            c.maintenance = v;
            c.record("maintenance_schedule", c.maintenance.clone());
            text(StatusCode::OK, "")
        }
        _ => text(
            StatusCode::BAD_REQUEST,
            "Failed to parse the request body: expected a maintenance schedule",
        ),
    }
}

async fn maint_status(State(ctx): State<Ctx>, req: Request) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, req.uri().path()) {
        return r;
    }
    let mut draining = Vec::new();
    if let Some(ws) = c.maintenance.get("windows").and_then(|w| w.as_array()) {
        for w in ws {
            if let Some(ids) = w.get("machine_ids").and_then(|m| m.as_array()) {
                for id in ids {
                    draining.push(json!({"id": id, "statuses": []}));
                }
            }
        }
    }
    ok_json(json!({"draining_machines": draining, "down_machines": []}))
}

async fn teardown(
    State(ctx): State<Ctx>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, "/master/teardown") {
        return r;
    }
    let fid = q.get("frameworkId").cloned().or_else(|| {
        body.split('&')
            .find_map(|kv| kv.strip_prefix("frameworkId=").map(str::to_string))
    });
    match fid {
        None => text(
            StatusCode::BAD_REQUEST,
            "Missing 'frameworkId' query parameter in the request body",
        ),
        Some(f) if f == c.framework_id => text(
            StatusCode::FORBIDDEN,
            "dcos-sim refuses to tear down Marathon",
        ),
        Some(f) => text(
            StatusCode::BAD_REQUEST,
            &format!("No framework found with specified ID: {f}"),
        ),
    }
}

fn marathon_leader_idx(c: &Cluster) -> Option<usize> {
    if let Some(l) = c.leader {
        if c.nodes[l].unit_up("dcos-marathon") {
            return Some(l);
        }
    }
    c.masters().find(|i| c.nodes[*i].unit_up("dcos-marathon"))
}

async fn marathon_info(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let ml = marathon_leader_idx(&c);
    let leader = ml.map(|l| format!("{}:8080", c.nodes[l].def.address));
    let addr = &c.nodes[ctx.node].def.address;
    ok_json(json!({
        "name": "marathon", "version": "1.11.1", "buildref": hex_id("marathon", 40),
        "elected": ml == Some(ctx.node), "leader": leader, "frameworkId": c.framework_id,
        "marathon_config": {"master": "zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181/mesos", "features": ["vips", "task_killing", "external_volumes", "gpu_resources"],
                            "mesos_role": "slave_public", "hostname": addr, "ha": true, "framework_name": "marathon",
                            "checkpoint": true, "failover_timeout": 604800, "mesos_user": "root"},
        "zookeeper_config": {"zk": "zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181/marathon", "zk_timeout": 10000, "zk_session_timeout": 10000, "zk_max_versions": 50},
        "http_config": {"http_port": 8080, "https_port": 8443},
    }))
}

async fn marathon_leader(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    match marathon_leader_idx(&c) {
        Some(l) => ok_json(json!({"leader": format!("{}:8080", c.nodes[l].def.address)})),
        None => json_resp(
            StatusCode::NOT_FOUND,
            &json!({"message": "There is no leader"}),
        ),
    }
}

fn app_json(c: &Cluster, a: &App) -> Value {
    let tasks: Vec<&Task> = c.tasks.iter().filter(|t| t.app == a.id).collect();
    let running = tasks.iter().filter(|t| c.task_running(t)).count();
    let healthy = tasks.iter().filter(|t| c.task_healthy(t)).count();
    let mut v = json!({
        "id": a.id, "cmd": null, "args": null, "user": null, "env": {}, "instances": a.instances,
        "cpus": a.cpus, "mem": a.mem, "disk": 0.0, "gpus": 0, "executor": "", "constraints": [],
        "uris": [], "fetch": [], "storeUrls": [], "backoffSeconds": 1, "backoffFactor": 1.15,
        "maxLaunchDelaySeconds": 300,
        "container": {"type": "DOCKER", "volumes": [],
                      "docker": {"image": a.image, "forcePullImage": false, "privileged": false, "parameters": []},
                      "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp", "name": "http"}]},
        "healthChecks": [{"gracePeriodSeconds": 300, "intervalSeconds": 60, "maxConsecutiveFailures": 3,
                          "portIndex": 0, "timeoutSeconds": 20, "delaySeconds": 15, "protocol": "MESOS_HTTP",
                          "path": "/", "ipProtocol": "IPv4"}],
        "readinessChecks": [], "dependencies": [],
        "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
        "labels": {}, "acceptedResourceRoles": null, "ipAddress": null,
        "version": a.version,
        "versionInfo": {"lastScalingAt": a.last_scaling, "lastConfigChangeAt": a.last_config},
        "killSelection": "YOUNGEST_FIRST", "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
        "tasksStaged": 0, "tasksRunning": running, "tasksHealthy": healthy, "tasksUnhealthy": running - healthy,
        "deployments": a.deployment.iter().map(|d| json!({"id": d.id})).collect::<Vec<_>>(),
    });
    if let Some(o) = v.as_object_mut() {
        for (k, val) in &a.extra {
            o.insert(k.clone(), val.clone());
        }
    }
    v
}

fn marathon_down(c: &Cluster) -> Option<Response> {
    if marathon_leader_idx(c).is_none() {
        return Some(json_resp(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"message": "Could not determine the current leader"}),
        ));
    }
    None
}

async fn marathon_apps(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = marathon_down(&c) {
        return r;
    }
    let apps: Vec<Value> = c.apps.iter().map(|a| app_json(&c, a)).collect();
    ok_json(json!({"apps": apps}))
}

fn norm_id(id: &str) -> String {
    format!("/{}", id.trim_matches('/'))
}

async fn marathon_app(State(ctx): State<Ctx>, UrlPath(id): UrlPath<String>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let id = norm_id(&id);
    match c.apps.iter().find(|a| a.id == id) {
        Some(a) => ok_json(json!({"app": app_json(&c, a)})),
        None => json_resp(
            StatusCode::NOT_FOUND,
            &json!({"message": format!("App '{id}' does not exist")}),
        ),
    }
}

async fn marathon_put(
    State(ctx): State<Ctx>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let mut c = ctx.shared.lock().unwrap();
    if let Some(r) = marathon_down(&c) {
        return r;
    }
    let id = norm_id(&id);
    let defv: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let Some(def) = defv.as_object() else {
        return json_resp(
            StatusCode::BAD_REQUEST,
            &json!({"message": "Invalid JSON", "details": [{"path": "/", "errors": ["error.expected.jsobject"]}]}),
        );
    };
    let force = q.get("force").map(|f| f == "true").unwrap_or(false);
    let now = SystemTime::now();
    let new_version = iso8601(now);
    let dep_id = uuid_like(&format!("dep-{id}-{new_version}-{}", c.task_seq));
    let ends = Instant::now() + Duration::from_millis(c.def.deploy_ms);
    let existing = c.apps.iter().position(|a| a.id == id);
    let created = existing.is_none();
    let idx = match existing {
        Some(i) => {
            if let Some(d) = &c.apps[i].deployment {
                if !force {
                    let msg = "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.";
                    return json_resp(
                        StatusCode::CONFLICT,
                        &json!({"message": msg, "deployments": [{"id": d.id}]}),
                    );
                }
            }
            i
        }
        None => {
            c.apps.push(App {
                id: id.clone(),
                image: String::new(),
                instances: 1,
                cpus: 0.1,
                mem: 32.0,
                version: new_version.clone(),
                last_scaling: new_version.clone(),
                last_config: new_version.clone(),
                deployment: None,
                extra: serde_json::Map::new(),
            });
            c.apps.len() - 1
        }
    };
    let mut scaled = false;
    {
        let a = &mut c.apps[idx];
        if let Some(img) = defv
            .pointer("/container/docker/image")
            .and_then(|v| v.as_str())
        {
            a.image = img.to_string();
        }
        if let Some(n) = def.get("instances").and_then(|v| v.as_u64()) {
            scaled = n != a.instances;
            a.instances = n;
        }
        if let Some(x) = def.get("cpus").and_then(|v| v.as_f64()) {
            a.cpus = x;
        }
        if let Some(x) = def.get("mem").and_then(|v| v.as_f64()) {
            a.mem = x;
        }
        for k in ["cmd", "args", "env", "labels", "constraints"] {
            if let Some(v) = def.get(k) {
                a.extra.insert(k.to_string(), v.clone());
            }
        }
        if scaled {
            a.last_scaling = new_version.clone();
        } else {
            a.last_config = new_version.clone();
        }
        a.deployment = Some(Deployment {
            id: dep_id.clone(),
            version: new_version.clone(),
            ends,
        });
    }
    if scaled || created {
        c.place_tasks(&id);
    }
    c.record(
        "marathon_deploy",
        json!({"app": id, "deploymentId": dep_id, "version": new_version}),
    );
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json_resp(
        status,
        &json!({"deploymentId": dep_id, "version": new_version}),
    )
}

async fn marathon_deployments(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = marathon_down(&c) {
        return r;
    }
    let deps: Vec<Value> = c
        .apps
        .iter()
        .filter_map(|a| a.deployment.as_ref().map(|d| (a, d)))
        .map(|(a, d)| {
            json!({
                "id": d.id, "version": d.version, "affectedApps": [a.id], "affectedPods": [],
                "steps": [{"actions": [{"action": "RestartApplication", "app": a.id}]}],
                "currentActions": [{"action": "RestartApplication", "app": a.id, "readinessCheckResults": []}],
                "currentStep": 1, "totalSteps": 1,
            })
        })
        .collect();
    ok_json(Value::Array(deps))
}

/// Real ZooKeeper mode: Exhibitor's view is each server's own answer to `srvr` (leader or
/// follower: 3 "serving"; another answer: 2 "not serving"; no answer: 1 "down").
async fn exhibitor_status_real(masters: Vec<String>) -> Response {
    let mut set = tokio::task::JoinSet::new();
    for (k, host) in masters.iter().enumerate() {
        let host = host.clone();
        set.spawn(async move { (k, srvr_mode(&host).await) });
    }
    let mut modes: Vec<Option<Option<String>>> = vec![None; masters.len()];
    while let Some(Ok((k, m))) = set.join_next().await {
        modes[k] = m;
    }
    let v: Vec<Value> = masters
        .iter()
        .zip(modes)
        .map(|(host, m)| {
            let (code, desc, leader) = match m.as_ref().map(|m| m.as_deref()) {
                Some(Some("leader")) => (3, "serving", true),
                Some(Some("follower")) => (3, "serving", false),
                Some(_) => (2, "not serving", false),
                None => (1, "down", false),
            };
            json!({"code": code, "description": desc, "hostname": host, "isLeader": leader})
        })
        .collect();
    ok_json(Value::Array(v))
}

/// `srvr` on `host:2181`: `None` when it does not answer, `Some(mode)` otherwise.
async fn srvr_mode(host: &str) -> Option<Option<String>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = format!("{host}:{}", crate::zk::CLIENT_PORT);
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(&addr).await.ok()?;
        s.write_all(b"srvr").await.ok()?;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        Some(crate::zk::parse_mode(&String::from_utf8_lossy(&buf)))
    };
    tokio::time::timeout(Duration::from_secs(1), fut)
        .await
        .ok()
        .flatten()
}

async fn exhibitor_status(State(ctx): State<Ctx>) -> Response {
    let real = {
        let c = ctx.shared.lock().unwrap();
        c.def.real_zookeeper.then(|| {
            c.masters()
                .map(|i| c.nodes[i].def.address.clone())
                .collect::<Vec<_>>()
        })
    };
    if let Some(masters) = real {
        return exhibitor_status_real(masters).await;
    }
    let c = ctx.shared.lock().unwrap();
    let total = c.masters().count();
    let serving: Vec<usize> = c
        .masters()
        .filter(|i| c.nodes[*i].unit_up("dcos-exhibitor"))
        .collect();
    let quorum = serving.len() > total / 2;
    let v: Vec<Value> = c
        .masters()
        .map(|i| {
            let (code, desc) = if !c.nodes[i].unit_up("dcos-exhibitor") {
                (1, "down")
            } else if quorum {
                (3, "serving")
            } else {
                (2, "not serving")
            };
            json!({"code": code, "description": desc, "hostname": c.nodes[i].def.address, "isLeader": c.zk_leader == Some(i)})
        })
        .collect();
    ok_json(Value::Array(v))
}

async fn diag_health(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let n = &c.nodes[ctx.node];
    let units: Vec<Value> = n
        .units
        .iter()
        .map(|u| {
            json!({"id": format!("{}.service", u.name), "health": if u.up { 0 } else { 1 }, "output": "",
                   "description": format!("{} (simulated)", u.name), "help": "", "name": u.name})
        })
        .collect();
    let role = match n.def.role {
        Role::Master => "master",
        Role::Agent => "agent",
        Role::PublicAgent => "agent_public",
    };
    let mesos_id = if n.def.role == Role::Master {
        uuid_like(&format!("master-{}", n.def.name))
    } else {
        n.id.clone()
    };
    ok_json(
        json!({"units": units, "hostname": n.def.address, "ip": n.def.address, "dcos_version": n.version,
                   "node_role": role, "mesos_id": mesos_id, "dcos_diagnostics_version": "0.6.0"}),
    )
}

async fn dcos_version(State(ctx): State<Ctx>) -> Response {
    let root = ctx.shared.lock().unwrap().nodes[ctx.node].def.root.clone();
    match std::fs::read_to_string(root.join("opt/mesosphere/etc/dcos-version.json")) {
        Ok(s) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            s,
        )
            .into_response(),
        Err(_) => text(StatusCode::NOT_FOUND, "404 Not Found"),
    }
}

async fn agent_metrics(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let n = &c.nodes[ctx.node];
    let running = c
        .tasks
        .iter()
        .filter(|t| t.agent == ctx.node && c.task_running(t))
        .count() as f64;
    let m = [
        (
            "slave/registered",
            if c.registered(ctx.node) { 1.0 } else { 0.0 },
        ),
        ("slave/uptime_secs", (uptime(n) * 1000.0).round() / 1000.0),
        ("slave/recovery_errors", 0.0),
        ("slave/tasks_running", running),
        ("slave/tasks_staging", 0.0),
        ("slave/tasks_failed", n.tasks_failed as f64),
        ("slave/tasks_lost", 0.0),
        ("slave/tasks_killed", 0.0),
        ("slave/tasks_finished", 0.0),
        ("slave/executors_running", running),
        (
            "slave/frameworks_active",
            if running > 0.0 { 1.0 } else { 0.0 },
        ),
        ("system/cpus_total", 4.0),
        ("system/load_1min", 0.1),
    ];
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        metrics_body(&m),
    )
        .into_response()
}

async fn agent_state(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let n = &c.nodes[ctx.node];
    if !c.registered(ctx.node) {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "Agent has not finished recovery",
        );
    }
    let addr = &n.def.address;
    let mv = mesos_version(&n.version);
    let attrs = if n.def.role == Role::PublicAgent {
        json!({"public_ip": "true"})
    } else {
        json!({})
    };
    let tasks: Vec<Value> = c
        .tasks
        .iter()
        .filter(|t| t.agent == ctx.node)
        .map(|t| task_json(&c, t))
        .collect();
    let master = c.leader.map(|l| c.nodes[l].def.address.clone());
    ok_json(json!({
        "version": mv, "git_sha": hex_id(mv, 40), "git_tag": mv, "build_date": "2020-10-01 00:00:00",
        "build_time": 1601510400.0, "build_user": "",
        "start_time": c.start_wall.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64(),
        "id": n.id, "pid": format!("slave(1)@{addr}:5051"), "hostname": addr,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT", "AGENT_DRAINING"],
        "resources": resources(4.0, 14000.0), "reserved_resources": {}, "unreserved_resources": resources(4.0, 14000.0),
        "reserved_resources_full": {}, "attributes": attrs, "master_hostname": master,
        "log_dir": "/var/log/mesos", "flags": {"hostname_lookup": "false", "port": "5051"},
        "frameworks": if tasks.is_empty() { json!([]) } else { json!([{"id": c.framework_id, "name": "marathon", "executors": [{"tasks": tasks}]}]) },
        "completed_frameworks": [],
    }))
}

// ---------------------------------------------------------------- control API and bootstrap

async fn ctl_health(State(s): State<Shared>) -> Response {
    let c = s.lock().unwrap();
    ok_json(
        json!({"healthy": c.healthy(), "leader": c.leader.map(|l| c.nodes[l].def.address.clone())}),
    )
}

async fn ctl_report(State(s): State<Shared>) -> Response {
    let c = s.lock().unwrap();
    ok_json(serde_json::to_value(c.report()).unwrap_or(Value::Null))
}

async fn ctl_unit_action(
    State(s): State<Shared>,
    UrlPath((node, unit, action)): UrlPath<(String, String, String)>,
) -> Response {
    if !["start", "stop", "restart"].contains(&action.as_str()) {
        return text(
            StatusCode::BAD_REQUEST,
            "action must be start, stop or restart",
        );
    }
    let stop = {
        let mut c = s.lock().unwrap();
        let Some(i) = c.idx(&node) else {
            return text(StatusCode::NOT_FOUND, "no such node");
        };
        if !c.set_units(i, &unit, &action) {
            return text(StatusCode::NOT_FOUND, "no such unit");
        }
        sync_listeners(&s, &mut c);
        c.zk_reconcile()
    };
    // A stopped Exhibitor takes its ZooKeeper down before systemctl returns.
    stop_zookeepers(&s, stop).await;
    // Give aborted listeners a moment to close.
    tokio::time::sleep(Duration::from_millis(30)).await;
    text(StatusCode::OK, "ok")
}

async fn ctl_unit_status(
    State(s): State<Shared>,
    UrlPath((node, unit)): UrlPath<(String, String)>,
) -> Response {
    let c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    let n = &c.nodes[i];
    let unit = unit.trim_end_matches(".service");
    if unit == "dcos.target" {
        return text(
            StatusCode::OK,
            if n.all_up() { "active" } else { "inactive" },
        );
    }
    match n.unit(unit) {
        Some(u) => text(StatusCode::OK, u.status()),
        None => text(StatusCode::NOT_FOUND, "unknown"),
    }
}

async fn ctl_units(State(s): State<Shared>, UrlPath(node): UrlPath<String>) -> Response {
    let c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    let mut out = String::new();
    for u in &c.nodes[i].units {
        out.push_str(&format!(
            "{}.service loaded {} running {}\n",
            u.name,
            u.status(),
            u.name
        ));
    }
    text(StatusCode::OK, &out)
}

async fn ctl_fault_get(
    State(s): State<Shared>,
    UrlPath((node, kind)): UrlPath<(String, String)>,
) -> Response {
    let c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    text(
        StatusCode::OK,
        if c.nodes[i].fault(&kind) { "1" } else { "0" },
    )
}

async fn ctl_fault_set(
    State(s): State<Shared>,
    UrlPath((node, kind)): UrlPath<(String, String)>,
) -> Response {
    fault_change(s, node, kind, true)
}

async fn ctl_fault_clear(
    State(s): State<Shared>,
    UrlPath((node, kind)): UrlPath<(String, String)>,
) -> Response {
    fault_change(s, node, kind, false)
}

fn fault_change(s: Shared, node: String, kind: String, set: bool) -> Response {
    let mut c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    if set {
        c.nodes[i].faults.insert(kind.clone());
    } else {
        c.nodes[i].faults.remove(&kind);
    }
    c.record("fault", json!({"node": node, "kind": kind, "set": set}));
    c.tick();
    sync_listeners(&s, &mut c);
    text(StatusCode::OK, "ok")
}

async fn ctl_attempt(
    State(s): State<Shared>,
    UrlPath(node): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    c.nodes[i].attempts += 1;
    let rec = UpgradeRecord {
        node: node.clone(),
        was_leader: c.leader == Some(i),
        from: q.get("from").cloned().unwrap_or_default(),
        to: q.get("to").cloned().unwrap_or_default(),
        ok: false,
    };
    c.record(
        "upgrade_attempt",
        serde_json::to_value(&rec).unwrap_or(Value::Null),
    );
    c.upgrade_order.push(rec);
    text(StatusCode::OK, &(c.upgrade_order.len() - 1).to_string())
}

async fn ctl_attempt_done(
    State(s): State<Shared>,
    UrlPath((node, idx)): UrlPath<(String, usize)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut c = s.lock().unwrap();
    let code = q.get("code").cloned().unwrap_or_default();
    if let Some(r) = c.upgrade_order.get_mut(idx) {
        if r.node == node {
            r.ok = code == "0";
        }
    }
    c.record(
        "upgrade_done",
        json!({"node": node, "attempt": idx, "code": code}),
    );
    text(StatusCode::OK, "ok")
}

async fn static_file(State(dir): State<PathBuf>, UrlPath(path): UrlPath<String>) -> Response {
    if path.split('/').any(|p| p == ".." || p.starts_with('.')) {
        return text(StatusCode::NOT_FOUND, "404 Not Found");
    }
    match std::fs::read(dir.join(&path)) {
        Ok(b) => {
            let ct = if path.ends_with(".sh") {
                "text/x-sh"
            } else if path.ends_with(".json") {
                "application/json"
            } else {
                "application/octet-stream"
            };
            (StatusCode::OK, [(header::CONTENT_TYPE, ct)], Body::from(b)).into_response()
        }
        Err(_) => text(StatusCode::NOT_FOUND, "404 Not Found"),
    }
}

/// Runs the daemon for the testbed in `dir` until killed.
pub fn serve(dir: &Path) -> anyhow::Result<()> {
    let def = SimDef::load(dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let boot = def.bootstrap_address.clone();
        let serve_dir = def.dir.join("bootstrap/serve");
        let shared: Shared = Arc::new(Mutex::new(Cluster::new(def)));
        let ctl = Router::new()
            .route("/health", get(ctl_health))
            .route("/report", get(ctl_report))
            .route("/node/{node}/units", get(ctl_units))
            .route("/node/{node}/unit/{unit}", get(ctl_unit_status))
            .route("/node/{node}/unit/{unit}/{action}", post(ctl_unit_action))
            .route(
                "/node/{node}/fault/{kind}",
                get(ctl_fault_get).post(ctl_fault_set),
            )
            .route("/node/{node}/fault/{kind}/clear", post(ctl_fault_clear))
            .route("/node/{node}/attempt", post(ctl_attempt))
            .route("/node/{node}/attempt/{idx}/done", post(ctl_attempt_done))
            .with_state(shared.clone());
        let files = Router::new()
            .route("/{*path}", get(static_file))
            .with_state(serve_dir);
        let ctl_h = spawn_listener(&format!("{boot}:9999"), ctl)
            .ok_or_else(|| anyhow::anyhow!("cannot bind {boot}:9999"))?;
        let files_h = spawn_listener(&format!("{boot}:8080"), files)
            .ok_or_else(|| anyhow::anyhow!("cannot bind {boot}:8080"))?;
        {
            let mut c = shared.lock().unwrap();
            c.listeners.insert((BOOTSTRAP, 9999), ctl_h);
            c.listeners.insert((BOOTSTRAP, 8080), files_h);
            c.tick();
            sync_listeners(&shared, &mut c);
            c.record("started", json!({}));
        }
        let mut iv = tokio::time::interval(Duration::from_millis(100));
        loop {
            iv.tick().await;
            let stop = {
                let mut c = shared.lock().unwrap();
                c.tick();
                sync_listeners(&shared, &mut c);
                c.zk_reconcile()
            };
            stop_zookeepers(&shared, stop).await;
        }
    })
}
