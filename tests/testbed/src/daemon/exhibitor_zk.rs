//! Exhibitor's cluster status and the simulated ZooKeeper four-letter words on :2181 (real
//! ZooKeeper mode asks the real servers).

use super::*;
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The answer of a simulated ZooKeeper server to a four-letter word, from the cluster state:
/// the ensemble serves while a majority of Exhibitors is up; the Exhibitor leader leads.
pub(super) fn zk_answer(c: &Cluster, me: usize, word: &str) -> String {
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
            // The other keys of the 3.4.14 docs sample (facts §6), with a small cluster's figures.
            s.push_str("zk_avg_latency\t0\nzk_max_latency\t4\nzk_min_latency\t0\nzk_packets_received\t70\nzk_packets_sent\t69\nzk_outstanding_requests\t0\nzk_watch_count\t2\nzk_ephemerals_count\t3\nzk_approximate_data_size\t1480\nzk_open_file_descriptor_count\t27\nzk_max_file_descriptor_count\t65536\nzk_fsync_threshold_exceed_count\t0\n");
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
pub(super) fn serve_zk(std_l: std::net::TcpListener, ctx: Ctx) -> Option<JoinHandle<()>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// Real ZooKeeper mode: Exhibitor's view is each server's own answer to `srvr` (leader or
/// follower: 3 "serving"; another answer: 2 "not serving"; no answer: 1 "down").
pub(super) async fn exhibitor_status_real(
    masters: Vec<String>,
    spaces: Vec<Option<Arc<crate::netns::NsThread>>>,
) -> Response {
    let mut set = tokio::task::JoinSet::new();
    for (k, (host, ns)) in masters.iter().zip(spaces).enumerate() {
        let host = host.clone();
        set.spawn(async move { (k, srvr_mode(&host, ns).await) });
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

/// `srvr` on `host:2181` (from inside `ns`, the master's own namespace, when firewalled): `None`
/// when it does not answer, `Some(mode)` otherwise.
pub(super) async fn srvr_mode(
    host: &str,
    ns: Option<Arc<crate::netns::NsThread>>,
) -> Option<Option<String>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = format!("{host}:{}", crate::zk::CLIENT_PORT);
    if let Some(ns) = ns {
        return tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut s = ns.connect(&addr, Duration::from_secs(1)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
            s.write_all(b"srvr").ok()?;
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            Some(crate::zk::parse_mode(&String::from_utf8_lossy(&buf)))
        })
        .await
        .ok()
        .flatten();
    }
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

pub(super) async fn exhibitor_status(State(ctx): State<Ctx>) -> Response {
    let real = {
        let c = ctx.shared.lock().unwrap();
        c.def.real_zookeeper.then(|| {
            c.masters()
                .map(|i| {
                    (
                        c.nodes[i].def.address.clone(),
                        c.ns.get(i).cloned().flatten(),
                    )
                })
                .unzip::<_, _, Vec<_>, Vec<_>>()
        })
    };
    if let Some((masters, spaces)) = real {
        return exhibitor_status_real(masters, spaces).await;
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
