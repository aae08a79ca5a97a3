//! Tests for `run`, `resume`, `status`, `log` and the lock, against the testbed cluster
//! (real sshd per node, real HTTP), judged by the testbed's own record of what happened.

mod common;

use common::{assert_upgraded, strs, text, Env};

fn plan_json(env: &Env, extra: &[&str]) -> serde_json::Value {
    let out = env.plan(&["--output", "json"], extra);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn phase_nodes(plan: &serde_json::Value, phase: &str, action: &str) -> Vec<String> {
    plan["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == phase)
        .unwrap()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == action)
        .map(|s| s["node"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_full_upgrade_follows_the_plan_leader_last_and_keeps_quorum() {
    let env = Env::new(3, 4, 1, &[]);
    let plan = plan_json(&env, &["--max-unavailable", "2"]);
    let leader_at_start = env.report().leader.expect("a leader before the run");
    let masters = phase_nodes(&plan, "masters", "upgrade");
    assert_eq!(
        masters.last(),
        Some(&leader_at_start),
        "the plan puts the leader last"
    );
    let agents = phase_nodes(&plan, "agents", "upgrade");
    assert_eq!(plan["to"], "2.2.1");

    let out = env.run(&["--yes", "--max-unavailable", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let r = env.report();
    assert_upgraded(&r, "2.2.1", &[], 2);
    let addr = |name: &str| r.node(name).unwrap().address.clone();
    let order: Vec<String> = r.upgrade_order.iter().map(|u| addr(&u.node)).collect();
    assert_eq!(
        order[..3],
        masters[..],
        "masters upgraded in the planned order"
    );
    // The leader at the start was upgraded last among masters, and was still leader then.
    assert!(r.upgrade_order[2].was_leader, "{:#?}", r.upgrade_order);
    assert!(!r.upgrade_order[0].was_leader && !r.upgrade_order[1].was_leader);
    // Agents: the canary first, the public agent last; the batch of two in any order.
    assert_eq!(order[3], agents[0], "canary first");
    assert_eq!(order.last(), agents.last(), "public agent last");
    let mut mid: Vec<String> = order[4..7].to_vec();
    let mut planned: Vec<String> = agents[1..4].to_vec();
    mid.sort();
    planned.sort();
    assert_eq!(mid, planned);

    let st = env.status();
    assert_eq!(st["state"], "done");
    assert!(st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["state"] == "done" || s["state"] == "skipped"));
    // The audit log names every node-changing command with its exit status.
    let log = env.cmd(&["--output", "json", "log"]).output().unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&log.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let starts = lines
        .iter()
        .filter(|e| {
            e["phase"] == "outcome" && e["description"] == "start dcos_node_upgrade.sh detached"
        })
        .count();
    assert_eq!(starts, 8);
    assert!(lines
        .iter()
        .filter(|e| e["phase"] == "outcome")
        .all(|e| e["exit_status"] == 0));
}

#[test]
fn nodes_already_at_the_target_are_skipped_and_untouched() {
    let env = Env::new(3, 2, 1, &["m2", "a2"]);
    let plan = plan_json(&env, &[]);
    let m2 = env.tb.node("m2").unwrap().address;
    let a2 = env.tb.node("a2").unwrap().address;
    assert!(phase_nodes(&plan, "masters", "skip").contains(&m2));
    assert!(phase_nodes(&plan, "agents", "skip").contains(&a2));
    let skip = plan["phases"][3]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["node"] == m2.as_str())
        .unwrap()
        .clone();
    assert_eq!(skip["reason"], "already at 2.2.1");

    let out = env.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_upgraded(&env.report(), "2.2.1", &["m2", "a2"], 1);
}

#[test]
fn without_a_terminal_or_yes_the_run_stops_at_the_first_gate_and_resume_continues() {
    let env = Env::new(3, 1, 0, &[]);
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("resume") && err.contains("--yes"),
        "says how to continue: {err}"
    );
    // Nothing changed on any node.
    let r = env.report();
    assert!(r
        .nodes
        .iter()
        .all(|n| n.upgrade_attempts == 0 && n.version == "2.1.3"));
    assert_eq!(env.status()["state"], "paused");

    let out = env.cmd(&["resume", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_upgraded(&env.report(), "2.2.1", &[], 1);
}

fn is_script_started(e: &serde_json::Value, phase: &str) -> bool {
    e["event"] == "step_progress"
        && e["step"].as_str().unwrap_or("").starts_with(phase)
        && e["message"]
            .as_str()
            .unwrap_or("")
            .contains("dcos_node_upgrade.sh started")
}

#[test]
fn kill_9_while_a_master_script_runs_then_resume_finishes_without_a_second_start() {
    let env = Env::new(3, 2, 0, &[]);
    env.kill_when(&strs(&env.run_args(&["--yes"])), |e| {
        is_script_started(e, "masters/")
    });
    // The detached script survives the CLI and finishes on its own node.
    let out = env.cmd(&["resume", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_upgraded(&env.report(), "2.2.1", &[], 1);
}

#[test]
fn kill_9_in_the_agents_phase_then_resume_finishes_without_a_second_start() {
    let env = Env::new(3, 3, 0, &[]);
    // Killed right after an agent step is journaled as started, before its script starts.
    env.kill_when(&strs(&env.run_args(&["--yes"])), |e| {
        e["event"] == "step_started" && e["step"].as_str().unwrap_or("").starts_with("agents/")
    });
    // And once more while the next agent's script runs.
    env.kill_when(&["resume", "--yes"], |e| is_script_started(e, "agents/"));
    let out = env.cmd(&["resume", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_upgraded(&env.report(), "2.2.1", &[], 1);
}

#[test]
fn a_second_run_on_the_same_state_directory_is_refused_with_the_holders_run_id() {
    let env = Env::new(1, 0, 0, &[]);
    let mut first = env
        .cmd(&[&["--output", "json"][..], &strs(&env.run_args(&["--yes"]))].concat())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first run announced itself (it holds the lock from before that).
    let stdout = first.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let started: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(started["event"], "run_started");
    let run_id = started["run"].as_str().unwrap().to_string();
    let second = env.run(&["--yes"]);
    assert_eq!(second.status.code(), Some(4), "{}", text(&second));
    assert!(String::from_utf8_lossy(&second.stderr).contains(&run_id));
    for _ in lines {}
    assert!(first.wait().unwrap().success());
    // One master: its upgrade necessarily interrupts quorum, so only versions and starts count.
    let r = env.report();
    assert_eq!(r.nodes[0].version, "2.2.1");
    assert_eq!(r.nodes[0].upgrade_attempts, 1);
}

#[test]
fn public_agents_are_found_by_the_public_ip_attribute_when_the_inventory_does_not_say() {
    let env = Env::new(1, 2, 1, &[]);
    let inv = env.inventory();
    let text = std::fs::read_to_string(&inv).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("public = "))
        .collect();
    std::fs::write(&inv, kept.join("\n") + "\n").unwrap();
    let plan = plan_json(&env, &[]);
    let p1 = env.tb.node("p1").unwrap().address;
    let agents = plan["phases"][4]["steps"].as_array().unwrap();
    let role_of = |addr: &str| agents.iter().find(|s| s["node"] == addr).unwrap()["role"].clone();
    assert_eq!(
        role_of(&p1),
        "public_agent",
        "from the leader's /slaves attributes"
    );
    assert_eq!(role_of(&env.tb.node("a1").unwrap().address), "agent");
    assert_eq!(
        agents.last().unwrap()["node"],
        p1.as_str(),
        "public agents last"
    );
}

/// `-v`: every SSH command is logged with its node, duration and exit status, inside the span of
/// the step it belongs to (issue 15), and no token or secret is in those lines.
#[test]
fn verbose_logs_each_ssh_command_inside_its_step() {
    let env = Env::new(1, 1, 0, &[]);
    let args = env.run_args(&["--yes"]);
    let mut all = vec!["-v"];
    all.extend(strs(&args));
    let out = env.cmd(&all).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let m1 = env.report().node("m1").unwrap().address.clone();
    let step = format!("step{{id=masters/{m1}/upgrade}}");
    assert!(
        err.lines().any(|l| l.contains(&step)
            && l.contains(" ssh ")
            && l.contains(&format!("node={m1}"))
            && l.contains(" ms=")
            && l.contains("status=Some(0)")),
        "no SSH command logged inside {step}:\n{err}"
    );
    assert!(!err.contains("eyJ"), "a token in the log");
}
