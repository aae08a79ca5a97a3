//! The frameworks phase keeps the app (issue 12): only the image changes, UCR stays UCR, an app
//! without health checks does not wait for `deployment_secs`, a hanging deployment fails naming
//! the app and the deployment, and rollback puts exactly the saved definition back. Judged from
//! the testbed's record (`dcos-sim report`: every app's whole definition).

mod common;

use common::{append, text, Env};
use serde_json::Value;
use std::collections::HashMap;

/// Every node already at the target: the run is the frameworks phase (and its checks) only.
fn at_target(timeouts: &str) -> Env {
    Env::with_timeouts(1, 1, 0, &["m1", "a1"], timeouts)
}

const APPS: &str = "\n[[frameworks]]\napp = \"/web\"\nimage = \"nginx:1.21.0\"\n\n[[frameworks]]\napp = \"/worker\"\nimage = \"example/worker:2.1.0\"\n";

/// Every app's definition as the testbed keeps it.
fn definitions(env: &Env) -> HashMap<String, Value> {
    env.report()
        .apps
        .into_iter()
        .map(|a| (a.id, a.definition))
        .collect()
}

/// A definition without its docker image.
fn without_image(d: &Value) -> Value {
    let mut d = d.clone();
    if let Some(c) = d.pointer_mut("/container/docker") {
        c.as_object_mut().unwrap().remove("image");
    }
    d
}

/// Compares two definitions field by field (top level, and inside `container`), naming the first
/// field that differs.
fn assert_same_except_image(app: &str, before: &Value, after: &Value) {
    let (b, a) = (without_image(before), without_image(after));
    for (k, v) in b.as_object().unwrap() {
        assert_eq!(Some(v), a.get(k), "{app}: field {k} changed");
    }
    for k in a.as_object().unwrap().keys() {
        assert!(b.get(k).is_some(), "{app}: field {k} appeared");
    }
}

fn events(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn an_image_change_keeps_volumes_port_mappings_and_ucr_and_skips_health_waits_without_checks() {
    let env = at_target("poll_ms = 200\ndeployment_secs = 60\n");
    append(&env.inventory(), APPS);
    let before = definitions(&env);
    assert_eq!(
        before["/worker"]["container"]["type"], "MESOS",
        "the seeded UCR app"
    );
    assert!(before["/web"]["container"]["volumes"][0]["persistent"].is_object());
    let out = env.run(&["--yes", "--skip-backup", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let after = definitions(&env);
    assert_eq!(
        after["/web"]["container"]["docker"]["image"],
        "nginx:1.21.0"
    );
    assert_eq!(
        after["/worker"]["container"]["docker"]["image"],
        "example/worker:2.1.0"
    );
    for app in ["/web", "/worker", "/api"] {
        assert_same_except_image(app, &before[app], &after[app]);
    }
    assert_eq!(
        after["/api"], before["/api"],
        "an app not listed is left alone"
    );
    // /worker has no health checks: Marathon never counts it healthy, and the step does not
    // wait for deployment_secs (60 s) because of that.
    let worker = events(&out)
        .into_iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == "frameworks/worker/upgrade")
        .expect("the worker step finished");
    assert_eq!(worker["state"], "done", "{worker}");
    assert!(
        worker["duration_ms"].as_u64().unwrap() < 20_000,
        "waited for health that never comes: {worker}"
    );
    // The full previous definition is journaled (write-ahead) and kept as the output.
    let s = env.status();
    let web = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "frameworks/web/upgrade")
        .unwrap();
    assert_eq!(
        web["output"]["previous"]["container"],
        before["/web"]["container"]
    );
    assert!(web["output"]["deployment"].is_string(), "{web:#}");
}

/// The deployment ids the testbed handed out for `app`, in order.
fn deployments_of(env: &Env, app: &str) -> Vec<String> {
    let rec = std::fs::read_to_string(env.tb.dir().join("record.jsonl")).unwrap();
    rec.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "marathon_deploy" && v["data"]["app"] == app)
        .filter_map(|v| v["data"]["deploymentId"].as_str().map(String::from))
        .collect()
}

#[test]
fn a_hanging_deployment_fails_naming_app_and_deployment_and_rollback_puts_the_saved_definition_back(
) {
    let env = at_target("poll_ms = 200\ndeployment_secs = 4\n");
    append(&env.inventory(), APPS);
    let before = definitions(&env);
    env.tb.fault("m1", "deployment-hangs").unwrap();
    let out = env.run(&["--yes", "--skip-backup", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let deps = deployments_of(&env, "/web");
    assert_eq!(deps.len(), 1, "{deps:?}");
    let s = env.status();
    let web = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "frameworks/web/upgrade")
        .unwrap()
        .clone();
    assert_eq!(web["state"], "failed", "{s:#}");
    let msg = web["message"].as_str().unwrap();
    assert!(
        msg.contains("/web") && msg.contains(&deps[0]) && msg.contains("4 s"),
        "{msg}"
    );
    // The saved definition was journaled before the change was sent.
    assert_eq!(
        web["output"]["previous"]["container"],
        before["/web"]["container"]
    );
    // The operator clears the fault and rolls back: /web is exactly as it was.
    env.tb.clear_fault("m1", "deployment-hangs").unwrap();
    let out = env
        .cmd(&["--output", "json", "rollback", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(env.status()["state"], "rolled_back");
    let after = definitions(&env);
    for app in ["/web", "/worker", "/api"] {
        assert_eq!(
            after[app], before[app],
            "{app} is exactly at its saved definition"
        );
    }
}
