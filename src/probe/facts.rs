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
    // What the cluster says is validated as strictly as what the operator wrote: an address
    // that is not a host (`evil@host`, `-oProxyCommand=...`) or a master reported as an agent is
    // refused, never planned.
    let masters = cluster.master_addrs();
    for s in &slaves {
        let a = s.address();
        if !crate::playbook::is_host_address(&a) {
            return Err(format!(
                "the leading master lists an agent at {a:?} (agent id {}), which is not an IP address or a DNS name; it is refused",
                s.id
            ));
        }
        if masters.contains(&a) || masters.contains(&s.hostname) {
            return Err(format!(
                "the leading master lists {a} (agent id {}) as an agent, but the inventory names it a master: a node in two roles is refused; fix the inventory or the node",
                s.id
            ));
        }
    }
    cluster.agents = match listed {
        Some(mut l) => {
            for a in l.iter_mut().filter(|a| !a.public_listed) {
                if let Some(s) = slaves
                    .iter()
                    .find(|s| s.hostname == a.address || s.address() == a.address)
                {
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
                address: s.address(),
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
    settle_roles_from_role_files(cluster).await;
    Ok(())
}

/// Public vs private from each agent's role file (`/etc/mesosphere/roles/slave_public`), where
/// the inventory does not say: the `public_ip` attribute is replaced by an operator's
/// `MESOS_ATTRIBUTES` (facts §8.6), the role file is not. An agent whose files cannot be read
/// keeps what its attributes said.
async fn settle_roles_from_role_files(cluster: &mut Cluster) {
    let reads: Vec<(usize, Option<Role>)> = stream::iter(cluster.agents.iter().enumerate())
        .filter(|(_, a)| futures::future::ready(!a.public_listed))
        .map(|(i, a)| {
            let c = &*cluster;
            async move {
                let role = c.identity(a).await.ok().and_then(|id| {
                    if id.roles.contains(&Role::PublicAgent) {
                        Some(Role::PublicAgent)
                    } else if id.roles.contains(&Role::Agent) {
                        Some(Role::Agent)
                    } else {
                        None
                    }
                });
                (i, role)
            }
        })
        .buffer_unordered(PARALLEL_NODES)
        .collect()
        .await;
    for (i, role) in reads {
        if let Some(r) = role {
            cluster.agents[i].role = r;
        }
    }
}

/// Reads every node (bounded concurrency) and the leader.
pub async fn gather(cluster: &Cluster, with_apps: bool) -> ClusterFacts {
    let nodes: Vec<&NodeSpec> = cluster.nodes().collect();
    // The futures are made first, so the stream holds no closure over borrowed nodes (which
    // would not be `Send` for every lifetime inside an `async_trait` method).
    let futures: Vec<_> = nodes.into_iter().map(|n| node_facts(cluster, n)).collect();
    // The leader lookup and the nodes' reads are independent: at once.
    let (leader, mut facts) = tokio::join!(
        async { cluster.leader_address().await.ok().flatten() },
        stream::iter(futures)
            .buffered(PARALLEL_NODES)
            .collect::<Vec<NodeFacts>>()
    );
    for f in &mut facts {
        f.is_leader = f.role == Role::Master && leader.as_deref() == Some(f.address.as_str());
    }
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
async fn node_facts(cluster: &Cluster, n: &NodeSpec) -> NodeFacts {
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
        // Set by `gather` once the leader is known.
        is_leader: false,
        error,
        zone: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::door::fake::{answer, FakeCluster};
    use crate::playbook::{Inventory, Playbook, SourceFile};
    use crate::testkit::{self, MASTERS};
    use std::sync::Arc;

    /// A cluster without `[[agents]]` whose leader lists `slaves` (a `/slaves` body).
    fn discovering(slaves: serde_json::Value) -> Cluster {
        let mut t = String::from("[cluster]\nname = \"u\"\n[bootstrap]\nupgrade_script_url = \"http://10.9.0.2:8080/upgrade/0123456789abcdef0123456789abcdef/dcos_node_upgrade.sh\"\n");
        for m in MASTERS {
            t.push_str(&format!("[[masters]]\naddress = \"{m}\"\n"));
        }
        let inventory = Inventory::parse(&SourceFile::from_text("u.toml", &t)).unwrap();
        let leader = Arc::new(std::sync::Mutex::new(MASTERS[0].to_string()));
        let body = slaves.to_string();
        let fake = testkit::fake_cluster(leader);
        let fake = FakeCluster::new()
            .on_get(move |url| {
                url.ends_with("/mesos/slaves")
                    .then(|| answer(200, body.clone()))
            })
            .on_script(move |n, s| {
                futures::executor::block_on(crate::door::Observe::query(
                    &fake,
                    n,
                    s,
                    std::time::Duration::from_secs(1),
                ))
                .ok()
            });
        let playbook = Playbook::builtin();
        Cluster {
            timeouts: playbook.timeouts.with_overrides(&inventory.timeouts),
            agents: Vec::new(),
            inventory,
            playbook,
            observe: Arc::new(fake),
            security: Default::default(),
            detected_ips: Default::default(),
            seen_leader: Default::default(),
            credentials: None,
        }
    }

    fn slave(hostname: &str, pid: &str) -> serde_json::Value {
        serde_json::json!({"id": format!("id-{hostname}"), "hostname": hostname, "pid": pid, "active": true, "attributes": {}})
    }

    #[tokio::test]
    async fn discovered_agents_take_their_address_from_the_pid() {
        let mut c = discovering(
            serde_json::json!({"slaves": [slave("agent-1.example", "slave(1)@10.9.1.21:5051")]}),
        );
        resolve_agents(&mut c).await.unwrap();
        assert_eq!(c.agents.len(), 1);
        assert_eq!(c.agents[0].address, "10.9.1.21");
        assert_eq!(c.agents[0].name, "agent-1.example");
    }

    #[tokio::test]
    async fn a_hostile_discovered_address_is_refused_like_an_inventory_one() {
        for (host, pid) in [
            ("evil@host", "slave(1)@evil@host:5051"),
            ("x", "slave(1)@-oProxyCommand=touch /tmp/pwned:5051"),
            ("ok", "slave(1)@10.9.1.2$(id):5051"),
        ] {
            let mut c = discovering(serde_json::json!({"slaves": [slave(host, pid)]}));
            let e = resolve_agents(&mut c).await.unwrap_err();
            assert!(e.contains("not an IP address or a DNS name"), "{pid}: {e}");
            assert!(c.agents.is_empty());
        }
    }

    #[tokio::test]
    async fn a_master_reported_as_an_agent_is_refused() {
        let pid = format!("slave(1)@{}:5051", MASTERS[1]);
        let mut c = discovering(serde_json::json!({"slaves": [slave(MASTERS[1], &pid)]}));
        let e = resolve_agents(&mut c).await.unwrap_err();
        assert!(e.contains("two roles"), "{e}");
    }
}
