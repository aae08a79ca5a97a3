//! Who reaches which port: the listeners each network namespace (or the host) should have, binding
//! inside a namespace, and the host-side SSH proxy into a node's namespace (`--network firewalled`).

use super::*;
use crate::model::{Network, Role};
use crate::netns::NsThread;
use std::io;
use std::net::TcpListener;
use std::time::Instant;
use tokio::task::JoinHandle;

/// One listener that should exist: in namespace `ns` (or [`HOST`]), for `node`'s `port`.
pub(super) struct Want {
    pub(super) ns: usize,
    pub(super) node: usize,
    pub(super) port: u16,
    pub(super) kind: Kind,
    pub(super) unit: String,
}

/// Whether a node of role `from` reaches a service of a node of role `to` (`own`: the same node).
/// The documented firewall (facts §8.1): masters' service ports are open to every cluster node,
/// agents' ports (:5051, :61001) to masters, and a node reaches its own services.
fn reachable(from: Role, own: bool, to: Role) -> bool {
    own || to == Role::Master || from == Role::Master
}

impl Cluster {
    /// Every listener that should be open now. Flat: each up service on the host. Firewalled: each
    /// up service in every namespace that reaches it, the masters' Admin Router also on the host,
    /// and a host-side SSH proxy per node (closed while the node has the `ssh-down` fault).
    pub(super) fn desired_listeners(&self) -> Vec<Want> {
        let firewalled = self.def.network == Network::Firewalled;
        let mut out = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for (port, unit, kind) in ports_for(&self.def, n.def.role, n.security) {
                if (kind == Kind::Zk && self.def.real_zookeeper) || !n.unit_up(unit) {
                    // The real server owns :2181; a stopped unit's port refuses.
                    continue;
                }
                let want = |ns| Want {
                    ns,
                    node: i,
                    port,
                    kind,
                    unit: unit.to_string(),
                };
                if !firewalled || kind == Kind::Admin {
                    out.push(want(HOST));
                }
                if firewalled {
                    for (j, from) in self.nodes.iter().enumerate() {
                        if reachable(from.def.role, i == j, n.def.role) {
                            out.push(want(j));
                        }
                    }
                }
            }
            if firewalled && !n.fault("ssh-down") {
                // The node's SSH port: from the host, or only from the bastion when there is one.
                out.push(Want {
                    ns: if self.def.bastion.is_some() {
                        self.nodes.len()
                    } else {
                        HOST
                    },
                    node: i,
                    port: self.def.ssh_port,
                    kind: Kind::Ssh,
                    unit: String::new(),
                });
            }
        }
        if firewalled && self.def.real_zookeeper {
            out.extend(self.zookeeper_forwards());
        }
        if self.def.bastion.is_some() {
            // The bastion (index `nodes.len()`) is reached from the host.
            out.push(Want {
                ns: HOST,
                node: self.nodes.len(),
                port: self.def.ssh_port,
                kind: Kind::Ssh,
                unit: String::new(),
            });
        }
        out
    }

    /// Binds `addr` on the host (`ns` = [`HOST`]) or inside node `ns`'s namespace.
    pub(super) fn bind(&self, ns: usize, addr: &str) -> io::Result<TcpListener> {
        if ns == HOST {
            return TcpListener::bind(addr);
        }
        self.ns_thread(ns)?.bind(addr)
    }

    /// Real ZooKeeper on a firewalled network: each running master's client port forwarded from
    /// every other node's namespace, and its quorum and election ports from the other masters'.
    /// Only ports the server listens on are forwarded, so a peer that connects too early is
    /// refused (and retries) as on a real network, instead of being accepted and dropped (which
    /// sends a ZooKeeper follower back to leader election).
    fn zookeeper_forwards(&self) -> Vec<Want> {
        let mut out = Vec::new();
        for i in self
            .masters()
            .filter(|i| self.nodes[*i].unit_up("dcos-exhibitor"))
        {
            let Some(pid) = crate::zk::running_pid(&self.def, &self.nodes[i].def) else {
                continue;
            };
            let listening = crate::netns::listening_ports(pid);
            for (j, from) in self.nodes.iter().enumerate().filter(|(j, _)| *j != i) {
                let ports: &[u16] = if from.def.role == Role::Master {
                    &[
                        crate::zk::CLIENT_PORT,
                        crate::zk::QUORUM_PORT,
                        crate::zk::ELECTION_PORT,
                    ]
                } else {
                    &[crate::zk::CLIENT_PORT]
                };
                for port in ports.iter().filter(|p| listening.contains(p)) {
                    out.push(Want {
                        ns: j,
                        node: i,
                        port: *port,
                        kind: Kind::ZkForward,
                        unit: String::new(),
                    });
                }
            }
        }
        out
    }

    /// The address of node `i` (`nodes.len()`: the bastion).
    pub(super) fn address(&self, i: usize) -> &str {
        match self.nodes.get(i) {
            Some(n) => &n.def.address,
            None => self.def.bastion.as_ref().map_or("", |b| b.address.as_str()),
        }
    }

    /// The thread living in node `i`'s namespace (`nodes.len()`: the bastion's).
    pub(super) fn ns_thread(&self, i: usize) -> io::Result<Arc<NsThread>> {
        self.ns
            .get(i)
            .cloned()
            .flatten()
            .ok_or_else(|| io::Error::other(format!("node {i} has no network namespace")))
    }
}

/// Forwards every connection to `listener` (on the host or in another namespace) to `target`
/// inside the namespace of `ns`, retrying the inner connect for up to `retry`.
pub(super) fn serve_tcp_proxy(
    listener: TcpListener,
    ns: Arc<NsThread>,
    target: String,
    retry: Duration,
) -> Option<JoinHandle<()>> {
    listener.set_nonblocking(true).ok()?;
    let l = tokio::net::TcpListener::from_std(listener).ok()?;
    Some(tokio::spawn(async move {
        while let Ok((mut outer, _)) = l.accept().await {
            let (ns, target) = (ns.clone(), target.clone());
            tokio::spawn(async move {
                let deadline = Instant::now() + retry;
                let inner = loop {
                    let (ns, t) = (ns.clone(), target.clone());
                    let r = tokio::task::spawn_blocking(move || {
                        ns.connect(&t, Duration::from_millis(500))
                    })
                    .await;
                    match r {
                        Ok(Ok(s)) => break Some(s),
                        _ if Instant::now() < deadline => {
                            tokio::time::sleep(Duration::from_millis(100)).await
                        }
                        _ => break None,
                    }
                };
                let Some(inner) = inner.filter(|s| s.set_nonblocking(true).is_ok()) else {
                    return;
                };
                if let Ok(mut inner) = tokio::net::TcpStream::from_std(inner) {
                    // A relay stands for a network path, which adds no delay of its own: without
                    // TCP_NODELAY on both sides, Nagle's algorithm holds each small SSH packet
                    // until the previous one is acknowledged, which the peer's delayed ACK puts
                    // off by ~40 ms; sshd and ssh set TCP_NODELAY on their own sockets, so a
                    // direct connection never waits so.
                    let _ = outer.set_nodelay(true);
                    let _ = inner.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut outer, &mut inner).await;
                }
            });
        }
    }))
}

/// Starts one thread inside each node's namespace, then the bastion's (firewalled), or none
/// (flat).
pub(super) fn ns_threads(def: &SimDef) -> anyhow::Result<Vec<Option<Arc<NsThread>>>> {
    def.nodes
        .iter()
        .chain(&def.bastion)
        .map(|n| {
            def.netns(&n.name)
                .map(|name| NsThread::spawn(&name).map(Arc::new))
                .transpose()
        })
        .collect()
}
