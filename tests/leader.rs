//! The Mesos leader is cross-checked, never taken on one master's word (issue 13, defect 2):
//! a master whose `/master/redirect` is stale must not make the tool upgrade the real leader
//! before the standbys. Judged from the testbed's record of who led when each upgrade began.

mod common;

use common::Env;

#[test]
fn a_stale_redirect_does_not_make_the_real_leader_go_before_the_standbys() {
    let env = Env::new(3, 1, 0, &[]);
    let r = env.report();
    let leader = r.leader.clone().expect("a leader at the start");
    let leader_name = r
        .nodes
        .iter()
        .find(|n| n.address == leader)
        .map(|n| n.name.clone())
        .unwrap();
    // The first master in the inventory lies: as the leader it names a standby, as a standby it
    // names itself. The tool asks the masters in inventory order, so it hears the lie first.
    env.tb.fault("m1", "stale-redirect").unwrap();
    let out = env.run(&["--yes"]);
    assert!(
        out.status.success(),
        "run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = env.report();
    let masters: Vec<_> = r
        .upgrade_order
        .iter()
        .filter(|u| u.node.starts_with('m'))
        .collect();
    assert_eq!(masters.len(), 3, "{:#?}", r.upgrade_order);
    for u in &masters[..2] {
        assert!(
            !u.was_leader,
            "{} was upgraded while it led, before a standby (the stale redirect was believed): {:#?}",
            u.node, r.upgrade_order
        );
    }
    assert_eq!(
        masters[2].node, leader_name,
        "the leader at the start went last"
    );
    assert_eq!(r.quorum_loss_events, 0);
    for n in &r.nodes {
        assert_eq!(
            n.upgrade_attempts, 1,
            "{} upgraded {} times",
            n.name, n.upgrade_attempts
        );
    }
}
