//! `plan` against a testbed whose agents report Mesos fault-domain zones: `--max-unavailable`
//! as a percentage, and `--max-unavailable-per-zone` keeping batches spread over the zones.

mod common;
use common::{text, Env};
use std::collections::HashMap;

/// Six private agents in three zones (a1 z1, a2 z2, a3 z3, a4 z1, ...), one master.
fn env() -> Env {
    let tb = dcos_sim::Testbed::builder()
        .masters(1)
        .agents(6)
        .public_agents(0)
        .activation_ms(400)
        .zones(&["z1", "z2", "z3"])
        .start()
        .expect("testbed up");
    common::append(
        &tb.inventory_path(),
        &format!("\n[timeouts]\n{}", common::FAST_TIMEOUTS),
    );
    Env {
        tb,
        state: tempfile::tempdir().expect("tempdir"),
    }
}

fn plan(env: &Env, json: bool, extra: &[&str]) -> String {
    let global: &[&str] = if json { &["--output", "json"] } else { &[] };
    let out = env.plan(global, extra);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn batches_never_take_more_agents_of_one_zone_than_allowed_and_show_their_zones() {
    let env = env();
    // The zone each agent really has, as the testbed hands them out.
    let zone_of: HashMap<String, String> = (1..=6)
        .map(|i| (format!("a{i}"), format!("z{}", (i - 1) % 3 + 1)))
        .collect();
    let address_zone: HashMap<String, String> = env
        .report()
        .nodes
        .iter()
        .filter_map(|n| zone_of.get(&n.name).map(|z| (n.address.clone(), z.clone())))
        .collect();
    assert_eq!(address_zone.len(), 6);

    let p: serde_json::Value = serde_json::from_str(&plan(
        &env,
        true,
        &["--max-unavailable", "4", "--max-unavailable-per-zone", "1"],
    ))
    .unwrap();
    assert_eq!(p["max_unavailable"], 4);
    assert_eq!(p["max_unavailable_per_zone"], 1);
    let agents = p["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ph| ph["id"] == "agents")
        .unwrap()["steps"]
        .as_array()
        .unwrap()
        .clone();
    let mut batches: HashMap<u64, Vec<String>> = HashMap::new();
    for s in &agents {
        let node = s["node"].as_str().unwrap();
        assert_eq!(
            s["zone"].as_str(),
            Some(address_zone[node].as_str()),
            "the plan names the zone the master reports for {node}: {s}"
        );
        batches
            .entry(s["batch"].as_u64().unwrap())
            .or_default()
            .push(address_zone[node].clone());
    }
    assert_eq!(batches[&0].len(), 1, "the canary is alone: {batches:?}");
    for (b, zones) in &batches {
        let mut distinct = zones.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            zones.len(),
            "batch {b} repeats a zone: {zones:?}"
        );
        assert!(zones.len() <= 4);
    }
    // Five agents after the canary, three zones, one per zone: two batches (3 + 2).
    assert_eq!(batches.len(), 3, "{batches:?}");

    // The table shows each batch with its zones.
    let human = plan(
        &env,
        false,
        &["--max-unavailable", "4", "--max-unavailable-per-zone", "1"],
    );
    assert!(human.contains("at most 1 per zone"), "{human}");
    assert!(human.contains("batch 1, zone z"), "{human}");

    // A percentage of the six agents, rounded down: 50% is 3, 10% is at least one.
    let p: serde_json::Value =
        serde_json::from_str(&plan(&env, true, &["--max-unavailable", "50%"])).unwrap();
    assert_eq!(p["max_unavailable"], 3);
    assert!(p.get("max_unavailable_per_zone").is_none());
    let p: serde_json::Value =
        serde_json::from_str(&plan(&env, true, &["--max-unavailable", "10%"])).unwrap();
    assert_eq!(p["max_unavailable"], 1);
}
