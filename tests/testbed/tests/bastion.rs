//! An SSH bastion (`up --bastion`): the nodes' SSH ports answer only through it.

mod common;

use common::{assert_refused, banner, namespaces, ssh};
use dcos_sim::{Network, Testbed};
use std::process::Command;

#[test]
fn behind_a_bastion_the_nodes_answer_ssh_only_through_it() {
    let tb = Testbed::builder()
        .masters(1)
        .agents(1)
        .public_agents(0)
        .activation_ms(300)
        .network(Network::Firewalled)
        .bastion(true)
        .start()
        .expect("testbed starts");
    let ssh_port = tb.def().ssh_port;
    let bastion = tb.bastion().expect("a bastion");
    assert!(banner(&format!("{}:{ssh_port}", bastion.address)).starts_with("SSH-2.0-"));
    for n in tb.nodes() {
        // Not from the operator's machine...
        assert_refused(&format!("{}:{ssh_port}", n.address));
        // ...but through the bastion (ssh_config's ProxyJump), with the node's host key checked.
        let (code, out) = ssh(&tb, &n.name, "echo on-$DCOS_SIM_NODE");
        assert_eq!((code, out.trim()), (0, format!("on-{}", n.name).as_str()));
    }
    let known = std::fs::read_to_string(tb.dir().join("known_hosts")).unwrap();
    assert!(known.contains(&format!("[{}]:{ssh_port} ", bastion.address)));
    // The bastion is not in the cluster; the inventory names it only as the jump host.
    assert!(tb.nodes().iter().all(|n| n.name != "bastion"));
    let inv = std::fs::read_to_string(tb.inventory_path()).unwrap();
    assert_eq!(inv.matches(&bastion.address).count(), 1, "{inv}");
    assert!(
        inv.lines()
            .any(|l| l.starts_with("jump_host = ") && l.contains(&bastion.address)),
        "{inv}"
    );
    // ssh-down closes the node's port on the bastion's side too.
    tb.fault("a1", "ssh-down").unwrap();
    assert_ne!(ssh(&tb, "a1", "true").0, 0);
    tb.clear_fault("a1", "ssh-down").unwrap();
    assert_eq!(ssh(&tb, "a1", "true").0, 0);
    let prefix = tb.def().netns_prefix();
    assert_eq!(namespaces(&prefix).len(), 3, "two nodes and the bastion");
    tb.down().unwrap();
    assert_eq!(namespaces(&prefix), Vec::<String>::new());
}

#[test]
fn a_bastion_needs_the_firewalled_network() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(dcos_sim::sim_binary().unwrap())
        .arg("up")
        .arg("--dir")
        .arg(dir.path())
        .args(["--masters", "1", "--agents", "0", "--version", "2.1.3"])
        .args(["--upgrade-to", "2.2.1", "--network", "flat", "--bastion"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--bastion needs --network firewalled"),
        "{err}"
    );
}
