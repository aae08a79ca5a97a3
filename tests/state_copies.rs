//! The state directory's identity is part of every lock (issue 13, defects 4 and 10): two copies
//! of one state directory cannot both drive a run, and a state directory deleted under a run
//! stops it at once, leaving the cluster lock for a take-over.

mod common;

use common::{assert_upgraded, text, Env};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// Starts `args` with JSON output; returns the child and its event lines.
fn spawn(
    env: &Env,
    state: &std::path::Path,
    args: &[&str],
) -> (
    std::process::Child,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let mut c = std::process::Command::new(common::bin());
    c.arg("--state-dir")
        .arg(state)
        .args(["--output", "json"])
        .args(args);
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = env;
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

fn wait_for(
    lines: &mut std::io::Lines<BufReader<std::process::ChildStdout>>,
    what: impl Fn(&serde_json::Value) -> bool,
) {
    for l in lines.by_ref() {
        let v: serde_json::Value = serde_json::from_str(&l.unwrap()).unwrap();
        if what(&v) {
            return;
        }
    }
    panic!("the process ended before the awaited event");
}

fn master_step_started(v: &serde_json::Value) -> bool {
    v["event"] == "step_started"
        && v["step"]
            .as_str()
            .is_some_and(|s| s.starts_with("masters/"))
}

#[test]
fn two_copies_of_one_state_directory_cannot_both_drive_the_run() {
    let env = Env::new(3, 1, 0, &[]);
    // A run that stops at its first gate, then a copy of its state directory.
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let copy = tempfile::tempdir().unwrap();
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", env.state.path().display()))
        .arg(copy.path())
        .status()
        .unwrap();
    assert!(st.success());

    let (mut first, mut events) = spawn(&env, env.state.path(), &["resume", "--yes"]);
    wait_for(&mut events, master_step_started);
    let mut c = std::process::Command::new(common::bin());
    let second = c
        .arg("--state-dir")
        .arg(copy.path())
        .args(["resume", "--yes"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        second.status.code(),
        Some(4),
        "the copy took the lock too: {}",
        text(&second)
    );
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("holds the cluster lock"),
        "{}",
        text(&second)
    );
    for _ in events.by_ref() {}
    let status = first.wait().unwrap();
    assert!(status.success(), "the first resume failed: {status}");
    assert_upgraded(&env.report(), "2.2.1", &[], 1);
}

#[test]
fn a_state_directory_deleted_mid_run_stops_it_and_leaves_the_cluster_lock() {
    let env = Env::new(3, 1, 0, &[]);
    let args = env.run_args(&["--yes"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut run, mut events) = spawn(&env, env.state.path(), &args);
    wait_for(&mut events, master_step_started);
    // The run writes into the directory while it is deleted: a file that appears after the
    // listing makes one removal fail with "not empty"; remove again until it is gone.
    for tries in 0.. {
        match std::fs::remove_dir_all(env.state.path()) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => assert!(tries < 50, "cannot delete the state directory: {e}"),
        }
    }
    for _ in events.by_ref() {}
    let mut err = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut err).unwrap();
    let status = run.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "the run went on without its state: {err}"
    );
    assert!(err.contains("--take-over-lock"), "{err}");
    // It did not go on: not every node was upgraded, and the cluster lock names the run.
    let r = env.report();
    assert!(
        r.nodes.iter().any(|n| n.version != "2.2.1"),
        "the run finished without a state directory: {r:#?}"
    );
    let info = env
        .tb
        .dir()
        .join("nodes/m1/root/var/lib/dcos-upgrade/cluster.lock/info");
    let info = std::fs::read_to_string(&info).expect("the cluster lock was left on m1");
    assert!(info.lines().count() >= 4, "{info}");
}
