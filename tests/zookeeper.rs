//! The ZooKeeper checks and the backup against a real ZooKeeper ensemble (issue 4): the testbed's
//! masters run Debian's `zookeeper` (one server per master, `dcos-sim up --zookeeper real`),
//! Exhibitor's status reflects the real servers, and `dcos-zk backup` archives the real data dir.
//! The two tests take turns: two ensembles of three JVMs at once are too much for two cores.

use dcos_sim::{zk, Testbed};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ONE_ENSEMBLE_AT_A_TIME: Mutex<()> = Mutex::new(());

const ZK_CHECKS: [&str; 3] = [
    "zookeeper.exhibitor",
    "zookeeper.four_letter_words",
    "zookeeper.unknown_znodes",
];

fn testbed() -> Testbed {
    assert!(
        zk::available(),
        "these tests need Debian's zookeeper package and Java (apt-get install -y zookeeper; scripts/test.sh installs it)"
    );
    let tb = Testbed::builder()
        .masters(3)
        .agents(1)
        .public_agents(0)
        .version("2.1.3")
        .upgrade_to("2.2.1")
        .activation_ms(400)
        .real_zookeeper(true)
        // This test's own ZooKeeper client talks to the ensemble from this machine; the product
        // reads ZooKeeper on the nodes either way.
        .network(dcos_sim::Network::Flat)
        .start()
        .expect("testbed with a real ZooKeeper ensemble starts");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(tb.inventory_path())
        .unwrap();
    std::io::Write::write_all(
        &mut f,
        b"\n[timeouts]\nnode_script_secs = 60\nmaster_gate_secs = 30\nagent_gate_secs = 30\nbackup_secs = 30\npoll_ms = 200\n",
    )
    .unwrap();
    tb
}

fn product(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dcos-upgrade"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("dcos-upgrade runs")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `check --output json`: the checklist.
fn checks(tb: &Testbed, state: &Path) -> Vec<Value> {
    let inv = tb.inventory_path();
    let out = product(
        state,
        &[
            "--output",
            "json",
            "check",
            "--inventory",
            inv.to_str().unwrap(),
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check --output json is not JSON ({e}): {}", text(&out)));
    v["checks"].as_array().cloned().unwrap_or_default()
}

fn find<'a>(checks: &'a [Value], id: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {checks:#?}"))
}

fn address(tb: &Testbed, node: &str) -> String {
    tb.node(node).expect("node exists").address
}

#[test]
fn zookeeper_checks_follow_the_real_ensemble() {
    let _turn = ONE_ENSEMBLE_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let tb = testbed();
    let state = tempfile::tempdir().unwrap();

    // All three servers answer for themselves: the checks pass, and the znodes listed are the
    // real ensemble's (the simulated port cannot list znodes at all).
    let c = checks(&tb, state.path());
    for id in ZK_CHECKS {
        assert_eq!(find(&c, id)["passed"], true, "{id}: {}", find(&c, id));
    }
    let znodes = find(&c, "zookeeper.unknown_znodes")["found"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for z in ["zookeeper", "mesos", "marathon", "dcos"] {
        assert!(znodes.contains(z), "znode /{z} not listed: {znodes}");
    }
    let words = find(&c, "zookeeper.four_letter_words");
    assert!(
        words["found"]
            .as_str()
            .unwrap_or_default()
            .contains("3 ZooKeeper servers imok"),
        "{words}"
    );
    let servers = words["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(servers.len(), 3, "{words}");

    // Stop m2's Exhibitor over SSH: its real server goes down with it.
    let m2 = address(&tb, "m2");
    let out = tb
        .ssh("m2", "systemctl stop dcos-exhibitor")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        zk::mode(&m2, Duration::from_millis(500)).is_none(),
        "m2's ZooKeeper still answers after systemctl stop"
    );
    assert!(
        !tb.node("m2")
            .unwrap()
            .root
            .join("var/lib/dcos/exhibitor/zk.pid")
            .exists(),
        "zk.pid left behind by a stopped server"
    );
    let c = checks(&tb, state.path());
    for id in ["zookeeper.exhibitor", "zookeeper.four_letter_words"] {
        let r = find(&c, id);
        assert_eq!(r["passed"], false, "{id} should fail: {r}");
        assert_eq!(r["severity"], "blocker", "{id}: {r}");
        let found = r["found"].as_str().unwrap_or_default();
        assert!(found.contains(&m2), "{id} does not name {m2}: {found}");
    }

    // dcos-zk works on the real data dir: refused where the server runs (m1's zk.pid is alive),
    // a backup and a restore on the stopped m2.
    let zk_cmd = |node: &str, cmd: &str| {
        tb.ssh(
            node,
            &format!("$DCOS_SIM_ROOT/opt/mesosphere/bin/dcos-shell dcos-zk {cmd} -v"),
        )
        .output()
        .unwrap()
    };
    let remote = state.path().join("m1-refused.tar.gz");
    let out = zk_cmd("m1", &format!("backup {}", remote.display()));
    assert!(
        !out.status.success(),
        "backup while running: {}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ZooKeeper is running"),
        "{}",
        text(&out)
    );
    assert!(!remote.exists());
    let remote = state.path().join("m2.tar.gz");
    let out = zk_cmd("m2", &format!("backup {}", remote.display()));
    assert!(out.status.success(), "backup on m2: {}", text(&out));
    let out = zk_cmd("m2", &format!("restore {}", remote.display()));
    assert!(out.status.success(), "restore on m2: {}", text(&out));
    let m2_data = tb
        .node("m2")
        .unwrap()
        .root
        .join("var/lib/dcos/exhibitor/zookeeper");
    assert!(m2_data.join("myid").exists(), "restore removed myid");
    assert!(m2_data.join("version-2").is_dir(), "restore left no data");

    // Started again, it rejoins and the checks pass again.
    let out = tb
        .ssh("m2", "systemctl start dcos-exhibitor")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let hosts: Vec<String> = ["m1", "m2", "m3"].iter().map(|n| address(&tb, n)).collect();
    zk::wait_ensemble(&hosts, Instant::now() + Duration::from_secs(30))
        .expect("m2 rejoins the ensemble");
    let c = checks(&tb, state.path());
    for id in ZK_CHECKS {
        assert_eq!(find(&c, id)["passed"], true, "{id}: {}", find(&c, id));
    }
}

#[test]
fn the_backup_archives_the_real_znodes_and_restores() {
    let _turn = ONE_ENSEMBLE_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let tb = testbed();
    let state = tempfile::tempdir().unwrap();
    let inv = tb.inventory_path();
    let out = product(
        state.path(),
        &[
            "run",
            "--inventory",
            inv.to_str().unwrap(),
            "--to",
            "2.2.1",
            "--ack-release-notes",
            "2.2.1",
            "--yes",
        ],
    );
    assert!(out.status.success(), "run failed: {}", text(&out));

    let st = product(state.path(), &["--output", "json", "status"]);
    assert!(st.status.success(), "{}", text(&st));
    let st: Value = serde_json::from_slice(&st.stdout).expect("status json");
    let step = st["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == "backup/zookeeper")
        .unwrap_or_else(|| panic!("no backup/zookeeper step: {st:#}"))
        .clone();
    let archive = step["output"]["archive"]
        .as_str()
        .unwrap_or_else(|| panic!("no archive in {step:#}"))
        .to_string();
    let bytes = std::fs::read(&archive).expect("the local archive exists");
    let sum: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(step["output"]["sha256"], sum.as_str(), "{step:#}");

    // It extracts into an empty directory: the real data dir without myid.
    let restore = tempfile::tempdir().unwrap();
    let out = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(restore.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "tar: {}", text(&out));
    let zkdir = restore.path().join("zookeeper");
    assert!(!zkdir.join("myid").exists(), "myid was archived");
    assert!(
        !zkdir.join("zookeeper.out").exists(),
        "zookeeper.out was archived"
    );
    let files: Vec<String> = std::fs::read_dir(zkdir.join("version-2"))
        .expect("./zookeeper/version-2 in the archive")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        files.iter().any(|f| f.starts_with("log.")),
        "no transaction log in {files:?}"
    );
    assert!(
        files.iter().any(|f| f.starts_with("snapshot.")),
        "no snapshot in {files:?}"
    );

    // A standalone server on the restored directory holds the znodes seeded at `up`.
    let server = zk::Standalone::start(&zkdir, Duration::from_secs(30)).expect("standalone ZK");
    let mut client = zk::Client::connect(&server.addr(), Duration::from_secs(5)).unwrap();
    let top = client.children("/").unwrap();
    for z in ["zookeeper", "mesos", "marathon", "dcos"] {
        assert!(top.contains(&z.to_string()), "/{z} not restored: {top:?}");
    }
    assert_eq!(
        client.children("/dcos/dcos-sim-seed").unwrap(),
        vec!["a".to_string(), "b".to_string()]
    );
    for (path, data) in zk::SEED_ZNODES {
        let got = client.data(path).unwrap().unwrap_or_default();
        assert_eq!(String::from_utf8_lossy(&got), *data, "data of {path}");
    }
    drop(client);
    drop(server);

    // The last resort: roll the nodes back and restore the backup on the live ensemble. A znode
    // written after the backup is gone afterwards; the seeded ones are back.
    let m1 = format!("{}:2181", address(&tb, "m1"));
    let mut live = zk::Client::connect(&m1, Duration::from_secs(5)).unwrap();
    assert!(live.create("/dcos/after-backup", b"x").unwrap());
    drop(live);
    let out = product(state.path(), &["rollback", "--yes", "--restore-zookeeper"]);
    assert!(
        out.status.success(),
        "rollback --restore-zookeeper: {}",
        text(&out)
    );
    let r = tb.report().unwrap();
    assert!(r.nodes.iter().all(|n| n.version == "2.1.3"), "{r:#?}");
    assert_eq!(
        r.quorum_loss_events, 0,
        "rolling the nodes back kept quorum"
    );
    let hosts: Vec<String> = ["m1", "m2", "m3"].iter().map(|m| address(&tb, m)).collect();
    zk::wait_ensemble(&hosts, Instant::now() + Duration::from_secs(30)).expect("ensemble back");
    let mut live = zk::Client::connect(&m1, Duration::from_secs(5)).unwrap();
    let dcos = live.children("/dcos").unwrap();
    assert!(
        !dcos.contains(&"after-backup".to_string()),
        "restored state still has the later znode: {dcos:?}"
    );
    assert!(dcos.contains(&"dcos-sim-seed".to_string()), "{dcos:?}");
    let log = product(state.path(), &["--output", "json", "log"]);
    let restores = String::from_utf8_lossy(&log.stdout)
        .lines()
        .filter(|l| l.contains("dcos-zk restore") && l.contains("\"outcome\""))
        .count();
    assert_eq!(restores, 3, "restored on every master");
}
