//! Crash anywhere: the CLI kills itself (SIGKILL, from inside, rustup-style) at every named
//! checkpoint of a full upgrade and of a full rollback — each invocation dies at the first
//! checkpoint not visited before, and the next one continues from the saved state — and the
//! outcome is judged from the testbed's record. Needs `--features test-checkpoints`.
#![cfg(feature = "test-checkpoints")]

mod common;

use common::{assert_upgraded, strs, text, Env};
use std::path::Path;

/// The checkpoints every upgrade (or rollback) of this plan must pass, derived from the plan:
/// each journal write around each step, each node-changing command, each gate.
fn expected(plan: &serde_json::Value, rollback: bool) -> Vec<String> {
    let mut out = Vec::new();
    let (started, done, target) = if rollback {
        ("undo_started", "undo_succeeded", "2.1.3")
    } else {
        ("step_started", "step_succeeded", "2.2.1")
    };
    if rollback {
        out.push("before-journal:rollback_started:run".to_string());
        out.push("after-journal:rolled_back:run".to_string());
    }
    for phase in plan["phases"].as_array().unwrap() {
        let id = phase["id"].as_str().unwrap();
        let steps: Vec<&serde_json::Value> = phase["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["action"] != "skip")
            .collect();
        if steps.is_empty() {
            continue;
        }
        if !rollback {
            out.push(format!("phase:{id}"));
            if ["backup", "masters", "agents"].contains(&id) {
                out.push(format!("in-gate:before:{id}"));
            }
        }
        for s in steps {
            let sid = s["id"].as_str().unwrap();
            let node_step = id == "masters" || id == "agents";
            if rollback && !node_step {
                continue;
            }
            for rec in [started, done] {
                out.push(format!("before-journal:{rec}:{sid}"));
                out.push(format!("after-journal:{rec}:{sid}"));
            }
            if node_step {
                out.push(format!(
                    "before-remote:{sid}:start dcos_node_upgrade.sh detached"
                ));
                out.push(format!(
                    "after-remote:{sid}:start dcos_node_upgrade.sh detached"
                ));
                out.push(format!("in-gate:health:{sid}:{target}"));
            }
            if id == "masters" {
                out.push(format!("in-gate:quorum:{sid}"));
            }
            if id == "backup" {
                for what in [
                    "stop Exhibitor for the ZooKeeper backup",
                    "dcos-zk backup",
                    "start Exhibitor after the backup",
                ] {
                    out.push(format!("before-remote:{sid}:{what}"));
                    out.push(format!("after-remote:{sid}:{what}"));
                }
            }
        }
    }
    out
}

/// Runs `first`, then `then` again and again, each dying at a new checkpoint, until one
/// invocation passes no new checkpoint and ends. Returns the checkpoints visited (killed at).
fn visit_all(env: &Env, first: &[&str], then: &[&str], visited: &Path) -> Vec<String> {
    let mut kills = 0;
    let mut args = first;
    loop {
        let out = env
            .cmd(args)
            .env("DCOS_UPGRADE_CRASH_NEW", visited)
            .output()
            .unwrap();
        let seen = std::fs::read_to_string(visited).unwrap_or_default();
        let n = seen.lines().count();
        if out.status.code().is_none() {
            assert_eq!(n, kills + 1, "each kill is at exactly one new checkpoint");
            kills += 1;
            args = then;
            assert!(kills < 1000, "runaway");
            continue;
        }
        assert!(
            out.status.success(),
            "the invocation after {kills} kills failed: {}",
            text(&out)
        );
        return seen.lines().map(String::from).collect();
    }
}

#[test]
fn killed_at_every_checkpoint_of_an_upgrade_and_a_rollback_it_still_finishes_correctly() {
    let env = Env::new(3, 4, 1, &[]);
    let inv = env.inventory();
    let plan = env
        .cmd(&[
            "--output",
            "json",
            "plan",
            "--inventory",
            inv.to_str().unwrap(),
            "--to",
            "2.2.1",
        ])
        .output()
        .unwrap();
    assert!(plan.status.success(), "{}", text(&plan));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let run = env.run_args(&["--yes"]);
    let up = visit_all(
        &env,
        &strs(&run),
        &["resume", "--yes"],
        &env.state.path().join("visited-up"),
    );
    assert_eq!(env.status()["state"], "done");
    assert_upgraded(&env.report(), "2.2.1", &[], 1);

    let down = visit_all(
        &env,
        &["rollback", "--yes"],
        &["rollback", "--yes"],
        &env.state.path().join("visited-down"),
    );
    assert_eq!(env.status()["state"], "rolled_back");
    let r = env.report();
    for n in &r.nodes {
        assert_eq!(n.version, "2.1.3", "{} back at the from-version", n.name);
        assert_eq!(
            n.upgrade_attempts, 2,
            "{}: one upgrade and one rollback script start",
            n.name
        );
    }
    assert_eq!(r.quorum_loss_events, 0);
    assert!(r.max_agents_down <= 1);
    eprintln!(
        "crash points: upgrade {} visited, killed and survived; rollback {} visited, killed and survived",
        up.len(),
        down.len()
    );
    // Every journal write, node change and gate of the plan was a kill point.
    for (visited, rollback) in [(&up, false), (&down, true)] {
        let missing: Vec<String> = expected(&plan, rollback)
            .into_iter()
            .filter(|p| !visited.contains(p))
            .collect();
        assert!(
            missing.is_empty(),
            "never killed at {missing:#?}\nvisited: {visited:#?}"
        );
    }
}
