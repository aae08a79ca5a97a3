//! `up --security`: the mode on every node, Admin Router's 401 without a token, and the report's
//! counters of tokens sent in clear text and of unauthorized requests.

mod common;

use common::ssh;
use dcos_sim::{http, Security, Testbed};
use serde_json::Value;
use std::time::Duration;

fn start(security: Security) -> Testbed {
    Testbed::builder()
        .masters(1)
        .agents(1)
        .public_agents(0)
        .activation_ms(300)
        .security(security)
        .start()
        .expect("testbed starts")
}

/// `GET http://host:port/path`, with `Authorization: token=<token>` when given.
fn get(url: &str, token: Option<&str>) -> http::Response {
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let auth = token.map(|t| format!("token={t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    http::request_with("GET", addr, path, &headers, "", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

fn counters(tb: &Testbed) -> (u64, u64) {
    let r = tb.report().unwrap();
    (r.plaintext_token_requests, r.unauthorized_requests)
}

#[test]
fn permissive_admin_router_wants_a_token_and_clear_text_tokens_are_counted() {
    let tb = start(Security::Permissive);
    for n in tb.nodes() {
        let (code, out) = ssh(
            &tb,
            &n.name,
            "cat $DCOS_SIM_ROOT/opt/mesosphere/etc/bootstrap-config.json",
        );
        assert_eq!(code, 0, "{out}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["security"], "permissive", "{}", n.name);
    }
    assert_eq!(counters(&tb), (0, 0));
    let m1 = tb.node("m1").unwrap().address;
    let a1 = tb.node("a1").unwrap().address;
    let admin = format!("http://{m1}:{}", tb.def().admin_port);

    // Admin Router: 401 acsjwt without a token, except its public version file.
    let r = get(&format!("{admin}/system/health/v1"), None);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate").unwrap(), "acsjwt");
    let r = get(&format!("http://{a1}:61001/system/health/v1"), None);
    assert_eq!(r.status, 401, "the agent's Admin Router too");
    assert_eq!(
        get(&format!("{admin}/dcos-metadata/dcos-version.json"), None).status,
        200
    );
    assert_eq!(
        get(&format!("{admin}/mesos/metrics/snapshot"), None).status,
        401
    );
    assert_eq!(counters(&tb), (0, 3));

    // A token over plain HTTP, to a node or to the bootstrap node, is counted every time.
    assert_eq!(
        get(&format!("{admin}/system/health/v1"), Some("secret")).status,
        200
    );
    assert_eq!(
        get(
            &format!("http://{m1}:5050/metrics/snapshot"),
            Some("secret")
        )
        .status,
        200
    );
    assert_eq!(get(tb.upgrade_script_url(), Some("secret")).status, 200);
    assert_eq!(counters(&tb), (3, 3));
    // Admin Router consumes the token: the proxied request to Mesos carries none.
    assert_eq!(
        get(&format!("{admin}/mesos/metrics/snapshot"), Some("secret")).status,
        200
    );
    assert_eq!(counters(&tb), (4, 3));
    // Without one, nothing more is counted.
    assert_eq!(
        get(&format!("http://{m1}:5050/metrics/snapshot"), None).status,
        200
    );
    assert_eq!(get(tb.upgrade_script_url(), None).status, 200);
    assert_eq!(counters(&tb), (4, 3));
    // The record names where, never the token.
    let record = std::fs::read_to_string(tb.dir().join("record.jsonl")).unwrap();
    assert_eq!(record.matches("\"plaintext_token\"").count(), 4);
    assert!(!record.contains("secret"));
}

#[test]
fn disabled_is_the_default_and_admin_router_is_open() {
    let tb = Testbed::builder()
        .masters(1)
        .agents(1)
        .public_agents(0)
        .activation_ms(300)
        .start()
        .expect("testbed starts");
    assert_eq!(tb.def().security, Security::Disabled);
    let root = tb.node("a1").unwrap().root;
    let text =
        std::fs::read_to_string(root.join("opt/mesosphere/etc/bootstrap-config.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["security"], "disabled");
    let m1 = tb.node("m1").unwrap().address;
    let url = format!("http://{m1}:{}/system/health/v1", tb.def().admin_port);
    assert_eq!(get(&url, None).status, 200);
    assert_eq!(get(&url, Some("t")).status, 200);
    assert_eq!(counters(&tb), (1, 0));
}
