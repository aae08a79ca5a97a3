//! The disk check covers the node's `$TMPDIR` (`/tmp` when unset), where pkgpanda downloads the
//! packages (facts §8.8): a full temporary directory blocks, even with room everywhere else.

mod common;

use dcos_sim::Testbed;
use serde_json::Value;

/// `check --output json`: the exit code and the checklist.
fn check(tb: &Testbed) -> (i32, Vec<Value>) {
    let (code, checks) = common::check_json(&tb.inventory_path(), &[]);
    (code.unwrap_or(-1), checks)
}

fn disk(checks: &[Value]) -> &Value {
    checks
        .iter()
        .find(|c| c["id"] == "nodes.disk_free")
        .expect("nodes.disk_free")
}

#[test]
fn a_full_tmpdir_blocks_the_upgrade_though_every_other_filesystem_has_room() {
    let tb = Testbed::builder()
        .masters(1)
        .agents(1)
        .public_agents(0)
        .version("2.1.3")
        .upgrade_to("2.2.1")
        .start()
        .expect("testbed starts");
    let (_, checks) = check(&tb);
    let d = disk(&checks);
    assert_eq!(d["passed"], true, "{d}");
    // Five filesystems per node: the four DC/OS directories and /tmp.
    assert!(
        d["found"].as_str().unwrap().starts_with("10 filesystems"),
        "{d}"
    );

    tb.fault("a1", "tmp-full").unwrap();
    let (code, checks) = check(&tb);
    assert_eq!(code, 1, "{checks:#?}");
    let d = disk(&checks);
    assert_eq!(d["passed"], false, "{d}");
    let found = d["found"].as_str().unwrap();
    let a1 = tb.node("a1").unwrap().address;
    assert!(found.contains(&format!("{a1} /tmp: 1% free")), "{found}");
    assert!(
        !found.contains("/opt/mesosphere") && !found.contains("/var/"),
        "only the temporary directory is full: {found}"
    );
    assert!(d["remedy"].as_str().unwrap().contains("$TMPDIR"), "{d}");
}
