//! ZooKeeper's own health from `mntr` on every master (facts §6; the production checklist):
//! alive connections, znode count, approximate data size, outstanding requests, average and
//! maximum latency and `zk_server_state`, shown in `check`; a warning when the data size or the
//! outstanding requests would make the backup or a leader election slow.

use super::{result, CheckResult, Observed, Severity};

/// Above this approximate data size (bytes) the backup and a new leader's sync to its
/// followers (a full snapshot) take long (inference: ZooKeeper keeps the whole tree in memory
/// and ships a snapshot to a follower that is behind; the figure is the tool's choice).
pub const ZK_DATA_WARN_BYTES: u64 = 100 * 1024 * 1024;

/// Above this many outstanding requests the server is not keeping up (inference: a healthy
/// server's queue is near 0; the figure is the tool's choice).
pub const ZK_OUTSTANDING_WARN: u64 = 10;

pub(super) fn check_zk_health(o: &Observed) -> Vec<CheckResult> {
    let mut figures = Vec::new();
    let mut warn = Vec::new();
    let mut data = serde_json::Map::new();
    for z in &o.zk {
        if z.mntr.is_empty() {
            continue;
        }
        let get = |k: &str| z.mntr.get(k).map(String::as_str).unwrap_or("?");
        let num = |k: &str| z.mntr.get(k).and_then(|v| v.parse::<u64>().ok());
        figures.push(format!(
            "{}: {} connections {}, znodes {}, data {} B, outstanding {}, latency avg/max {}/{} ms",
            z.host,
            get("zk_server_state"),
            get("zk_num_alive_connections"),
            get("zk_znode_count"),
            get("zk_approximate_data_size"),
            get("zk_outstanding_requests"),
            get("zk_avg_latency"),
            get("zk_max_latency"),
        ));
        if let Some(n) = num("zk_approximate_data_size").filter(|n| *n > ZK_DATA_WARN_BYTES) {
            warn.push(format!(
                "{}: approximate data size {} MB (the backup and a leader election's sync will be slow)",
                z.host,
                n / (1024 * 1024)
            ));
        }
        if let Some(n) = num("zk_outstanding_requests").filter(|n| *n > ZK_OUTSTANDING_WARN) {
            warn.push(format!(
                "{}: {n} outstanding requests (the server is not keeping up)",
                z.host
            ));
        }
        let keys = [
            "zk_server_state",
            "zk_num_alive_connections",
            "zk_znode_count",
            "zk_approximate_data_size",
            "zk_outstanding_requests",
            "zk_avg_latency",
            "zk_max_latency",
        ];
        let m: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .filter_map(|k| {
                z.mntr
                    .get(*k)
                    .map(|v| (k.to_string(), serde_json::json!(v)))
            })
            .collect();
        data.insert(z.host.clone(), serde_json::Value::Object(m));
    }
    if figures.is_empty() {
        return Vec::new();
    }
    let found = if warn.is_empty() {
        figures.join("; ")
    } else {
        format!("{} ({})", warn.join("; "), figures.join("; "))
    };
    let mut r = result(
        "zookeeper.mntr",
        Severity::Warning,
        warn.is_empty(),
        found,
        "take the ZooKeeper backup and the masters' upgrade when ZooKeeper is quiet; find what writes so much (large znodes, many clients) before upgrading",
    );
    r.data = Some(serde_json::Value::Object(data));
    vec![r]
}
