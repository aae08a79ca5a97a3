//! The CLI's conventions (issue 15): completions parsed by `bash -n`, a man page, examples in
//! every `--help`, `--version` with the commit, the JSON Schemas in schemas/ in sync with the
//! Rust types, errors as JSON under `--output json`, and no escape codes into a pipe.

mod common;

use std::process::{Command, Stdio};

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(common::bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn bash_completions_parse_and_every_shell_gets_a_script() {
    for sh in ["bash", "zsh", "fish"] {
        let o = cli(&["completions", sh]);
        assert!(o.status.success(), "{sh}: {}", common::text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("resume"),
            "{sh}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("dcos-upgrade.bash");
    std::fs::write(&f, cli(&["completions", "bash"]).stdout).unwrap();
    let n = Command::new("bash").arg("-n").arg(&f).output().unwrap();
    assert!(n.status.success(), "bash -n: {}", common::text(&n));
}

#[test]
fn the_man_page_is_roff_naming_every_command() {
    let o = cli(&["man"]);
    assert!(o.status.success(), "{}", common::text(&o));
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.starts_with(".ie") || t.contains(".TH"), "{t}");
    for c in [
        "run",
        "resume",
        "rollback",
        "status",
        "log",
        "runs",
        "report",
        "completions",
    ] {
        assert!(t.contains(c), "the man page does not name {c}");
    }
}

#[test]
fn every_command_has_examples_and_the_version_names_the_commit() {
    for c in [
        "check",
        "plan",
        "run",
        "resume",
        "rollback",
        "status",
        "log",
        "runs",
        "report",
        "completions",
        "man",
    ] {
        let o = cli(&[c, "--help"]);
        let t = String::from_utf8_lossy(&o.stdout);
        assert!(
            t.contains("Examples:") && t.contains("dcos-upgrade "),
            "{c} --help:\n{t}"
        );
    }
    let v = String::from_utf8_lossy(&cli(&["--version"]).stdout).to_string();
    assert!(v.contains("commit "), "{v}");
    // --restore-zookeeper acts only on rollback; --trust-new-host-keys on resume and rollback.
    assert_eq!(
        cli(&["resume", "--restore-zookeeper"]).status.code(),
        Some(2)
    );
    let help = String::from_utf8_lossy(&cli(&["resume", "--help"]).stdout).to_string();
    assert!(help.contains("--trust-new-host-keys"), "{help}");
}

#[test]
fn the_committed_schemas_match_the_rust_types() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for (name, text) in dcos_upgrade::cli::json_schemas() {
        let path = dir.join(name);
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} missing: UPDATE_SCHEMAS=1 cargo test --test cli_docs",
                path.display()
            )
        });
        assert_eq!(
            committed, text,
            "{name} drifted: UPDATE_SCHEMAS=1 cargo test --test cli_docs"
        );
    }
}

#[test]
fn under_json_output_an_error_is_one_json_object_and_a_pipe_gets_no_escape_codes() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(common::bin())
        .env("NO_COLOR", "")
        .args(["--color", "always", "--state-dir"])
        .arg(dir.path().join("none"))
        .args(["--output", "json", "status"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["event"], "error");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["exit_code"], 2);
    // auto: stderr is a pipe here, so nothing is coloured, not even with -vv logs.
    let o = Command::new(common::bin())
        .args(["-vv", "--state-dir"])
        .arg(dir.path().join("none"))
        .arg("status")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(!o.stderr.contains(&0x1b), "{}", common::text(&o));
}
