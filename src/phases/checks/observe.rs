//! Gathering the observations: everything the checks look at, probed once and in parallel.

use super::node_probe::{node_script, parse_node_output, NodeShell};
use crate::probe::marathon;

/// What is read on every master between its two metric probes.
const OTHER_READS: [crate::probe::node::Read; 5] = {
    use crate::probe::node::{Read, Word};
    [
        Read::Exhibitor,
        Read::Zk(Word::Ruok),
        Read::Zk(Word::Srvr),
        Read::Zk(Word::Mntr),
        Read::ZkRoot,
    ]
};

/// Time between the two metric probes used to catch a restarting master (at least; the time
/// really measured between them is what the check compares the uptime with).
pub const FLAP_PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(2000);

/// A master whose first probe shows `master/uptime_secs` at least this long has not restarted
/// for a minute: it is not flapping, and needs no second probe. apache/mesos
/// `docs/monitoring.md` (facts §5): a low `master/uptime_secs` means the master restarted, below
/// 60 sustained means it is flapping. Only when some master is younger than this (or its
/// uptime cannot be read) does the probe wait [`FLAP_PROBE_INTERVAL`] for a second look.
pub const FLAP_UPTIME_SECS: f64 = 60.0;

/// One node's probe result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeObs {
    /// Address.
    pub address: String,
    /// Role.
    pub role: crate::model::Role,
    /// What the shell said, or why it could not be asked.
    pub shell: Result<NodeShell, String>,
    /// What DC/OS's own `node-poststart` checks said on the node (read in the same round as
    /// the shell probe), or why they could not be run.
    #[serde(skip)]
    pub poststart: Result<crate::probe::checks::Outcome, String>,
}

/// One master's metrics, probed twice.
#[derive(Debug, Clone)]
pub struct MasterObs {
    /// Address.
    pub address: String,
    /// First probe.
    pub first: Result<crate::probe::mesos::Metrics, String>,
    /// Second probe, [`FLAP_PROBE_INTERVAL`] later; `None` when every master's first probe
    /// showed an uptime of at least `FLAP_UPTIME_SECS` (nothing to catch).
    pub second: Option<Result<crate::probe::mesos::Metrics, String>>,
    /// Seconds between the two probes, as measured (their midpoints).
    pub elapsed_secs: f64,
    /// How far off that can be (half the two probes' durations).
    pub uncertainty_secs: f64,
}

/// Everything the checks look at, gathered once (in parallel) before any check runs.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Facts (versions, leader).
    pub facts: crate::facts::ClusterFacts,
    /// Target version, when known (`run`, `plan`); `check` alone judges the installed one.
    pub to: Option<crate::versions::RecordedVersion>,
    /// Whether commands run through sudo.
    pub sudo: bool,
    /// Each node's security mode from its `bootstrap-config.json`, by node name.
    pub security: std::collections::BTreeMap<String, crate::model::Security>,
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
    /// The leader's `authenticate_http_readwrite` flag (from `GET /flags`).
    pub teardown: Result<bool, String>,
}

/// A node read with the moment it was taken (its midpoint) and how long it took.
async fn timed(
    c: &crate::cluster::Cluster,
    m: &crate::playbook::NodeSpec,
    reads: &[crate::probe::node::Read],
) -> (
    std::time::Instant,
    std::time::Duration,
    Result<crate::probe::node::NodeReads, crate::door::RemoteError>,
) {
    let t0 = std::time::Instant::now();
    let r = crate::probe::node::read(c, m, reads).await;
    let d = t0.elapsed();
    (t0 + d / 2, d, r)
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One node's own round of the observation: `reads`, with the shell probe and DC/OS's
/// `node-poststart` checks in the same SSH command (issue 14). The shell probe runs first, so
/// its clock reading is taken at the round's start, placed by this machine's clock between the
/// command's start and its end less the round's own duration on the node.
async fn own_round(
    c: &crate::cluster::Cluster,
    n: &crate::playbook::NodeSpec,
    reads: &[crate::probe::node::Read],
) -> (
    Result<crate::probe::node::NodeReads, crate::door::RemoteError>,
    NodeObs,
) {
    use crate::probe::checks::{self, CheckType};
    use crate::probe::node::{self, Script};
    let others: Vec<String> = if n.role == crate::model::Role::Master {
        c.master_addrs()
            .into_iter()
            .filter(|m| *m != n.address)
            .collect()
    } else {
        Vec::new()
    };
    let shell_script = node_script(n, &others, c.playbook.ports.mesos_master);
    let checks_script = checks::script(n, CheckType::NodePoststart);
    let scripts = [
        Script {
            key: "shell",
            body: &shell_script,
        },
        Script {
            key: "poststart",
            body: &checks_script,
        },
    ];
    let before = now_secs();
    let r = node::read_with(c, n, reads, &scripts).await;
    let after = now_secs();
    let (shell, poststart) = match &r {
        Ok(reads) => {
            let on_node = reads.round_secs.unwrap_or(0.0).min(after - before);
            let mid = (before + after - on_node) / 2.0;
            (
                reads
                    .output("shell")
                    .map(|out| parse_node_output(out, Some(mid)))
                    .map_err(|e| format!("the read-only probe failed: {e}")),
                reads
                    .output("poststart")
                    .and_then(|out| checks::parse(out).map_err(|e| format!("{}: {e}", n.address))),
            )
        }
        Err(e) => (Err(e.to_string()), Err(format!("{}: {e}", n.address))),
    };
    let obs = NodeObs {
        address: n.address.clone(),
        role: n.role,
        shell,
        poststart,
    };
    (r, obs)
}

/// Probes everything the checks need: every node's shell and every HTTP/ZooKeeper endpoint,
/// in parallel across nodes. Read-only: only `GET`s and query scripts.
pub async fn observe(
    c: &crate::cluster::Cluster,
    facts: &crate::facts::ClusterFacts,
    to: Option<&crate::versions::RecordedVersion>,
) -> Observed {
    use crate::probe::node::{self, Read, Word};
    use crate::probe::{mesos, zk};
    use futures::future::join_all;
    let masters = c.master_addrs();
    let master_nodes = &c.inventory.masters;

    // Every master is read on the master: its metrics twice (to catch a restart), its Exhibitor
    // view, its ZooKeeper's four-letter words and the top-level znodes, in one round each.
    // Each read is timed (its midpoint), so a restart is judged against the time that really
    // passed between a master's two probes.
    // The two metric probes are short rounds of their own; the other reads run in between.
    // The second is taken only when some master may be restarting (its uptime under
    // FLAP_UPTIME_SECS, or unread): a master up for a minute is not flapping.
    let metrics = |r: &Result<node::NodeReads, crate::door::RemoteError>| match r {
        Ok(r) => r
            .answer(Read::MasterMetrics)
            .and_then(|(url, a)| mesos::parse_metrics(&url, &a))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let masters_round = async {
        let metrics_only = [Read::MasterMetrics];
        let a = join_all(master_nodes.iter().map(|m| timed(c, m, &metrics_only))).await;
        let young = a.iter().any(|(_, _, r)| {
            let up = metrics(r).ok().and_then(|m| m.get("master/uptime_secs"));
            up.is_none_or(|u| u < FLAP_UPTIME_SECS)
        });
        let wait = async {
            if young {
                tokio::time::sleep(FLAP_PROBE_INTERVAL).await;
            }
        };
        let (rest, ()) = tokio::join!(
            join_all(master_nodes.iter().map(|m| own_round(c, m, &OTHER_READS))),
            wait
        );
        let b = if young {
            Some(join_all(master_nodes.iter().map(|m| timed(c, m, &metrics_only))).await)
        } else {
            None
        };
        let timing: Vec<(f64, f64)> = match &b {
            Some(b) => a
                .iter()
                .zip(b)
                .map(|((ta, da, _), (tb, db, _))| {
                    (
                        tb.duration_since(*ta).as_secs_f64(),
                        (*da + *db).as_secs_f64() / 2.0,
                    )
                })
                .collect(),
            None => a.iter().map(|_| (0.0, 0.0)).collect(),
        };
        let first: Vec<_> = a.into_iter().map(|(_, _, r)| r).collect();
        let second: Vec<Option<_>> = match b {
            Some(b) => b.into_iter().map(|(_, _, r)| Some(r)).collect(),
            None => first.iter().map(|_| None).collect(),
        };
        (first, rest, second, timing)
    };
    // Every agent in one round: its own metrics, the shell probe and DC/OS's node checks.
    let agents_round = join_all(
        c.agents
            .iter()
            .map(|a| own_round(c, a, &[Read::AgentMetrics])),
    );
    let leader = facts.leader.clone();
    // Cluster-level reads through Admin Router.
    let at_leader = async {
        if leader.is_none() {
            let e = "no Mesos leader elected".to_string();
            return (Err(e.clone()), Err(e.clone()), Err(e.clone()), Err(e));
        }
        let slaves = mesos::slaves(c).await.map_err(|e| e.to_string());
        let apps = marathon::apps(c).await.map_err(|e| e.to_string());
        let deps = marathon::deployments(c)
            .await
            .map(|d| d.len())
            .map_err(|e| e.to_string());
        // Read-only: the leader's own flags say whether its write endpoints need credentials
        // (`authenticate_http_readwrite`, Mesos configuration docs); no check sends a POST.
        let teardown = crate::probe::admin::get_json::<serde_json::Value>(c, "/mesos/flags")
            .await
            .map_err(|e| e.to_string())
            .and_then(|v| {
                v.pointer("/flags/authenticate_http_readwrite")
                    .map(|f| match f {
                        serde_json::Value::String(s) => s == "true",
                        other => other.as_bool().unwrap_or(false),
                    })
                    .ok_or_else(|| "/mesos/flags has no flags.authenticate_http_readwrite".into())
            });
        (slaves, apps, deps, teardown)
    };
    let ((first, rest, second, timing), agents_rounds, (slaves, apps, deployments, teardown)) =
        tokio::join!(masters_round, agents_round, at_leader);
    let (rest, mut nodes): (Vec<_>, Vec<NodeObs>) = rest.into_iter().unzip();
    let mut agent_metrics = Vec::new();
    for (a, (r, n)) in c.agents.iter().zip(agents_rounds) {
        let m = match &r {
            Ok(r) => r
                .answer(Read::AgentMetrics)
                .and_then(|(url, ans)| mesos::parse_metrics(&url, &ans))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        agent_metrics.push((a.address.clone(), m));
        nodes.push(n);
    }
    let masters_obs: Vec<MasterObs> = masters
        .iter()
        .zip(first.iter().zip(&second).zip(&timing))
        .map(|(m, ((a, b), (elapsed, uncertainty)))| MasterObs {
            address: m.clone(),
            first: metrics(a),
            second: b.as_ref().map(metrics),
            elapsed_secs: *elapsed,
            uncertainty_secs: *uncertainty,
        })
        .collect();
    // Exhibitor's view and the znodes from the first master that answers.
    let mut exhibitor = Err("no master to ask".to_string());
    let mut znodes = Err("no master to ask".to_string());
    let mut zk = Vec::new();
    for (m, r) in masters.iter().zip(&rest) {
        let reads = match r {
            Ok(r) => r,
            Err(e) => {
                zk.push(zk::server_from(
                    m,
                    Err(e.to_string()),
                    Err(String::new()),
                    Err(String::new()),
                ));
                continue;
            }
        };
        if exhibitor.is_err() {
            exhibitor = reads
                .answer(Read::Exhibitor)
                .and_then(|(url, a)| crate::door::parse_json(&url, &a))
                .map_err(|e| format!("Exhibitor on {m}: {e}"));
        }
        if znodes.is_err() {
            znodes = reads.zk(Read::ZkRoot).and_then(|hex| {
                node::parse_zk_root(&hex)
                    .map_err(|e| format!("ZooKeeper on {m}: getChildren /: {e}"))
            });
        }
        zk.push(zk::server_from(
            m,
            reads.zk(Read::Zk(Word::Ruok)),
            reads.zk(Read::Zk(Word::Srvr)),
            reads.zk(Read::Zk(Word::Mntr)),
        ));
    }
    Observed {
        facts: facts.clone(),
        to: to.cloned(),
        sudo: c.observe.uses_sudo(),
        security: {
            let seen = c.security.all();
            facts
                .nodes()
                .filter_map(|n| seen.get(&n.address).map(|m| (n.name.clone(), *m)))
                .collect()
        },
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
