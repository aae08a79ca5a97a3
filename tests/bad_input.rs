//! Bad input corpus: malformed and hostile inventories and playbooks, garbage HTTP bodies,
//! damaged state databases, a full disk, a state path that is a file. Each must give a clear
//! error naming what is wrong and where, the right exit code, no panic, and leave the existing
//! state byte-for-byte as it was.
//!
//! Exit codes (DESIGN.md): 2 for bad input (arguments, inventory, playbook); 1 for a state
//! directory that cannot be used (damaged, newer schema, read-only, full, not a directory): the
//! arguments were right, the machine's state is the problem and the operator must act on it.

use dcos_upgrade::machine::Record;
mod common;

use dcos_upgrade::door::{parse_json, Answer};
use dcos_upgrade::playbook::{Inventory, Playbook, SourceFile};
use dcos_upgrade::probe::{exhibitor, marathon, mesos, zk};
use dcos_upgrade::store::{RunRecord, Store};
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_dcos-upgrade");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/bad")
        .join(name)
}

fn cli(state: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("DCOS_UPGRADE_STATE_DIR")
        .output()
        .expect("run dcos-upgrade")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file under `dir` (relative name) -> sha256 of its contents, plus the directories.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(d) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            if p.is_dir() {
                out.insert(format!("{rel}/"), String::new());
                walk(root, &p, out);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.insert(rel, format!("{:x}", Sha256::digest(&bytes)));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn run_record(id: &str) -> RunRecord {
    RunRecord {
        inventory_path: data("inv-good-shape.toml"),
        inventory_text: std::fs::read_to_string(data("inv-good-shape.toml")).unwrap_or_default(),
        ..common::one_master_run(id, "bad-input")
    }
}

/// A state directory holding one paused run with a few journal records.
fn seeded_state(dir: &Path) {
    let s = Store::open(dir).expect("seed: open");
    s.create_run(&run_record("seed-run")).expect("seed: run");
    for i in 0..20 {
        s.append(
            "seed-run",
            &Record::RunPaused {
                reason: format!("seed {i}"),
            },
        )
        .expect("seed: append");
    }
}

fn assert_no_panic(o: &Output, what: &str) {
    let e = stderr(o);
    assert!(!e.contains("panicked"), "{what}: the binary panicked:\n{e}");
    assert!(
        o.status.code().is_some(),
        "{what}: killed by a signal: {:?}",
        o.status
    );
}

// ---------------------------------------------------------------------------------------------
// Inventories and playbooks
// ---------------------------------------------------------------------------------------------

/// (fixture, words the error must contain, line the error must name)
const INVENTORY_CASES: &[(&str, &[&str], Option<usize>)] = &[
    ("inv-port-is-a-string.toml", &["u16", "twenty-two"], Some(6)),
    ("inv-port-out-of-range.toml", &["99999"], Some(6)),
    ("inv-unknown-key.toml", &["usr"], Some(5)),
    ("inv-unknown-section.toml", &["locks"], Some(18)),
    ("inv-missing-cluster.toml", &["cluster"], Some(1)),
    ("inv-missing-bootstrap.toml", &["bootstrap"], Some(1)),
    ("inv-no-masters.toml", &["no masters"], Some(1)),
    ("inv-master-without-address.toml", &["address"], Some(12)),
    (
        "inv-duplicate-node.toml",
        &["127.0.0.11", "listed twice"],
        Some(16),
    ),
    (
        "inv-duplicate-node-case.toml",
        &["M1.EXAMPLE", "listed twice"],
        Some(16),
    ),
    (
        "inv-hostile-address-subshell.toml",
        &["$(touch /tmp/pwned)", "not a host address"],
        Some(16),
    ),
    (
        "inv-hostile-address-semicolon.toml",
        &["a;reboot", "not a host address"],
        Some(16),
    ),
    (
        "inv-hostile-address-option.toml",
        &["-oProxyCommand", "not a host address"],
        Some(16),
    ),
    ("inv-empty-address.toml", &["not a host address"], Some(16)),
    (
        "inv-bad-url.toml",
        &["ftp://", "not an http(s) URL"],
        Some(10),
    ),
    (
        "inv-url-with-space.toml",
        &["reboot", "not an http(s) URL"],
        Some(10),
    ),
    (
        "inv-empty-cluster-name.toml",
        &["cluster.name is empty"],
        Some(2),
    ),
    ("inv-public-master.toml", &["public"], Some(13)),
    ("inv-become-unknown.toml", &["su", "sudo"], Some(7)),
    ("inv-masters-is-a-table.toml", &["sequence"], Some(12)),
    ("inv-syntax-error.toml", &["string"], Some(2)),
    ("inv-duplicate-key.toml", &["duplicate key"], Some(7)),
    ("inv-timeouts-negative.toml", &["-5"], Some(19)),
    ("inv-empty.toml", &["cluster"], Some(1)),
    ("inv-not-toml.toml", &["expected"], Some(1)),
    ("inv-framework-missing-app.toml", &["app"], Some(18)),
    ("inv-non-utf8.toml", &["UTF-8"], Some(2)),
    ("inv-nul-byte.toml", &["string"], Some(2)),
    // Numbers out of their documented range (issue 13 #5): refused at load, not at use.
    (
        "inv-timeout-huge.toml",
        &[
            "timeouts.master_gate_secs",
            "18446744073709551615",
            "1 to 604800",
        ],
        Some(19),
    ),
    (
        "inv-timeout-zero.toml",
        &["timeouts.node_script_secs", "= 0", "1 to 604800"],
        Some(19),
    ),
    (
        "inv-poll-huge.toml",
        &["timeouts.poll_ms", "18446744073709551615", "50 to 60000"],
        Some(19),
    ),
    (
        "inv-poll-zero.toml",
        &["timeouts.poll_ms", "50 to 60000"],
        Some(19),
    ),
    (
        "inv-stale-zero.toml",
        &["lock.stale_secs", "30 to 604800"],
        Some(19),
    ),
    (
        "inv-ssh-port-zero.toml",
        &["ssh.port", "1 to 65535"],
        Some(6),
    ),
    (
        "inv-connect-timeout-zero.toml",
        &["ssh.connect_timeout_secs", "1 to 3600"],
        Some(7),
    ),
    (
        "inv-node-port-zero.toml",
        &["ssh_port", "1 to 65535"],
        Some(17),
    ),
    // Strings that reach ssh, the terminal, the cluster lock or Marathon (issue 13 #3/#8/#9 class).
    (
        "inv-jump-host-option.toml",
        &["ssh.jump_host", "-oProxyCommand", "[user@]host[:port]"],
        Some(8),
    ),
    (
        "inv-jump-host-space.toml",
        &["ssh.jump_host", "[user@]host[:port]"],
        Some(8),
    ),
    (
        "inv-user-option.toml",
        &["ssh.user", "-oProxyCommand"],
        Some(5),
    ),
    (
        "inv-cluster-name-newline.toml",
        &["cluster.name", "control"],
        Some(2),
    ),
    ("inv-node-name-escape.toml", &["name", "control"], Some(14)),
    ("inv-root-relative.toml", &["root", "absolute"], Some(14)),
    (
        "inv-app-id-hostile.toml",
        &["/web;reboot", "Marathon app id"],
        Some(19),
    ),
    ("inv-image-space.toml", &["image", "docker image"], Some(20)),
];

const PLAYBOOK_CASES: &[(&str, &[&str], Option<usize>)] = &[
    ("pb-unknown-key.toml", &["mesos_mastr"], Some(24)),
    ("pb-port-is-a-string.toml", &["8181", "u16"], Some(27)),
    (
        "pb-unknown-placeholder.toml",
        &["node_upgrade.run", "{nope}"],
        Some(33),
    ),
    (
        "pb-unclosed-brace.toml",
        &["node_upgrade.fetch", "unclosed"],
        Some(32),
    ),
    (
        "pb-relative-work-dir.toml",
        &["paths.work_dir", "absolute"],
        Some(21),
    ),
    ("pb-missing-node-upgrade.toml", &["node_upgrade"], Some(1)),
    (
        "pb-poll-zero.toml",
        &["timeouts.poll_ms", "50 to 60000"],
        Some(54),
    ),
    ("pb-timeout-is-a-float.toml", &["2.5", "u64"], Some(55)),
    (
        "pb-timeout-huge.toml",
        &[
            "timeouts.master_gate_secs",
            "18446744073709551615",
            "1 to 604800",
        ],
        Some(52),
    ),
    (
        "pb-timeout-zero.toml",
        &["timeouts.backup_secs", "1 to 604800"],
        Some(55),
    ),
    (
        "pb-http-huge.toml",
        &["timeouts.http_secs", "1 to 3600"],
        Some(58),
    ),
    (
        "pb-port-zero.toml",
        &["ports.marathon", "1 to 65535"],
        Some(26),
    ),
    (
        "pb-guard-nan.toml",
        &["guards.task_rate_above_baseline_per_min", "0 to 1000000"],
        Some(66),
    ),
    (
        "pb-guard-huge.toml",
        &["guards.min_new_tasks", "0 to 1000000"],
        Some(68),
    ),
];

/// Runs `plan` and `run` on a bad input over a seeded state; checks message, code, state.
fn check_bad_input(file: &Path, playbook: bool, words: &[&str], line: Option<usize>) {
    let state = tempfile::tempdir().expect("tempdir");
    seeded_state(state.path());
    let before = snapshot(state.path());
    let good = data("inv-good-shape.toml");
    let f = file.to_str().expect("utf-8 path");
    let inputs: Vec<&str> = if playbook {
        vec![
            "--inventory",
            good.to_str().expect("utf-8"),
            "--playbook",
            f,
        ]
    } else {
        vec!["--inventory", f]
    };
    for cmd in [
        vec!["plan", "--to", "2.2.1"],
        vec!["check"],
        vec!["run", "--to", "2.2.1", "--yes"],
    ] {
        let mut args = cmd.clone();
        args.extend_from_slice(&inputs);
        let o = cli(state.path(), &args);
        let what = format!("{} {}", cmd[0], file.display());
        assert_no_panic(&o, &what);
        let e = stderr(&o);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{what}: expected exit 2 (bad input), got {:?}:\n{e}",
            o.status
        );
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let place = match line {
            Some(l) => format!("{name}:{l}"),
            None => name.to_string(),
        };
        assert!(
            e.contains(&place),
            "{what}: the error does not name {place}:\n{e}"
        );
        for w in words {
            assert!(e.contains(w), "{what}: the error does not say {w:?}:\n{e}");
        }
        assert_eq!(
            e.trim().lines().count(),
            1,
            "{what}: one clear line expected:\n{e}"
        );
        assert_eq!(
            snapshot(state.path()),
            before,
            "{what}: the existing state changed"
        );
    }
}

#[test]
fn bad_inventories_are_refused_with_file_line_and_exit_2() {
    for (name, words, line) in INVENTORY_CASES {
        check_bad_input(&data(name), false, words, *line);
    }
    eprintln!("bad_input: {} inventories refused", INVENTORY_CASES.len());
}

#[test]
fn bad_playbooks_are_refused_with_file_line_and_exit_2() {
    for (name, words, line) in PLAYBOOK_CASES {
        check_bad_input(&data(name), true, words, *line);
    }
    eprintln!("bad_input: {} playbooks refused", PLAYBOOK_CASES.len());
}

#[test]
fn huge_missing_and_directory_inputs_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // > 4 MiB: refused before it is read whole.
    let huge = dir.path().join("huge.toml");
    let mut text = std::fs::read_to_string(data("inv-good-shape.toml")).expect("fixture");
    let pad = format!("# {}\n", "x".repeat(1022));
    while text.len() <= 4 * 1024 * 1024 + 10 {
        text.push_str(&pad);
    }
    std::fs::write(&huge, &text).expect("write huge");
    check_bad_input(&huge, false, &["bytes", "larger than"], None);
    check_bad_input(&huge, true, &["bytes", "larger than"], None);
    // A file that does not exist, and a directory.
    let missing = dir.path().join("missing.toml");
    check_bad_input(&missing, false, &["cannot read"], None);
    check_bad_input(dir.path(), false, &["is a directory"], None);
}

/// Runs the CLI, killing it after `secs` (a FIFO input would block it forever): None if killed.
fn cli_within(state: &Path, args: &[&str], secs: u64) -> Option<Output> {
    let mut child = Command::new(BIN)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("DCOS_UPGRADE_STATE_DIR")
        .spawn()
        .expect("spawn dcos-upgrade");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn non_regular_inputs_are_refused_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("inventory.fifo");
    let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("cstring");
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let good = data("inv-good-shape.toml");
    let good = good.to_str().expect("utf-8");
    let state = tempfile::tempdir().expect("tempdir");
    for input in ["/dev/zero", fifo.to_str().expect("utf-8")] {
        for args in [
            vec!["plan", "--to", "2.2.1", "--inventory", input],
            vec![
                "plan",
                "--to",
                "2.2.1",
                "--inventory",
                good,
                "--playbook",
                input,
            ],
        ] {
            let what = args.join(" ");
            let o = cli_within(state.path(), &args, 10)
                .unwrap_or_else(|| panic!("{what}: still running after 10 s"));
            assert_no_panic(&o, &what);
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{what}: {e}");
            assert!(e.contains(input), "{what}: does not name the file: {e}");
            assert!(e.contains("not a regular file"), "{what}: {e}");
        }
    }
}

#[test]
fn bad_arguments_exit_2_without_touching_the_state() {
    let state = tempfile::tempdir().expect("tempdir");
    seeded_state(state.path());
    let mut before = snapshot(state.path());
    let inv = data("inv-good-shape.toml");
    let inv = inv.to_str().expect("utf-8");
    for (args, word) in [
        (
            vec!["plan", "--inventory", inv, "--to", "$(touch /tmp/pwned)"],
            "--to",
        ),
        (
            vec![
                "plan",
                "--inventory",
                inv,
                "--to",
                "2.2.1",
                "--max-unavailable",
                "0",
            ],
            "--max-unavailable",
        ),
        (
            vec!["run", "--inventory", inv, "--to", "not-a-version", "--yes"],
            "--to",
        ),
        (vec!["status", "--run", "no-such-run"], "no-such-run"),
        (vec!["log", "--run", "no-such-run"], "no-such-run"),
        (
            vec![
                "run",
                "--inventory",
                inv,
                "--to",
                "2.2.1",
                "--on-failure",
                "explode",
            ],
            "explode",
        ),
    ] {
        let o = cli(state.path(), &args);
        let what = args.join(" ");
        assert_no_panic(&o, &what);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains(word), "{what}: {}", stderr(&o));
        if args[0] == "status" || args[0] == "log" {
            // These open the database (sled rewrites its own files as it opens): the content
            // is compared instead of the bytes.
            let s = Store::open(state.path()).expect("reopen");
            assert_eq!(
                s.journal("seed-run").expect("journal").len(),
                20,
                "{what}: the journal changed"
            );
            drop(s);
            before = snapshot(state.path());
        } else {
            assert_eq!(snapshot(state.path()), before, "{what}: the state changed");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// State directory problems
// ---------------------------------------------------------------------------------------------

/// Commands tried against a damaged state: each must fail cleanly.
fn state_commands() -> Vec<Vec<String>> {
    let inv = data("inv-good-shape.toml").display().to_string();
    vec![
        vec!["status".into()],
        vec!["log".into()],
        vec!["resume".into(), "--yes".into()],
        vec!["rollback".into(), "--yes".into()],
        vec![
            "run".into(),
            "--inventory".into(),
            inv,
            "--to".into(),
            "2.2.1".into(),
            "--yes".into(),
        ],
    ]
}

/// The commands that open the database itself (`status` and `log` read the state directory's
/// read-only view instead, issue 13 #12).
fn db_commands() -> Vec<Vec<String>> {
    state_commands()
        .into_iter()
        .filter(|a| a[0] != "status" && a[0] != "log")
        .collect()
}

/// `status` and `log` still show the seeded run from the read-only view (damaged database,
/// read-only or full disk): `log` exits 0, `status` with the run's own standing (0, 3 or 5:
/// the seeded run is unfinished and nobody holds it), nothing written.
fn check_readers_show_the_run(state: &Path, what: &str) {
    let before = snapshot(state);
    for cmd in ["status", "log"] {
        let o = cli(state, &[cmd]);
        let w = format!("{what}: {cmd}");
        assert_no_panic(&o, &w);
        let ok = match cmd {
            "status" => matches!(o.status.code(), Some(0) | Some(3) | Some(5)),
            _ => o.status.code() == Some(0),
        };
        assert!(ok, "{w}: exit {:?}: {}", o.status.code(), stderr(&o));
        assert!(
            cmd == "log" || String::from_utf8_lossy(&o.stdout).contains("seed-run"),
            "{w}: the run is not shown"
        );
    }
    assert_eq!(
        snapshot(state),
        before,
        "{what}: status/log changed the state"
    );
}

/// Runs every command that opens the database; each must exit `code` with an error containing
/// all `words`.
fn check_state_problem(state: &Path, what: &str, code: i32, words: &[&str], unchanged: bool) {
    check_commands(db_commands(), state, what, &[code], words, unchanged)
}

fn check_state_problem_codes(
    state: &Path,
    what: &str,
    codes: &[i32],
    words: &[&str],
    unchanged: bool,
) {
    check_commands(state_commands(), state, what, codes, words, unchanged)
}

fn check_commands(
    commands: Vec<Vec<String>>,
    state: &Path,
    what: &str,
    codes: &[i32],
    words: &[&str],
    unchanged: bool,
) {
    // `resume`, `rollback` and `run` take the lock (create `lock`) before they open the
    // database: the lock file is the lock, not state, so it is left out of the comparison.
    let snapshot = |d: &Path| {
        let mut s = snapshot(d);
        s.remove("lock");
        s
    };
    let before = snapshot(state);
    for args in commands {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = cli(state, &argv);
        let w = format!("{what}: {}", args[0]);
        assert_no_panic(&o, &w);
        let e = stderr(&o);
        assert!(
            o.status.code().is_some_and(|c| codes.contains(&c)),
            "{w}: expected exit {codes:?}, got {:?}:\n{e}",
            o.status
        );
        for word in words {
            assert!(
                e.contains(word),
                "{w}: the error does not say {word:?}:\n{e}"
            );
        }
        if unchanged {
            assert_eq!(snapshot(state), before, "{w}: the state changed");
        }
    }
}

fn db_files(state: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(state.join("state.sled"))
        .expect("state.sled")
        .flatten()
    {
        if e.path().is_file() {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_corrupt_database_is_refused_and_left_alone() {
    let state = tempfile::tempdir().expect("tempdir");
    seeded_state(state.path());
    let db = state.path().join("state.sled/db");
    let mut bytes = std::fs::read(&db).expect("db file");
    // Garbage over everything after the first bytes.
    for (i, b) in bytes.iter_mut().enumerate().skip(16) {
        *b = (i as u8).wrapping_mul(31) ^ 0xA5;
    }
    std::fs::write(&db, &bytes).expect("corrupt");
    check_state_problem(
        state.path(),
        "corrupt db",
        1,
        &["state database", "state.sled"],
        true,
    );
    check_readers_show_the_run(state.path(), "corrupt db");
}

#[test]
fn a_truncated_database_is_refused_and_left_alone() {
    let state = tempfile::tempdir().expect("tempdir");
    seeded_state(state.path());
    for f in db_files(state.path()) {
        let len = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&f)
            .expect("open");
        file.set_len(len / 3).expect("truncate");
    }
    check_state_problem(
        state.path(),
        "truncated db",
        1,
        &["state database", "state.sled"],
        true,
    );
    check_readers_show_the_run(state.path(), "truncated db");
}

#[test]
fn a_garbage_conf_is_refused_and_left_alone() {
    let state = tempfile::tempdir().expect("tempdir");
    seeded_state(state.path());
    std::fs::write(
        state.path().join("state.sled/conf"),
        b"\xff\xfe not a sled config \x00",
    )
    .expect("conf");
    check_state_problem(
        state.path(),
        "garbage conf",
        1,
        &["state database", "state.sled"],
        true,
    );
    check_readers_show_the_run(state.path(), "garbage conf");
}

#[test]
fn a_database_from_a_newer_version_is_refused_and_left_alone() {
    let state = tempfile::tempdir().expect("tempdir");
    seeded_state(state.path());
    {
        // sled's flusher thread may still hold the seed's file lock for a moment after the
        // seed's store is dropped: retry the open (up to 5 s) instead of failing on that race.
        let path = state.path().join("state.sled");
        let mut tries = 0;
        let db = loop {
            match sled::open(&path) {
                Ok(db) => break db,
                Err(e) if tries < 100 && e.to_string().contains("could not acquire lock") => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => panic!("sled: {e}"),
            }
        };
        let meta = db.open_tree("meta").expect("meta");
        meta.insert("schema", &99u64.to_be_bytes()).expect("schema");
        db.flush().expect("flush");
    }
    // A newer dcos-upgrade writes its schema in the sidecar too.
    let sidecar = state.path().join("state.json");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sidecar).expect("sidecar")).expect("json");
    v["schema"] = 99.into();
    std::fs::write(&sidecar, serde_json::to_vec(&v).expect("json")).expect("write sidecar");
    check_state_problem_codes(
        state.path(),
        "newer schema",
        &[1],
        &["newer dcos-upgrade", "schema 99"],
        true,
    );
}

#[test]
fn a_state_dir_that_is_a_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("state");
    std::fs::write(&file, b"precious").expect("file");
    check_state_problem_codes(&file, "state dir is a file", &[1], &["state"], false);
    assert_eq!(
        std::fs::read(&file).expect("read"),
        b"precious",
        "the file was changed"
    );
    // A state dir below a file.
    let below = file.join("sub");
    // `status`/`log` say there is no state there (2); the others cannot create it (1).
    check_state_problem_codes(&below, "state dir below a file", &[1, 2], &["state"], false);
    assert_eq!(
        std::fs::read(&file).expect("read"),
        b"precious",
        "the file was changed"
    );
}

/// Mounts a tmpfs (root only); None with a message when not permitted.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let d = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(d.path())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root); the full-disk/read-only case is not tested");
            return None;
        }
        Some(Tmpfs(d))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn remount(&self, opts: &str) -> bool {
        Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(self.0.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

#[test]
fn a_read_only_state_dir_is_refused_and_left_alone() {
    let Some(fs) = Tmpfs::mount("8m") else { return };
    let seed = tempfile::tempdir().expect("tempdir");
    seeded_state(seed.path());
    let state = fs.path().join("state");
    copy_dir(seed.path(), &state);
    assert!(fs.remount("ro"), "remount read-only");
    check_state_problem(&state, "read-only", 1, &["state"], true);
    check_readers_show_the_run(&state, "read-only");
}

#[test]
fn a_full_disk_is_a_clear_error_not_a_panic() {
    // A fresh state directory on a 64 KiB filesystem.
    if let Some(fs) = Tmpfs::mount("64k") {
        let filler = fs.path().join("filler");
        let _ = std::fs::write(&filler, vec![0u8; 60 * 1024]);
        let state = fs.path().join("state");
        for args in state_commands().into_iter().filter(|a| a[0] == "run") {
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = cli(&state, &argv);
            assert_no_panic(&o, "full disk: run");
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(1), "full disk: {e}");
            assert!(
                e.contains("state"),
                "full disk: the error does not name the state: {e}"
            );
        }
    }
    // An existing state, then the disk fills up.
    let Some(fs) = Tmpfs::mount("4m") else { return };
    let seed = tempfile::tempdir().expect("tempdir");
    seeded_state(seed.path());
    let state = fs.path().join("state");
    copy_dir(seed.path(), &state);
    let filler = fs.path().join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    let chunk = vec![0u8; 4096];
    use std::io::Write;
    while f.write_all(&chunk).is_ok() {}
    drop(f);
    let before = snapshot(&state);
    check_readers_show_the_run(&state, "full disk");
    for args in db_commands() {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = cli(&state, &argv);
        let w = format!("full disk, existing state: {}", args[0]);
        assert_no_panic(&o, &w);
        assert_ne!(o.status.code(), Some(0), "{w}: {}", stderr(&o));
        // The journal still reads as it was.
        let _ = before.len();
    }
    std::fs::remove_file(&filler).expect("free the disk");
    let s = Store::open(&state).expect("the state opens again once the disk has room");
    let j = s.journal("seed-run").expect("journal");
    assert_eq!(
        j.len(),
        20,
        "the seeded journal lost records on a full disk"
    );
}

#[test]
fn the_state_dir_is_created_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("new/state");
    seeded_state(&state);
    let mode = std::fs::metadata(&state)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
}

// ---------------------------------------------------------------------------------------------
// Garbage HTTP bodies through the probe parsers
// ---------------------------------------------------------------------------------------------

fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        location: None,
        body: body.to_string(),
    }
}

const GARBAGE: &[&str] = &[
    "",
    " ",
    "<html><body>502 Bad Gateway</body></html>",
    "{",
    "{\"slaves\": [",
    "{\"registrar\\/log\\/recovered\": 1.0, \"master\\/elected\":",
    "null",
    "[]",
    "{}",
    "\"just a string\"",
    "123",
    "{\"slaves\": {\"hostname\": \"x\"}}",
    "{\"slaves\": [{\"id\": 1}]}",
    "{\"apps\": null}",
    "\u{0}\u{1}\u{2}binary\u{fffd}",
    "{\"a\": NaN}",
    "[{\"code\": \"3\", \"description\": 1, \"hostname\": null, \"isLeader\": \"yes\"}]",
];

#[test]
fn garbage_truncated_and_empty_bodies_are_errors_naming_the_url() {
    let url = "http://127.0.0.11:5050/x";
    let mut tried = 0;
    for body in GARBAGE {
        for status in [200u16, 500, 307] {
            tried += 1;
            let a = answer(status, body);
            if let Ok(m) = mesos::parse_metrics(url, &a) {
                assert!(status == 200 && !m.0.is_empty(), "metrics from {body:?}");
            }
            if let Err(e) = mesos::parse_slaves(url, &a) {
                assert!(e.to_string().contains(url), "{e}");
            }
            if let Err(e) = parse_json::<Vec<exhibitor::ServerStatus>>(url, &a) {
                assert!(e.to_string().contains(url), "{e}");
            }
            if let Err(e) = parse_json::<marathon::App>(url, &a) {
                assert!(e.to_string().contains(url), "{e}");
            }
            let _ = zk::parse_children(body.as_bytes());
            let _ = zk::parse_mntr(body);
            let _ = zk::parse_srvr_mode(body);
            let _ = dcos_upgrade::cluster::parse_identity(body);
            let _ = mesos::parse_location_host(body);
        }
    }
    // The garbage a metrics endpoint gives is named, with the start of the body.
    let e = mesos::parse_metrics(url, &answer(200, "<html>oops</html>")).unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.contains(url) && shown.contains("<html>oops"),
        "{shown}"
    );
    let e = mesos::parse_metrics(url, &answer(200, "{}")).unwrap_err();
    assert!(e.to_string().contains("no numeric metrics"), "{e}");
    eprintln!("bad_input: {tried} garbage HTTP answers parsed without a panic");
}

#[test]
fn escaped_slash_metric_keys_and_quoted_numbers_are_read() {
    let body = r#"{"registrar\/log\/recovered":1.0,"master\/elected":"1","master\/uptime_secs":12.5,"flag":true,"obj":{}}"#;
    let m = mesos::parse_metrics("u", &answer(200, body)).expect("metrics");
    assert_eq!(m.get("registrar/log/recovered"), Some(1.0));
    assert_eq!(m.get("master/elected"), Some(1.0));
    assert_eq!(m.get("master/uptime_secs"), Some(12.5));
    assert_eq!(m.get("flag"), Some(1.0));
    assert_eq!(m.get("obj"), None);
}

#[test]
fn string_typed_attributes_are_read() {
    let body = r#"{"slaves":[
        {"id":"a","hostname":"10.0.0.21","attributes":{"public_ip":"true"}},
        {"id":"b","hostname":"10.0.0.22","attributes":{"public_ip":"TRUE","rack":"r1"}},
        {"id":"c","hostname":"10.0.0.23","attributes":{"public_ip":"false"}},
        {"id":"d","hostname":"10.0.0.24","attributes":{"public_ip":1}},
        {"id":"e","hostname":"$(touch /tmp/pwned)"}]}"#;
    let s = mesos::parse_slaves("u", &answer(200, body)).expect("slaves");
    let public: Vec<bool> = s.iter().map(|s| s.is_public()).collect();
    assert_eq!(public, vec![true, true, false, false, false]);
    // A truncated body is an error naming the URL, never a partial list.
    let cut = &body[..body.len() / 2];
    let e = mesos::parse_slaves("http://m/slaves", &answer(200, cut)).unwrap_err();
    assert!(e.to_string().contains("http://m/slaves"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------------

fn good_inventory() -> String {
    std::fs::read_to_string(data("inv-good-shape.toml")).expect("fixture")
}

fn builtin_playbook() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/dcos.toml"))
        .expect("playbook")
}

/// Applies byte-position edits (insert, delete, replace) to a text, on char boundaries.
fn mutate(text: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for (pos, op, c) in edits {
        if chars.is_empty() {
            chars.push(*c);
            continue;
        }
        let p = pos % chars.len();
        match op % 3 {
            0 => chars.insert(p, *c),
            1 => {
                chars.remove(p);
            }
            _ => chars[p] = *c,
        }
    }
    chars.into_iter().collect()
}

fn line_within(text: &str, line: Option<usize>) -> bool {
    let lines = text.bytes().filter(|b| *b == b'\n').count() + 1;
    line.is_none_or(|l| l >= 1 && l <= lines)
}

fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('"'),
        Just('\''),
        Just('['),
        Just(']'),
        Just('='),
        Just('\n'),
        Just('{'),
        Just('}'),
        Just('#'),
        Just('\\'),
        Just('\u{0}'),
        any::<char>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn inventory_parser_never_panics_and_errors_carry_a_line(text in "\\PC*") {
        let src = SourceFile::from_text("inv.toml", &text);
        if let Err(e) = Inventory::parse(&src) {
            prop_assert!(line_within(&text, e.line), "line {:?} outside the text", e.line);
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn mutated_inventories_never_panic_and_errors_carry_a_line(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), interesting_char()), 1..6)
    ) {
        let text = mutate(&good_inventory(), &edits);
        let src = SourceFile::from_text("inv.toml", &text);
        if let Err(e) = Inventory::parse(&src) {
            prop_assert!(line_within(&text, e.line), "line {:?} outside the text", e.line);
            prop_assert!(e.line.is_some(), "no line for {}", e);
        }
    }

    #[test]
    fn mutated_playbooks_never_panic_and_errors_carry_a_line(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), interesting_char()), 1..6)
    ) {
        let text = mutate(&builtin_playbook(), &edits);
        let src = SourceFile::from_text("pb.toml", &text);
        if let Err(e) = Playbook::parse(&src) {
            prop_assert!(line_within(&text, e.line), "line {:?} outside the text", e.line);
            prop_assert!(e.line.is_some(), "no line for {}", e);
        }
    }

    #[test]
    fn parse_location_host_never_panics(loc in "\\PC*", tail in "(//|http://|https://|\\[)?[a-z0-9:\\[\\]./]*") {
        let _ = mesos::parse_location_host(&loc);
        let _ = mesos::parse_location_host(&tail);
    }

    #[test]
    fn dcos_version_parse_never_panics(s in "\\PC*", v in "[vV]?[0-9]{0,25}(\\.[0-9]{0,25}){0,4}([-+][a-zA-Z0-9.+-]*)?") {
        let _ = dcos_upgrade::versions::DcosVersion::parse(&s);
        let _ = dcos_upgrade::versions::DcosVersion::parse(&v);
    }

    #[test]
    fn probe_parsers_never_panic_on_any_body(body in "\\PC*", bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let a = answer(200, &body);
        let _ = mesos::parse_metrics("u", &a);
        let _ = mesos::parse_slaves("u", &a);
        let _ = zk::parse_children(&bytes);
        let _ = zk::parse_mntr(&body);
        let _ = dcos_upgrade::cluster::parse_identity(&body);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn shell_quote_round_trips_through_a_real_shell(s in "[^\\x00]*", hostile in prop_oneof![
        Just("$(touch /tmp/pwned)".to_string()),
        Just("a;reboot".to_string()),
        Just("`id`".to_string()),
        Just("'\"'\"'".to_string()),
        Just("x' ; echo pwned ; '".to_string()),
        Just("\n\t\\".to_string()),
    ]) {
        for value in [s.clone(), format!("{hostile}{s}")] {
            let cmd = format!("printf %s {}", dcos_upgrade::shell::quote(&value));
            let out = Command::new("sh").arg("-c").arg(&cmd).output().expect("sh");
            prop_assert!(out.status.success(), "sh failed on {:?}", cmd);
            prop_assert_eq!(String::from_utf8_lossy(&out.stdout).into_owned(), value);
        }
    }
}
