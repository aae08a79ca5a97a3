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
