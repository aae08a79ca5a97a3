//! Every security mode end to end on the firewalled testbed (issue 10): a full upgrade in
//! `permissive`, one that starts permissive and whose target is strict (the node script switches
//! each node's mode, so the tool must follow node by node), a strict run killed with SIGKILL,
//! resumed and rolled back, and a run through a bastion whose host key is checked against the
//! same `known_hosts` as the nodes'. Judged from the testbed's record.
#![cfg(feature = "test-checkpoints")]

mod common;

use common::{assert_upgraded, strs, text};
use dcos_sim::{Network, Security, Testbed};
use std::path::Path;

const TIMEOUTS: &str = "\n[timeouts]\nnode_script_secs = 60\nmaster_gate_secs = 60\nagent_gate_secs = 60\nbackup_secs = 60\npoll_ms = 200\n";

fn cluster(from: &str, security: Security, target_security: Security, bastion: bool) -> Testbed {
    let tb = Testbed::builder()
        .masters(3)
        .agents(2)
        .public_agents(0)
        .version(from)
        .upgrade_to("2.2.1")
        .activation_ms(300)
        .network(Network::Firewalled)
        .security(security)
        .upgrade_security(target_security)
        .bastion(bastion)
        .start()
        .expect("testbed up");
    common::append(&tb.inventory_path(), TIMEOUTS);
    tb
}

fn run_args(inv: &str) -> Vec<String> {
    [
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The `security` each node's bootstrap-config.json names now.
fn modes(tb: &Testbed) -> Vec<(String, String)> {
    tb.nodes()
        .into_iter()
        .map(|n| {
            let text =
                std::fs::read_to_string(n.root.join("opt/mesosphere/etc/bootstrap-config.json"))
                    .unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            (n.name, v["security"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

/// No DC/OS token (JWT-shaped, starting with `eyJ`, the base64 of `{"`) in a command's output: its events (stdout) and its messages
/// (stderr).
fn assert_no_token_in(out: &std::process::Output) {
    for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !String::from_utf8_lossy(bytes).contains("eyJ"),
            "a token on {what}"
        );
    }
}

/// No token anywhere in the state directory: the journal, the audit log, the events, the run
/// log, the backups.
fn assert_no_token_kept(state: &Path) {
    assert_eq!(
        common::contains_anywhere(state, b"eyJ"),
        None,
        "a token was written to the state directory"
    );
}

#[test]
fn a_permissive_cluster_is_checked_and_upgraded_with_no_token_in_clear() {
    let tb = cluster("2.1.3", Security::Permissive, Security::Permissive, false);
    let state = tempfile::tempdir().unwrap();
    let inv = tb.inventory_path();
    let inv = inv.to_str().unwrap();
    let out = common::product(state.path(), &["check", "--inventory", inv]);
    assert_eq!(out.status.code(), Some(0), "check: {}", text(&out));
    assert!(
        text(&out).contains("permissive"),
        "check does not show the security mode: {}",
        text(&out)
    );
    let out = common::product(state.path(), &strs(&run_args(inv)));
    assert_eq!(out.status.code(), Some(0), "run: {}", text(&out));
    let r = tb.report().unwrap();
    assert_upgraded(&r, "2.2.1", &[], 1);
    assert_eq!(
        r.plaintext_token_requests, 0,
        "a token went over plain HTTP"
    );
    assert_no_token_kept(state.path());
}

#[test]
fn a_permissive_cluster_whose_target_is_strict_is_followed_node_by_node() {
    let tb = cluster("2.1.3", Security::Permissive, Security::Strict, false);
    let state = tempfile::tempdir().unwrap();
    let inv = tb.inventory_path();
    let inv = inv.to_str().unwrap();
    assert!(modes(&tb).iter().all(|(_, m)| m == "permissive"));
    let plan = common::product(state.path(), &["plan", "--inventory", inv, "--to", "2.2.1"]);
    assert_eq!(plan.status.code(), Some(0), "plan: {}", text(&plan));
    assert!(
        text(&plan).contains("permissive"),
        "plan does not show the security mode: {}",
        text(&plan)
    );
    let out = common::product(state.path(), &strs(&run_args(inv)));
    assert_eq!(out.status.code(), Some(0), "run: {}", text(&out));
    let r = tb.report().unwrap();
    assert_upgraded(&r, "2.2.1", &[], 1);
    // Every node moved to strict with its upgrade, and the tool kept reaching each one.
    for (name, mode) in modes(&tb) {
        assert_eq!(mode, "strict", "{name} is not strict after the upgrade");
    }
    assert_eq!(
        r.plaintext_token_requests, 0,
        "a token went over plain HTTP"
    );
    assert_no_token_kept(state.path());
}

#[test]
fn a_strict_run_killed_mid_masters_resumes_and_rolls_back_with_a_service_account() {
    // The patch path 2.2.0 -> 2.2.1 has no point of no return: a rollback may undo every node.
    let tb = cluster("2.2.0", Security::Strict, Security::Strict, false);
    let env = common::Env::adopt(tb);
    let inv = env.inventory();
    let inv = inv.to_str().unwrap().to_string();
    // `plan` logs in with the service account too, and shows every node strict.
    let out = env
        .cmd(&[
            "--output",
            "json",
            "plan",
            "--inventory",
            &inv,
            "--to",
            "2.2.1",
        ])
        .env_remove("DCOS_ACS_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "plan: {}", text(&out));
    assert_no_token_in(&out);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let modes = plan["security"].as_object().cloned().unwrap_or_default();
    assert!(
        !modes.is_empty() && modes.values().all(|m| m == "strict"),
        "plan's security modes: {modes:?}"
    );
    let mut args = run_args(&inv);
    args.drain(0..2);
    let seen = env.kill_when(&strs(&args), |v| {
        v["event"] == "step_finished"
            && v["step"]
                .as_str()
                .is_some_and(|s| s.starts_with("masters/"))
    });
    assert!(!seen.is_empty());
    assert!(
        !serde_json::to_string(&seen).unwrap().contains("eyJ"),
        "a token in the killed run's events"
    );
    let out = env
        .cmd(&["--output", "json", "resume", "--yes"])
        .env_remove("DCOS_ACS_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "resume: {}", text(&out));
    assert_no_token_in(&out);
    let r = env.report();
    assert_upgraded(&r, "2.2.1", &[], 1);
    let out = env
        .cmd(&["--output", "json", "rollback", "--yes"])
        .env_remove("DCOS_ACS_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "rollback: {}", text(&out));
    assert_no_token_in(&out);
    let r = env.report();
    for n in &r.nodes {
        assert_eq!(n.version, "2.2.0", "{} is not back: {r:#?}", n.name);
        assert!(n.services_up, "{} services down", n.name);
    }
    assert_eq!(r.quorum_loss_events, 0);
    assert!(r.max_masters_down <= 1);
    assert_eq!(
        r.plaintext_token_requests, 0,
        "a token went over plain HTTP"
    );
    assert_no_token_kept(env.state.path());
}

#[test]
fn a_run_through_a_bastion_checks_the_bastion_s_host_key_and_upgrades_every_node() {
    let tb = cluster("2.1.3", Security::Disabled, Security::Disabled, true);
    let b = tb.bastion().unwrap();
    let inv = tb.inventory_path();
    let inv = inv.to_str().unwrap().to_string();
    assert!(std::fs::read_to_string(&inv).unwrap().contains("jump_host"));
    // The nodes' SSH ports do not answer from here: only through the bastion.
    let n = &tb.nodes()[0];
    assert!(std::net::TcpStream::connect((n.address.as_str(), tb.def().ssh_port)).is_err());

    // The bastion's host key missing from known_hosts: refused, named as a host-key problem.
    let kh = tb.dir().join("known_hosts");
    let all = std::fs::read_to_string(&kh).unwrap();
    let without: String = all
        .lines()
        .filter(|l| !l.starts_with(&format!("[{}]", b.address)))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(all, without);
    std::fs::write(&kh, &without).unwrap();
    let state = tempfile::tempdir().unwrap();
    let out = common::product(state.path(), &["check", "--inventory", &inv]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("host key"),
        "the bastion's unknown host key is not named: {}",
        text(&out)
    );
    assert_eq!(tb.report().unwrap().upgrade_order.len(), 0);

    // With its key known: the whole upgrade through it.
    std::fs::write(&kh, &all).unwrap();
    let out = common::product(state.path(), &strs(&run_args(&inv)));
    assert_eq!(out.status.code(), Some(0), "run: {}", text(&out));
    assert_upgraded(&tb.report().unwrap(), "2.2.1", &[], 1);
}
