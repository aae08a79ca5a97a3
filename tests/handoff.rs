//! Hand-offs and honest status (issue 15): SIGTERM and SIGHUP pause a run and release the
//! cluster lock; every suggested command is executed here verbatim; `status` exit codes; the
//! read-only commands create nothing; a run is recorded only once its locks are held.

mod common;

use common::{strs, text, Env};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs a suggested command line exactly as printed, in a shell, with the binary on PATH.
fn run_verbatim(line: &str) -> Output {
    let bin_dir = Path::new(common::bin()).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    assert!(
        line.starts_with("dcos-upgrade "),
        "not a command line: {line:?}"
    );
    Command::new("sh")
        .arg("-c")
        .arg(line)
        .env("PATH", path)
        .env_remove("DCOS_UPGRADE_STATE_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("sh")
}

/// The command after `marker` in `message`, up to the end of the line.
fn suggested(message: &str, marker: &str) -> String {
    let at = message
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {message:?}"));
    message[at + marker.len()..]
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string()
}

fn is_script_started(e: &serde_json::Value, phase: &str) -> bool {
    e["event"] == "step_progress"
        && e["step"].as_str().unwrap_or("").starts_with(phase)
        && e["message"]
            .as_str()
            .unwrap_or("")
            .contains("dcos_node_upgrade.sh started")
}

/// Starts `args` with JSON output, sends `signal` once `when` matches an event, and returns
/// every event and the exit code.
fn signal_when(
    env: &Env,
    args: &[&str],
    signal: i32,
    when: impl Fn(&serde_json::Value) -> bool,
) -> (Vec<serde_json::Value>, Option<i32>) {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let mut child = env
        .cmd(&all)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut sent = false;
    for line in BufReader::new(stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).expect("json event");
        if !sent && when(&v) {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, signal) };
            sent = true;
        }
        seen.push(v);
    }
    let status = child.wait().unwrap();
    assert!(sent, "the run ended before the signal point: {seen:#?}");
    (seen, status.code())
}

/// Every node at 2.2.1, its script started exactly once. (One master: its upgrade necessarily
/// interrupts quorum, so quorum is not judged here; tests/run_resume.rs judges it with three.)
fn assert_each_upgraded_once(env: &Env) {
    let r = env.report();
    for n in &r.nodes {
        assert_eq!(n.version, "2.2.1", "{r:#?}");
        assert_eq!(n.upgrade_attempts, 1, "{r:#?}");
        assert!(n.services_up, "{r:#?}");
    }
}

fn finished_message(events: &[serde_json::Value]) -> String {
    let f = events
        .iter()
        .find(|e| e["event"] == "run_finished")
        .unwrap_or_else(|| panic!("no run_finished: {events:#?}"));
    f["message"].as_str().unwrap().to_string()
}

fn interrupted_then_resumed(signal: i32, name: &str, phase: &str) {
    let env = Env::new(1, 2, 0, &[]);
    let (events, code) = signal_when(&env, &strs(&env.run_args(&["--yes"])), signal, |e| {
        is_script_started(e, phase)
    });
    assert_eq!(code, Some(130), "{events:#?}");
    let msg = finished_message(&events);
    assert!(msg.contains(name), "{msg}");
    let run_id = events[0]["run"].as_str().unwrap().to_string();

    // status: paused by the signal, exit 5, the same resume command.
    let st = env.cmd(&["status"]).output().unwrap();
    assert_eq!(st.status.code(), Some(5), "{}", text(&st));
    let st_text = String::from_utf8_lossy(&st.stdout);
    assert!(
        st_text.contains(&format!("interrupted ({name})")),
        "{st_text}"
    );
    assert!(
        st_text.contains("cluster") && st_text.contains("2.1.3 -> 2.2.1"),
        "{st_text}"
    );

    // A new run of the same cluster is refused and names the unfinished one.
    let again = env.run(&["--yes"]);
    assert_eq!(again.status.code(), Some(4), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(&run_id),
        "{}",
        text(&again)
    );

    // The suggested command, verbatim: the cluster lock was released, so it completes.
    let resume = suggested(&msg, "Continue with: ");
    assert!(
        resume.contains("--state-dir") && resume.contains(&run_id),
        "{resume}"
    );
    let out = run_verbatim(&resume);
    assert_eq!(out.status.code(), Some(0), "{resume}\n{}", text(&out));
    assert_each_upgraded_once(&env);
    let st = env.cmd(&["status"]).output().unwrap();
    assert_eq!(st.status.code(), Some(0), "{}", text(&st));
}

#[test]
fn sigterm_mid_run_pauses_releases_the_lock_and_the_printed_resume_completes() {
    interrupted_then_resumed(libc::SIGTERM, "SIGTERM", "masters/");
}

#[test]
fn sighup_mid_run_pauses_releases_the_lock_and_the_printed_resume_completes() {
    interrupted_then_resumed(libc::SIGHUP, "SIGHUP", "agents/");
}

#[test]
fn a_run_waiting_at_a_gate_says_so_with_exit_3_and_its_suggested_command_continues() {
    let env = Env::new(1, 1, 0, &[]);
    let out = env
        .cmd(&["--output", "json"])
        .args(env.run_args(&[]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let st = env.cmd(&["status"]).output().unwrap();
    assert_eq!(st.status.code(), Some(3), "{}", text(&st));
    let st_text = String::from_utf8_lossy(&st.stdout).to_string();
    assert!(st_text.contains("waiting at a gate"), "{st_text}");
    // status names the next command too; it is the same one.
    let next = suggested(&st_text, "next: ");
    let next = next.trim_end_matches(" approves and continues");
    let cont = suggested(&finished_message(&events), "Continue with: ");
    assert_eq!(next, cont);
    let out = run_verbatim(&cont);
    assert_eq!(out.status.code(), Some(0), "{cont}\n{}", text(&out));
    assert_each_upgraded_once(&env);

    // `log | head -1` ends cleanly, and `runs` lists the run as done.
    let bin = common::bin();
    let dir = env.state.path().display().to_string();
    let piped = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{bin}' --state-dir '{dir}' log | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}"
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&piped.stdout).trim(),
        "0",
        "{}",
        text(&piped)
    );
    assert!(
        String::from_utf8_lossy(&piped.stderr).is_empty(),
        "{}",
        text(&piped)
    );
    let runs = env.cmd(&["runs"]).output().unwrap();
    let runs_text = String::from_utf8_lossy(&runs.stdout);
    assert!(runs.status.success(), "{}", text(&runs));
    assert!(
        runs_text.contains("done") && runs_text.contains("2.1.3 -> 2.2.1"),
        "{runs_text}"
    );
}

#[test]
fn the_read_only_commands_and_resume_create_nothing_and_name_the_directory() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("nowhere");
    let empty = parent.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for dir in [&missing, &empty] {
        for args in [
            &["resume", "--yes"][..],
            &["rollback", "--yes"],
            &["status"],
            &["log"],
            &["runs"],
        ] {
            let out = Command::new(common::bin())
                .arg("--state-dir")
                .arg(dir)
                .args(args)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(&dir.display().to_string()), "{args:?}: {err}");
        }
    }
    assert!(!missing.exists(), "a command created the state directory");
    assert_eq!(
        std::fs::read_dir(&empty).unwrap().count(),
        0,
        "files made in {empty:?}"
    );
}

#[test]
fn a_run_refused_at_the_cluster_lock_leaves_no_run() {
    let env = Env::new(1, 0, 0, &[]);
    // The first run holds the cluster lock from before its first event.
    let mut first = env
        .cmd(&[&["--output", "json"][..], &strs(&env.run_args(&["--yes"]))].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    let started: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(started["event"], "run_started");
    let run_id = started["run"].as_str().unwrap().to_string();
    // While it runs: `status` names its process, `log --follow` reads along and ends with it.
    let st = env.cmd(&["status"]).output().unwrap();
    assert_eq!(st.status.code(), Some(0), "{}", text(&st));
    let pid = first.id();
    assert!(
        String::from_utf8_lossy(&st.stdout).contains(&format!("running (pid {pid})")),
        "{}",
        text(&st)
    );
    let follow = env
        .cmd(&["--output", "json", "log", "--follow", "--run", &run_id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // A second operator, with another state directory, on the same cluster.
    let other = tempfile::tempdir().unwrap();
    let second = Command::new(common::bin())
        .arg("--state-dir")
        .arg(other.path())
        .args(env.run_args(&["--yes"]))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(4), "{}", text(&second));
    for _ in lines {}
    assert!(first.wait().unwrap().success());
    let followed = follow.wait_with_output().unwrap();
    assert!(followed.status.success(), "{}", text(&followed));
    let entries: Vec<serde_json::Value> = String::from_utf8_lossy(&followed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Each command once, with its outcome: the master's upgrade script among them.
    assert!(
        entries.iter().all(|e| e["phase"] != "intent"),
        "{entries:#?}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["step"].as_str().unwrap_or("").starts_with("masters/")
                && e["exit_status"] == 0),
        "{entries:#?}"
    );
    let runs = Command::new(common::bin())
        .arg("--state-dir")
        .arg(other.path())
        .arg("runs")
        .output()
        .unwrap();
    assert!(runs.status.success(), "{}", text(&runs));
    assert_eq!(
        String::from_utf8_lossy(&runs.stdout).lines().count(),
        1,
        "the refused run was recorded: {}",
        text(&runs)
    );
    let resume = Command::new(common::bin())
        .arg("--state-dir")
        .arg(other.path())
        .args(["resume", "--yes"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(resume.status.code(), Some(0), "{}", text(&resume));
}

#[test]
fn sigterm_mid_rollback_names_rollback_and_the_printed_command_finishes_it() {
    // The patch path 2.2.0 -> 2.2.1 has no point of no return: the rollback may undo every node.
    let env = Env::patch(1, 2, 0);
    let out = env.run(&["--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (events, code) = signal_when(&env, &["rollback", "--yes"], libc::SIGTERM, |e| {
        is_script_started(e, "agents/")
    });
    assert_eq!(code, Some(130), "{events:#?}");
    let msg = finished_message(&events);
    assert!(msg.contains("while rolling back"), "{msg}");
    // Continuing a rollback needs the approval of starting one: the hint is `rollback`.
    let next = suggested(&msg, "Continue with: ");
    assert!(
        next.contains(" rollback") && !next.contains(" resume"),
        "{next}"
    );
    let out = run_verbatim(&next);
    assert_eq!(out.status.code(), Some(0), "{next}\n{}", text(&out));
    let r = env.report();
    for n in &r.nodes {
        assert_eq!(n.version, "2.2.0", "{} is not back: {r:#?}", n.name);
    }
    assert_eq!(env.status()["state"], "rolled_back");
}
