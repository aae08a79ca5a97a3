//! Security and concurrency against the testbed: strict host keys, shell quoting of every value
//! placed in a remote command, secrets kept out of everything recorded, a private state
//! directory, and the cluster-side lock (two operators, two state directories, one cluster).

mod common;

use common::{text, Env};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn master_root(env: &Env) -> PathBuf {
    env.tb.dir().join("nodes/m1/root")
}

fn lock_dir(env: &Env) -> PathBuf {
    master_root(env).join("var/lib/dcos-upgrade/cluster.lock")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn plant_lock(env: &Env, run: &str, owner: &str, heartbeat: u64) {
    let d = lock_dir(env);
    std::fs::create_dir_all(&d).expect("lock dir");
    std::fs::write(d.join("info"), format!("{run}\n{owner}\n{heartbeat}\n")).expect("lock info");
}

fn attempts(env: &Env) -> u64 {
    env.report().nodes.iter().map(|n| n.upgrade_attempts).sum()
}

#[test]
fn a_live_cluster_lock_of_another_run_refuses_with_exit_4_and_a_stale_one_needs_the_flag() {
    let env = Env::new(1, 1, 0, &[]);
    // Another operator's run holds the lock with a fresh heartbeat.
    plant_lock(&env, "20240101T000000Z-beef", "alice@laptop", now());
    let o = env.run(&["--yes"]);
    let e = text(&o);
    assert_eq!(o.status.code(), Some(4), "live lock: {e}");
    assert!(
        e.contains("20240101T000000Z-beef") && e.contains("alice@laptop"),
        "live lock: the holder is not named: {e}"
    );
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(
        attempts(&env),
        0,
        "a node was touched while another run held the lock"
    );

    // The same lock with a heartbeat an hour old: stale, refused without the flag.
    plant_lock(&env, "20240101T000000Z-beef", "alice@laptop", now() - 3600);
    let o = env.run(&["--yes"]);
    let e = text(&o);
    assert_eq!(o.status.code(), Some(4), "stale lock: {e}");
    assert!(
        e.contains("stale") && e.contains("--take-over-lock"),
        "stale lock: {e}"
    );
    assert_eq!(attempts(&env), 0);

    // Taken over with the flag: the run completes and releases the lock.
    let o = env.run(&["--yes", "--take-over-lock"]);
    assert_eq!(o.status.code(), Some(0), "take over: {}", text(&o));
    assert!(
        !lock_dir(&env).exists(),
        "the lock is not released at the end of the run"
    );
    // The lock commands went through the audit chokepoint.
    let log = env.cmd(&["--output", "json", "log"]).output().expect("log");
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.contains("cluster-lock") && log.contains("take over a stale cluster lock"),
        "{log}"
    );
}

#[test]
fn two_operators_cannot_upgrade_one_cluster_at_once() {
    let env = Env::new(1, 2, 0, &[]);
    let inv = env.inventory();
    let inv = inv.to_str().expect("utf-8");
    // Operator A starts; operator B (another state directory) tries while A runs.
    let a = env
        .cmd(&[
            "--output",
            "json",
            "run",
            "--inventory",
            inv,
            "--to",
            "2.2.1",
            "--yes",
            "--ack-release-notes",
            "2.2.1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("operator A");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !lock_dir(&env).join("info").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "operator A never took the cluster lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let a_run = std::fs::read_to_string(lock_dir(&env).join("info")).expect("info");
    let a_run = a_run.lines().next().unwrap_or_default().to_string();
    let b_state = tempfile::tempdir().expect("tempdir");
    let o = std::process::Command::new(common::bin())
        .arg("--state-dir")
        .arg(b_state.path())
        .args([
            "run",
            "--inventory",
            inv,
            "--to",
            "2.2.1",
            "--yes",
            "--ack-release-notes",
            "2.2.1",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("operator B");
    let e = text(&o);
    let a_out = a.wait_with_output().expect("A finishes");
    assert_eq!(o.status.code(), Some(4), "operator B: {e}");
    assert!(
        e.contains(&a_run),
        "operator B is not told A's run id {a_run}: {e}"
    );
    assert_eq!(a_out.status.code(), Some(0), "operator A: {}", text(&a_out));
    let r = env.report();
    for n in &r.nodes {
        if n.role != "bootstrap" {
            assert!(
                n.upgrade_attempts <= 1,
                "node {} upgraded twice: {}",
                n.name,
                n.upgrade_attempts
            );
        }
    }
}

/// Replaces m1's line in the testbed's known_hosts.
fn edit_known_hosts(env: &Env, replace_with: Option<&str>) -> String {
    let kh = env.tb.dir().join("known_hosts");
    let text = std::fs::read_to_string(&kh).expect("known_hosts");
    let m1 = env.tb.node("m1").expect("m1").address;
    let mut out = String::new();
    let mut original = String::new();
    for line in text.lines() {
        if line.starts_with(&format!("[{m1}]")) {
            original = line.to_string();
            if let Some(r) = replace_with {
                out.push_str(&format!("[{m1}]:2222 {r}\n"));
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(&kh, out).expect("write known_hosts");
    original
}

/// A real ed25519 public key that is not the node's (an unparsable line would only make the
/// host unknown, not changed).
fn wrong_key() -> String {
    let d = tempfile::tempdir().expect("tempdir");
    let k = d.path().join("k");
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&k)
        .status()
        .expect("ssh-keygen");
    assert!(ok.success());
    let pubkey = std::fs::read_to_string(k.with_extension("pub")).expect("pub");
    pubkey
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn host_keys_are_checked_strictly() {
    let env = Env::new(1, 1, 0, &[]);
    let inv = env.inventory();
    let inv = inv.to_str().expect("utf-8");
    let m1 = env.tb.node("m1").expect("m1").address;
    // A changed key: refused, with and without --trust-new-host-keys.
    let original = edit_known_hosts(&env, Some(&wrong_key()));
    for extra in [&[][..], &["--trust-new-host-keys"][..]] {
        let mut args = vec!["plan", "--inventory", inv, "--to", "2.2.1"];
        args.extend_from_slice(extra);
        let o = env.cmd(&args).output().expect("plan");
        let e = text(&o);
        assert_ne!(
            o.status.code(),
            Some(0),
            "a changed host key was accepted ({extra:?}): {e}"
        );
        assert!(e.contains(&m1), "the node is not named: {e}");
        assert!(
            e.to_lowercase().contains("host key"),
            "the host key is not named: {e}"
        );
        assert!(!e.contains("panicked"), "{e}");
    }
    // An unknown host: refused by default, accepted with --trust-new-host-keys.
    edit_known_hosts(&env, None);
    let o = env
        .cmd(&["plan", "--inventory", inv, "--to", "2.2.1"])
        .output()
        .expect("plan");
    let e = text(&o);
    assert_ne!(
        o.status.code(),
        Some(0),
        "an unknown host key was accepted by default: {e}"
    );
    assert!(e.contains(&m1), "{e}");
    let o = env
        .cmd(&[
            "plan",
            "--inventory",
            inv,
            "--to",
            "2.2.1",
            "--trust-new-host-keys",
        ])
        .output()
        .expect("plan");
    assert_eq!(
        o.status.code(),
        Some(0),
        "--trust-new-host-keys: {}",
        text(&o)
    );
    let _ = original;
}

#[test]
fn hostile_names_and_app_ids_are_inert_and_secrets_stay_out_of_everything() {
    let env = Env::new(1, 1, 0, &[]);
    let marker_dir = tempfile::tempdir().expect("tempdir");
    let marker = marker_dir.path().join("pwned");
    let m = marker.display().to_string();
    // Free-text names with shell metacharacters, and a hostile framework app id.
    let inv_path = env.inventory();
    let inv = std::fs::read_to_string(&inv_path).expect("inventory");
    let hostile_name = format!("$(touch {m})");
    let mut out = String::new();
    let mut named = 0;
    let mut in_node = false;
    for line in inv.lines() {
        if line.trim_start().starts_with('[') {
            in_node = line.trim() == "[[masters]]" || line.trim() == "[[agents]]";
        } else if in_node && line.trim_start().starts_with("name") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[[masters]]" || line.trim() == "[[agents]]" {
            let name = if named == 0 {
                hostile_name.clone()
            } else {
                format!("a;touch {m}")
            };
            out.push_str(&format!("name = {}\n", toml_str(&name)));
            named += 1;
        }
    }
    let names_only = out.clone();
    out.push_str(&format!(
        "\n[[frameworks]]\napp = {}\n",
        toml_str(&format!("/web;touch {m}"))
    ));
    std::fs::write(&inv_path, out).expect("write inventory");
    let token = "s3cr3t-acs-token-0123456789";
    let inv_s = inv_path.to_str().expect("utf-8");
    let o = env
        .cmd(&[
            "--output",
            "json",
            "plan",
            "--inventory",
            inv_s,
            "--to",
            "2.2.1",
        ])
        .env("DCOS_ACS_TOKEN", token)
        .output()
        .expect("plan");
    let plan_out = text(&o);
    assert!(!marker.exists(), "plan ran a hostile value as a command");
    assert!(
        plan_out.contains(&format!("/web;touch {m}")),
        "the hostile app id is not named: {plan_out}"
    );
    // The run: hostile node names (the unknown hostile app would stop it at planning).
    std::fs::write(&inv_path, names_only).expect("write inventory");
    let o = env
        .cmd(&[
            "--output",
            "json",
            "run",
            "--inventory",
            inv_s,
            "--to",
            "2.2.1",
            "--yes",
            "--ack-release-notes",
            "2.2.1",
        ])
        .env("DCOS_ACS_TOKEN", token)
        .output()
        .expect("run");
    let run_out = text(&o);
    assert!(
        !marker.exists(),
        "run ran a hostile value as a command: {run_out}"
    );
    assert!(!run_out.contains("panicked"), "{run_out}");
    // The run went far enough to send commands to the nodes under the hostile names.
    assert!(
        run_out.contains("run_started"),
        "the run did not start: {run_out}"
    );
    // The token never appears in the events, errors, audit log or any state file.
    assert!(
        !plan_out.contains(token),
        "the token leaked into plan output"
    );
    assert!(
        !run_out.contains(token),
        "the token leaked into the events or errors"
    );
    let log = env
        .cmd(&["--output", "json", "log"])
        .env("DCOS_ACS_TOKEN", token)
        .output()
        .expect("log");
    assert!(
        !text(&log).contains(token),
        "the token leaked into the audit log"
    );
    let mut files = 0;
    walk(env.state.path(), &mut |p| {
        files += 1;
        let bytes = std::fs::read(p).unwrap_or_default();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token leaked into {}",
            p.display()
        );
    });
    assert!(files > 0, "the run left no state: {run_out}");
    // The state directory and everything in it are private.
    let mode = std::fs::metadata(env.state.path())
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode & 0o077, 0, "the state directory is {mode:o}");
    walk_all(env.state.path(), &mut |p, is_dir| {
        let mode = std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(
            mode & 0o077,
            0,
            "{} is {mode:o} (dir: {is_dir})",
            p.display()
        );
    });
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("json string")
}

fn walk(d: &Path, f: &mut dyn FnMut(&Path)) {
    walk_all(d, &mut |p, is_dir| {
        if !is_dir {
            f(p)
        }
    });
}

fn walk_all(d: &Path, f: &mut dyn FnMut(&Path, bool)) {
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        let is_dir = p.is_dir();
        f(&p, is_dir);
        if is_dir {
            walk_all(&p, f);
        }
    }
}
