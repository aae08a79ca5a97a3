//! Tests for the backups (`dcos-upgrade backup` and a run's backup phase): ZooKeeper on every
//! supported version (dcos-zk where the master has it, the data directory where it does not),
//! taken on a ZooKeeper follower, streamed off and verified; judged from the testbed's record.

mod common;

use common::{append, text, Env, FAST_TIMEOUTS};
use dcos_sim::record;
use dcos_sim::Testbed;
use std::path::PathBuf;
use std::process::Command;

fn env(version: &str, masters: usize, zk_data_mb: u64) -> Env {
    let tb = Testbed::builder()
        .masters(masters)
        .agents(0)
        .public_agents(0)
        .version(version)
        .upgrade_to("2.2.1")
        .activation_ms(300)
        .zk_data_mb(zk_data_mb)
        .start()
        .expect("testbed up");
    append(
        &tb.inventory_path(),
        &format!("\n[timeouts]\n{FAST_TIMEOUTS}"),
    );
    Env {
        tb,
        state: tempfile::tempdir().expect("tempdir"),
    }
}

/// `backup --output json`: its exit code and the ZooKeeper step's output from `status`.
fn backup(e: &Env) -> (i32, serde_json::Value) {
    let (code, steps) = backup_steps(e);
    (code, steps.0)
}

/// The state backup's files (`kind` -> the file) and its summary line from `backup`'s run.
fn state_files(e: &Env) -> std::collections::HashMap<String, serde_json::Value> {
    let st = e.status();
    let step = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "backup/state")
        .cloned()
        .unwrap_or_else(|| panic!("no state backup step: {st:#}"));
    assert_eq!(step["state"], "done", "{step:#}");
    step["output"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap().to_string(), f.clone()))
        .collect()
}

/// A file's recorded size and SHA-256 are the file's.
fn verified(f: &serde_json::Value) {
    let p = PathBuf::from(f["path"].as_str().unwrap());
    let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(f["bytes"], data.len() as u64, "{f}");
    assert_eq!(f["sha256"].as_str().unwrap(), sha256sum(&p), "{f}");
}

/// `sha256sum`'s digest of a file.
fn sha256sum(p: &std::path::Path) -> String {
    let o = Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn backup_steps(e: &Env) -> (i32, (serde_json::Value,)) {
    let inv = e.inventory();
    let out = e
        .cmd(&[
            "--output",
            "json",
            "backup",
            "--inventory",
            inv.to_str().unwrap(),
        ])
        .output()
        .expect("backup");
    let code = out.status.code().unwrap_or(-1);
    assert_eq!(code, 0, "backup failed: {}", text(&out));
    let status = e.status();
    assert_eq!(status["state"], "done", "{status:#}");
    let step = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "backup/zookeeper")
        .cloned()
        .unwrap_or_else(|| panic!("no ZooKeeper backup step: {status:#}"));
    (code, (step,))
}

fn archive(e: &Env) -> PathBuf {
    let runs = std::fs::read_dir(e.state.path().join("backups")).expect("backups dir");
    let run = runs
        .map(|r| r.unwrap().path())
        .next()
        .expect("a run's backups");
    run.join("zookeeper-backup.tar.gz")
}

fn listing(path: &PathBuf) -> String {
    let o = Command::new("tar").arg("-tzf").arg(path).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn address(e: &Env, name: &str) -> String {
    e.tb.node(name).unwrap().address
}

/// Exhibitor was stopped only on `node`, once, and no tool was missing while it was stopped.
fn exhibitor_stopped_only_on(e: &Env, node: &str) {
    let stops: Vec<String> = record::named(e.tb.dir(), "unit")
        .into_iter()
        .filter(|r| r.data["unit"] == "dcos-exhibitor" && r.data["action"] == "stop")
        .map(|r| r.data["node"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(stops, vec![node.to_string()], "Exhibitor stops");
    let missing = record::named(e.tb.dir(), "tool_missing");
    assert!(
        missing.iter().all(|r| r.data["exhibitor"] == "active"),
        "a tool was looked for with Exhibitor stopped: {:?}",
        missing.iter().map(|r| &r.data).collect::<Vec<_>>()
    );
}

fn without_dcos_zk(version: &str) {
    let e = env(version, 3, 0);
    let (_, step) = backup(&e);
    let a = archive(&e);
    let files = listing(&a);
    for f in [
        "./zookeeper/version-2/snapshot.100000000",
        "./zookeeper/version-2/log.100000001",
    ] {
        assert!(files.lines().any(|l| l == f), "{f} missing from:\n{files}");
    }
    assert!(
        !files.contains("myid") && !files.contains("zookeeper.out"),
        "{files}"
    );
    // The testbed's first ZooKeeper leader is m1: the backup stops a follower.
    let out = step["output"].clone();
    assert_eq!(out["method"], "zookeeper-data-dir", "{step:#}");
    let node = out["node"].as_str().unwrap().to_string();
    assert_ne!(node, address(&e, "m1"), "the ZooKeeper leader was stopped");
    let name =
        e.tb.nodes()
            .into_iter()
            .find(|n| n.address == node)
            .unwrap()
            .name;
    exhibitor_stopped_only_on(&e, &name);
    assert_eq!(e.report().quorum_loss_events, 0);
    // No CockroachDB or etcd on these versions: only the app definitions beside ZooKeeper.
    let files = state_files(&e);
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        vec!["marathon-apps"],
        "{files:?}"
    );
    verified(&files["marathon-apps"]);
}

#[test]
fn a_1_11_cluster_gets_a_zookeeper_backup_without_dcos_zk() {
    without_dcos_zk("1.11.12");
}

#[test]
fn a_1_12_2_cluster_gets_a_zookeeper_backup_without_dcos_zk() {
    without_dcos_zk("1.12.2");
}

#[test]
fn a_2_1_cluster_uses_dcos_zk_on_a_zookeeper_follower_not_the_mesos_standby() {
    let e = env("2.1.3", 3, 0);
    // Move ZooKeeper's leadership to m2 (the first Mesos standby, which the plan names) by
    // restarting m1's Exhibitor; the Mesos leader stays m1.
    let o =
        e.tb.ssh(
            "m1",
            "systemctl stop dcos-exhibitor && sleep 1 && systemctl start dcos-exhibitor",
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let m2 = address(&e, "m2");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !e
        .tb
        .ssh("m1", "systemctl is-active dcos-exhibitor")
        .output()
        .unwrap()
        .status
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "m1's Exhibitor did not come back"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        e.report().leader.as_deref(),
        Some(address(&e, "m1").as_str())
    );
    let plan_node = {
        let inv = e.inventory();
        let o = e
            .cmd(&[
                "--output",
                "json",
                "plan",
                "--inventory",
                inv.to_str().unwrap(),
                "--to",
                "2.2.1",
            ])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("plan json");
        v["phases"][1]["steps"][0]["node"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(plan_node, m2, "the plan names the first Mesos standby");
    let (_, step) = backup(&e);
    let out = &step["output"];
    assert_eq!(out["method"], "dcos-zk", "{step:#}");
    assert_eq!(
        out["node"],
        address(&e, "m3"),
        "a ZooKeeper follower that is no Mesos leader"
    );
    // m1's restart above was the test's own: only the backup's stop counts from here.
    let stops = record::named(e.tb.dir(), "unit")
        .into_iter()
        .filter(|r| r.data["unit"] == "dcos-exhibitor" && r.data["action"] == "stop")
        .map(|r| r.data["node"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    assert_eq!(stops, vec!["m1".to_string(), "m3".to_string()]);
    // IAM (CockroachDB from 1.13), etcd (2.1+, on the Mesos leader) and the app definitions.
    let files = state_files(&e);
    for k in ["iam", "etcd", "marathon-apps"] {
        verified(
            files
                .get(k)
                .unwrap_or_else(|| panic!("no {k} backup: {files:?}")),
        );
    }
    // `status` lists every backup with where it is, its size and its SHA-256 (issue 11).
    let out = e.cmd(&["status"]).output().unwrap();
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    let zk = archive(&e);
    for (path, sha) in files
        .values()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["sha256"].as_str().unwrap().to_string(),
            )
        })
        .chain(std::iter::once((zk.display().to_string(), sha256sum(&zk))))
    {
        assert!(
            listed
                .lines()
                .any(|l| l.contains(&path) && l.contains(&sha)),
            "status does not list {path} with sha256 {sha}:\n{listed}"
        );
    }
    let sql = std::fs::read_to_string(files["iam"]["path"].as_str().unwrap()).unwrap();
    assert!(sql.contains("CREATE TABLE users"), "{sql}");
    let apps: serde_json::Value = serde_json::from_slice(
        &std::fs::read(files["marathon-apps"]["path"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert!(!apps["apps"].as_array().unwrap().is_empty(), "{apps}");
    let etcd = record::named(e.tb.dir(), "etcd_backup");
    assert_eq!(
        etcd.len(),
        1,
        "{:?}",
        etcd.iter().map(|r| &r.data).collect::<Vec<_>>()
    );
    assert_eq!(
        etcd[0].data["ip"], etcd[0].data["leader"],
        "etcd backed up on the Mesos leader"
    );
}

fn large_backup_is_streamed_and_verified(mb: u64) {
    let e = env("2.2.0", 3, mb);
    let (_, step) = backup(&e);
    let a = archive(&e);
    let bytes = std::fs::metadata(&a).unwrap().len();
    // Incompressible snapshot data: the archive is at least the snapshot's size.
    assert!(bytes >= mb << 20, "{bytes} bytes for {mb} MB of snapshot");
    assert_eq!(step["output"]["bytes"], bytes, "{step:#}");
    let o = Command::new("sha256sum").arg(&a).output().unwrap();
    let sum = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        step["output"]["sha256"].as_str().unwrap(),
        sum.split_whitespace().next().unwrap(),
        "the recorded SHA-256 is the file's"
    );
    assert!(listing(&a).contains("./zookeeper/version-2/snapshot.100000000"));
    // Taken off the master once copied (the docs' last backup step).
    let node = step["output"]["remote_archive"].as_str().unwrap();
    assert!(
        !std::path::Path::new(node).exists(),
        "{node} left on the master"
    );
}

#[test]
fn a_20_mb_zookeeper_backup_is_streamed_and_verified() {
    large_backup_is_streamed_and_verified(20);
}

/// Slow (a 200 MB data directory archived, hashed and copied): `--ignored` to run it.
#[test]
#[ignore]
fn a_200_mb_zookeeper_backup_is_streamed_and_verified() {
    large_backup_is_streamed_and_verified(200);
}

/// A cluster already at the target, with no app to change: `run` changes nothing, so it takes
/// no backup (no Exhibitor stop, no etcd or IAM backup on the cluster, no file copied here) and
/// says why for each backup step (issue 15).
#[test]
fn a_run_with_nothing_to_upgrade_takes_no_backup_and_says_why() {
    let e = Env::new(3, 1, 0, &["m1", "m2", "m3", "a1"]);
    let out = e.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let st = e.status();
    assert_eq!(st["state"], "done", "{st:#}");
    for id in ["backup/zookeeper", "backup/state"] {
        let step = st["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no step {id}: {st:#}"));
        assert_eq!(step["state"], "skipped", "{step:#}");
        assert!(
            step["message"]
                .as_str()
                .unwrap_or("")
                .contains("nothing to upgrade"),
            "{step:#}"
        );
    }
    let stops: Vec<_> = record::named(e.tb.dir(), "unit")
        .into_iter()
        .filter(|r| r.data["unit"] == "dcos-exhibitor" && r.data["action"] == "stop")
        .collect();
    assert!(stops.is_empty(), "Exhibitor stopped: {stops:?}");
    assert!(record::named(e.tb.dir(), "etcd_backup").is_empty());
    let copied: Vec<PathBuf> = std::fs::read_dir(e.state.path().join("backups"))
        .map(|d| d.flatten().map(|f| f.path()).collect())
        .unwrap_or_default();
    assert!(copied.is_empty(), "backups copied: {copied:?}");
    // Every node untouched.
    let r = e.report();
    assert!(r.upgrade_order.is_empty(), "{:?}", r.upgrade_order);
}

#[test]
fn an_enterprise_1_11_cluster_gets_its_iam_database_by_cockroach_dump() {
    // 1.10/1.11 Enterprise runs CockroachDB without `iam-database-backup`; its docs back IAM up
    // with `cockroach dump --certs-dir=/run/dcos/pki/cockroach --host=$(detect_ip) iam` (facts §4).
    let e = env("1.11.12", 1, 0);
    common::make_enterprise(&e.tb);
    let m1 = e.tb.node("m1").unwrap();
    assert!(!m1
        .root
        .join("opt/mesosphere/bin/iam-database-backup")
        .exists());
    backup(&e);
    let files = state_files(&e);
    let iam = files
        .get("iam")
        .unwrap_or_else(|| panic!("no IAM backup: {files:?}"));
    assert_eq!(iam["method"], "cockroach dump iam", "{iam}");
    assert_eq!(iam["node"], m1.address.as_str(), "{iam}");
    verified(iam);
    // What the master's CockroachDB holds, as the testbed's own dump of it.
    let sql = std::fs::read_to_string(iam["path"].as_str().unwrap()).unwrap();
    let held =
        std::fs::read_to_string(m1.root.join("var/lib/dcos/cockroach/iam-dump.sql")).unwrap();
    assert_eq!(sql, held);
    assert_eq!(record::named(e.tb.dir(), "cockroach_dump").len(), 1);
}
