//! The interactive flow through a pseudo-terminal: answering the gate prompts continues, stops
//! and resumes a run (dialoguer on a real pty, driven by expectrl).

mod common;

use common::{assert_upgraded, Env};
use expectrl::process::unix::WaitStatus;
use expectrl::{Eof, Expect, Session};
use std::process::Command;
use std::time::Duration;

const DOWN: &str = "\x1b[B";

fn spawn(env: &Env, args: &[&str]) -> expectrl::session::OsSession {
    let mut c = Command::new(common::bin());
    c.arg("--state-dir").arg(env.state.path()).args(args);
    let mut s = Session::spawn(c).expect("spawn in a pty");
    s.set_expect_timeout(Some(Duration::from_secs(90)));
    s
}

fn exit_code(s: &expectrl::session::OsSession) -> i32 {
    match s.get_process().wait().expect("wait") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("not exited: {other:?}"),
    }
}

#[test]
fn answering_the_prompts_continues_stops_and_resumes() {
    let env = Env::new(3, 1, 0, &[]);
    let inv = env.inventory();
    let mut s = spawn(
        &env,
        &["run", "--inventory", inv.to_str().unwrap(), "--to", "2.2.1"],
    );
    s.expect("release notes").expect("release notes shown");
    s.expect("allow this upgrade?")
        .expect("release notes acknowledgement asked");
    s.send("y").unwrap();
    s.expect("before:backup").expect("backup gate asked");
    s.send("\r").unwrap(); // continue (the default)
    s.expect("before:masters").expect("masters gate asked");
    s.send(DOWN).unwrap(); // "stop here (resume later)"
    s.send("\r").unwrap();
    s.expect(Eof).unwrap();
    assert_eq!(exit_code(&s), 3);
    let r = env.report();
    assert!(
        r.nodes.iter().all(|n| n.upgrade_attempts == 0),
        "nothing upgraded yet"
    );
    assert_eq!(env.status()["state"], "paused");

    let mut s = spawn(&env, &["resume"]);
    s.expect("before:masters")
        .expect("masters gate asked again");
    s.send("\r").unwrap();
    s.expect("before:agents").expect("agents gate asked");
    s.send("\r").unwrap();
    s.expect(Eof).unwrap();
    assert_eq!(exit_code(&s), 0);
    assert_upgraded(&env.report(), "2.2.1", &[], 1);
}

#[test]
fn rollback_stops_before_a_step_without_a_safe_undo_and_asks() {
    let env = Env::new(3, 1, 0, &[]);
    // No node script back to 2.1.3: no upgraded node can be undone safely.
    let inv = env.inventory();
    let text = std::fs::read_to_string(&inv).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("rollback_script_url"))
        .collect();
    std::fs::write(&inv, kept.join("\n") + "\n").unwrap();
    let out = env.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));

    let mut s = spawn(&env, &["rollback"]);
    s.expect("Roll back run")
        .expect("rollback confirmation asked");
    s.send("y").unwrap();
    s.expect("has no safe undo").expect("the step is named");
    s.expect("Leave it as it is")
        .expect("asked before leaving it");
    s.send("n").unwrap();
    s.expect(Eof).unwrap();
    assert_eq!(exit_code(&s), 3);
    let st = env.status();
    assert_eq!(st["state"], "paused", "{st:#}");
    let r = env.report();
    assert!(
        r.nodes
            .iter()
            .all(|n| n.version == "2.2.1" && n.upgrade_attempts == 1),
        "{r:#?}"
    );

    // With --yes every such step is left as it is, on the record; the rollback ends, but never
    // as `rolled_back` while the nodes are still on the new version.
    let out = env
        .cmd(&["--output", "json", "rollback", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(events.contains("no safe undo"), "{events}");
    let st = env.status();
    assert_ne!(st["state"], "rolled_back", "{st:#}");
    let why = st["pause_reason"].as_str().unwrap_or_default();
    assert!(why.contains("NOT back"), "{why}");
    let r = env.report();
    assert!(
        r.nodes
            .iter()
            .all(|n| n.version == "2.2.1" && n.upgrade_attempts == 1),
        "left as they were: {r:#?}"
    );
}

#[test]
fn ctrl_c_at_a_prompt_exits_130_with_the_run_paused_and_resume_continues() {
    let env = Env::new(1, 1, 0, &[]);
    let inv = env.inventory();
    let mut s = spawn(
        &env,
        &["run", "--inventory", inv.to_str().unwrap(), "--to", "2.2.1"],
    );
    s.expect("allow this upgrade?")
        .expect("release notes acknowledgement asked");
    s.send("y").unwrap();
    s.expect("before:backup").expect("backup gate asked");
    s.send("\x03").unwrap(); // Ctrl-C
    s.expect("Continue with: dcos-upgrade --state-dir")
        .expect("the resume command is printed");
    s.expect(Eof).unwrap();
    assert_eq!(exit_code(&s), 130);
    assert!(
        env.report().nodes.iter().all(|n| n.upgrade_attempts == 0),
        "nothing upgraded"
    );
    let st = env.cmd(&["status"]).output().unwrap();
    assert_eq!(st.status.code(), Some(5), "{}", common::text(&st));
    let out = env.cmd(&["resume", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
}

/// One master and two agents whose gates give up after 3 s (a failing check fails at once).
fn quick_gates_env() -> Env {
    let timeouts = common::FAST_TIMEOUTS.replace("agent_gate_secs = 30", "agent_gate_secs = 3");
    Env::with_timeouts(1, 2, 0, &[], &timeouts)
}

/// At a prompt of `s`: a DC/OS check starts failing on `next`, the prompt is answered at once
/// (continue), and the run stops before `next` goes down, naming the check; left paused with
/// Ctrl-C, `done` is upgraded and `next` never went down.
fn a_check_failing_during_the_answer_stops_the_run_before(
    env: &Env,
    s: &mut expectrl::session::OsSession,
    done: &str,
    next: &str,
) {
    env.tb.fault(next, "check-fails").unwrap();
    s.send("\r").unwrap(); // continue (the default), at once
    s.expect("journald_dir_permissions")
        .expect("the failing check is named");
    s.expect("stop (resume later)")
        .expect("the failure's choices are asked");
    s.send("\x03").unwrap(); // Ctrl-C: the run is left paused there
    s.expect(Eof).unwrap();
    assert_eq!(exit_code(s), 130);
    let r = env.report();
    assert_eq!(r.node(done).unwrap().version, "2.2.1", "{r:#?}");
    assert_eq!(
        r.node(next).unwrap().upgrade_attempts,
        0,
        "{next} went down with a failing DC/OS check: {r:#?}"
    );
}

#[test]
fn after_the_agents_phase_gate_the_first_agent_is_checked_again_not_from_what_was_read_before_it() {
    // The last master's step reads the first agent's DC/OS checks ahead, beside its own gates
    // after its node. The agents phase's gate between the two is a person looking at the
    // cluster: a check that starts failing on that agent meanwhile stops the run before it goes
    // down, however quickly the gate is approved.
    let env = quick_gates_env();
    // Not `--yes`: the phases' gates are asked of a person at the terminal.
    let args = env.run_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut s = spawn(&env, &args);
    // The prompts themselves (the plan printed first names every gate).
    for phase in ["backup", "masters"] {
        s.expect(format!("about to start the {phase} phase").as_str())
            .expect("the phase's gate is asked");
        s.send("\r").unwrap(); // continue (the default)
    }
    s.expect("about to start the agents phase")
        .expect("the agents phase's gate is asked");
    a_check_failing_during_the_answer_stops_the_run_before(&env, &mut s, "m1", "a1");
}

/// `env` run at the terminal with `extra` and `pause_after = ["a1"]`: every phase's gate is
/// approved, then at the approval after a1 a check starts failing on a2 (as
/// [`a_check_failing_during_the_answer_stops_the_run_before`]).
fn after_the_approval_after_a1_a_check_fails_on_a2(env: &Env, extra: &[&str]) {
    let inv = env.inventory();
    let text = std::fs::read_to_string(&inv).unwrap();
    std::fs::write(&inv, format!("pause_after = [\"a1\"]\n{text}")).unwrap();
    // Not `--yes`: the approval after a1 is asked only of a person at the terminal.
    let args = env.run_args(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut s = spawn(env, &args);
    for gate in ["before:backup", "before:masters", "before:agents"] {
        s.expect(gate).expect("the phase's gate is asked");
        s.send("\r").unwrap(); // continue (the default)
    }
    s.expect("approve to go on with the next node")
        .expect("the approval after a1 is asked");
    a_check_failing_during_the_answer_stops_the_run_before(env, &mut s, "a1", "a2");
}

#[test]
fn after_an_approval_the_next_batch_is_checked_again_not_from_what_the_canary_read() {
    // Before a batch of agents, the canary's step reads the whole batch's DC/OS checks ahead,
    // beside its own gates after its node. An approval between the two (`pause_after`) drops
    // what it read: a check that starts failing on one of the batch while the operator looks
    // stops that agent before it goes down, however quickly the operator approves.
    let timeouts = common::FAST_TIMEOUTS.replace("agent_gate_secs = 30", "agent_gate_secs = 3");
    let env = Env::with_timeouts(1, 3, 0, &[], &timeouts);
    after_the_approval_after_a1_a_check_fails_on_a2(&env, &["--max-unavailable", "2"]);
}

#[test]
fn after_an_approval_the_next_node_is_checked_again_not_from_what_was_read_before_it() {
    // In a serial rollout the step before reads the next node's DC/OS checks ahead, beside its
    // own gates after its node. An approval between the two (`pause_after`) drops what it
    // read: a check that starts failing while the operator looks stops the run before that
    // node goes down, however quickly the operator approves.
    after_the_approval_after_a1_a_check_fails_on_a2(&quick_gates_env(), &[]);
}
