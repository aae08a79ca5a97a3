//! Gathering facts: every node's version and role over SSH, the leader, the agents, the apps.

use super::{marathon, mesos};
use crate::cluster::Cluster;
use crate::facts::{AppFacts, ClusterFacts, NodeFacts};
use crate::model::Role;
use crate::playbook::NodeSpec;
use futures::stream::{self, StreamExt};

/// How many nodes are read at once.
pub const PARALLEL_NODES: usize = 8;

/// Discovers agents from the leading master when the inventory does not list them, and
/// settles public/private from the `public_ip` attribute when the inventory does not say.
pub async fn resolve_agents(cluster: &mut Cluster) -> Result<(), String> {
    let listed = cluster.inventory.agents.clone();
    let needs_master = listed
        .as_ref()
        .map(|l| l.iter().any(|a| !a.public_listed))
        .unwrap_or(true);
    if !needs_master {
        cluster.agents = listed.unwrap_or_default();
        return Ok(());
    }
    let leader = cluster
        .leader_address()
        .await
        .map_err(|e| format!("cannot find the Mesos leader to discover agents: {e}"))?;
    let slaves = match leader {
        Some(l) => mesos::slaves(cluster)
            .await
            .map_err(|e| format!("cannot list agents from the leading master {l}: {e}"))?,
        None if listed.is_some() => Vec::new(),
        None => return Err("no Mesos leader is elected, so agents cannot be discovered; list them in the inventory".into()),
    };
    cluster.agents = match listed {
        Some(mut l) => {
            for a in l.iter_mut().filter(|a| !a.public_listed) {
                if let Some(s) = slaves.iter().find(|s| s.hostname == a.address) {
                    if s.is_public() {
                        a.role = Role::PublicAgent;
                    }
                }
            }
            l
        }
        None => slaves
            .iter()
            .map(|s| NodeSpec {
                address: s.hostname.clone(),
                name: s.hostname.clone(),
                ssh_port: cluster.inventory.ssh.port,
                root: String::new(),
                role: if s.is_public() {
                    Role::PublicAgent
                } else {
                    Role::Agent
                },
                public_listed: false,
            })
            .collect(),
    };
    Ok(())
}

/// Reads every node (bounded concurrency) and the leader.
pub async fn gather(cluster: &Cluster, with_apps: bool) -> ClusterFacts {
    let leader = cluster.leader_address().await.ok().flatten();
    let nodes: Vec<&NodeSpec> = cluster.nodes().collect();
    // The futures are made first, so the stream holds no closure over borrowed nodes (which
    // would not be `Send` for every lifetime inside an `async_trait` method).
    let futures: Vec<_> = nodes
        .into_iter()
        .map(|n| node_facts(cluster, n, leader.clone()))
        .collect();
    let facts: Vec<NodeFacts> = stream::iter(futures)
        .buffered(PARALLEL_NODES)
        .collect()
        .await;
    let (masters, agents): (Vec<_>, Vec<_>) =
        facts.into_iter().partition(|n| n.role == Role::Master);
    let apps = if with_apps {
        match &leader {
            Some(_) => marathon::apps(cluster)
                .await
                .map(|apps| {
                    apps.into_iter()
                        .map(|a| AppFacts {
                            image: a.image(),
                            id: a.id,
                            version: a.version,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            None => Vec::new(),
        }
    } else {
        Vec::new()
    };
    ClusterFacts {
        masters,
        agents,
        leader,
        apps,
    }
}

/// One node's facts: its version and role files, checked against the inventory.
async fn node_facts(cluster: &Cluster, n: &NodeSpec, leader: Option<String>) -> NodeFacts {
    let (version, error) = match cluster.identity(n).await {
        Ok(id) => {
            let consistent = id.roles.is_empty()
                || id.roles.contains(&n.role)
                || (n.role.is_agent() && id.roles.iter().any(|r| r.is_agent()));
            if !consistent {
                (
                    Some(id.version),
                    Some(format!(
                        "the inventory says {} but the node's role files say {:?}",
                        n.role, id.roles
                    )),
                )
            } else {
                (Some(id.version), None)
            }
        }
        Err(e) => (None, Some(e)),
    };
    NodeFacts {
        address: n.address.clone(),
        name: n.name.clone(),
        role: n.role,
        version,
        is_leader: n.role == Role::Master && leader.as_deref() == Some(n.address.as_str()),
        error,
    }
}
