//! Cluster health checks of the precheck and postcheck steps.

use super::gates::{self, same_version};
use super::StepCtx;
use crate::probe::marathon;
use crate::probe::wait::Poll;

/// Before anything changes: the whole checklist. A failed blocker fails the step (nothing has
/// changed yet); failed warnings are reported and approved at the next gate (or by `--yes`).
pub async fn precheck(ctx: &StepCtx<'_>) -> Result<serde_json::Value, String> {
    let c = ctx.cluster;
    let facts = crate::probe::facts::gather(c, false).await;
    let list = checklist(c, &facts, Some(ctx.to)).await;
    for w in list.warnings() {
        ctx.events
            .emit(&crate::events::stamp(crate::events::Event::Warning {
                message: format!("precheck {}: {} ({})", w.id, w.found, w.remedy),
            }));
    }
    let report = serde_json::to_value(&list).unwrap_or_default();
    if list.blocked() {
        let blockers: Vec<String> = list
            .checks
            .iter()
            .filter(|c| !c.passed && c.severity == Severity::Blocker)
            .map(|c| format!("{}: {}", c.id, c.found))
            .collect();
        return Err(format!("precheck blocked: {}", blockers.join("; ")));
    }
    Ok(serde_json::json!({"leader": facts.leader, "checklist": report}))
}

/// At the end: every node at the target and healthy.
pub async fn postcheck(ctx: &StepCtx<'_>) -> Result<serde_json::Value, String> {
    let c = ctx.cluster;
    let mut problems = Vec::new();
    for n in c.nodes() {
        match c.identity(n).await {
            Ok(id) if same_version(&id.version, ctx.to) => {}
            Ok(id) => problems.push(format!(
                "{} is at {}, not {}",
                n.address, id.version, ctx.to
            )),
            Err(e) => problems.push(e),
        }
    }
    if let Poll::NotYet(e) | Poll::Abort(e) = gates::masters_healthy(c).await {
        problems.push(e);
    }
    for a in &c.agents {
        if let Poll::NotYet(e) | Poll::Abort(e) = gates::agent_registered(c, a).await {
            problems.push(e);
        }
    }
    if problems.is_empty() {
        Ok(serde_json::json!({"to": ctx.to}))
    } else {
        Err(format!("postcheck: {}", problems.join("; ")))
    }
}

/// How much a failed check matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The upgrade must not start.
    Blocker,
    /// Needs approval.
    Warning,
    /// For the record.
    Info,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckResult {
    /// Stable id, e.g. `masters.odd_count`.
    pub id: String,
    /// Severity when it does not pass.
    pub severity: Severity,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub found: String,
    /// What to do about it (when it did not pass).
    pub remedy: String,
    /// What was recorded for later comparison (agent attributes, task baseline, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// The checklist.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checklist {
    /// Every check, in order.
    pub checks: Vec<CheckResult>,
}

impl Checklist {
    /// Whether a blocker failed.
    pub fn blocked(&self) -> bool {
        self.checks
            .iter()
            .any(|c| !c.passed && c.severity == Severity::Blocker)
    }

    /// Failed warnings.
    pub fn warnings(&self) -> Vec<&CheckResult> {
        self.checks
            .iter()
            .filter(|c| !c.passed && c.severity == Severity::Warning)
            .collect()
    }

    /// The checklist for people.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for c in &self.checks {
            let mark = if c.passed {
                "pass".to_string()
            } else {
                format!("{:?}", c.severity).to_uppercase()
            };
            s.push_str(&format!("[{mark:>7}] {:<32} {}\n", c.id, c.found));
            if !c.passed {
                s.push_str(&format!("          -> {}\n", c.remedy));
            }
        }
        let blockers = self
            .checks
            .iter()
            .filter(|c| !c.passed && c.severity == Severity::Blocker)
            .count();
        s.push_str(&format!(
            "\n{} checks, {} blocker(s), {} warning(s)\n",
            self.checks.len(),
            blockers,
            self.warnings().len()
        ));
        s
    }
}

/// Free space below this share of a filesystem blocks the upgrade.
pub const DISK_BLOCK_PCT: f64 = 5.0;
/// Free space below this share of a filesystem is a warning.
pub const DISK_WARN_PCT: f64 = 15.0;
/// Free space below this many bytes blocks the upgrade (packages are unpacked there).
pub const DISK_BLOCK_BYTES: u64 = 1 << 30;
/// Round-trip time between masters above this is a warning (ZooKeeper and the replicated log
/// are latency sensitive).
pub const RTT_WARN_MS: f64 = 50.0;
/// Clock difference between nodes above this is a warning.
pub const CLOCK_SKEW_WARN_S: f64 = 2.0;
/// An agent advertising at least this share of its host's CPUs or memory leaves no headroom.
pub const HEADROOM_RATIO: f64 = 0.95;
/// Time between the two metric probes used to catch a restarting master.
pub const FLAP_PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1300);
/// The directories whose free space is checked (those that exist, under the node root).
pub const DISK_PATHS: [&str; 4] = [
    "/var/lib/docker",
    "/var/log",
    "/var/lib/mesos",
    "/opt/mesosphere",
];
/// Top-level znodes that DC/OS itself creates (anything else is someone else's state).
pub const KNOWN_ZNODES: [&str; 11] = [
    "zookeeper",
    "mesos",
    "marathon",
    "dcos",
    "cosmos",
    "exhibitor",
    "navstar",
    "dcos-net",
    "lashup",
    "metronome",
    "dcos-service-*",
];

/// What one node's read-only shell probe found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct NodeShell {
    /// `id -u` after privilege escalation.
    pub uid: Option<u32>,
    /// The node's clock minus this machine's clock, in seconds.
    pub clock_offset_s: Option<f64>,
    /// (path, size bytes, available bytes) of each existing disk path.
    pub disks: Vec<(String, u64, u64)>,
    /// `ID` and `VERSION_ID` of os-release.
    pub os: Option<(String, String)>,
    /// Lines saying automatic updates are on.
    pub auto_updates: Vec<String>,
    /// Round-trip (TCP connect) times to the other masters in ms; None = not reachable.
    pub rtt_ms: Vec<(String, Option<f64>)>,
}

/// One node's probe result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeObs {
    /// Address.
    pub address: String,
    /// Role.
    pub role: crate::model::Role,
    /// What the shell said, or why it could not be asked.
    pub shell: Result<NodeShell, String>,
}

/// One master's metrics, probed twice.
#[derive(Debug, Clone)]
pub struct MasterObs {
    /// Address.
    pub address: String,
    /// First probe.
    pub first: Result<crate::probe::mesos::Metrics, String>,
    /// Second probe, [`FLAP_PROBE_INTERVAL`] later.
    pub second: Result<crate::probe::mesos::Metrics, String>,
}

/// Everything the checks look at, gathered once (in parallel) before any check runs.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Facts (versions, leader).
    pub facts: crate::facts::ClusterFacts,
    /// Target version, when known (`run`, `plan`); `check` alone judges the installed one.
    pub to: Option<String>,
    /// Whether commands run through sudo.
    pub sudo: bool,
    /// Masters' metrics.
    pub masters: Vec<MasterObs>,
    /// Exhibitor's cluster status (from the first master that answers).
    pub exhibitor: Result<Vec<crate::probe::exhibitor::ServerStatus>, String>,
    /// The four-letter words of every master's ZooKeeper.
    pub zk: Vec<crate::probe::zk::ZkServer>,
    /// Top-level znodes.
    pub znodes: Result<Vec<String>, String>,
    /// Agents as the leader lists them.
    pub slaves: Result<Vec<crate::probe::mesos::Slave>, String>,
    /// Each agent's own metrics.
    pub agent_metrics: Vec<(String, Result<crate::probe::mesos::Metrics, String>)>,
    /// Each node's shell probe.
    pub nodes: Vec<NodeObs>,
    /// Marathon apps.
    pub apps: Result<Vec<marathon::App>, String>,
    /// Marathon deployments in progress.
    pub deployments: Result<usize, String>,
    /// Status of an unauthenticated `POST /master/teardown` without a framework id.
    pub teardown: Result<u16, String>,
}

/// A check: a name and a pure function of the observations.
pub type CheckFn = fn(&Observed) -> Vec<CheckResult>;

/// Every check, in the order the checklist shows them. Add a check by adding a line here.
pub const CHECKS: &[(&str, CheckFn)] = &[
    ("nodes.ssh", check_ssh),
    ("masters.count", check_master_count),
    ("masters.reachable", check_masters_reachable),
    ("masters.registrar_recovered", check_registrar),
    ("masters.one_leader", check_one_leader),
    ("masters.not_flapping", check_flapping),
    ("zookeeper.exhibitor", check_exhibitor),
    ("zookeeper.four_letter_words", check_zk_words),
    ("zookeeper.unknown_znodes", check_znodes),
    ("masters.rtt", check_rtt),
    ("agents.registered", check_agents),
    ("agents.attributes", check_attributes),
    ("agents.headroom", check_headroom),
    ("nodes.disk_free", check_disks),
    ("nodes.auto_updates", check_auto_updates),
    ("nodes.clock_skew", check_clock),
    ("nodes.os_tested", check_os),
    ("marathon.no_deployment", check_deployments),
    ("marathon.image_tags", check_image_tags),
    ("marathon.health_checks", check_health_checks),
    ("tasks.baseline", check_task_baseline),
    ("masters.teardown_auth", check_teardown),
    ("versions.mixed", check_mixed_versions),
    ("versions.path", check_path),
];

fn result(
    id: &str,
    severity: Severity,
    passed: bool,
    found: impl Into<String>,
    remedy: &str,
) -> CheckResult {
    CheckResult {
        id: id.into(),
        severity,
        passed,
        found: found.into(),
        remedy: if passed { String::new() } else { remedy.into() },
        data: None,
    }
}

const UNREACHABLE_REMEDY: &str =
    "fix SSH access (user, key, known_hosts) and non-interactive sudo (sudo -n) on every node";

fn check_ssh(o: &Observed) -> Vec<CheckResult> {
    let mut bad = Vec::new();
    for n in &o.nodes {
        match &n.shell {
            Err(e) => bad.push(format!("{}: {e}", n.address)),
            Ok(s) if o.sudo && s.uid != Some(0) => bad.push(format!(
                "{}: sudo -n did not give root (uid {:?})",
                n.address, s.uid
            )),
            Ok(_) => {}
        }
    }
    vec![result(
        "nodes.ssh",
        Severity::Blocker,
        bad.is_empty(),
        if bad.is_empty() {
            format!(
                "SSH and privilege escalation work non-interactively on all {} nodes",
                o.nodes.len()
            )
        } else {
            bad.join("; ")
        },
        UNREACHABLE_REMEDY,
    )]
}

fn check_master_count(o: &Observed) -> Vec<CheckResult> {
    let n = o.facts.masters.len();
    vec![
        result(
            "masters.odd_count",
            Severity::Warning,
            n % 2 == 1,
            format!("{n} masters"),
            "run an odd number of masters (3, or 5 in production): an even ensemble tolerates no more failures than the odd one below it",
        ),
        result(
            "masters.recommended_count",
            Severity::Info,
            n >= 5,
            format!("{n} masters"),
            "5 masters are recommended in production (a 3-master cluster survives only one master failure)",
        ),
    ]
}

fn metric_err(m: &MasterObs) -> Option<String> {
    m.first
        .as_ref()
        .err()
        .map(|e| format!("master {}: {e}", m.address))
}

fn check_masters_reachable(o: &Observed) -> Vec<CheckResult> {
    let bad: Vec<String> = o.masters.iter().filter_map(metric_err).collect();
    vec![result(
        "masters.reachable",
        Severity::Blocker,
        bad.is_empty(),
        if bad.is_empty() {
            format!("all {} masters answer /metrics/snapshot", o.masters.len())
        } else {
            bad.join("; ")
        },
        "every master must be up and answer on :5050 before an upgrade",
    )]
}

fn check_registrar(o: &Observed) -> Vec<CheckResult> {
    let mut bad = Vec::new();
    for m in &o.masters {
        if let Ok(x) = &m.first {
            match x.get("registrar/log/recovered") {
                Some(1.0) => {}
                Some(v) => bad.push(format!(
                    "registrar/log/recovered = {v} on master {}",
                    m.address
                )),
                None => bad.push(format!(
                    "master {} reports no registrar/log/recovered",
                    m.address
                )),
            }
        }
    }
    vec![result(
        "masters.registrar_recovered",
        Severity::Blocker,
        bad.is_empty(),
        if bad.is_empty() {
            "registrar/log/recovered = 1 on every master answering".to_string()
        } else {
            bad.join("; ")
        },
        "wait until every master has recovered its replicated log (registrar/log/recovered = 1)",
    )]
}

fn check_one_leader(o: &Observed) -> Vec<CheckResult> {
    let leaders: Vec<&str> = o
        .masters
        .iter()
        .filter(|m| m.first.as_ref().ok().and_then(|x| x.get("master/elected")) == Some(1.0))
        .map(|m| m.address.as_str())
        .collect();
    vec![result(
        "masters.one_leader",
        Severity::Blocker,
        leaders.len() == 1,
        format!(
            "{} master(s) report master/elected = 1: {}",
            leaders.len(),
            leaders.join(", ")
        ),
        "exactly one Mesos master must lead; investigate ZooKeeper and the masters' logs",
    )]
}

fn check_flapping(o: &Observed) -> Vec<CheckResult> {
    let mut bad = Vec::new();
    for m in &o.masters {
        if let (Ok(a), Ok(b)) = (&m.first, &m.second) {
            if let (Some(u1), Some(u2)) = (a.get("master/uptime_secs"), b.get("master/uptime_secs"))
            {
                // Up the whole time, uptime grows by the interval; a restart in between
                // leaves it lower (jitter allowed: half the interval).
                if u2 < u1 + FLAP_PROBE_INTERVAL.as_secs_f64() / 2.0 {
                    bad.push(format!(
                        "master {} restarted between two probes {:?} apart (master/uptime_secs {u1:.1} -> {u2:.1})",
                        m.address, FLAP_PROBE_INTERVAL
                    ));
                }
            }
        } else if let (Ok(_), Err(e)) = (&m.first, &m.second) {
            bad.push(format!(
                "master {} stopped answering between two probes: {e}",
                m.address
            ));
        }
    }
    vec![result(
        "masters.not_flapping",
        Severity::Blocker,
        bad.is_empty(),
        if bad.is_empty() {
            "no master restarted between two probes".to_string()
        } else {
            bad.join("; ")
        },
        "a master is restarting in a loop: read its journal (journalctl -u dcos-mesos-master) and fix it before upgrading",
    )]
}

fn check_exhibitor(o: &Observed) -> Vec<CheckResult> {
    let (ok, found) = match &o.exhibitor {
        Ok(s) => match crate::probe::exhibitor::judge(s, o.facts.masters.len()) {
            Ok(()) => (
                true,
                format!("Exhibitor: {} servers serving, one leader", s.len()),
            ),
            Err(e) => (false, e),
        },
        Err(e) => (false, e.clone()),
    };
    vec![result(
        "zookeeper.exhibitor",
        Severity::Blocker,
        ok,
        found,
        "every master must be in the ZooKeeper quorum (Exhibitor \"serving\", one leader) before an upgrade",
    )]
}

fn check_zk_words(o: &Observed) -> Vec<CheckResult> {
    let (ok, found) = match crate::probe::zk::judge(&o.zk, o.facts.masters.len()) {
        Ok(s) => (true, s),
        Err(e) => (false, e),
    };
    let mut r = result(
        "zookeeper.four_letter_words",
        Severity::Blocker,
        ok,
        found,
        "ruok/srvr/mntr on :2181 must show every server up, one leader and masters - 1 synced followers; restart the failed server (systemctl restart dcos-exhibitor) and wait",
    );
    r.data = serde_json::to_value(&o.zk).ok();
    vec![r]
}

fn znode_known(name: &str) -> bool {
    KNOWN_ZNODES.iter().any(|k| match k.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *k,
    })
}

fn check_znodes(o: &Observed) -> Vec<CheckResult> {
    match &o.znodes {
        Ok(list) => {
            let unknown: Vec<&str> = list
                .iter()
                .map(String::as_str)
                .filter(|n| !znode_known(n))
                .collect();
            vec![result(
                "zookeeper.unknown_znodes",
                Severity::Warning,
                unknown.is_empty(),
                if unknown.is_empty() {
                    format!("top-level znodes all DC/OS's own: {}", list.join(", "))
                } else {
                    format!("top-level znodes not created by DC/OS: /{}", unknown.join(", /"))
                },
                "keep other applications' state out of the ZooKeeper that Mesos and Marathon share; move it to its own ensemble",
            )]
        }
        Err(e) => vec![result(
            "zookeeper.unknown_znodes",
            Severity::Info,
            false,
            format!("could not list the top-level znodes: {e}"),
            "list them by hand (zkCli.sh ls /) and look for state that is not DC/OS's own",
        )],
    }
}

fn check_rtt(o: &Observed) -> Vec<CheckResult> {
    let mut slow = Vec::new();
    let mut worst: f64 = 0.0;
    for n in o
        .nodes
        .iter()
        .filter(|n| n.role == crate::model::Role::Master)
    {
        if let Ok(s) = &n.shell {
            for (to, ms) in &s.rtt_ms {
                match ms {
                    Some(ms) => {
                        worst = worst.max(*ms);
                        if *ms > RTT_WARN_MS {
                            slow.push(format!("{} -> {to}: {ms:.1} ms", n.address));
                        }
                    }
                    None => slow.push(format!("{} cannot reach {to}:5050", n.address)),
                }
            }
        }
    }
    vec![result(
        "masters.rtt",
        Severity::Warning,
        slow.is_empty(),
        if slow.is_empty() {
            format!("round trip between masters at most {worst:.1} ms")
        } else {
            slow.join("; ")
        },
        "keep masters in one low-latency location; ZooKeeper and the Mesos replicated log suffer over high-latency links",
    )]
}

fn check_agents(o: &Observed) -> Vec<CheckResult> {
    let mut bad = Vec::new();
    for (addr, m) in &o.agent_metrics {
        match m {
            Ok(x) => match x.get("slave/registered") {
                Some(1.0) => {}
                Some(v) => bad.push(format!("slave/registered = {v} on agent {addr}")),
                None => bad.push(format!("agent {addr} reports no slave/registered")),
            },
            Err(e) => bad.push(format!("agent {addr}: {e}")),
        }
    }
    if let Ok(slaves) = &o.slaves {
        for s in slaves.iter().filter(|s| !s.active) {
            bad.push(format!("agent {} is not active at the master", s.hostname));
        }
    }
    vec![result(
        "agents.registered",
        Severity::Blocker,
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} agents registered and active", o.agent_metrics.len())
        } else {
            bad.join("; ")
        },
        "bring every agent back (dcos-mesos-slave running, slave/registered = 1, active) before upgrading",
    )]
}

fn check_attributes(o: &Observed) -> Vec<CheckResult> {
    let (ok, found, data) = match &o.slaves {
        Ok(s) => {
            let map: serde_json::Map<String, serde_json::Value> = s
                .iter()
                .map(|a| {
                    (
                        a.hostname.clone(),
                        serde_json::to_value(&a.attributes).unwrap_or_default(),
                    )
                })
                .collect();
            (
                true,
                format!(
                    "attributes of {} agents recorded (compared after each agent's upgrade)",
                    s.len()
                ),
                Some(serde_json::Value::Object(map)),
            )
        }
        Err(e) => (
            false,
            format!("cannot list agents at the leader: {e}"),
            None,
        ),
    };
    let mut r = result(
        "agents.attributes",
        Severity::Info,
        ok,
        found,
        "agent attributes could not be recorded; compare them by hand after the upgrade",
    );
    r.data = data;
    vec![r]
}

fn check_headroom(o: &Observed) -> Vec<CheckResult> {
    let Ok(slaves) = &o.slaves else {
        return Vec::new();
    };
    let mut full = Vec::new();
    for s in slaves {
        let Some((_, Ok(m))) = o.agent_metrics.iter().find(|(a, _)| *a == s.hostname) else {
            continue;
        };
        let adv = |k: &str| s.resources.get(k).and_then(|v| v.as_f64());
        if let (Some(a), Some(h)) = (adv("cpus"), m.get("system/cpus_total")) {
            if h > 0.0 && a / h >= HEADROOM_RATIO {
                full.push(format!("agent {} advertises {a} of {h} CPUs", s.hostname));
            }
        }
        if let (Some(a), Some(h)) = (adv("mem"), m.get("system/mem_total_bytes")) {
            let host_mb = h / (1024.0 * 1024.0);
            if host_mb > 0.0 && a / host_mb >= HEADROOM_RATIO {
                full.push(format!(
                    "agent {} advertises {a:.0} of {host_mb:.0} MB memory",
                    s.hostname
                ));
            }
        }
    }
    vec![result(
        "agents.headroom",
        Severity::Warning,
        full.is_empty(),
        if full.is_empty() {
            "every agent leaves CPU and memory to services outside Mesos".to_string()
        } else {
            full.join("; ")
        },
        "reserve resources for Docker, DC/OS services and the OS (MESOS_RESOURCES / mesos-resources) so an upgrade does not starve them",
    )]
}

fn check_disks(o: &Observed) -> Vec<CheckResult> {
    let mut block = Vec::new();
    let mut warn = Vec::new();
    let mut seen = 0;
    for n in &o.nodes {
        let Ok(s) = &n.shell else { continue };
        for (path, size, avail) in &s.disks {
            seen += 1;
            let pct = if *size > 0 {
                *avail as f64 * 100.0 / *size as f64
            } else {
                0.0
            };
            let line = format!(
                "{} {path}: {:.0}% free ({} MiB)",
                n.address,
                pct,
                avail / (1024 * 1024)
            );
            if pct < DISK_BLOCK_PCT || *avail < DISK_BLOCK_BYTES {
                block.push(line);
            } else if pct < DISK_WARN_PCT {
                warn.push(line);
            }
        }
    }
    let remedy = "free space (docker system prune, rotate /var/log, clean /var/lib/mesos sandboxes) before upgrading: the upgrade unpacks packages under /opt/mesosphere";
    vec![
        result(
            "nodes.disk_free",
            Severity::Blocker,
            block.is_empty(),
            if block.is_empty() {
                format!("{seen} filesystems checked, none below {DISK_BLOCK_PCT}% or 1 GiB free")
            } else {
                block.join("; ")
            },
            remedy,
        ),
        result(
            "nodes.disk_low",
            Severity::Warning,
            warn.is_empty(),
            if warn.is_empty() {
                format!("none below {DISK_WARN_PCT}% free")
            } else {
                warn.join("; ")
            },
            remedy,
        ),
    ]
}

fn check_auto_updates(o: &Observed) -> Vec<CheckResult> {
    let mut on = Vec::new();
    for n in &o.nodes {
        if let Ok(s) = &n.shell {
            for l in &s.auto_updates {
                on.push(format!("{}: {l}", n.address));
            }
        }
    }
    vec![result(
        "nodes.auto_updates",
        Severity::Warning,
        on.is_empty(),
        if on.is_empty() {
            "no automatic OS or Docker updates configured".to_string()
        } else {
            format!("automatic updates enabled: {}", on.join("; "))
        },
        "turn off automatic updates of the OS and Docker (yum-cron, dnf-automatic, unattended-upgrades): versions must change only under your control",
    )]
}

fn check_clock(o: &Observed) -> Vec<CheckResult> {
    let offs: Vec<(&str, f64)> = o
        .nodes
        .iter()
        .filter_map(|n| Some((n.address.as_str(), n.shell.as_ref().ok()?.clock_offset_s?)))
        .collect();
    let min = offs.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    let max = offs.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    let (ok, found) = match (min, max) {
        (Some(lo), Some(hi)) => {
            let skew = hi.1 - lo.1;
            (
                skew <= CLOCK_SKEW_WARN_S,
                format!(
                    "largest clock difference {skew:.2} s ({} vs {})",
                    hi.0, lo.0
                ),
            )
        }
        _ => (false, "no node's clock could be read".to_string()),
    };
    vec![result(
        "nodes.clock_skew",
        Severity::Warning,
        ok,
        found,
        "synchronise clocks (chrony/ntpd) on every node; DC/OS checks time sync and ZooKeeper sessions depend on it",
    )]
}

fn check_os(o: &Observed) -> Vec<CheckResult> {
    let version =
        o.to.clone()
            .or_else(|| o.facts.nodes().find_map(|n| n.version.clone()))
            .and_then(|v| crate::versions::DcosVersion::parse(&v).ok());
    let Some(v) = version else { return Vec::new() };
    let tested = crate::versions::tested_os();
    let mut untested = Vec::new();
    let mut unknown = Vec::new();
    let mut no_data = false;
    for n in &o.nodes {
        let Ok(s) = &n.shell else { continue };
        match &s.os {
            Some((id, ver)) => match tested.is_tested(&v, id, ver) {
                Some(true) => {}
                Some(false) => untested.push(format!("{} runs {id} {ver}", n.address)),
                None => no_data = true,
            },
            None => unknown.push(n.address.clone()),
        }
    }
    if !unknown.is_empty() {
        untested.push(format!("no /etc/os-release on {}", unknown.join(", ")));
    }
    if no_data && untested.is_empty() {
        return vec![result(
            "nodes.os_tested",
            Severity::Info,
            false,
            format!("no tested-OS data for DC/OS {v}"),
            "check the DC/OS version policy for the operating systems this version was tested on",
        )];
    }
    vec![result(
        "nodes.os_tested",
        Severity::Warning,
        untested.is_empty(),
        if untested.is_empty() {
            format!("every node's OS is among those DC/OS {v} was tested on")
        } else {
            format!("not tested with DC/OS {v}: {}", untested.join("; "))
        },
        "move the nodes to an operating system version DC/OS was tested on (DC/OS version policy) or accept the risk",
    )]
}

fn check_deployments(o: &Observed) -> Vec<CheckResult> {
    let (ok, found) = match &o.deployments {
        Ok(0) => (true, "no Marathon deployment in progress".to_string()),
        Ok(n) => (false, format!("{n} Marathon deployment(s) in progress")),
        Err(e) => (false, format!("Marathon: {e}")),
    };
    vec![result(
        "marathon.no_deployment",
        Severity::Blocker,
        ok,
        found,
        "wait for Marathon deployments to finish (GET /v2/deployments is empty)",
    )]
}

/// Whether a docker image reference names an explicit tag other than `latest` (or a digest).
pub fn image_is_pinned(image: &str) -> bool {
    if image.contains('@') {
        return true;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => !tag.is_empty() && tag != "latest",
        None => false,
    }
}

fn check_image_tags(o: &Observed) -> Vec<CheckResult> {
    let Ok(apps) = &o.apps else { return Vec::new() };
    let bad: Vec<String> = apps
        .iter()
        .filter_map(|a| {
            a.image()
                .filter(|i| !image_is_pinned(i))
                .map(|i| format!("{} uses {i}", a.id))
        })
        .collect();
    vec![result(
        "marathon.image_tags",
        Severity::Warning,
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} apps, every docker image pinned to a tag", apps.len())
        } else {
            bad.join("; ")
        },
        "use tagged, immutable images (not :latest or untagged): a task restarted during the upgrade must get the same image",
    )]
}

fn check_health_checks(o: &Observed) -> Vec<CheckResult> {
    let Ok(apps) = &o.apps else { return Vec::new() };
    let bad: Vec<&str> = apps
        .iter()
        .filter(|a| a.health_checks.is_empty())
        .map(|a| a.id.as_str())
        .collect();
    vec![result(
        "marathon.health_checks",
        Severity::Warning,
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} apps, all with health checks", apps.len())
        } else {
            format!("apps without health checks: {}", bad.join(", "))
        },
        "add health checks so that a task broken by the upgrade is noticed and replaced",
    )]
}

fn check_task_baseline(o: &Observed) -> Vec<CheckResult> {
    let leader = o.facts.leader.as_deref();
    let Some(m) = o
        .masters
        .iter()
        .find(|m| Some(m.address.as_str()) == leader)
    else {
        return vec![result(
            "tasks.baseline",
            Severity::Info,
            false,
            "no leading master to read the task counters from",
            "record TASK_FAILED/LOST/KILLED counts by hand before upgrading",
        )];
    };
    let (Ok(a), Ok(b)) = (&m.first, &m.second) else {
        return Vec::new();
    };
    let secs = FLAP_PROBE_INTERVAL.as_secs_f64();
    let mut data = serde_json::Map::new();
    let mut parts = Vec::new();
    for k in ["failed", "lost", "killed", "running"] {
        let key = format!("master/tasks_{k}");
        let (x, y) = (a.get(&key).unwrap_or(0.0), b.get(&key).unwrap_or(0.0));
        let per_min = ((y - x).max(0.0)) * 60.0 / secs;
        data.insert(
            k.into(),
            serde_json::json!({"count": y, "per_minute": per_min}),
        );
        parts.push(format!("{k} {y:.0} ({per_min:.1}/min)"));
    }
    let mut r = result(
        "tasks.baseline",
        Severity::Info,
        true,
        format!("tasks: {}", parts.join(", ")),
        "",
    );
    r.data = Some(serde_json::Value::Object(data));
    vec![r]
}

fn check_teardown(o: &Observed) -> Vec<CheckResult> {
    let (ok, found) = match &o.teardown {
        Ok(401) | Ok(403) => (true, "POST /master/teardown requires authentication".to_string()),
        Ok(s) => (
            false,
            format!("POST /master/teardown without credentials answered HTTP {s} (not 401/403): anyone who reaches :5050 can remove a framework"),
        ),
        Err(e) => (false, format!("could not probe /master/teardown: {e}")),
    };
    vec![result(
        "masters.teardown_auth",
        Severity::Warning,
        ok,
        found,
        "secure the master's HTTP API (authentication, or firewall :5050) against accidental framework removal",
    )]
}

fn check_mixed_versions(o: &Observed) -> Vec<CheckResult> {
    let target = o.to.as_deref();
    let parsed: Vec<(String, crate::versions::DcosVersion)> = o
        .facts
        .nodes()
        .filter_map(|n| {
            let v = n.version.as_deref()?;
            if target.is_some_and(|t| super::gates::same_version(v, t)) {
                return None;
            }
            Some((n.name.clone(), crate::versions::DcosVersion::parse(v).ok()?))
        })
        .collect();
    let msg = crate::versions::mixed_versions(parsed.iter().map(|(n, v)| (n.as_str(), v)));
    vec![result(
        "versions.mixed",
        Severity::Blocker,
        msg.is_none(),
        msg.clone().unwrap_or_else(|| "every node still to upgrade runs the same version".into()),
        "bring every node to one version before upgrading (finish or roll back the interrupted upgrade)",
    )]
}

fn check_path(o: &Observed) -> Vec<CheckResult> {
    use crate::versions::{DcosVersion, PathVerdict, SupportedPaths};
    let Some(to) = o.to.as_deref() else {
        return Vec::new();
    };
    let Ok(target) = DcosVersion::parse(to) else {
        return vec![result(
            "versions.path",
            Severity::Blocker,
            false,
            format!("target version {to:?} is not a DC/OS version"),
            "give --to as X.Y.Z",
        )];
    };
    let from = o
        .facts
        .nodes()
        .filter_map(|n| n.version.as_deref())
        .filter(|v| !super::gates::same_version(v, to))
        .find_map(|v| DcosVersion::parse(v).ok());
    let Some(from) = from else {
        return vec![result(
            "versions.path",
            Severity::Blocker,
            true,
            format!("every node is at {to}"),
            "",
        )];
    };
    let (ok, found) = match SupportedPaths::builtin().check(&from, &target) {
        PathVerdict::Supported { kind } => (
            true,
            format!("{from} -> {target} is a documented {kind:?} path"),
        ),
        PathVerdict::SameVersion => (true, format!("already at {target}")),
        PathVerdict::Downgrade => (
            false,
            format!("{from} -> {target} is a downgrade; DC/OS documents no downgrade procedure"),
        ),
        PathVerdict::Unsupported { reason, .. } => (false, reason),
    };
    vec![result(
        "versions.path",
        Severity::Blocker,
        ok,
        found,
        "upgrade along a documented path (one minor at a time, or a documented skip); see playbooks/supported-paths.toml",
    )]
}

const SECTION: &str = "@@dcos-upgrade@@";

/// The read-only shell probe of one node (run through `bash`, every value quoted).
pub fn node_script(
    node: &crate::playbook::NodeSpec,
    other_masters: &[String],
    mesos_port: u16,
) -> String {
    use crate::cluster::Cluster;
    let q = crate::shell::quote;
    let mut s = String::new();
    s.push_str(&format!("echo {SECTION}uid; id -u\n"));
    s.push_str(&format!("echo {SECTION}time; date +%s.%N\n"));
    s.push_str(&format!("echo {SECTION}df\n"));
    for p in DISK_PATHS {
        let path = Cluster::path(node, p);
        s.push_str(&format!(
            "if [ -d {path} ]; then echo \"@path \"{pq}; df -Pk {path} | tail -n 1; fi\n",
            pq = q(p)
        ));
    }
    s.push_str(&format!(
        "echo {SECTION}os; cat {} 2>/dev/null || cat /etc/os-release 2>/dev/null || true\n",
        Cluster::path(node, "/etc/os-release")
    ));
    s.push_str(&format!("echo {SECTION}auto\n"));
    for f in ["/etc/yum/yum-cron.conf", "/etc/dnf/automatic.conf"] {
        let path = Cluster::path(node, f);
        s.push_str(&format!(
            "[ -f {path} ] && grep -E '^[[:space:]]*apply_updates[[:space:]]*=[[:space:]]*(yes|true|1)' {path} >/dev/null && echo {}\n",
            q(&format!("{f}: apply_updates = yes"))
        ));
    }
    let apt = Cluster::path(node, "/etc/apt/apt.conf.d/20auto-upgrades");
    s.push_str(&format!(
        "[ -f {apt} ] && grep -q 'Unattended-Upgrade \"1\"' {apt} && echo {}\n",
        q("/etc/apt/apt.conf.d/20auto-upgrades: Unattended-Upgrade \"1\"")
    ));
    for t in [
        "dnf-automatic.timer",
        "dnf-automatic-install.timer",
        "yum-cron.service",
    ] {
        for dir in [
            "/etc/systemd/system/timers.target.wants",
            "/etc/systemd/system/multi-user.target.wants",
        ] {
            let path = Cluster::path(node, &format!("{dir}/{t}"));
            s.push_str(&format!(
                "[ -e {path} ] && echo {}\n",
                q(&format!("{t} enabled"))
            ));
        }
    }
    s.push_str(&format!("echo {SECTION}rtt\n"));
    for m in other_masters {
        let hp = format!("/dev/tcp/{m}/{mesos_port}");
        s.push_str(&format!(
            "st=$(date +%s%N); if (exec 3<>{hp}) 2>/dev/null; then en=$(date +%s%N); echo {m} $(( (en - st) / 1000 )); else echo {m} x; fi\n",
            hp = q(&hp),
            m = q(m)
        ));
    }
    s.push_str(&format!("echo {SECTION}end\n"));
    format!("bash -c {}", q(&s))
}

/// Parses the node probe's output; `local_mid` is this machine's clock (Unix seconds) halfway
/// through the query.
pub fn parse_node_output(out: &str, local_mid: Option<f64>) -> NodeShell {
    let mut shell = NodeShell::default();
    let mut section = "";
    let mut path: Option<String> = None;
    let mut os_id = None;
    let mut os_ver = None;
    for line in out.lines() {
        if let Some(s) = line.strip_prefix(SECTION) {
            section = match s.trim() {
                "uid" => "uid",
                "time" => "time",
                "df" => "df",
                "os" => "os",
                "auto" => "auto",
                "rtt" => "rtt",
                _ => "",
            };
            continue;
        }
        let line = line.trim();
        match section {
            "uid" => shell.uid = line.parse().ok(),
            "time" => {
                if let (Ok(t), Some(mid)) = (line.parse::<f64>(), local_mid) {
                    shell.clock_offset_s = Some(t - mid);
                }
            }
            "df" => {
                if let Some(p) = line.strip_prefix("@path ") {
                    path = Some(p.to_string());
                } else if let Some(p) = path.take() {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    if let (Some(size), Some(avail)) = (
                        f.get(1).and_then(|x| x.parse::<u64>().ok()),
                        f.get(3).and_then(|x| x.parse::<u64>().ok()),
                    ) {
                        shell.disks.push((p, size * 1024, avail * 1024));
                    }
                }
            }
            "os" => {
                if let Some(v) = line.strip_prefix("ID=") {
                    os_id = Some(v.trim_matches('"').to_string());
                } else if let Some(v) = line.strip_prefix("VERSION_ID=") {
                    os_ver = Some(v.trim_matches('"').to_string());
                }
            }
            "auto" if !line.is_empty() => shell.auto_updates.push(line.to_string()),
            "rtt" => {
                if let Some((h, us)) = line.split_once(' ') {
                    shell
                        .rtt_ms
                        .push((h.to_string(), us.parse::<f64>().ok().map(|u| u / 1000.0)));
                }
            }
            _ => {}
        }
    }
    if let Some(id) = os_id {
        shell.os = Some((id, os_ver.unwrap_or_default()));
    }
    shell
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Probes everything the checks need: every node's shell and every HTTP/ZooKeeper endpoint,
/// in parallel across nodes. Read-only except for the harmless teardown probe (no framework
/// id: nothing can be torn down).
pub async fn observe(
    c: &crate::cluster::Cluster,
    facts: &crate::facts::ClusterFacts,
    to: Option<&str>,
) -> Observed {
    use crate::probe::{exhibitor, mesos, zk};
    use futures::future::join_all;
    let ports = &c.playbook.ports;
    let masters = c.master_addrs();
    let zk_timeout = std::time::Duration::from_secs(5);

    let metrics_twice = async {
        let first = join_all(
            masters
                .iter()
                .map(|m| mesos::metrics(&c.http, m, ports.mesos_master)),
        )
        .await;
        tokio::time::sleep(FLAP_PROBE_INTERVAL).await;
        let second = join_all(
            masters
                .iter()
                .map(|m| mesos::metrics(&c.http, m, ports.mesos_master)),
        )
        .await;
        masters
            .iter()
            .zip(first.into_iter().zip(second))
            .map(|(m, (a, b))| MasterObs {
                address: m.clone(),
                first: a.map_err(|e| e.to_string()),
                second: b.map_err(|e| e.to_string()),
            })
            .collect::<Vec<_>>()
    };
    let shells = join_all(c.nodes().map(|n| {
        let others: Vec<String> = if n.role == crate::model::Role::Master {
            masters
                .iter()
                .filter(|m| **m != n.address)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        async move {
            let script = node_script(n, &others, ports.mesos_master);
            let before = now_secs();
            let r = c.query(n, &script).await;
            let after = now_secs();
            let shell = match r {
                Ok(out) if out.ok() => {
                    Ok(parse_node_output(&out.stdout, Some((before + after) / 2.0)))
                }
                Ok(out) => Err(format!("the read-only probe failed: {}", out.tail(200))),
                Err(e) => Err(e.to_string()),
            };
            NodeObs {
                address: n.address.clone(),
                role: n.role,
                shell,
            }
        }
    }));
    let exhib = async {
        let mut last = Err("no master to ask".to_string());
        for m in &masters {
            match exhibitor::status(&c.http, m, ports.exhibitor).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Err(format!("Exhibitor on {m}: {e}")),
            }
        }
        last
    };
    let zks = join_all(
        masters
            .iter()
            .map(|m| zk::server(m, zk::CLIENT_PORT, zk_timeout)),
    );
    let agent_metrics = join_all(c.agents.iter().map(|a| async move {
        (
            a.address.clone(),
            mesos::metrics(&c.http, &a.address, ports.mesos_agent)
                .await
                .map_err(|e| e.to_string()),
        )
    }));
    let leader = facts.leader.clone();
    let at_leader = async {
        let Some(l) = leader.as_deref() else {
            let e = "no Mesos leader elected".to_string();
            return (Err(e.clone()), Err(e.clone()), Err(e.clone()), Err(e));
        };
        let slaves = mesos::slaves(&c.http, l, ports.mesos_master)
            .await
            .map_err(|e| e.to_string());
        let apps = marathon::apps(&c.http, l, ports.marathon)
            .await
            .map_err(|e| e.to_string());
        let deps = marathon::deployments(&c.http, l, ports.marathon)
            .await
            .map(|d| d.len())
            .map_err(|e| e.to_string());
        let url = format!(
            "http://{}/master/teardown",
            mesos::host_port(l, ports.mesos_master)
        );
        let teardown = c
            .http
            .send(reqwest::Method::POST, &url, None)
            .await
            .map(|a| a.status)
            .map_err(|e| e.to_string());
        (slaves, apps, deps, teardown)
    };
    let znodes = async {
        let mut last = Err("no master to ask".to_string());
        for m in &masters {
            match zk::children(m, zk::CLIENT_PORT, "/", zk_timeout).await {
                Ok(l) => return Ok(l),
                Err(e) => last = Err(e),
            }
        }
        last
    };
    let (
        masters_obs,
        nodes,
        exhibitor,
        zk,
        agent_metrics,
        (slaves, apps, deployments, teardown),
        znodes,
    ) = tokio::join!(
        metrics_twice,
        shells,
        exhib,
        zks,
        agent_metrics,
        at_leader,
        znodes
    );
    Observed {
        facts: facts.clone(),
        to: to.map(String::from),
        sudo: c.ssh.uses_sudo(),
        masters: masters_obs,
        exhibitor,
        zk,
        znodes,
        slaves,
        agent_metrics,
        nodes,
        apps,
        deployments,
        teardown,
    }
}

/// Runs every check of [`CHECKS`] on the observations.
pub fn judge(o: &Observed) -> Checklist {
    Checklist {
        checks: CHECKS.iter().flat_map(|(_, f)| f(o)).collect(),
    }
}

/// Runs the production checklist against the live cluster (read-only). `to` is the target
/// version when known (the path and the tested-OS checks use it).
pub async fn checklist(
    c: &crate::cluster::Cluster,
    facts: &crate::facts::ClusterFacts,
    to: Option<&str>,
) -> Checklist {
    judge(&observe(c, facts, to).await)
}
