//! Unit tests of the reconciliation: what DC/OS knows against the plan and `--exclude`.

use super::super::known::{DcosNodes, EXHIBITOR, HEALTH, RECOVERED, SLAVES};
use super::*;
use crate::model::Role;
use crate::playbook::NodeSpec;

fn spec(address: &str, role: Role) -> Planned {
    Planned::of(&NodeSpec {
        address: address.into(),
        name: address.into(),
        ssh_port: None,
        root: String::new(),
        role,
        public_listed: false,
    })
}

fn cluster() -> DcosNodes {
    let mut d = DcosNodes::default();
    d.add("10.0.0.11", None, Some(Role::Master), EXHIBITOR);
    d.add("10.0.1.21", Some("10.0.1.21"), Some(Role::Agent), SLAVES)
        .agent_id = Some("S1".into());
    d.add("10.0.1.22", Some("a2.example"), Some(Role::Agent), SLAVES)
        .agent_id = Some("S2".into());
    d.add("10.0.1.22", None, Some(Role::Agent), HEALTH);
    d.unreachable = Some(0);
    d
}

#[test]
fn an_agent_the_leader_lists_and_the_plan_lacks_is_missing_and_named() {
    let d = cluster();
    let m = spec("10.0.0.11", Role::Master);
    let a1 = spec("10.0.1.21", Role::Agent);
    let r = reconcile(&d, &[m.clone(), a1.clone()], &[]);
    assert!(r.blocks());
    assert_eq!(r.missing.len(), 1);
    let msg = r.message();
    assert!(
        msg.contains("10.0.1.22") && msg.contains("a2.example"),
        "{msg}"
    );
    assert!(msg.contains("agent id S2"), "{msg}");
    assert!(msg.contains("--exclude 10.0.1.22"), "{msg}");
    // The same node from two lists is one node.
    assert_eq!(d.nodes.len(), 3);
}

#[test]
fn an_exclusion_by_address_or_reported_hostname_lets_it_through_and_is_recorded() {
    let d = cluster();
    let m = spec("10.0.0.11", Role::Master);
    let a1 = spec("10.0.1.21", Role::Agent);
    for name in ["10.0.1.22", "A2.example"] {
        let r = reconcile(&d, &[m.clone(), a1.clone()], &[name.to_string()]);
        assert!(!r.blocks(), "{name}: {r:?}");
        assert_eq!(r.excluded.len(), 1);
        assert!(r.excluded[0].known_as.contains("agent id S2"));
        assert!(r.unknown_excludes.is_empty());
    }
}

#[test]
fn a_master_in_exhibitor_only_is_missing_too() {
    let mut d = cluster();
    d.add("10.0.0.12", None, Some(Role::Master), EXHIBITOR);
    let m = spec("10.0.0.11", Role::Master);
    let a1 = spec("10.0.1.21", Role::Agent);
    let a2 = spec("10.0.1.22", Role::Agent);
    let r = reconcile(&d, &[m.clone(), a1.clone(), a2.clone()], &[]);
    assert_eq!(r.missing.len(), 1);
    assert!(r.message().contains("master 10.0.0.12"), "{}", r.message());
}

#[test]
fn unreachable_agents_count_until_a_planned_unlisted_agent_or_an_unnamed_exclusion_accounts_for_them(
) {
    let mut d = cluster();
    d.unreachable = Some(2);
    let m = spec("10.0.0.11", Role::Master);
    let a1 = spec("10.0.1.21", Role::Agent);
    let a2 = spec("10.0.1.22", Role::Agent);
    let r = reconcile(&d, &[m.clone(), a1.clone(), a2.clone()], &[]);
    assert_eq!(r.unaccounted_unreachable, 2);
    assert!(r.message().contains("2 agent(s)"), "{}", r.message());
    // An inventory agent the leader does not list is one of them.
    let a3 = spec("10.0.1.23", Role::Agent);
    let r = reconcile(&d, &[m.clone(), a1.clone(), a2.clone(), a3.clone()], &[]);
    assert_eq!(r.unaccounted_unreachable, 1);
    // An excluded name DC/OS does not know stands for the other.
    let r = reconcile(
        &d,
        &[m.clone(), a1.clone(), a2.clone(), a3.clone()],
        &["10.0.1.24".into()],
    );
    assert!(!r.blocks(), "{r:?}");
    assert!(r.excluded[0].known_as.contains("unreachable"));
    // A third name has nothing to stand for: unknown.
    let r = reconcile(
        &d,
        &[m.clone(), a1.clone(), a2.clone(), a3.clone()],
        &["10.0.1.24".into(), "10.0.1.25".into()],
    );
    assert_eq!(r.unknown_excludes, ["10.0.1.25"]);
}

#[test]
fn recovered_agents_are_known() {
    let mut d = cluster();
    d.add("10.0.1.30", None, Some(Role::PublicAgent), RECOVERED);
    let m = spec("10.0.0.11", Role::Master);
    let a1 = spec("10.0.1.21", Role::Agent);
    let a2 = spec("10.0.1.22", Role::Agent);
    let r = reconcile(&d, &[m.clone(), a1.clone(), a2.clone()], &[]);
    assert!(
        r.message().contains("public_agent 10.0.1.30"),
        "{}",
        r.message()
    );
    assert!(r.message().contains("recovered_slaves"), "{}", r.message());
}

#[test]
fn the_check_blocks_with_the_message_and_passes_with_the_exclusion_named() {
    let d = cluster();
    let m = spec("10.0.0.11", Role::Master);
    let a1 = spec("10.0.1.21", Role::Agent);
    let c = check(&d, &[m.clone(), a1.clone()], &[]);
    assert!(!c[0].passed && c[0].severity == Severity::Blocker);
    let c = check(&d, &[m.clone(), a1.clone()], &["10.0.1.22".into()]);
    assert!(c[0].passed, "{c:?}");
    assert!(
        c[0].found.contains("WARNING: 10.0.1.22 is excluded"),
        "{c:?}"
    );
}

#[test]
fn an_inventory_dns_name_matches_the_ip_dcos_reports() {
    let mut d = cluster();
    d.add("10.0.0.12", None, Some(Role::Master), EXHIBITOR);
    let mut m2 = spec("master2.example", Role::Master);
    // What `known::planned` adds from a DNS lookup.
    m2.names.push("10.0.0.12".into());
    let r = reconcile(
        &d,
        &[
            spec("10.0.0.11", Role::Master),
            m2,
            spec("10.0.1.21", Role::Agent),
            spec("10.0.1.22", Role::Agent),
        ],
        &[],
    );
    assert!(!r.blocks(), "{r:?}");
}
