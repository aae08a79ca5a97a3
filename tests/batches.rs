//! Agents in batches (`--max-unavailable N`): each batch's DC/OS node checks are read by the
//! steps before it, once their own nodes are back, beside their own checks after their nodes,
//! so a batch does not wait for its checks again when it starts; judged from the testbed's
//! record of every `dcos-check-runner` run.

mod common;
use common::{text, Env};
use dcos_sim::record::{self, Recorded};

/// One run of `dcos-check-runner` on the testbed's record, in the record's time (seconds since
/// the testbed started).
#[derive(Debug, Clone, Copy)]
struct CheckRun {
    started: f64,
    ended: f64,
}

/// Every check run of node `name`, in order.
fn check_runs(events: &[Recorded], name: &str) -> Vec<CheckRun> {
    events
        .iter()
        .filter(|e| e.event == "check_run" && e.data["node"] == name)
        .map(|e| {
            let at = |k: &str| -> f64 { e.data[k].as_str().unwrap().parse().unwrap() };
            // The record's time is when the run was recorded, at its end.
            CheckRun {
                started: e.t - (at("ended") - at("started")),
                ended: e.t,
            }
        })
        .collect()
}

/// When the testbed recorded `event` for node `name` first.
fn first(events: &[Recorded], event: &str, name: &str) -> f64 {
    events
        .iter()
        .find(|e| e.event == event && e.data["node"] == name)
        .unwrap_or_else(|| panic!("no {event} of {name} on the record: {events:#?}"))
        .t
}

#[test]
fn a_batch_is_checked_beside_the_canarys_own_checks_once_the_canary_is_back() {
    // DC/OS's node checks take a while on a real node (no source gives a figure): here
    // 600 ms a run, so that what runs beside it is plain on the record.
    let tb = dcos_sim::Testbed::builder()
        .masters(1)
        .agents(3)
        .public_agents(0)
        .version("2.2.0")
        .upgrade_to("2.2.1")
        .activation_ms(400)
        .check_ms(600)
        .start()
        .expect("testbed up");
    common::append(
        &tb.inventory_path(),
        &format!("\n[timeouts]\n{}", common::FAST_TIMEOUTS),
    );
    let env = Env::adopt(tb);
    let out = env.run(&["--yes", "--max-unavailable", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = env.report();
    // One master (its own quorum), so only the agents' bound is judged here.
    assert!(
        r.nodes
            .iter()
            .all(|n| n.version == "2.2.1" && n.upgrade_attempts == 1),
        "{r:#?}"
    );
    assert!(r.max_agents_down <= 2, "{r:#?}");
    // The canary first, alone; then the batch of the other two.
    let order: Vec<&str> = (r.upgrade_order.iter())
        .map(|u| u.node.as_str())
        .filter(|n| n.starts_with('a'))
        .collect();
    let (canary, batch) = (order[0], &order[1..]);
    assert_eq!(batch.len(), 2, "{order:?}");
    let events = record::events(env.tb.dir());
    let canary_back = first(&events, "upgrade_done", canary);
    // The canary's own checks after its node: its first run after its script ended.
    let canary_after = *check_runs(&events, canary)
        .iter()
        .find(|c| c.started > canary_back)
        .expect("the canary is checked after its upgrade");
    for node in batch {
        let down = first(&events, "upgrade_attempt", node);
        let before = check_runs(&events, node)
            .into_iter()
            .rfind(|c| c.ended < down)
            .unwrap_or_else(|| panic!("{node} went down without its checks: {events:#?}"));
        assert!(
            before.started > canary_back,
            "{node} was checked before the canary {canary} was back: {before:?}, back at {canary_back}"
        );
        assert!(
            before.started < canary_after.ended,
            "{node}'s checks waited for the canary's step to end instead of running beside its \
             checks: {node} checked {before:?}, the canary {canary_after:?}"
        );
    }
}
