//! Admin Router on a firewalled network: from the host, :80 reaches the leading Mesos master,
//! the Marathon leader, the local Exhibitor and any agent.

mod common;

use common::wait_until;
use dcos_sim::{http, Network, Testbed};

#[test]
fn admin_router_proxies_to_the_leaders_exhibitor_and_agents_from_the_host() {
    let tb = Testbed::builder()
        .masters(3)
        .agents(2)
        .public_agents(0)
        .activation_ms(300)
        .network(Network::Firewalled)
        .start()
        .expect("testbed starts");
    let ar = |m: &str| format!("{}:80", tb.node(m).unwrap().address);
    let get = |addr: &str, path: &str| {
        let r = http::get(addr, path).unwrap_or_else(|e| panic!("GET {addr}{path}: {e}"));
        assert_eq!(r.status, 200, "GET {addr}{path}: {}", r.body);
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()
    };
    // Every master's Admin Router reaches the leading Mesos master and the Marathon leader.
    for m in ["m1", "m2", "m3"] {
        let metrics = get(&ar(m), "/mesos/metrics/snapshot");
        assert_eq!(
            metrics["master/elected"], 1.0,
            "/mesos/ on {m} is the leader"
        );
        assert_eq!(get(&ar(m), "/marathon/v2/info")["elected"], true);
        assert_eq!(
            get(&ar(m), "/service/marathon/v2/apps")["apps"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        let zk = get(&ar(m), "/exhibitor/exhibitor/v1/cluster/status");
        assert_eq!(zk.as_array().unwrap().len(), 3);
    }
    // An agent by its Mesos id.
    let slaves = get(&ar("m2"), "/mesos/slaves");
    let slaves = slaves["slaves"].as_array().unwrap();
    assert_eq!(slaves.len(), 2);
    for s in slaves {
        let id = s["id"].as_str().unwrap();
        let m = get(&ar("m2"), &format!("/agent/{id}/metrics/snapshot"));
        assert_eq!(m["slave/registered"], 1.0, "agent {id}");
    }
    assert_eq!(
        http::get(&ar("m1"), "/agent/no-such-agent/state")
            .unwrap()
            .status,
        404
    );
    assert_eq!(http::get(&ar("m1"), "/no/such/path").unwrap().status, 404);

    // The leader moves: /mesos/ follows it.
    let old = tb.report().unwrap().leader.unwrap();
    let old_name = tb
        .nodes()
        .into_iter()
        .find(|n| n.address == old)
        .unwrap()
        .name;
    let ctl = tb.ctl_url().trim_start_matches("http://").to_string();
    let r = http::post(
        &ctl,
        &format!("/node/{old_name}/unit/dcos-mesos-master/stop"),
        "",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let other = ["m1", "m2", "m3"]
        .into_iter()
        .find(|m| *m != old_name)
        .unwrap();
    wait_until("a new leader behind /mesos/", 10, || {
        http::get(&ar(other), "/mesos/metrics/snapshot")
            .map(|r| r.status == 200 && r.body.contains("\"master\\/elected\":1.0"))
            .unwrap_or(false)
    });
    let state = get(&ar(other), "/mesos/state");
    assert_ne!(state["hostname"], old, "the new leader answers");
}

/// Every node DC/OS knows (issue 11): `/system/health/v1/nodes` lists the masters and the agents
/// the leader lists; an agent with the `unreachable` fault leaves `/slaves`, `/state`'s `slaves`
/// and the node list, and is only counted (`unreachable_slaves`, `master/slaves_unreachable`);
/// `/system/v1/agent/<id>/` reaches a listed agent's own Admin Router.
#[test]
fn an_unreachable_agent_is_counted_not_listed_and_the_node_lists_follow() {
    let tb = Testbed::builder()
        .masters(1)
        .agents(2)
        .public_agents(1)
        .activation_ms(300)
        .start()
        .expect("testbed starts");
    let ar = format!("{}:80", tb.node("m1").unwrap().address);
    let get = |path: &str| {
        let r = http::get(&ar, path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()
    };
    let hosts = |v: &serde_json::Value, list: &str, key: &str| -> Vec<String> {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n[key].as_str().unwrap().to_string())
            .collect()
    };
    let addr = |n: &str| tb.node(n).unwrap().address;
    let nodes = get("/system/health/v1/nodes");
    let mut listed = hosts(&nodes, "nodes", "host_ip");
    listed.sort();
    assert_eq!(listed, [addr("m1"), addr("a1"), addr("a2"), addr("p1")]);
    let role_of = |n: &str| {
        nodes["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["host_ip"] == addr(n).as_str())
            .unwrap()["role"]
            .clone()
    };
    assert_eq!(role_of("m1"), "master");
    assert_eq!(role_of("p1"), "agent_public");
    // An agent's dcos-version.json through the master, by its id.
    let slaves = get("/mesos/slaves");
    let id = slaves["slaves"][0]["id"].as_str().unwrap().to_string();
    let v = get(&format!(
        "/system/v1/agent/{id}/dcos-metadata/dcos-version.json"
    ));
    assert!(v["version"].is_string(), "{v}");

    tb.fault("a2", "unreachable").unwrap();
    let slaves = get("/mesos/slaves");
    assert!(!hosts(&slaves, "slaves", "hostname").contains(&addr("a2")));
    assert_eq!(slaves["slaves"].as_array().unwrap().len(), 2);
    let state = get("/mesos/state");
    assert_eq!(state["unreachable_slaves"], 1.0);
    assert_eq!(state["slaves"].as_array().unwrap().len(), 2);
    assert_eq!(
        get("/mesos/metrics/snapshot")["master/slaves_unreachable"],
        1.0
    );
    assert!(!hosts(&get("/system/health/v1/nodes"), "nodes", "host_ip").contains(&addr("a2")));
    tb.clear_fault("a2", "unreachable").unwrap();
    assert_eq!(
        get("/mesos/metrics/snapshot")["master/slaves_unreachable"],
        0.0
    );
}
