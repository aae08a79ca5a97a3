//! The production checklist (`check`, and the precheck of every run) against the testbed: a
//! healthy cluster passes, each fault is caught with the right severity, and `run` refuses to
//! start without the release notes acknowledged.

use dcos_sim::Testbed;
use serde_json::Value;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dcos-upgrade"));
    c.stdin(Stdio::null());
    c
}

/// The checklist's testbed: `masters` masters, two private agents, no public one.
fn builder(masters: usize, version: &str, to: &str) -> dcos_sim::TestbedBuilder {
    Testbed::builder()
        .masters(masters)
        .agents(2)
        .public_agents(0)
        .version(version)
        .upgrade_to(to)
}

fn testbed(masters: usize, version: &str, to: &str) -> Testbed {
    builder(masters, version, to)
        .start()
        .expect("testbed starts")
}

/// Runs `check --output json`; returns the exit code and the checklist.
fn check(tb: &Testbed) -> (i32, Vec<Value>) {
    let state = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("--state-dir")
        .arg(state.path())
        .args(["--output", "json", "check", "--inventory"])
        .arg(tb.inventory_path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "check --output json is not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap_or(-1),
        v["checks"].as_array().cloned().unwrap_or_default(),
    )
}

fn find<'a>(checks: &'a [Value], id: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {checks:#?}"))
}

fn failed(checks: &[Value], id: &str, severity: &str) -> String {
    let c = find(checks, id);
    assert_eq!(c["passed"], false, "{id} should fail: {c}");
    assert_eq!(c["severity"], severity, "{id}: {c}");
    assert!(
        !c["remedy"].as_str().unwrap_or_default().is_empty(),
        "{id} says what to do"
    );
    c["found"].as_str().unwrap_or_default().to_string()
}

fn failed_blockers(checks: &[Value]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c["passed"] == false && c["severity"] == "blocker")
        .map(|c| format!("{}: {}", c["id"], c["found"]))
        .collect()
}

fn address(tb: &Testbed, node: &str) -> String {
    tb.node(node).expect("node exists").address
}

#[test]
fn a_healthy_cluster_passes_check() {
    let tb = testbed(3, "2.1.3", "2.2.1");
    let (code, checks) = check(&tb);
    assert!(
        failed_blockers(&checks).is_empty(),
        "{:?}",
        failed_blockers(&checks)
    );
    assert_eq!(code, 0);
    for id in [
        "nodes.ssh",
        "masters.odd_count",
        "masters.not_flapping",
        "zookeeper.exhibitor",
        "zookeeper.four_letter_words",
        "agents.registered",
        "nodes.disk_free",
        "marathon.no_deployment",
        "marathon.image_tags",
        "versions.mixed",
    ] {
        assert_eq!(find(&checks, id)["passed"], true, "{id}");
    }
    // Recorded for later comparison.
    assert!(find(&checks, "agents.attributes")["data"].is_object());
    assert!(find(&checks, "tasks.baseline")["data"]["failed"]["count"].is_number());
    // The testbed's masters run without authenticate_http_readwrite (read from /flags; no check
    // sends a POST).
    assert!(failed(&checks, "masters.teardown_auth", "warning")
        .contains("authenticate_http_readwrite = false"));
}

/// Issue 14 (batched remote scripts): `check` reads an agent in two SSH commands: its version
/// and role files for the plan, then one round with everything else the checklist reads on it
/// (the shell probe, its own Mesos metrics, DC/OS's `node-poststart` checks); 4 before. The
/// count comes from each node's sshd (one `Starting session: command` line per command), not
/// from anything the tool says.
#[test]
fn check_reads_each_agent_in_two_ssh_commands_and_each_master_in_at_most_eight() {
    let tb = testbed(3, "2.1.3", "2.2.1");
    let nodes = tb.nodes();
    let count = |n: &str| tb.ssh_commands(n).expect("sshd log");
    let before: Vec<usize> = nodes.iter().map(|n| count(&n.name)).collect();
    let (code, checks) = check(&tb);
    assert_eq!(code, 0, "{:?}", failed_blockers(&checks));
    let used: Vec<(String, usize)> = nodes
        .iter()
        .zip(&before)
        .map(|(n, b)| (n.name.clone(), count(&n.name) - b))
        .collect();
    for ((name, n), info) in used.iter().zip(&nodes) {
        // A master also has the leader's read of the facts, Marathon's environment file, its
        // first metric probe (alone, to time a restart) and, on the first master that answers,
        // DC/OS's `cluster` checks and Exhibitor's node list: 6, and 8 on that one (8 and 10
        // before the rounds were folded).
        let most = if info.role == dcos_sim::Role::Master {
            8
        } else {
            2
        };
        assert!(
            (1..=most).contains(n),
            "{name} ran {n} SSH commands for one `check` (at most {most}): {used:?}"
        );
    }
}

#[test]
fn four_masters_are_a_warning_and_a_flapping_master_a_blocker() {
    let tb = testbed(4, "2.1.3", "2.2.1");
    let (code, checks) = check(&tb);
    assert!(failed(&checks, "masters.odd_count", "warning").contains("4 masters"));
    assert_eq!(
        code,
        0,
        "a warning alone does not fail check: {:?}",
        failed_blockers(&checks)
    );
    tb.fault("m2", "flapping").unwrap();
    let (code, checks) = check(&tb);
    assert!(failed(&checks, "masters.not_flapping", "blocker").contains(&address(&tb, "m2")));
    assert_eq!(code, 1);
}

/// A cluster that has been running for a day: no master is young, so none is looked at twice
/// (facts §5: only a low `master/uptime_secs` means a restart); a master restarted once is looked
/// at twice and passes, one that restarts in a loop is still a blocker.
#[test]
fn masters_up_for_a_minute_are_not_flapping_and_a_restarting_one_still_is() {
    let tb = builder(3, "2.1.3", "2.2.1")
        .up_secs(86_400)
        .start()
        .expect("testbed starts");
    let (code, checks) = check(&tb);
    assert_eq!(code, 0, "{:?}", failed_blockers(&checks));
    let c = find(&checks, "masters.not_flapping");
    assert_eq!(c["passed"], true, "{c}");
    assert!(
        c["found"]
            .as_str()
            .unwrap()
            .contains("up for at least 60 s"),
        "{c}"
    );
    let failed_tasks = &find(&checks, "tasks.baseline")["data"]["failed"];
    assert!(
        failed_tasks["per_minute"].as_f64().unwrap().is_finite(),
        "{failed_tasks}"
    );
    // Restarted once: young, looked at twice, up the whole time in between.
    let st = tb
        .ssh("m2", "systemctl restart dcos-mesos-master")
        .status()
        .unwrap();
    assert!(st.success());
    // Back up (the testbed's own unit state) before the check looks.
    let back = std::time::Instant::now();
    while !tb
        .ssh("m2", "systemctl is-active dcos-mesos-master")
        .status()
        .unwrap()
        .success()
    {
        assert!(
            back.elapsed() < std::time::Duration::from_secs(30),
            "m2 never came back"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (code, checks) = check(&tb);
    let c = find(&checks, "masters.not_flapping");
    assert_eq!(c["passed"], true, "{c}");
    assert!(
        c["found"].as_str().unwrap().contains("between two probes"),
        "{c}"
    );
    assert_eq!(code, 0, "{:?}", failed_blockers(&checks));
    // Restarting in a loop.
    tb.fault("m2", "flapping").unwrap();
    let (code, checks) = check(&tb);
    assert!(failed(&checks, "masters.not_flapping", "blocker").contains(&address(&tb, "m2")));
    assert_eq!(code, 1);
}

#[test]
fn a_stopped_zookeeper_server_and_a_full_disk_are_blockers() {
    let tb = testbed(3, "2.1.3", "2.2.1");
    tb.fault("a1", "disk-full").unwrap();
    let st = tb
        .ssh("m2", "systemctl stop dcos-exhibitor")
        .status()
        .unwrap();
    assert!(st.success());
    let (code, checks) = check(&tb);
    assert_eq!(code, 1);
    let m2 = address(&tb, "m2");
    assert!(failed(&checks, "zookeeper.four_letter_words", "blocker").contains(&m2));
    assert!(failed(&checks, "zookeeper.exhibitor", "blocker").contains(&m2));
    let disk = failed(&checks, "nodes.disk_free", "blocker");
    assert!(
        disk.contains(&address(&tb, "a1")) && disk.contains("1% free"),
        "{disk}"
    );
}

fn put_app(tb: &Testbed, image: &str) {
    // As an operator on the cluster network would: from a master (the firewalled testbed
    // answers node ports only there).
    let url = format!("http://{}:8080/v2/apps/web", address(tb, "m1"));
    let body = serde_json::json!({"container": {"type": "DOCKER", "docker": {"image": image}}})
        .to_string();
    let cmd =
        format!("curl -fsS -L -X PUT -H 'Content-Type: application/json' --data '{body}' {url}");
    let out = tb.ssh("m1", &cmd).output().unwrap();
    assert!(
        out.status.success(),
        "PUT {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_deployment_in_progress_blocks_and_latest_images_warn() {
    let tb = Testbed::builder()
        .masters(3)
        .agents(2)
        .public_agents(0)
        .deploy_ms(60_000)
        .start()
        .unwrap();
    put_app(&tb, "nginx:latest");
    let (code, checks) = check(&tb);
    assert_eq!(code, 1);
    assert!(failed(&checks, "marathon.no_deployment", "blocker").contains("1 Marathon deployment"));
    assert!(failed(&checks, "marathon.image_tags", "warning").contains("/web uses nginx:latest"));
}

/// `run --yes` with the right acknowledgement; returns (exit code, stderr + stdout).
fn run(tb: &Testbed, to: &str, ack: Option<&str>) -> (i32, String) {
    let state = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.arg("--state-dir")
        .arg(state.path())
        .args(["run", "--yes", "--to", to, "--inventory"])
        .arg(tb.inventory_path());
    if let Some(a) = ack {
        c.args(["--ack-release-notes", a]);
    }
    let out: Output = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ),
    )
}

#[test]
fn unsupported_paths_and_downgrades_are_refused_before_anything_changes() {
    for (from, to, says) in [
        ("1.10.0", "1.11.9", "1.10.0"),
        ("2.0.6", "2.2.0", "2.0.6"),
        ("2.2.1", "2.1.3", "downgrade"),
    ] {
        let tb = testbed(3, from, to);
        let (code, out) = run(&tb, to, Some(to));
        assert_eq!(code, 1, "{from} -> {to}: {out}");
        assert!(
            out.contains("versions.path") && out.contains(says),
            "{from} -> {to}: {out}"
        );
        let report = tb.report().unwrap();
        assert!(
            report.nodes.iter().all(|n| n.upgrade_attempts == 0),
            "nothing was touched"
        );
    }
}

#[test]
fn mixed_versions_are_named_node_by_node() {
    let tb = testbed(3, "2.1.3", "2.2.1");
    let a2 = tb
        .dir()
        .join("nodes/a2/root/opt/mesosphere/etc/dcos-version.json");
    let text = std::fs::read_to_string(&a2)
        .unwrap()
        .replace("2.1.3", "2.1.2");
    std::fs::write(&a2, text).unwrap();
    let (code, checks) = check(&tb);
    assert_eq!(code, 1);
    let found = failed(&checks, "versions.mixed", "blocker");
    assert!(found.contains("a2") && found.contains("2.1.2"), "{found}");
}

#[test]
fn run_without_the_release_notes_acknowledged_stops_at_their_gate() {
    let tb = testbed(3, "2.1.3", "2.2.1");
    let (code, out) = run(&tb, "2.2.1", None);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("release-notes:2.2.1"), "{out}");
    assert!(
        out.contains("What matters for this upgrade"),
        "the notes are shown: {out}"
    );
    let (code, out) = run(&tb, "2.2.1", Some("2.2.0"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("does not match the target version 2.2.1"),
        "{out}"
    );
    let report = tb.report().unwrap();
    assert!(
        report
            .nodes
            .iter()
            .all(|n| n.upgrade_attempts == 0 && n.services_up),
        "nothing was touched"
    );
}
