//! End-to-end tests of the testbed: real ssh, real HTTP, the node script, election and quorum.

mod common;

use common::{get_json, ssh, wait_until};
use dcos_sim::http;
use dcos_sim::Testbed;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

fn start() -> Testbed {
    Testbed::builder()
        // The simulator's own endpoints are tested from this machine: the flat network.
        .network(dcos_sim::Network::Flat)
        .masters(3)
        .agents(4)
        .public_agents(1)
        .version("2.1.3")
        .upgrade_to("2.2.1")
        .activation_ms(500)
        .start()
        .expect("testbed starts")
}

#[test]
fn ssh_and_endpoints() {
    let tb = start();
    let inv = std::fs::read_to_string(tb.inventory_path()).unwrap();
    assert!(
        inv.contains("become = \"none\"")
            && inv.contains("rollback_script_url")
            && inv.contains("port = 2222")
    );
    for n in tb.nodes() {
        let (code, out) = ssh(&tb, &n.name, "true");
        assert_eq!(code, 0, "ssh {}: {out}", n.name);
    }
    // A wrong host key is refused.
    let kh = std::fs::read_to_string(tb.dir().join("known_hosts")).unwrap();
    let lines: Vec<&str> = kh.lines().collect();
    let key_a1 = lines[3].split_once(' ').unwrap().1;
    let bad = format!("{} {key_a1}\n", lines[0].split_once(' ').unwrap().0);
    let bad_path = tb.dir().join("bad_known_hosts");
    std::fs::write(&bad_path, bad).unwrap();
    let out = Command::new("ssh")
        .arg("-F")
        .arg(tb.ssh_config())
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", bad_path.display()))
        .args(["-o", "StrictHostKeyChecking=yes", "m1", "true"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "ssh with a wrong known_hosts entry must fail"
    );

    let m = |i: usize| tb.node(&format!("m{i}")).unwrap().address;
    let leader = tb.report().unwrap().leader.unwrap();
    let follower = (1..=3).map(m).find(|a| *a != leader).unwrap();
    // Mesos master metrics: raw body escapes slashes.
    let raw = http::get(&format!("{leader}:5050"), "/metrics/snapshot").unwrap();
    assert!(
        raw.body.contains("\"registrar\\/log\\/recovered\":1.0"),
        "{}",
        raw.body
    );
    assert!(raw.body.contains("\"master\\/elected\":1.0"));
    let mm = get_json(&format!("{leader}:5050"), "/metrics/snapshot");
    for k in [
        "master/uptime_secs",
        "master/slaves_active",
        "master/slaves_connected",
        "master/slaves_disconnected",
        "master/tasks_running",
        "master/tasks_failed",
        "master/tasks_lost",
        "master/tasks_killed",
        "master/tasks_finished",
    ] {
        assert!(mm[k].is_f64(), "{k} missing: {mm}");
    }
    assert_eq!(mm["master/slaves_active"], 5.0);
    assert_eq!(
        get_json(&format!("{follower}:5050"), "/metrics/snapshot")["master/elected"],
        0.0
    );
    // Redirects.
    for p in ["/master/redirect", "/redirect"] {
        let r = http::get(&format!("{follower}:5050"), p).unwrap();
        assert_eq!(r.status, 307);
        assert_eq!(
            r.header("location"),
            Some(format!("//{leader}:5050").as_str())
        );
    }
    let r = http::get(&format!("{follower}:5050"), "/master/state").unwrap();
    assert_eq!(r.status, 307);
    let state = get_json(&format!("{leader}:5050"), "/master/state");
    for k in [
        "version",
        "leader",
        "leader_info",
        "frameworks",
        "slaves",
        "hostname",
        "id",
    ] {
        assert!(!state[k].is_null(), "state.{k}");
    }
    let slaves = state["slaves"].as_array().unwrap();
    assert_eq!(slaves.len(), 5);
    let p1 = tb.node("p1").unwrap().address;
    for s in slaves {
        assert!(
            s["id"].is_string()
                && s["port"].is_u64()
                && s["active"].as_bool().unwrap()
                && s["version"].is_string()
        );
        assert!(s["resources"]["cpus"].is_f64());
        if s["hostname"] == p1.as_str() {
            assert_eq!(s["attributes"]["public_ip"], "true");
        } else {
            assert!(s["attributes"].as_object().unwrap().is_empty());
        }
    }
    assert_eq!(
        get_json(&format!("{leader}:5050"), "/slaves")["slaves"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert!(get_json(&format!("{follower}:5050"), "/version")["version"].is_string());
    assert!(get_json(&format!("{leader}:5050"), "/maintenance/schedule")["windows"].is_array());
    assert!(
        get_json(&format!("{leader}:5050"), "/maintenance/status")["draining_machines"].is_array()
    );
    assert_eq!(
        http::post(&format!("{leader}:5050"), "/master/teardown", "")
            .unwrap()
            .status,
        400
    );
    // Marathon.
    let info = get_json(&format!("{follower}:8080"), "/v2/info");
    assert_eq!(info["name"], "marathon");
    assert_eq!(
        get_json(&format!("{follower}:8080"), "/v2/leader")["leader"],
        format!("{leader}:8080")
    );
    let apps = get_json(&format!("{follower}:8080"), "/v2/apps?embed=apps.tasks");
    let apps = apps["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 3);
    let web = &get_json(&format!("{leader}:8080"), "/v2/apps/web")["app"];
    assert_eq!(web["container"]["docker"]["image"], "nginx:1.19.0");
    assert_eq!(web["instances"], 3);
    assert_eq!(web["tasksHealthy"], 3);
    assert!(
        web["upgradeStrategy"]["minimumHealthCapacity"].is_f64() && web["healthChecks"].is_array()
    );
    let v0 = web["version"].as_str().unwrap().to_string();
    let put = http::request(
        "PUT",
        &format!("{leader}:8080"),
        "/v2/apps/web",
        r#"{"container":{"type":"DOCKER","docker":{"image":"nginx:1.20.0"}}}"#,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(put.status, 200, "{}", put.body);
    let put: Value = serde_json::from_str(&put.body).unwrap();
    assert!(put["deploymentId"].is_string() && put["version"].is_string());
    let deps = get_json(&format!("{leader}:8080"), "/v2/deployments");
    assert_eq!(deps[0]["affectedApps"][0], "/web");
    assert!(deps[0]["currentStep"].is_u64() && deps[0]["totalSteps"].is_u64());
    wait_until("deployment to finish", 10, || {
        get_json(&format!("{leader}:8080"), "/v2/deployments")
            .as_array()
            .unwrap()
            .is_empty()
    });
    let web = &get_json(&format!("{leader}:8080"), "/v2/apps/web")["app"];
    assert_ne!(web["version"].as_str().unwrap(), v0);
    assert_eq!(web["version"], put["version"]);
    assert_eq!(
        tb.report().unwrap().app("/web").unwrap().image,
        "nginx:1.20.0"
    );
    // Exhibitor.
    let ex = get_json(&format!("{follower}:8181"), "/exhibitor/v1/cluster/status");
    let ex = ex.as_array().unwrap();
    assert_eq!(ex.len(), 3);
    assert!(ex
        .iter()
        .all(|e| e["code"] == 3 && e["description"] == "serving" && e["hostname"].is_string()));
    assert_eq!(ex.iter().filter(|e| e["isLeader"] == true).count(), 1);
    // Diagnostics and Admin Router.
    let port = tb.def().admin_port;
    let h = get_json(&format!("{leader}:1050"), "/system/health/v1");
    let keys: std::collections::BTreeSet<&str> =
        h.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "dcos_diagnostics_version",
            "dcos_version",
            "hostname",
            "ip",
            "mesos_id",
            "node_role",
            "units"
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(h["units"][0].as_object().unwrap().len(), 6);
    assert_eq!(
        get_json(
            &format!("{leader}:{port}"),
            "/dcos-metadata/dcos-version.json"
        )["version"],
        "2.1.3"
    );
    let a1 = tb.node("a1").unwrap().address;
    assert_eq!(
        get_json(&format!("{a1}:61001"), "/dcos-metadata/dcos-version.json")["version"],
        "2.1.3"
    );
    assert_eq!(
        get_json(&format!("{a1}:61001"), "/system/health/v1")["node_role"],
        "agent"
    );
    // Agent.
    let raw = http::get(&format!("{a1}:5051"), "/metrics/snapshot").unwrap();
    assert!(
        raw.body.contains("\"slave\\/registered\":1.0"),
        "{}",
        raw.body
    );
    let st = get_json(&format!("{a1}:5051"), "/state");
    for k in [
        "version",
        "id",
        "hostname",
        "attributes",
        "resources",
        "master_hostname",
        "frameworks",
    ] {
        assert!(!st[k].is_null(), "agent state.{k}");
    }
    assert_eq!(st["master_hostname"], leader.as_str());
    // Bootstrap and faults.
    let r = http::get(
        &format!("{}:8080", tb.def().bootstrap_address),
        &tb.upgrade_script_url()
            .splitn(4, '/')
            .nth(3)
            .map(|p| format!("/{p}"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("set -o errexit -o pipefail -o nounset"));
    tb.fault("a1", "http-garbage").unwrap();
    let r = http::get(&format!("{a1}:5051"), "/metrics/snapshot").unwrap();
    assert_eq!(r.status, 200);
    assert!(serde_json::from_str::<Value>(&r.body).is_err());
    tb.clear_fault("a1", "http-garbage").unwrap();
    tb.fault("a2", "disk-full").unwrap();
    let (code, out) = ssh(&tb, "a2", "df -P /");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("99%"), "{out}");
    tb.fault("a2", "ssh-down").unwrap();
    assert_ne!(ssh(&tb, "a2", "true").0, 0);
    tb.clear_fault("a2", "ssh-down").unwrap();
    assert_eq!(ssh(&tb, "a2", "true").0, 0);
}

#[test]
fn node_script_by_hand() {
    let tb = start();
    let url = tb.upgrade_script_url().to_string();
    let a1 = tb.node("a1").unwrap();
    let before = tb.report().unwrap();
    assert_eq!(before.node("a1").unwrap().upgrade_attempts, 0);
    let (code, out) = ssh(
        &tb,
        "a1",
        &format!("cd \"$DCOS_SIM_ROOT/..\" && curl -fsSO {url} && bash dcos_node_upgrade.sh"),
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Upgrading DC/OS agent 2.1.3 -> 2.2.1"),
        "{out}"
    );
    let vf = std::fs::read_to_string(a1.root.join("opt/mesosphere/etc/dcos-version.json")).unwrap();
    assert!(vf.contains("\"version\": \"2.2.1\""), "{vf}");
    assert!(a1
        .root
        .join("opt/mesosphere/etc.old/dcos-version.json")
        .exists());
    assert!(a1.root.join("opt/mesosphere/bin/pkgpanda").exists());
    let r = tb.report().unwrap();
    let n = r.node("a1").unwrap();
    assert_eq!(n.version, "2.2.1");
    assert_eq!(n.upgrade_attempts, 1);
    assert_eq!(r.upgrade_order.len(), 1);
    assert_eq!(r.upgrade_order[0].node, "a1");
    assert!(!r.upgrade_order[0].was_leader);
    assert_eq!(
        (
            r.upgrade_order[0].from.as_str(),
            r.upgrade_order[0].to.as_str()
        ),
        ("2.1.3", "2.2.1")
    );
    assert!(r.upgrade_order[0].ok);
    assert!(r.max_agents_down >= 1, "the agent's services restarted");
    wait_until("a1 services back", 10, || {
        tb.report().unwrap().node("a1").unwrap().services_up
    });
    let m = get_json(&format!("{}:5051", a1.address), "/metrics/snapshot");
    wait_until("a1 re-registers", 5, || {
        get_json(&format!("{}:5051", a1.address), "/metrics/snapshot")["slave/registered"] == 1.0
    });
    assert!(m["slave/uptime_secs"].as_f64().unwrap() < 5.0);
    assert_eq!(
        get_json(
            &format!("{}:61001", a1.address),
            "/dcos-metadata/dcos-version.json"
        )["version"],
        "2.2.1"
    );
    // Again: the version guard refuses.
    let (code, out) = ssh(
        &tb,
        "a1",
        "cd \"$DCOS_SIM_ROOT/..\" && bash dcos_node_upgrade.sh",
    );
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "ERROR: Expecting to upgrade DC/OS from 2.1.3 to 2.2.1. Version found on node: 2.2.1"
        ),
        "{out}"
    );
    let r = tb.report().unwrap();
    assert_eq!(r.node("a1").unwrap().upgrade_attempts, 2);
    assert!(!r.upgrade_order[1].ok);
    // Bad flag: usage, exit 1, not counted.
    let (code, out) = ssh(
        &tb,
        "a1",
        "cd \"$DCOS_SIM_ROOT/..\" && bash dcos_node_upgrade.sh --bogus",
    );
    assert_eq!(code, 1);
    assert!(out.contains("Usage:"), "{out}");
    assert_eq!(tb.report().unwrap().node("a1").unwrap().upgrade_attempts, 2);
    // upgrade-fails leaves the node untouched.
    tb.fault("a2", "upgrade-fails").unwrap();
    let (code, _) = ssh(
        &tb,
        "a2",
        &format!("cd /tmp && curl -fsS -o a2.sh {url} && bash a2.sh"),
    );
    assert_ne!(code, 0);
    assert_eq!(tb.report().unwrap().node("a2").unwrap().version, "2.1.3");
    // The rollback script goes the other way.
    let (code, out) = ssh(
        &tb,
        "a1",
        &format!(
            "cd /tmp && curl -fsS -o rb.sh {} && bash rb.sh",
            tb.rollback_script_url()
        ),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(tb.report().unwrap().node("a1").unwrap().version, "2.1.3");
}

#[test]
fn election_quorum_and_down() {
    let tb = start();
    let r = tb.report().unwrap();
    let leader = r.leader.clone().unwrap();
    let lname = r
        .nodes
        .iter()
        .find(|n| n.address == leader)
        .unwrap()
        .name
        .clone();
    let (code, out) = ssh(&tb, &lname, "systemctl stop dcos-mesos-master");
    assert_eq!(code, 0, "{out}");
    let (code, out) = ssh(&tb, &lname, "systemctl is-active dcos-mesos-master");
    assert_eq!((code, out.trim()), (3, "inactive"));
    assert!(
        std::net::TcpStream::connect(format!("{leader}:5050")).is_err(),
        "a stopped master refuses connections"
    );
    let r = tb.report().unwrap();
    let new_leader = r.leader.clone().expect("a new leader");
    assert_ne!(new_leader, leader);
    assert_eq!(r.quorum_loss_events, 0);
    assert_eq!(r.max_masters_down, 1);
    // Stop a second master: no quorum.
    let other = r
        .nodes
        .iter()
        .find(|n| n.address == new_leader)
        .unwrap()
        .name
        .clone();
    let (code, out) = ssh(&tb, &other, "systemctl stop dcos-mesos-master");
    assert_eq!(code, 0, "{out}");
    let third = r
        .nodes
        .iter()
        .find(|n| n.role == "master" && n.name != lname && n.name != other)
        .unwrap()
        .address
        .clone();
    let resp = http::get(&format!("{third}:5050"), "/master/redirect").unwrap();
    assert_eq!(resp.status, 503);
    assert!(resp.body.contains("No leader elected"));
    let r = tb.report().unwrap();
    assert_eq!(r.quorum_loss_events, 1);
    assert_eq!(r.leader, None);
    assert_eq!(r.max_masters_down, 2);
    let (code, _) = ssh(&tb, &lname, "systemctl start dcos-mesos-master");
    assert_eq!(code, 0);
    wait_until("a leader again", 5, || {
        tb.report().unwrap().leader.is_some()
    });

    // down: nothing left.
    let pids: Vec<i32> = std::fs::read_dir(tb.dir().join("pids"))
        .unwrap()
        .flatten()
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(pids.len(), 9);
    let addrs: Vec<String> = tb
        .nodes()
        .iter()
        .map(|n| format!("{}:2222", n.address))
        .collect();
    tb.down().unwrap();
    tb.down().unwrap();
    for p in pids {
        let alive = std::path::Path::new(&format!("/proc/{p}")).exists()
            && !std::fs::read_to_string(format!("/proc/{p}/stat"))
                .unwrap_or_default()
                .contains(") Z");
        assert!(!alive, "pid {p} still alive");
    }
    for a in addrs
        .iter()
        .chain([format!("{leader}:8080"), tb.def().ctl_addr()].iter())
    {
        assert!(
            std::net::TcpStream::connect(a).is_err(),
            "{a} still accepts connections"
        );
    }
    // The report survives down.
    assert_eq!(tb.report().unwrap().quorum_loss_events, 1);
}
