//! The nodes DC/OS itself knows, read-only and through the cluster's usual paths: Exhibitor's
//! server list (read on a master), the leading master's `/slaves` with its `recovered_slaves`
//! and its count of unreachable agents (through Admin Router), and dcos-diagnostics'
//! `/system/health/v1/nodes` where it is served (facts §5, §8.6).

use crate::cluster::Cluster;
use crate::model::Role;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Exhibitor's server list.
pub const EXHIBITOR: &str = "Exhibitor's server list";
/// The leader's registered agents.
pub const SLAVES: &str = "the leader's /slaves";
/// Agents the leader recovered from its registry that have not re-registered yet.
pub const RECOVERED: &str = "the leader's recovered_slaves";
/// dcos-diagnostics' node list.
pub const HEALTH: &str = "/system/health/v1/nodes";

/// One node DC/OS knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownNode {
    /// Its address: an agent's `pid` IP, else the hostname or IP the source reports.
    pub address: String,
    /// The hostname DC/OS reports, when it differs from the address (`MESOS_HOSTNAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The role, when a source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The lists that name it ([`EXHIBITOR`], [`SLAVES`], [`RECOVERED`], [`HEALTH`]).
    pub sources: Vec<String>,
    /// The Mesos agent id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// `/slaves`: whether the agent is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// `/system/health/v1/nodes`: 0 healthy, 1 unhealthy, 3 unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<i64>,
    /// The IPs a DNS name of it resolves to from this machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<String>,
}

/// A node the plan covers, by every name it goes by: its inventory address and name, and the
/// IPs a DNS address resolves to from this machine (DC/OS names nodes by IP, an inventory may
/// not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Address, name, resolved IPs.
    pub names: Vec<String>,
    /// Whether it is an agent (private or public).
    pub agent: bool,
}

impl Planned {
    /// A planned node by its address and name only (no DNS).
    pub fn of(n: &crate::playbook::NodeSpec) -> Planned {
        let mut names = vec![n.address.clone()];
        if !n.name.is_empty() && n.name != n.address {
            names.push(n.name.clone());
        }
        Planned {
            names,
            agent: n.role.is_agent(),
        }
    }

    /// Whether the known node is this one.
    pub fn is(&self, k: &KnownNode) -> bool {
        self.names.iter().any(|x| k.is(x))
    }
}

/// The IPs `host` resolves to, when it is a DNS name (nothing for an IP or a failed lookup).
async fn resolve(host: &str) -> Vec<String> {
    if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() {
        return Vec::new();
    }
    tokio::net::lookup_host((host, 0))
        .await
        .map(|it| it.map(|a| a.ip().to_string()).collect())
        .unwrap_or_default()
}

/// The planned nodes with the IPs their DNS addresses resolve to.
pub async fn planned<'a>(
    nodes: impl Iterator<Item = &'a crate::playbook::NodeSpec>,
) -> Vec<Planned> {
    let nodes: Vec<&crate::playbook::NodeSpec> = nodes.collect();
    futures::future::join_all(nodes.into_iter().map(|n| async move {
        let mut p = Planned::of(n);
        p.names.extend(resolve(&n.address).await);
        p
    }))
    .await
}

impl KnownNode {
    /// Whether `x` (an address, a hostname) is this node.
    pub fn is(&self, x: &str) -> bool {
        self.address == x
            || self
                .hostname
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(x))
            || self.resolved.iter().any(|r| r == x)
    }

    /// Whether the leader knows it as an agent (registered or recovered).
    pub fn at_leader(&self) -> bool {
        self.sources.iter().any(|s| s == SLAVES || s == RECOVERED)
    }

    /// One line for people: role, address, hostname, agent id, and which lists name it.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} {}",
            self.role.map(|r| r.as_str()).unwrap_or("node"),
            self.address
        );
        if let Some(h) = &self.hostname {
            s.push_str(&format!(" ({h})"));
        }
        if let Some(id) = &self.agent_id {
            s.push_str(&format!(", agent id {id}"));
        }
        s.push_str(&format!(", in {}", self.sources.join(" and ")));
        s
    }
}

/// Everything DC/OS said about its nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DcosNodes {
    /// Every node named by at least one list, masters first.
    pub nodes: Vec<KnownNode>,
    /// How many agents the leader counts as unreachable: it no longer lists them and keeps only
    /// their ids, so they cannot be named (`unreachable_slaves` in `/state` is the same count as
    /// the `master/slaves_unreachable` gauge: apache/mesos `src/master/http.cpp`,
    /// `docs/monitoring.md`). None when it could not be read.
    pub unreachable: Option<u64>,
    /// The lists that could not be read, each with why.
    pub unread: Vec<String>,
}

impl DcosNodes {
    /// The known node `x` names (by address or hostname).
    pub fn find(&self, x: &str) -> Option<&KnownNode> {
        self.nodes.iter().find(|n| n.is(x))
    }

    /// Adds what one list says about a node (merged with what other lists said).
    pub fn add(
        &mut self,
        address: &str,
        hostname: Option<&str>,
        role: Option<Role>,
        source: &str,
    ) -> &mut KnownNode {
        let i = match self
            .nodes
            .iter()
            .position(|n| n.is(address) || hostname.is_some_and(|h| n.is(h)))
        {
            Some(i) => i,
            None => {
                self.nodes.push(KnownNode {
                    address: address.to_string(),
                    hostname: None,
                    role: None,
                    sources: Vec::new(),
                    agent_id: None,
                    active: None,
                    health: None,
                    resolved: Vec::new(),
                });
                self.nodes.len() - 1
            }
        };
        let n = &mut self.nodes[i];
        if let Some(h) = hostname.filter(|h| *h != n.address) {
            n.hostname.get_or_insert_with(|| h.to_string());
        }
        // The leader's and Exhibitor's word on the role beats the diagnostics' (agent_public
        // is read from the same `/slaves` attribute an operator can replace, facts §8.6).
        if n.role.is_none() || source != HEALTH {
            n.role = role.or(n.role);
        }
        if !n.sources.iter().any(|s| s == source) {
            n.sources.push(source.to_string());
        }
        n
    }
}

#[derive(Deserialize)]
struct SlavesBody {
    #[serde(default)]
    slaves: Vec<crate::probe::mesos::Slave>,
    /// `json(SlaveInfo)`: id, hostname, port, attributes, resources, no pid (apache/mesos
    /// `src/master/http.cpp` `Master::Http::slaves`, "Model all of the recovered slaves").
    #[serde(default)]
    recovered_slaves: Vec<Recovered>,
}

#[derive(Deserialize)]
struct Recovered {
    #[serde(default)]
    id: String,
    hostname: String,
    #[serde(default)]
    attributes: HashMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct HealthNodes {
    #[serde(default)]
    nodes: Vec<HealthNode>,
}

#[derive(Deserialize)]
struct HealthNode {
    host_ip: String,
    #[serde(default)]
    health: Option<i64>,
    #[serde(default)]
    role: Option<String>,
}

fn agent_role(attributes: &HashMap<String, serde_json::Value>) -> Role {
    let public = match attributes.get("public_ip") {
        Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(serde_json::Value::Bool(b)) => *b,
        _ => false,
    };
    if public {
        Role::PublicAgent
    } else {
        Role::Agent
    }
}

/// Reads every list (all at once; only `GET`s and the on-master Exhibitor read). A list that
/// cannot be read is named in [`DcosNodes::unread`]; `/system/health/v1/nodes` answering 404 is
/// "not served" and not an error.
pub async fn read(c: &Cluster) -> DcosNodes {
    use crate::probe::{admin, exhibitor, mesos};
    let (exh, slaves, metrics, health) = tokio::join!(
        exhibitor::first_answer(c),
        admin::get_json::<SlavesBody>(c, "/mesos/slaves"),
        async {
            let (url, a) = admin::get(c, "/mesos/metrics/snapshot").await?;
            mesos::parse_metrics(&url, &a)
        },
        admin::get(c, "/system/health/v1/nodes"),
    );
    let mut d = DcosNodes::default();
    match exh {
        Ok((_, servers)) => {
            for s in servers {
                d.add(&s.hostname, None, Some(Role::Master), EXHIBITOR);
            }
        }
        Err(e) => d.unread.push(format!("{EXHIBITOR}: {e}")),
    }
    match slaves {
        Ok(b) => {
            for s in &b.slaves {
                let n = d.add(
                    &s.address(),
                    Some(&s.hostname),
                    Some(agent_role(&s.attributes)),
                    SLAVES,
                );
                n.agent_id = Some(s.id.clone()).filter(|i| !i.is_empty());
                n.active = Some(s.active);
            }
            for s in &b.recovered_slaves {
                let n = d.add(
                    &s.hostname,
                    None,
                    Some(agent_role(&s.attributes)),
                    RECOVERED,
                );
                n.agent_id = n
                    .agent_id
                    .take()
                    .or(Some(s.id.clone()).filter(|i| !i.is_empty()));
            }
        }
        Err(e) => d.unread.push(format!("{SLAVES}: {e}")),
    }
    match metrics.map(|m| m.get("master/slaves_unreachable")) {
        Ok(Some(v)) => d.unreachable = Some(v.max(0.0) as u64),
        Ok(None) => d
            .unread
            .push("the leader's metrics: no master/slaves_unreachable".into()),
        Err(e) => d
            .unread
            .push(format!("the leader's unreachable agents: {e}")),
    }
    match health {
        Ok((_, a)) if a.status == 404 => {}
        Ok((url, a)) => match crate::door::parse_json::<HealthNodes>(&url, &a) {
            Ok(h) => {
                for n in h.nodes {
                    let role = match n.role.as_deref() {
                        Some("master") => Some(Role::Master),
                        Some("agent") => Some(Role::Agent),
                        Some("agent_public") => Some(Role::PublicAgent),
                        _ => None,
                    };
                    d.add(&n.host_ip, None, role, HEALTH).health = n.health;
                }
            }
            Err(e) => d.unread.push(format!("{HEALTH}: {e}")),
        },
        Err(e) => d.unread.push(format!("{HEALTH}: {e}")),
    }
    // A node DC/OS names by a DNS name is also known by the IPs it resolves to.
    let resolved = futures::future::join_all(d.nodes.iter().map(|n| async move {
        let mut ips = resolve(&n.address).await;
        if let Some(h) = &n.hostname {
            ips.extend(resolve(h).await);
        }
        ips
    }))
    .await;
    for (n, ips) in d.nodes.iter_mut().zip(resolved) {
        n.resolved = ips;
    }
    // Masters first, then agents, each in address order: a stable report.
    d.nodes
        .sort_by_key(|n| (n.role != Some(Role::Master), n.address.clone()));
    d
}

/// The DC/OS version of a known agent, read through Admin Router from the agent's own
/// `dcos-version.json` (`/system/v1/agent/<agent-id>/dcos-metadata/dcos-version.json`, facts §2).
pub async fn agent_version(c: &Cluster, agent_id: &str) -> Result<String, String> {
    let path = format!("/system/v1/agent/{agent_id}/dcos-metadata/dcos-version.json");
    let v: serde_json::Value = crate::probe::admin::get_json(c, &path)
        .await
        .map_err(|e| e.to_string())?;
    v.get("version")
        .and_then(|v| v.as_str())
        .map(String::from)
        .ok_or_else(|| format!("{path} has no version"))
}
