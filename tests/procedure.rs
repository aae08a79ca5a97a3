//! The documented procedure's own gates against the testbed (issue 11, "Gates"): Marathon's
//! deprecated features, its version and leader through and after the masters, DC/OS's own node
//! checks, CockroachDB (IAM) between masters, agents rejoining with their tasks.

mod common;

use common::{text, Env};

fn write(env: &Env, node: &str, rel: &str, body: &str) {
    let root = env.tb.node(node).expect("node").root;
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

#[test]
fn a_deprecated_marathon_feature_blocks_a_2_2_target_with_the_remedy() {
    let env = Env::new(3, 1, 0, &[]);
    write(
        &env,
        "m2",
        "var/lib/dcos/marathon/environment",
        "MARATHON_DEPRECATED_FEATURES=sanitize_accepted_resource_roles\n",
    );
    let out = env.run(&["--yes"]);
    let t = text(&out);
    assert!(!out.status.success(), "the run must be refused: {t}");
    assert!(t.contains("marathon.deprecated_features"), "{t}");
    assert!(
        t.contains("sanitize_accepted_resource_roles"),
        "names the feature: {t}"
    );
    let r = env.report();
    assert!(
        r.upgrade_order.is_empty(),
        "no node may be touched: {:?}",
        r.upgrade_order
    );
    // `check` (no target) shows it as a warning with the remedy of the 2.1 release notes.
    let out = env
        .cmd(&[
            "--output",
            "json",
            "check",
            "--inventory",
            env.inventory().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    let c = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "marathon.deprecated_features")
        .cloned()
        .expect("the check is listed");
    assert_eq!(c["passed"], false, "{c}");
    assert_eq!(c["severity"], "warning", "{c}");
    assert!(
        c["remedy"]
            .as_str()
            .unwrap()
            .contains("/var/lib/dcos/marathon/environment"),
        "{c}"
    );
}

#[test]
fn a_run_ends_with_marathon_at_the_target_version_and_a_leader_after_its_migration() {
    // No agents: the run's end follows the last master at once, so only a gate waits for the
    // migration that the last master's step starts (the Marathon leader moves to an upgraded
    // master when the last old one goes down).
    let env = Env::new(3, 0, 0, &[]);
    env.tb.fault("m1", "marathon-migration-slow").unwrap();
    let out = env.run(&["--yes"]);
    assert!(out.status.success(), "run failed: {}", text(&out));
    let r = env.report();
    common::assert_upgraded(&r, "2.2.1", &[], 0);
    assert!(
        !r.marathon_migrating,
        "the run ended while Marathon was still migrating: {r:#?}"
    );
    assert_eq!(r.marathon_storage_version, "1.11.24", "{r:#?}");
    assert!(
        r.marathon_leader.is_some(),
        "no Marathon leader at the end: {r:#?}"
    );
    assert_eq!(r.marathon_migrations_interrupted, 0, "{r:#?}");
}

#[test]
fn a_run_where_marathon_cannot_start_on_an_upgraded_master_fails() {
    let env = Env::new(3, 1, 0, &[]);
    env.tb.fault("m2", "marathon-cannot-start").unwrap();
    let out = env.run(&["--yes"]);
    let t = text(&out);
    assert!(!out.status.success(), "the run must not report done: {t}");
    assert!(t.contains("Marathon"), "names Marathon: {t}");
    let r = env.report();
    let m2 = r.node("m2").unwrap().address.clone();
    assert!(t.contains(&m2), "names the master {m2}: {t}");
    // Stopped at that master: no agent was touched after it.
    assert!(
        r.upgrade_order.iter().all(|u| !u.node.starts_with('a')),
        "the run went on to the agents: {:?}",
        r.upgrade_order
    );
}

/// The checklist entry `id` of `check --output json`.
fn check_entry(env: &Env, id: &str) -> serde_json::Value {
    let (_, checks) = common::check_json(&env.inventory(), &[]);
    common::check_entry(&checks, id).unwrap_or_else(|| panic!("no check {id}: {checks:#?}"))
}

#[test]
fn a_failing_dcos_node_check_blocks_check_and_stops_the_run_before_that_node_naming_it() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let env = Env::new(1, 2, 0, &[]);
    let a2 = env.tb.node("a2").unwrap().address;
    env.tb.fault("a2", "check-fails").unwrap();
    let c = check_entry(&env, "dcos.node_checks");
    assert_eq!(c["passed"], false, "{c}");
    assert_eq!(c["severity"], "blocker", "{c}");
    let found = c["found"].as_str().unwrap();
    assert!(
        found.contains("journald_dir_permissions") && found.contains(&a2),
        "{c}"
    );
    assert!(
        found.contains("systemd-journal"),
        "the check's output is shown: {c}"
    );
    env.tb.clear_fault("a2", "check-fails").unwrap();

    // The check starts failing during the run (after the precheck): the run stops before a2
    // goes down, naming the check and its output.
    let mut args = vec!["--output".to_string(), "json".to_string()];
    args.extend(env.run_args(&["--yes"]));
    let mut child = env
        .cmd(&common::strs(&args))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut injected = false;
    let mut events = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if !injected && v["event"] == "step_started" && v["node"].is_string() {
            env.tb.fault("a2", "check-fails").unwrap();
            injected = true;
        }
        events.push(v);
    }
    let out = child.wait_with_output().unwrap();
    assert!(injected);
    assert!(!out.status.success(), "the run must fail");
    let all = serde_json::to_string(&events).unwrap();
    assert!(
        all.contains("journald_dir_permissions") && all.contains("systemd-journal"),
        "the failure names the check and its output: {all}"
    );
    let r = env.report();
    assert_eq!(
        r.node("a2").unwrap().upgrade_attempts,
        0,
        "a2 must not be taken down: {:?}",
        r.upgrade_order
    );
}

#[test]
fn on_1_11_the_node_checks_run_through_dcos_diagnostics_and_a_failing_one_blocks() {
    // 1.10/1.11 have no dcos-check-runner: DC/OS's checks are `dcos-diagnostics check`
    // (facts §4). A tool that only knew dcos-check-runner would find no runner and pass.
    let tb = dcos_sim::Testbed::builder()
        .masters(1)
        .agents(1)
        .public_agents(0)
        .version("1.11.12")
        .upgrade_to("1.12.4")
        .start()
        .expect("testbed starts");
    let a1 = tb.node("a1").unwrap();
    let bin = a1.root.join("opt/mesosphere/bin");
    assert!(bin.join("dcos-diagnostics").exists() && !bin.join("dcos-check-runner").exists());
    let env = Env::adopt(tb);
    let c = check_entry(&env, "dcos.node_checks");
    assert_eq!(c["passed"], true, "healthy: {c}");
    env.tb.fault("a1", "check-fails").unwrap();
    let c = check_entry(&env, "dcos.node_checks");
    assert_eq!(c["passed"], false, "{c}");
    assert_eq!(c["severity"], "blocker", "{c}");
    let found = c["found"].as_str().unwrap();
    assert!(
        found.contains("journald_dir_permissions") && found.contains(&a1.address),
        "{c}"
    );
}

/// A run with JSON output: its exit status and events.
fn run_json(env: &Env) -> (bool, Vec<serde_json::Value>, String) {
    let mut args = vec!["--output".to_string(), "json".to_string()];
    args.extend(env.run_args(&["--yes"]));
    let out = env.cmd(&common::strs(&args)).output().unwrap();
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out.status.success(), events, text(&out))
}

/// Three masters at `from` (target 2.2.1) whose CockroachDB stays under-replicated for 8 s after
/// each master is back: longer than a master's own health gates take, so a run that does not
/// wait for it would take the next master down while it lags.
fn slow_cockroach(from: &str) -> Env {
    let tb = dcos_sim::Testbed::builder()
        .masters(3)
        .agents(0)
        .public_agents(0)
        .version(from)
        .upgrade_to("2.2.1")
        .activation_ms(400)
        .crdb_catch_up_ms(8000)
        .start()
        .expect("testbed up");
    common::append(
        &tb.inventory_path(),
        &format!("\n[timeouts]\n{}", common::FAST_TIMEOUTS),
    );
    Env::adopt(tb)
}

#[test]
fn no_second_master_goes_down_while_cockroachdb_ranges_are_under_replicated() {
    let env = slow_cockroach("2.1.3");
    let (ok, events, t) = run_json(&env);
    assert!(ok, "run failed: {t}");
    let r = env.report();
    common::assert_upgraded(&r, "2.2.1", &[], 0);
    assert_eq!(
        r.iam_unavailable_events, 0,
        "a master went down while IAM ranges were under-replicated: {r:#?}"
    );
    let waited = events.iter().any(|e| {
        e["event"] == "step_progress"
            && e["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("waiting for CockroachDB")
    });
    assert!(waited, "the run never waited for CockroachDB: {t}");
}

#[test]
fn a_rollback_waits_for_cockroachdb_after_each_master_before_the_next_goes_down() {
    // The patch path 2.2.0 -> 2.2.1 has no point of no return: the rollback undoes every master.
    let env = slow_cockroach("2.2.0");
    let (ok, _events, t) = run_json(&env);
    assert!(ok, "run failed: {t}");
    let out = env
        .cmd(&["--output", "json", "rollback", "--yes"])
        .output()
        .unwrap();
    let t = common::text(&out);
    assert_eq!(out.status.code(), Some(0), "rollback: {t}");
    let r = env.report();
    for n in &r.nodes {
        assert_eq!(n.version, "2.2.0", "{} is not back: {r:#?}", n.name);
    }
    assert_eq!(r.quorum_loss_events, 0, "{r:#?}");
    assert_eq!(
        r.iam_unavailable_events, 0,
        "the rollback took a master down while IAM ranges were under-replicated: {r:#?}"
    );
    assert!(
        t.contains("waiting for CockroachDB"),
        "the rollback never waited for CockroachDB: {t}"
    );
}

#[test]
fn an_agent_that_comes_back_with_a_new_id_fails_as_agent_lost_its_tasks() {
    let env = Env::new(1, 2, 0, &[]);
    env.tb.fault("a1", "agent-new-id").unwrap();
    let (ok, _events, t) = run_json(&env);
    assert!(!ok, "the run must fail: {t}");
    assert!(t.contains("agent lost its tasks"), "{t}");
    let a1 = env.tb.node("a1").unwrap().address;
    assert!(t.contains(&a1), "names the agent {a1}: {t}");
    let r = env.report();
    assert_eq!(
        r.node("a2").unwrap().upgrade_attempts,
        0,
        "the run went on past the failed agent: {:?}",
        r.upgrade_order
    );
}

#[test]
fn check_shows_zookeeper_mntr_figures_of_every_master() {
    let env = Env::new(3, 0, 0, &[]);
    let c = check_entry(&env, "zookeeper.mntr");
    assert_eq!(
        c["passed"], true,
        "a quiet testbed ZooKeeper raises no warning: {c}"
    );
    let found = c["found"].as_str().unwrap();
    for m in ["m1", "m2", "m3"] {
        let a = env.tb.node(m).unwrap().address;
        assert!(found.contains(&a), "{m} ({a}) missing: {c}");
        assert!(c["data"][&a]["zk_approximate_data_size"].is_string(), "{c}");
        assert!(c["data"][&a]["zk_outstanding_requests"].is_string(), "{c}");
    }
    assert!(
        found.contains("leader") && found.contains("follower"),
        "{c}"
    );
    assert!(found.contains("latency avg/max"), "{c}");
}
