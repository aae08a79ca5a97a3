//! A resumed agent step keeps its "before" (issue 11): the agent id and running tasks journalled
//! before the script started are what the rejoin gate compares with, also when the run was killed
//! after the script and `resume` finds it already run.

mod common;

use common::{strs, text, Env};

#[test]
fn an_agent_with_a_new_id_fails_its_step_also_when_the_run_is_resumed_after_the_script() {
    let env = Env::new(1, 2, 0, &[]);
    env.tb.fault("a1", "agent-new-id").unwrap();
    let a1 = env.tb.node("a1").unwrap().address;
    // Killed (SIGKILL, no destructor) once a1's script has run, at the start of its health gate.
    let args = env.run_args(&["--yes"]);
    let crash = format!("in-gate:health:agents/{a1}/upgrade:2.2.1");
    let o = env
        .cmd(&strs(&args))
        .env("DCOS_UPGRADE_CRASH_AT", &crash)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), None, "killed at {crash}: {}", text(&o));
    let r = env.report();
    assert_eq!(r.node("a1").unwrap().upgrade_attempts, 1, "{r:#?}");
    assert_eq!(r.node("a1").unwrap().version, "2.2.1", "{r:#?}");

    let o = env.cmd(&["resume", "--yes"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("agent lost its tasks"), "{t}");
    assert!(t.contains(&a1), "names the agent: {t}");
    let r = env.report();
    assert_eq!(
        r.node("a1").unwrap().upgrade_attempts,
        1,
        "the script is not run again: {r:#?}"
    );
    assert_eq!(
        r.node("a2").unwrap().upgrade_attempts,
        0,
        "the run went on past the agent that lost its tasks: {r:#?}"
    );
}
