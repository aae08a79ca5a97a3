//! Unit tests of inventory parsing and validation.

use super::*;

const GOOD: &str = r#"
[cluster]
name = "prod-east"
[ssh]
user = "centos"
known_hosts = "/etc/kh"
[bootstrap]
upgrade_script_url = "http://10.0.0.5:8080/upgrade/0123456789abcdef0123456789abcdef/dcos_node_upgrade.sh"
[[masters]]
address = "10.0.0.11"
[[masters]]
address = "10.0.0.12"
root = "/"
[[agents]]
address = "10.0.1.21"
public = true
"#;

fn parse(text: &str) -> Result<Inventory, ConfigError> {
    Inventory::parse(&SourceFile::from_text("/x/inventory.toml", text))
}

#[test]
fn a_documented_inventory_parses_with_defaults() {
    let inv = parse(GOOD).unwrap();
    assert_eq!(inv.cluster_name, "prod-east");
    assert_eq!(inv.ssh.user.as_deref(), Some("centos"));
    // Not set: left to ~/.ssh/config (else OpenSSH's 22), never forced.
    assert_eq!(inv.ssh.port, None);
    assert_eq!(inv.masters[0].ssh_port, None);
    assert_eq!(inv.ssh.become_, Become::Sudo);
    assert_eq!(inv.masters.len(), 2);
    assert_eq!(inv.masters[1].root, "");
    assert_eq!(inv.agents.as_ref().unwrap()[0].role, Role::PublicAgent);
}

#[test]
fn a_duplicate_node_is_named_with_its_line() {
    let text = GOOD.replace("10.0.1.21", "10.0.0.11");
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("listed twice"), "{e}");
    assert_eq!(e.line, Some(15));
}

#[test]
fn an_unknown_key_is_refused() {
    let text = GOOD.replace("user = \"centos\"", "usr = \"centos\"");
    let e = parse(&text).unwrap_err();
    assert!(e.to_string().contains("usr"), "{e}");
    assert_eq!(e.line, Some(5));
}

#[test]
fn a_hostile_address_is_refused() {
    let text = GOOD.replace("10.0.1.21", "$(touch /tmp/pwned)");
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("not a host address"), "{e}");
}

#[test]
fn missing_masters_are_refused() {
    let e =
        parse("[cluster]\nname='x'\n[bootstrap]\nupgrade_script_url='http://a/b'\n").unwrap_err();
    assert!(e.message.contains("masters"), "{e}");
}

#[test]
fn load_with_source_returns_the_text_it_validated() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("inventory.toml");
    std::fs::write(&p, GOOD).unwrap();
    let (inv, src) = Inventory::load_with_source(&p).unwrap();
    assert_eq!(inv.cluster_name, "prod-east");
    assert_eq!(src.text, GOOD);
}

/// GOOD without its `[[agents]]` (discovered from the leading master), with `top` before it
/// and `gates` after it.
fn discovering(top: &str, gates: &str) -> String {
    let head = GOOD.split("[[agents]]").next().unwrap();
    format!("{top}\n{head}{gates}")
}

fn discovered(address: &str, name: &str) -> NodeSpec {
    NodeSpec {
        address: address.into(),
        name: name.into(),
        ssh_port: None,
        root: String::new(),
        role: Role::Agent,
        public_listed: false,
    }
}

#[test]
fn gates_and_pauses_naming_no_listed_node_wait_for_the_discovered_agents() {
    use crate::playbook::gates::{resolve_discovered, GateAfter, RunOn};
    let gate = "[[gates]]\nname = \"g\"\nafter = \"agent-7.example\"\nrun_on = \"10.0.1.5\"\ncommand = \"true\"\n";
    let mut inv = parse(&discovering(
        "pause_after = [\"10.0.1.5\", \"10.0.0.11\"]",
        gate,
    ))
    .unwrap();
    // The master is listed: resolved at once. The others wait for discovery, with where they were.
    assert_eq!(inv.pause_after, ["10.0.1.5", "10.0.0.11"]);
    let waiting: Vec<(&str, &str, &str)> = inv
        .awaiting_discovery
        .iter()
        .map(|w| (w.written.as_str(), w.key.as_str(), w.at.as_str()))
        .collect();
    assert_eq!(
        waiting,
        [
            ("agent-7.example", "gates.after", "/x/inventory.toml:17:9"),
            ("10.0.1.5", "gates.run_on", "/x/inventory.toml:18:10"),
        ]
    );
    // Discovered: by address, or by the hostname the leader reports.
    let agents = [
        discovered("10.0.1.5", "ip-10-0-1-5"),
        discovered("10.0.1.7", "agent-7.example"),
    ];
    let Inventory {
        awaiting_discovery,
        mut gates,
        mut pause_after,
        ..
    } = inv.clone();
    resolve_discovered(&awaiting_discovery, &agents, &mut gates, &mut pause_after).unwrap();
    assert_eq!(gates[0].after, GateAfter::Node("10.0.1.7".into()));
    assert_eq!(gates[0].run_on, RunOn::At("10.0.1.5".into()));
    assert_eq!(pause_after, ["10.0.1.5", "10.0.0.11"]);
    // No discovered agent answers to it: refused with the file, line and key.
    let err = resolve_discovered(
        &inv.awaiting_discovery,
        &agents[..1],
        &mut inv.gates,
        &mut inv.pause_after,
    )
    .unwrap_err();
    assert!(
        err.starts_with("/x/inventory.toml:17:9: gates.after = \"agent-7.example\" is no node"),
        "{err}"
    );
}

#[test]
fn with_agents_listed_a_gate_naming_no_listed_node_is_still_refused_at_load() {
    let text = format!("pause_after = [\"10.0.1.99\"]\n{GOOD}");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(1), "{e}");
    assert!(
        e.to_string().contains("is no node of this inventory"),
        "{e}"
    );
}
