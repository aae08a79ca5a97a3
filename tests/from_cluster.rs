//! The journal's copy on the masters, and `resume --from-cluster` / `status --from-cluster` from a
//! state directory that never saw the run: a run killed (kill -9) mid-way through the masters,
//! its state directory deleted, is continued from another one; every node ends at the target,
//! upgraded once, with quorum kept (judged by the testbed's record). A tampered copy is ignored
//! while the other masters agree, and refused when no majority does.

mod common;

use common::{append, assert_upgraded, text, Env};
use std::cell::Cell;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The journal's copy of the run on master `name`.
fn copy_on(env: &Env, name: &str) -> PathBuf {
    let d = env
        .tb
        .dir()
        .join("nodes")
        .join(name)
        .join("root/var/lib/dcos-upgrade/journal");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.pop().unwrap()
}

/// A dcos-upgrade command on another state directory (no terminal).
fn cmd_in(state: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(common::bin());
    c.arg("--state-dir")
        .arg(state)
        .args(args)
        .stdin(Stdio::null());
    c
}

fn status_from_cluster(env: &Env, state: &Path) -> Output {
    let inv = env.inventory();
    cmd_in(
        state,
        &[
            "--output",
            "json",
            "status",
            "--from-cluster",
            "--inventory",
            inv.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap()
}

/// Changes the step id in the second line of a copy (the first journal record), keeping the
/// line well-formed.
fn tamper(path: &Path) {
    let t = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = t.lines().map(String::from).collect();
    let mut v: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    let body = v["body"].as_str().unwrap().replace("precheck", "prechecx");
    assert_ne!(body, v["body"].as_str().unwrap(), "{}", lines[1]);
    v["body"] = body.into();
    lines[1] = v.to_string();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_run_killed_mid_masters_is_resumed_from_the_cluster_by_a_fresh_state_directory() {
    let env = Env::new(3, 1, 0, &[]);
    append(&env.inventory(), "\n[lock]\nstale_secs = 30\n");
    // Killed while the second master's node script runs.
    let started = Cell::new(0);
    let args = env.run_args(&["--yes"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.kill_when(&args, |e| {
        let hit = e["event"] == "step_progress"
            && e["step"].as_str().unwrap_or("").starts_with("masters/")
            && e["message"]
                .as_str()
                .unwrap_or("")
                .contains("dcos_node_upgrade.sh started");
        if hit {
            started.set(started.get() + 1);
        }
        started.get() == 2
    });
    let killed = Instant::now();
    std::fs::remove_dir_all(env.state.path()).unwrap();

    let inv = env.inventory();
    let resume = |state: &Path| {
        cmd_in(
            state,
            &[
                "resume",
                "--from-cluster",
                "--inventory",
                inv.to_str().unwrap(),
                "--yes",
            ],
        )
        .output()
        .unwrap()
    };
    // The killed run's heartbeat is still fresh (beaten every 7 s): its lock is not taken over.
    let early = tempfile::tempdir().unwrap();
    let out = resume(early.path());
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("holds the cluster lock"),
        "{}",
        text(&out)
    );
    // Every master holds the copy, 0600, and agrees.
    let copies: Vec<PathBuf> = ["m1", "m2", "m3"]
        .iter()
        .map(|m| copy_on(&env, m))
        .collect();
    for c in &copies {
        let mode = std::fs::metadata(c).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", c.display());
    }
    let texts: Vec<String> = copies
        .iter()
        .map(|c| std::fs::read_to_string(c).unwrap())
        .collect();
    assert!(
        texts.iter().all(|t| t == &texts[0]),
        "the masters' copies differ"
    );

    // status --from-cluster shows the master in flight, and changes nothing.
    let look = tempfile::tempdir().unwrap();
    let out = status_from_cluster(&env, look.path());
    let st: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    let running: Vec<&serde_json::Value> = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "running")
        .collect();
    assert_eq!(running.len(), 1, "{st:#}");
    assert!(
        running[0]["id"].as_str().unwrap().starts_with("masters/"),
        "{st:#}"
    );
    assert_eq!(
        std::fs::read_dir(look.path()).unwrap().count(),
        0,
        "status wrote state"
    );

    // One tampered copy: detected, ignored, the other two agree.
    let saved: Vec<String> = texts.clone();
    tamper(&copies[0]);
    let out = status_from_cluster(&env, look.path());
    assert!(
        out.status.success() || out.status.code() == Some(5),
        "{}",
        text(&out)
    );
    let m1 = env.report().node("m1").unwrap().address.clone();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains(&format!("master {m1} is ignored")) && err.contains("does not verify"),
        "{err}"
    );
    // Two tampered: no majority, refused.
    tamper(&copies[1]);
    let out = status_from_cluster(&env, look.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no majority"), "{}", text(&out));
    for (c, t) in copies.iter().zip(&saved) {
        std::fs::write(c, t).unwrap();
    }

    // Once stale (30 s without a heartbeat), a fresh state directory takes the run over.
    if let Some(left) = Duration::from_secs(33).checked_sub(killed.elapsed()) {
        std::thread::sleep(left);
    }
    let second = tempfile::tempdir().unwrap();
    let out = resume(second.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_upgraded(&env.report(), "2.2.1", &[], 1);
    // The copies grew with the resumed run and still agree.
    let after: Vec<String> = copies
        .iter()
        .map(|c| std::fs::read_to_string(c).unwrap())
        .collect();
    assert!(after.iter().all(|t| t == &after[0]) && after[0].len() > saved[0].len());
}

/// A top-level key must come before the first table: put it at the top of the inventory.
fn prepend(path: &Path, text: &str) {
    let old = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, format!("{text}\n{old}")).unwrap();
}

#[test]
fn a_run_started_with_its_own_playbook_is_resumed_from_the_cluster_with_that_playbook() {
    // Issue 16: the copies live under the playbook's `paths.work_dir`; a run started with a
    // playbook of its own is found on the masters only when the same playbook is given.
    let env = Env::new(1, 2, 0, &[]);
    let m1 = env.report().node("m1").unwrap().address.clone();
    prepend(&env.inventory(), &format!("pause_after = [\"{m1}\"]"));
    let builtin =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/dcos.toml"))
            .unwrap();
    let own = builtin.replace(
        "work_dir = \"/var/lib/dcos-upgrade\"",
        "work_dir = \"/var/lib/dcos-upgrade-ops\"",
    );
    assert_ne!(own, builtin, "the built-in playbook names its work_dir");
    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("ops.toml");
    std::fs::write(&pb, own).unwrap();
    let pb = pb.to_str().unwrap();
    // The run pauses for approval after the master (no terminal): the agents are left.
    let out = env.run(&["--yes", "--playbook", pb]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let copy = env
        .tb
        .dir()
        .join("nodes/m1/root/var/lib/dcos-upgrade-ops/journal");
    assert!(copy.is_dir(), "no copy under the playbook's work_dir");
    std::fs::remove_dir_all(env.state.path()).unwrap();

    let inv = env.inventory();
    let inv = inv.to_str().unwrap();
    // Without the playbook the copies are not where the built-in one keeps them: the error
    // says what to pass.
    let fresh = tempfile::tempdir().unwrap();
    let out = cmd_in(
        fresh.path(),
        &["status", "--from-cluster", "--inventory", inv],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--playbook FILE"), "{}", text(&out));
    // With it, status shows the paused run, and resume finishes it from a fresh directory.
    let out = cmd_in(
        fresh.path(),
        &[
            "--output",
            "json",
            "status",
            "--from-cluster",
            "--inventory",
            inv,
            "--playbook",
            pb,
        ],
    )
    .output()
    .unwrap();
    let st: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    assert_eq!(st["state"], "paused", "{st:#}");
    let out = cmd_in(
        fresh.path(),
        &[
            "resume",
            "--from-cluster",
            "--inventory",
            inv,
            "--playbook",
            pb,
            "--yes",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // (One master: its own upgrade is a quorum loss the testbed counts, so not `assert_upgraded`.)
    let r = env.report();
    for n in &r.nodes {
        assert_eq!(n.version, "2.2.1", "{} not at the target: {r:#?}", n.name);
        assert_eq!(n.upgrade_attempts, 1, "{} script starts: {r:#?}", n.name);
        assert!(n.services_up, "{} has services down: {r:#?}", n.name);
    }
}
