//! Every node found (issue 11, facts §8.6): a node DC/OS knows that the inventory lacks blocks
//! the plan, naming it and `--exclude`; `--exclude` lets it through with a warning in the plan and
//! the summary, and the run leaves it untouched; an agent the leader counts as unreachable (and
//! cannot name) blocks too.

mod common;

use common::{text, Env};

/// Removes the `[[agents]]` entry named `name` from the inventory.
fn drop_agent(env: &Env, name: &str) {
    let path = env.inventory();
    let mut v: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let agents = v.get_mut("agents").unwrap().as_array_mut().unwrap();
    let before = agents.len();
    agents.retain(|a| a.get("name").and_then(|n| n.as_str()) != Some(name));
    assert_eq!(agents.len() + 1, before, "no agent {name} in the inventory");
    std::fs::write(&path, toml::to_string(&v).unwrap()).unwrap();
}

fn plan(env: &Env, extra: &[&str]) -> std::process::Output {
    env.plan(&[], extra)
}

#[test]
fn an_agent_missing_from_the_inventory_blocks_the_plan_until_excluded_and_the_run_leaves_it_untouched(
) {
    let env = Env::new(1, 2, 0, &[]);
    drop_agent(&env, "a2");
    let a1 = env.tb.node("a1").unwrap().address;
    let a2 = env.tb.node("a2").unwrap().address;

    // Blocked, naming the node and the way out.
    let o = plan(&env, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&a2),
        "the missing agent is named: {}",
        text(&o)
    );
    assert!(err.contains("the leader's /slaves"), "{}", text(&o));
    assert!(err.contains(&format!("--exclude {a2}")), "{}", text(&o));

    // A node the inventory lists cannot be excluded (bad input).
    let o = plan(&env, &["--exclude", &a2, "--exclude", &a1]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the inventory lists"));

    // Excluded: planned, with the warning, and recorded in the plan's JSON.
    let o = plan(&env, &["--exclude", &a2]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("WARNING: {a2} is excluded")),
        "{}",
        text(&o)
    );
    let o = plan(&env, &["--output", "json", "--exclude", &a2]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(p["excluded"][0]["node"], a2.as_str(), "{p:#}");
    assert!(
        !p.to_string().contains(&format!("agents/{a2}")),
        "no step for the excluded agent: {p:#}"
    );

    // `check` blocks on it the same way, and takes the same --exclude.
    let all_known = |extra: &[&str]| {
        let (code, checks) = common::check_json(&env.inventory(), extra);
        let c = common::check_entry(&checks, "nodes.all_known")
            .unwrap_or_else(|| panic!("no nodes.all_known: {checks:#?}"));
        (code, c)
    };
    let (code, c) = all_known(&[]);
    assert_eq!((code, &c["passed"]), (Some(1), &false.into()), "{c}");
    let (_, c) = all_known(&["--exclude", &a2]);
    assert_eq!(c["passed"], true, "{c}");
    assert!(
        c["found"]
            .as_str()
            .unwrap()
            .contains(&format!("{a2} is excluded")),
        "{c}"
    );

    // The run leaves it untouched, says so at the end, and reports it in the postcheck.
    let o = env.run(&["--yes", "--exclude", &a2]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let summary = err.rsplit("Summary:").next().unwrap_or_default();
    assert!(
        summary.contains(&format!("WARNING: {a2} is excluded")),
        "the summary warns: {}",
        text(&o)
    );
    assert!(
        err.contains(&format!("postcheck: {a2} was excluded")) && err.contains("2.1.3"),
        "the postcheck reports its version: {}",
        text(&o)
    );
    let r = env.report();
    for n in &r.nodes {
        if n.name == "a2" {
            assert_eq!(n.upgrade_attempts, 0, "{r:#?}");
            assert_eq!(n.version, "2.1.3", "{r:#?}");
        } else {
            assert_eq!(n.upgrade_attempts, 1, "{r:#?}");
            assert_eq!(n.version, "2.2.1", "{r:#?}");
        }
    }
    // Recorded durably: status still names it.
    let st = env.status();
    assert_eq!(st["state"], "done", "{st:#}");
}

#[test]
fn an_unreachable_agent_the_leader_cannot_name_blocks_the_plan_until_excluded() {
    let env = Env::new(1, 2, 0, &[]);
    env.tb.fault("a2", "unreachable").unwrap();
    drop_agent(&env, "a2");
    let a2 = env.tb.node("a2").unwrap().address;

    let o = plan(&env, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("1 agent(s) the leading master counts as unreachable"),
        "{}",
        text(&o)
    );
    assert!(err.contains("--exclude"), "{}", text(&o));

    // Its address, which DC/OS no longer names, stands for the unreachable agent.
    let o = plan(&env, &["--exclude", &a2]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("WARNING: {a2} is excluded")) && out.contains("unreachable"),
        "{}",
        text(&o)
    );

    // A second unknown name has nothing to stand for: a typo, refused.
    let o = plan(
        &env,
        &["--exclude", &a2, "--exclude", "no-such-node.example"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("DC/OS knows no such node"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_unreachable_agent_listed_in_the_inventory_is_accounted_for() {
    let env = Env::new(1, 1, 0, &[]);
    env.tb.fault("a1", "unreachable").unwrap();
    // The inventory lists it: the leader's count is explained, nothing is missing.
    let o = plan(&env, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
