//! Crash anywhere: the CLI kills itself (SIGKILL, from inside, rustup-style) at every named
//! checkpoint of a full upgrade and of a full rollback — each invocation dies at the first
//! checkpoint not visited before, and the next one continues from the saved state — and the
//! outcome is judged from the testbed's record. Needs `--features test-checkpoints`.
#![cfg(feature = "test-checkpoints")]

mod common;

use common::{assert_upgraded, text, Env};
use std::path::Path;

/// Distinct checkpoint names a normal (uncrashed) invocation passes.
fn enumerate(env: &Env, args: &[&str], log: &Path) -> usize {
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
    let text = std::fs::read_to_string(log).unwrap();
    let distinct: std::collections::HashSet<&str> = text.lines().collect();
    distinct.len()
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
    let probe = Env::new(3, 4, 1, &[]);
    let inv = probe.inventory();
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
    let up_points = enumerate(&probe, &run, &probe.state.path().join("up"));
    let down_points = enumerate(
        &probe,
        &["rollback", "--yes"],
        &probe.state.path().join("down"),
    );
    drop(probe);

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
    let up = visit_all(
        &env,
        &run,
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
        "crash points: upgrade {} visited, killed and survived (an uncrashed run passes {up_points}); rollback {} (uncrashed: {down_points})",
        up.len(),
        down.len()
    );
    // Every point an uncrashed run passes was visited (resumes add their own, e.g. run_resumed).
    assert!(up.len() >= up_points, "{} < {up_points}", up.len());
    assert!(down.len() >= down_points, "{} < {down_points}", down.len());
}
