//! Crash anywhere: the CLI is killed (SIGKILL, from inside, rustup-style) at every named
//! checkpoint of a full upgrade and of a full rollback, resumed each time, and the outcome is
//! judged from the testbed's record. Needs `--features test-checkpoints`.
#![cfg(feature = "test-checkpoints")]

mod common;

use common::{assert_upgraded, text, Env};
use std::path::Path;

/// Runs one command with a checkpoint log (to enumerate the points it passes).
fn enumerate(env: &Env, args: &[&str], log: &Path) {
    let out = env
        .cmd(args)
        .env("DCOS_UPGRADE_CHECKPOINT_LOG", log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "enumeration run failed: {}",
        text(&out)
    );
}

/// Distinct checkpoint names in first-seen order.
fn points(log: &Path) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter(|l| seen.insert(l.to_string()))
        .map(String::from)
        .collect()
}

/// Kills the command at each point in turn (each time continuing where the last one died);
/// returns how many points were reached and killed.
fn visit(env: &Env, first: &[&str], then: &[&str], points: &[String]) -> usize {
    let marker = env.state.path().join("crash-marker");
    let mut killed = 0;
    for (i, p) in points.iter().enumerate() {
        let _ = std::fs::remove_file(&marker);
        let args = if i == 0 { first } else { then };
        let out = env
            .cmd(args)
            .env("DCOS_UPGRADE_CRASH_AT", p)
            .env("DCOS_UPGRADE_CRASH_MARKER", &marker)
            .output()
            .unwrap();
        let hit = std::fs::read_to_string(&marker).ok();
        if hit.as_deref() == Some(p.as_str()) {
            assert_eq!(out.status.code(), None, "killed by a signal at {p}");
            killed += 1;
        } else {
            eprintln!("point {p} not reached by this invocation: {}", text(&out));
        }
    }
    killed
}

#[test]
fn killed_at_every_checkpoint_of_an_upgrade_and_a_rollback_it_still_finishes_correctly() {
    // Enumerate the points on one cluster...
    let probe = Env::new(3, 4, 1, &[]);
    let inv = probe.inventory();
    let up_log = probe.state.path().join("up-points");
    enumerate(
        &probe,
        &[
            "run",
            "--inventory",
            inv.to_str().unwrap(),
            "--to",
            "2.2.1",
            "--ack-release-notes",
            "2.2.1",
            "--yes",
        ],
        &up_log,
    );
    let down_log = probe.state.path().join("down-points");
    enumerate(&probe, &["rollback", "--yes"], &down_log);
    let up = points(&up_log);
    let down = points(&down_log);
    drop(probe);

    // ...and visit each of them on another.
    let env = Env::new(3, 4, 1, &[]);
    let inv = env.inventory();
    let run = [
        "run",
        "--inventory",
        inv.to_str().unwrap(),
        "--to",
        "2.2.1",
        "--ack-release-notes",
        "2.2.1",
        "--yes",
    ];
    let killed_up = visit(&env, &run, &["resume", "--yes"], &up);
    let out = env.cmd(&["resume", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(env.status()["state"], "done");
    assert_upgraded(&env.report(), "2.2.1", &[], 1);

    let killed_down = visit(&env, &["rollback", "--yes"], &["rollback", "--yes"], &down);
    let out = env.cmd(&["rollback", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
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
        "crash points: upgrade {killed_up}/{} killed and survived, rollback {killed_down}/{} killed and survived",
        up.len(),
        down.len()
    );
    assert_eq!(killed_up, up.len(), "every upgrade point visited");
    assert_eq!(killed_down, down.len(), "every rollback point visited");
}
