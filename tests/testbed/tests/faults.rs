//! Faults that lie: a master whose leader redirect is stale while its metrics stay truthful.

mod common;

use common::{get_json, wait_until};
use dcos_sim::http;
use dcos_sim::Testbed;

/// The host named by a master's `path` redirect (`//host:5050`), or `None` for another answer.
fn redirect_host(addr: &str, path: &str) -> Option<String> {
    let r = http::get(&format!("{addr}:5050"), path).unwrap();
    if r.status != 307 {
        return None;
    }
    let loc = r.header("location")?.trim_start_matches("//").to_string();
    loc.split(':').next().map(str::to_string)
}

fn elected(addr: &str) -> f64 {
    get_json(&format!("{addr}:5050"), "/metrics/snapshot")["master/elected"]
        .as_f64()
        .unwrap()
}

#[test]
fn stale_redirect_names_a_standby_while_elected_stays_true() {
    let tb = Testbed::builder()
        // The simulator's own endpoints are tested from this machine: the flat network.
        .network(dcos_sim::Network::Flat)
        .masters(3)
        .agents(1)
        .public_agents(0)
        .activation_ms(300)
        .start()
        .expect("testbed starts");
    let masters: Vec<String> = tb
        .nodes()
        .into_iter()
        .filter(|n| n.role == dcos_sim::Role::Master)
        .map(|n| n.address)
        .collect();
    let leader = tb.report().unwrap().leader.expect("a leader");
    let standby = masters.iter().find(|m| **m != leader).unwrap().clone();
    let name_of = |addr: &str| {
        tb.nodes()
            .into_iter()
            .find(|n| n.address == addr)
            .unwrap()
            .name
    };

    // Truthful first: every master names the leader.
    for m in &masters {
        assert_eq!(
            redirect_host(m, "/master/redirect").as_deref(),
            Some(leader.as_str())
        );
    }

    // A standby and the leader itself, both with the fault: neither names the leader, on either
    // path, and every other master still does.
    tb.fault(&name_of(&standby), "stale-redirect").unwrap();
    tb.fault(&name_of(&leader), "stale-redirect").unwrap();
    for faulty in [&standby, &leader] {
        for path in ["/master/redirect", "/redirect"] {
            let named = redirect_host(faulty, path).expect("a redirect");
            assert_ne!(named, leader, "{faulty}{path} must name a stale leader");
            assert!(
                masters.contains(&named),
                "{faulty}{path} names a master: {named}"
            );
        }
    }
    for m in masters.iter().filter(|m| **m != standby && **m != leader) {
        assert_eq!(
            redirect_host(m, "/master/redirect").as_deref(),
            Some(leader.as_str())
        );
    }
    // master/elected stays the truth on every master.
    for m in &masters {
        assert_eq!(elected(m), if *m == leader { 1.0 } else { 0.0 }, "{m}");
    }
    assert_eq!(
        tb.report().unwrap().leader.as_deref(),
        Some(leader.as_str())
    );

    // The leader moves: the faulty standby still names a master that is not the new leader.
    let r = http::post(
        tb.ctl_url().trim_start_matches("http://"),
        &format!("/node/{}/unit/dcos-mesos-master/stop", name_of(&leader)),
        "",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let mut new_leader = None;
    wait_until("a new leader", 10, || {
        new_leader = tb.report().unwrap().leader.filter(|l| *l != leader);
        new_leader.is_some()
    });
    let new_leader = new_leader.unwrap();
    let named = redirect_host(&standby, "/master/redirect").unwrap();
    assert_ne!(
        named, new_leader,
        "the faulty standby names a stale leader after the move"
    );
    assert_eq!(elected(&new_leader), 1.0);

    // Cleared, the redirect is the truth again.
    tb.clear_fault(&name_of(&standby), "stale-redirect")
        .unwrap();
    assert_eq!(
        redirect_host(&standby, "/master/redirect").as_deref(),
        Some(new_leader.as_str())
    );
}
