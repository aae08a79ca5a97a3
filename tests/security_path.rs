//! Enterprise 1.10/1.11 clusters in security mode `disabled` are told to move to `permissive`
//! before a 1.12+ target (facts §8.1: the mode was removed in 1.12); an open-source cluster of
//! the same version is not.

mod common;

use common::{text, Env};
use dcos_sim::Testbed;

fn check_entry(env: &Env) -> Option<serde_json::Value> {
    let (_, checks) = common::check_json(&env.inventory(), &[]);
    common::check_entry(&checks, "cluster.security_disabled_path")
}

#[test]
fn an_enterprise_1_11_cluster_with_security_disabled_is_told_to_move_to_permissive_first() {
    let tb = Testbed::builder()
        .masters(1)
        .agents(1)
        .public_agents(0)
        .version("1.11.12")
        .upgrade_to("1.12.4")
        .activation_ms(300)
        .start()
        .expect("testbed up");
    common::append(
        &tb.inventory_path(),
        &format!("\n[timeouts]\n{}", common::FAST_TIMEOUTS),
    );
    let env = Env::adopt(tb);
    // Open DC/OS (the testbed's variant): nothing to say.
    assert_eq!(check_entry(&env), None);

    // Enterprise: every node's dcos-version.json says so (facts §2, `dcos-variant`).
    common::make_enterprise(&env.tb);
    let c = check_entry(&env).expect("the finding is recorded by check");
    assert_eq!(c["severity"], "info", "{c}");
    assert!(c["remedy"].as_str().unwrap().contains("permissive"), "{c}");

    let o = env.run_to("1.12.4", &["--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("cluster.security_disabled_path"), "{t}");
    assert!(t.contains("permissive"), "{t}");
    let r = env.report();
    assert!(
        r.nodes.iter().all(|n| n.upgrade_attempts == 0),
        "nothing changed: {r:#?}"
    );
}
