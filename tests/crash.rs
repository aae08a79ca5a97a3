//! Crash anywhere: the CLI kills itself (SIGKILL, from inside, rustup-style) at every named
//! checkpoint of a full upgrade and of a full rollback — each invocation dies at the first
//! checkpoint not visited before, and the next one continues from the saved state — and the
//! outcome is judged from the testbed's record. Needs `--features test-checkpoints`.
#![cfg(feature = "test-checkpoints")]

mod common;

use common::{assert_upgraded, strs, text, Env};
use std::path::Path;

/// The crash test's from-version (a patch to 2.2.1).
const FROM: &str = "2.2.0";

/// The checkpoints every upgrade (or rollback) of this plan must pass, derived from the plan:
/// each journal write around each step, each node-changing command, each gate.
fn expected(plan: &serde_json::Value, rollback: bool) -> Vec<String> {
    let mut out = Vec::new();
    let (started, done, target) = if rollback {
        ("undo_started", "undo_succeeded", FROM)
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
            if sid == "backup/zookeeper" {
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
            // A run killed before it was recorded (it is recorded once its locks are held) left
            // nothing to resume: the operator starts it again.
            let recorded = std::fs::read_dir(env.state.path().join("runs"))
                .map(|d| d.flatten().any(|e| e.path().join("run.json").exists()))
                .unwrap_or(false);
            args = if recorded { then } else { first };
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
    // A patch upgrade: no point of no return, so the rollback may undo every master
    // (the doors are tested in tests/rollback.rs). Three masters (standbys, then the leader),
    // a private canary and a public agent in the next batch: every kind of step and checkpoint
    // of the plan, at the least cost per kill.
    let env = Env::patch(3, 1, 1);
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
        assert_eq!(n.version, FROM, "{} back at the from-version", n.name);
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

/// The checkpoints of the frameworks phase for `apps` (their step ids), up or down.
fn frameworks_expected(steps: &[&str], rollback: bool) -> Vec<String> {
    let recs: &[&str] = if rollback {
        &["undo_started", "undo_succeeded"]
    } else {
        &["step_started", "step_noted", "step_succeeded"]
    };
    let mut out = Vec::new();
    for sid in steps {
        for rec in recs {
            out.push(format!("before-journal:{rec}:{sid}"));
            out.push(format!("after-journal:{rec}:{sid}"));
        }
        out.push(format!(
            "before-remote:{sid}:PUT the Marathon app definition"
        ));
        out.push(format!(
            "after-remote:{sid}:PUT the Marathon app definition"
        ));
    }
    out
}

/// Every app's definition as the testbed keeps it.
fn definitions(env: &Env) -> std::collections::HashMap<String, serde_json::Value> {
    env.report()
        .apps
        .into_iter()
        .map(|a| (a.id, a.definition))
        .collect()
}

#[test]
fn killed_at_every_checkpoint_of_the_frameworks_phase_every_app_ends_new_or_exactly_saved() {
    // Every node already at the target: the run is the frameworks phase (and its checks).
    let env = Env::new(1, 1, 0, &["m1", "a1"]);
    common::append(
        &env.inventory(),
        "\n[[frameworks]]\napp = \"/web\"\nimage = \"nginx:1.21.0\"\n\n[[frameworks]]\napp = \"/worker\"\nimage = \"example/worker:2.1.0\"\n",
    );
    let before = definitions(&env);
    let steps = ["frameworks/web/upgrade", "frameworks/worker/upgrade"];
    let run = env.run_args(&["--yes", "--skip-backup"]);
    let up = visit_all(
        &env,
        &strs(&run),
        &["resume", "--yes"],
        &env.state.path().join("visited-up"),
    );
    assert_eq!(env.status()["state"], "done");
    let after = definitions(&env);
    for (app, image) in [
        ("/web", "nginx:1.21.0"),
        ("/worker", "example/worker:2.1.0"),
    ] {
        let mut want = before[app].clone();
        want["container"]["docker"]["image"] = image.into();
        assert_eq!(after[app], want, "{app}: only the image changed");
    }
    // Whatever the kill point, the journaled previous definition is the one before the change.
    let s = env.status();
    for (sid, app) in steps.iter().zip(["/web", "/worker"]) {
        let step = s["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == *sid)
            .unwrap();
        assert_eq!(
            step["output"]["previous"]["container"], before[app]["container"],
            "{sid}: the new definition was recorded as previous"
        );
    }

    let down = visit_all(
        &env,
        &["rollback", "--yes"],
        &["rollback", "--yes"],
        &env.state.path().join("visited-down"),
    );
    assert_eq!(env.status()["state"], "rolled_back");
    assert_eq!(
        definitions(&env),
        before,
        "every app exactly at its saved definition"
    );
    for (visited, rollback) in [(&up, false), (&down, true)] {
        let missing: Vec<String> = frameworks_expected(&steps, rollback)
            .into_iter()
            .filter(|p| !visited.contains(p))
            .collect();
        assert!(
            missing.is_empty(),
            "never killed at {missing:#?}\nvisited: {visited:#?}"
        );
    }
}
