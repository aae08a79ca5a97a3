//! `check` on a healthy cluster as DC/OS really is: DC/OS's own top-level znodes (`cluster-id`,
//! `cockroach`, `etcd`, `cluster`) and agents that advertise every CPU raise no warning, and no
//! request that could change something reaches the cluster (the testbed records every one).

use dcos_sim::{record, Testbed};
use serde_json::Value;
use std::process::{Command, Stdio};

#[test]
fn check_on_a_healthy_cluster_warns_of_no_dcos_znode_or_headroom_and_sends_no_write() {
    let tb = Testbed::builder()
        .masters(3)
        .agents(1)
        .public_agents(0)
        .version("2.1.3")
        .upgrade_to("2.2.1")
        .real_zookeeper(true)
        .start()
        .expect("testbed starts");
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dcos-upgrade"))
        .stdin(Stdio::null())
        .arg("--state-dir")
        .arg(state.path())
        .args(["--output", "json", "check", "--inventory"])
        .arg(tb.inventory_path())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let checks = v["checks"].as_array().cloned().unwrap_or_default();
    for id in ["zookeeper.unknown_znodes", "agents.headroom"] {
        let c = checks
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check {id}: {checks:#?}"));
        assert_eq!(c["passed"], true, "{id}: {c}");
    }
    let writes = record::named(tb.dir(), "http_write");
    assert!(
        writes.is_empty(),
        "check sent requests that change things: {:?}",
        writes.iter().map(|w| &w.data).collect::<Vec<_>>()
    );
}
