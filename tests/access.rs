//! Reaching a production cluster the way it allows (issue 10): from this machine only SSH and
//! the masters' Admin Router answer (the firewalled testbed), and in strict mode everything is
//! TLS with authentication. The tool logs in with a service account, reads every node on the
//! node, and never sends the token in clear; judged from the testbed's own record.

mod common;

use common::{assert_upgraded, text};
use dcos_sim::{Network, Security, Testbed};
use std::process::{Command, Stdio};

fn strict_cluster(security: Security) -> Testbed {
    let tb = Testbed::builder()
        .masters(3)
        .agents(2)
        .public_agents(0)
        .version("2.1.3")
        .upgrade_to("2.2.1")
        .activation_ms(400)
        .network(Network::Firewalled)
        .security(security)
        .start()
        .expect("testbed up");
    // `up` wrote the service account's [auth] into the inventory.
    let inv = std::fs::read_to_string(tb.inventory_path()).unwrap();
    assert!(inv.contains("[auth]"), "{inv}");
    common::append(
        &tb.inventory_path(),
        "\n[timeouts]\nnode_script_secs = 60\nmaster_gate_secs = 60\nagent_gate_secs = 60\nbackup_secs = 60\npoll_ms = 200\n",
    );
    tb
}

#[test]
fn a_strict_firewalled_cluster_is_checked_and_upgraded_with_a_service_account() {
    let tb = strict_cluster(Security::Strict);
    let state = tempfile::tempdir().unwrap();
    let inv = tb.inventory_path();
    let inv = inv.to_str().unwrap();
    let out = common::product(state.path(), &["check", "--inventory", inv]);
    assert_eq!(out.status.code(), Some(0), "check: {}", text(&out));
    let out = common::product(
        state.path(),
        &[
            "--output",
            "json",
            "run",
            "--inventory",
            inv,
            "--to",
            "2.2.1",
            "--ack-release-notes",
            "2.2.1",
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "run: {}", text(&out));
    let r = tb.report().unwrap();
    assert_upgraded(&r, "2.2.1", &[], 1);
    assert_eq!(
        r.plaintext_token_requests, 0,
        "a token went over plain HTTP"
    );
    // The token the login returned (JWT-shaped: it starts with the base64 of `{"`) appears
    // nowhere in what the tool kept (state, journal, audit log) or printed (events, stderr).
    assert_eq!(
        common::contains_anywhere(state.path(), b"eyJ"),
        None,
        "a token was written to the state directory"
    );
    assert!(
        !text(&out).contains("eyJ"),
        "a token was printed: {}",
        text(&out)
    );
    let log = common::product(state.path(), &["--output", "json", "log"]);
    assert!(!text(&log).contains("eyJ"), "a token is in the audit log");
}

#[test]
fn a_wrong_ca_file_is_named_as_a_certificate_problem() {
    let tb = strict_cluster(Security::Strict);
    let state = tempfile::tempdir().unwrap();
    // A CA that did not sign the cluster's certificates: this machine's own test CA.
    let other = tempfile::NamedTempFile::new().unwrap();
    let pem = std::fs::read_to_string(tb.dir().join("dcos-ca.crt")).unwrap();
    // Another testbed's CA would do; a self-signed certificate made here does too.
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=wrong-ca",
        ])
        .arg("-keyout")
        .arg("/dev/null")
        .arg("-out")
        .arg(other.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    assert_ne!(std::fs::read_to_string(other.path()).unwrap(), pem);
    common::append(
        &tb.inventory_path(),
        &format!("\n[http]\nca_file = \"{}\"\n", other.path().display()),
    );
    let inv = tb.inventory_path();
    let out = common::product(
        state.path(),
        &["check", "--inventory", inv.to_str().unwrap()],
    );
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out).to_lowercase();
    assert!(
        all.contains("certificate") || all.contains("unknownissuer") || all.contains("issuer"),
        "the message does not name the certificate problem: {all}"
    );
}

/// Starts a JSON-output run; returns it and its event lines.
fn spawn_run(
    state: &std::path::Path,
    inv: &str,
    token: Option<&str>,
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    let mut c = Command::new(common::bin());
    c.arg("--state-dir")
        .arg(state)
        .args([
            "--output",
            "json",
            "run",
            "--inventory",
            inv,
            "--to",
            "2.2.1",
        ])
        .args(["--ack-release-notes", "2.2.1", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("DCOS_ACS_TOKEN");
    if let Some(t) = token {
        c.env("DCOS_ACS_TOKEN", t);
    }
    let mut child = c.spawn().unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Reads events until the first master step has finished.
fn until_first_master_done(
    lines: &mut std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    for l in lines.by_ref() {
        let v: serde_json::Value = serde_json::from_str(&l.unwrap()).unwrap();
        if v["event"] == "step_finished"
            && v["step"]
                .as_str()
                .is_some_and(|s| s.starts_with("masters/"))
        {
            return;
        }
    }
    panic!("the run ended before a master was upgraded");
}

#[test]
fn a_token_revoked_mid_run_is_renewed_by_login_or_stops_the_run_with_the_way_out() {
    // With [auth]: the run logs in again and finishes.
    let tb = strict_cluster(Security::Strict);
    let state = tempfile::tempdir().unwrap();
    let inv = tb.inventory_path();
    let (mut run, mut events) = spawn_run(state.path(), inv.to_str().unwrap(), None);
    until_first_master_done(&mut events);
    tb.revoke_tokens().unwrap();
    for _ in events.by_ref() {}
    let status = run.wait().unwrap();
    assert!(
        status.success(),
        "the run did not renew its token: {status}"
    );
    assert_upgraded(&tb.report().unwrap(), "2.2.1", &[], 1);
    drop(tb);

    // A static token, no [auth]: the run stops (exit 1) saying how to give a fresh token and
    // resume, instead of waiting out every gate on 401s.
    let tb = strict_cluster(Security::Strict);
    common::remove_table(&tb.inventory_path(), "auth");
    let token = tb.token().unwrap();
    let state = tempfile::tempdir().unwrap();
    let inv = tb.inventory_path();
    let started = std::time::Instant::now();
    let (mut run, mut events) = spawn_run(state.path(), inv.to_str().unwrap(), Some(&token));
    until_first_master_done(&mut events);
    tb.revoke_tokens().unwrap();
    for _ in events.by_ref() {}
    let mut err = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut err).unwrap();
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    let st = common::product(state.path(), &["--output", "json", "status"]);
    let st = String::from_utf8_lossy(&st.stdout).to_string();
    assert!(
        st.contains("DCOS_ACS_TOKEN") && st.contains("resume"),
        "{st}"
    );
    assert!(!st.contains(&token) && !err.contains(&token));
    // Stopped at once, not after the gates' timeouts (60 s each here).
    assert!(started.elapsed() < std::time::Duration::from_secs(150));
}
