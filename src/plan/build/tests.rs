//! Unit tests of the planner: ordering, skips, batches. No I/O.

use super::*;
use crate::facts::{AppFacts, ClusterFacts, NodeFacts};
use crate::model::Role;
use crate::plan::{Action, PhaseId, Plan, Step};

fn node(addr: &str, role: Role, version: &str, leader: bool) -> NodeFacts {
    NodeFacts {
        address: addr.into(),
        name: addr.into(),
        role,
        version: Some(version.into()),
        is_leader: leader,
        error: None,
        zone: None,
    }
}

fn cluster() -> ClusterFacts {
    ClusterFacts {
        masters: vec![
            node("10.0.0.11", Role::Master, "2.1.3", true),
            node("10.0.0.12", Role::Master, "2.1.3", false),
            node("10.0.0.13", Role::Master, "2.1.3", false),
        ],
        agents: vec![
            node("10.0.1.41", Role::PublicAgent, "2.1.3", false),
            node("10.0.1.21", Role::Agent, "2.1.3", false),
            node("10.0.1.22", Role::Agent, "2.1.3", false),
            node("10.0.1.23", Role::Agent, "2.1.3", false),
            node("10.0.1.24", Role::Agent, "2.1.3", false),
        ],
        leader: Some("10.0.0.11".into()),
        apps: vec![AppFacts {
            id: "/web".into(),
            image: Some("nginx:1.19.0".into()),
            version: "2020-01-01T00:00:00.000Z".into(),
        }],
    }
}

fn opts(max: u32) -> PlanOptions {
    PlanOptions {
        cluster: "c".into(),
        to: "2.2.1".into(),
        max_unavailable: max,
        max_unavailable_per_zone: None,
        frameworks: vec![],
    }
}

fn phase(p: &Plan, id: PhaseId) -> &[Step] {
    &p.phases.iter().find(|ph| ph.id == id).unwrap().steps
}

#[test]
fn phases_come_in_the_documented_order() {
    let p = build(&cluster(), &opts(1)).unwrap();
    let ids: Vec<PhaseId> = p.phases.iter().map(|ph| ph.id).collect();
    assert_eq!(ids, PhaseId::ALL.to_vec());
}

#[test]
fn the_leader_is_the_last_master_and_standbys_keep_inventory_order() {
    let p = build(&cluster(), &opts(1)).unwrap();
    let m: Vec<&str> = phase(&p, PhaseId::Masters)
        .iter()
        .map(|s| s.node.as_deref().unwrap())
        .collect();
    assert_eq!(m, ["10.0.0.12", "10.0.0.13", "10.0.0.11"]);
    assert_eq!(phase(&p, PhaseId::Masters)[2].leader, Some(true));
}

#[test]
fn agents_get_a_canary_then_batches_and_public_agents_last() {
    let p = build(&cluster(), &opts(2)).unwrap();
    let a: Vec<(&str, Option<u32>)> = phase(&p, PhaseId::Agents)
        .iter()
        .map(|s| (s.node.as_deref().unwrap(), s.batch))
        .collect();
    assert_eq!(
        a,
        [
            ("10.0.1.21", Some(0)),
            ("10.0.1.22", Some(1)),
            ("10.0.1.23", Some(1)),
            ("10.0.1.24", Some(2)),
            ("10.0.1.41", Some(3)),
        ]
    );
}

#[test]
fn nodes_at_the_target_are_skipped_with_the_reason() {
    let mut f = cluster();
    f.masters[1].version = Some("2.2.1".into());
    f.agents[1].version = Some("2.2.1".into());
    let p = build(&f, &opts(1)).unwrap();
    let m = &phase(&p, PhaseId::Masters)[0];
    assert_eq!(m.action, Action::Skip);
    assert_eq!(m.reason.as_deref(), Some("already at 2.2.1"));
    let a = phase(&p, PhaseId::Agents)
        .iter()
        .find(|s| s.node.as_deref() == Some("10.0.1.21"))
        .unwrap();
    assert_eq!(a.action, Action::Skip);
    // the canary is the first agent that needs the upgrade
    let canary = phase(&p, PhaseId::Agents)
        .iter()
        .find(|s| s.batch == Some(0))
        .unwrap();
    assert_eq!(canary.node.as_deref(), Some("10.0.1.22"));
    assert_eq!(p.from, Some("2.1.3".into()));
}

#[test]
fn an_unknown_version_stops_planning_and_names_the_node() {
    let mut f = cluster();
    f.agents[2].version = None;
    f.agents[2].error = Some("ssh: connection refused".into());
    let e = build(&f, &opts(1)).unwrap_err();
    assert!(e.to_string().contains("10.0.1.22"), "{e}");
    assert!(e.to_string().contains("connection refused"), "{e}");
}

#[test]
fn the_backup_runs_on_a_standby_master() {
    let p = build(&cluster(), &opts(1)).unwrap();
    assert_eq!(
        phase(&p, PhaseId::Backup)[0].node.as_deref(),
        Some("10.0.0.12")
    );
}

#[test]
fn framework_steps_carry_from_and_to_images() {
    let mut o = opts(1);
    o.frameworks = vec![crate::playbook::inventory::FrameworkUpgrade {
        app: "/web".into(),
        image: Some("nginx:1.20.0".into()),
    }];
    let p = build(&cluster(), &o).unwrap();
    let s = &phase(&p, PhaseId::Frameworks)[0];
    assert_eq!(s.from, Some(StepVersion::Image("nginx:1.19.0".into())));
    assert_eq!(s.to, Some(StepVersion::Image("nginx:1.20.0".into())));
    assert_eq!(s.action, Action::Upgrade);
    o.frameworks[0].app = "/nope".into();
    assert!(matches!(
        build(&cluster(), &o),
        Err(PlanError::UnknownApp(_))
    ));
}

#[test]
fn the_plan_serializes_to_the_documented_json_keys() {
    let p = build(&cluster(), &opts(1)).unwrap();
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["to"], "2.2.1");
    let m = &v["phases"][3];
    assert_eq!(m["id"], "masters");
    let s = &m["steps"][0];
    for k in ["id", "node", "role", "leader", "action", "from"] {
        assert!(s.get(k).is_some(), "missing {k} in {s}");
    }
    assert_eq!(s["role"], "master");
    assert_eq!(v["phases"][4]["steps"][4]["role"], "public_agent");
}

#[test]
fn a_zone_limit_keeps_every_batch_within_it_and_lists_steps_in_batch_order() {
    let mut f = cluster();
    for (i, a) in f.agents.iter_mut().enumerate() {
        a.zone = Some(["z1", "z2"][i % 2].into());
    }
    // Four more private agents, all in z1.
    for i in 0..4 {
        let mut n = node(&format!("10.0.1.3{i}"), Role::Agent, "2.1.3", false);
        n.zone = Some("z1".into());
        f.agents.push(n);
    }
    let mut o = opts(3);
    o.max_unavailable_per_zone = Some(1);
    let p = build(&f, &o).unwrap();
    assert_eq!(p.max_unavailable_per_zone, Some(1));
    let steps = phase(&p, PhaseId::Agents);
    let batches: Vec<u32> = steps.iter().map(|s| s.batch.unwrap()).collect();
    let mut sorted = batches.clone();
    sorted.sort_unstable();
    assert_eq!(batches, sorted, "steps in batch order");
    assert_eq!(batches.iter().filter(|b| **b == 0).count(), 1, "one canary");
    for b in sorted.iter().copied() {
        let zones: Vec<&str> = steps
            .iter()
            .filter(|s| s.batch == Some(b))
            .map(|s| s.zone.as_deref().unwrap())
            .collect();
        let mut d = zones.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), zones.len(), "batch {b} repeats a zone: {zones:?}");
        assert!(zones.len() <= 3);
    }
    // The public agent is alone in the last batch, after every private one.
    let last = steps.last().unwrap();
    assert_eq!(last.role, Some(Role::PublicAgent));
    assert!(steps[..steps.len() - 1]
        .iter()
        .all(|s| s.role == Some(Role::Agent) && s.batch < last.batch));
}

#[test]
fn without_a_zone_limit_the_batches_are_as_before_whatever_the_zones() {
    let mut f = cluster();
    for (i, a) in f.agents.iter_mut().enumerate() {
        a.zone = Some(["z1", "z1", "z2"][i % 3].into());
    }
    let zoned = build(&f, &opts(2)).unwrap();
    let plain = build(&cluster(), &opts(2)).unwrap();
    let b = |p: &Plan| -> Vec<(Option<String>, Option<u32>)> {
        phase(p, PhaseId::Agents)
            .iter()
            .map(|s| (s.node.clone(), s.batch))
            .collect()
    };
    assert_eq!(b(&zoned), b(&plain));
}

#[test]
fn a_plan_that_changes_nothing_skips_its_backups_and_one_that_changes_a_node_takes_them() {
    let mut facts = cluster();
    for n in facts.masters.iter_mut().chain(facts.agents.iter_mut()) {
        n.version = Some("2.2.1".into());
    }
    let p = build(&facts, &opts(1)).unwrap();
    assert!(p.changes_nothing());
    for s in phase(&p, PhaseId::Backup) {
        assert_eq!(s.action, Action::Skip, "{}", s.id);
        assert!(s
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("nothing to upgrade"));
    }
    // One agent left behind: the backups are taken.
    facts.agents[1].version = Some("2.1.3".into());
    let p = build(&facts, &opts(1)).unwrap();
    assert!(phase(&p, PhaseId::Backup)
        .iter()
        .all(|s| s.action == Action::Backup));
}
