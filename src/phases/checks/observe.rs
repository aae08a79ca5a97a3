//! Gathering the observations: everything the checks look at, probed once and in parallel.

use super::node_probe::{node_script, parse_node_output, NodeShell};
use crate::probe::marathon;

/// Time between the two metric probes used to catch a restarting master.
pub const FLAP_PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1300);

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
    /// The leader's `authenticate_http_readwrite` flag (from `GET /flags`).
    pub teardown: Result<bool, String>,
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Probes everything the checks need: every node's shell and every HTTP/ZooKeeper endpoint,
/// in parallel across nodes. Read-only: only `GET`s and query scripts.
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
                .map(|m| mesos::metrics(c.observe.as_ref(), m, ports.mesos_master)),
        )
        .await;
        tokio::time::sleep(FLAP_PROBE_INTERVAL).await;
        let second = join_all(
            masters
                .iter()
                .map(|m| mesos::metrics(c.observe.as_ref(), m, ports.mesos_master)),
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
            match exhibitor::status(c.observe.as_ref(), m, ports.exhibitor).await {
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
            mesos::metrics(c.observe.as_ref(), &a.address, ports.mesos_agent)
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
        let slaves = mesos::slaves(c.observe.as_ref(), l, ports.mesos_master)
            .await
            .map_err(|e| e.to_string());
        let apps = marathon::apps(c.observe.as_ref(), l, ports.marathon)
            .await
            .map_err(|e| e.to_string());
        let deps = marathon::deployments(c.observe.as_ref(), l, ports.marathon)
            .await
            .map(|d| d.len())
            .map_err(|e| e.to_string());
        // Read-only: the master's own flags say whether its write endpoints need credentials
        // (`authenticate_http_readwrite`, Mesos configuration docs); no check sends a POST.
        let url = format!("http://{}/flags", mesos::host_port(l, ports.mesos_master));
        let teardown = crate::door::get_json::<serde_json::Value>(c.observe.as_ref(), &url)
            .await
            .map_err(|e| e.to_string())
            .and_then(|v| {
                v.pointer("/flags/authenticate_http_readwrite")
                    .map(|f| match f {
                        serde_json::Value::String(s) => s == "true",
                        other => other.as_bool().unwrap_or(false),
                    })
                    .ok_or_else(|| format!("{url} has no flags.authenticate_http_readwrite"))
            });
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
        sudo: c.observe.uses_sudo(),
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
