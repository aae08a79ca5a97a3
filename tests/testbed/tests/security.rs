//! `up --security`: the mode on every node, Admin Router's 401 without a token, and the report's
//! counters of tokens sent in clear text and of unauthorized requests.

mod common;

use common::{curl, ssh};
use dcos_sim::{http, Security, Testbed};
use serde_json::Value;
use std::time::Duration;

fn start(security: Security) -> Testbed {
    Testbed::builder()
        // The simulator's own endpoints are tested from this machine: the flat network.
        .network(dcos_sim::Network::Flat)
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

    // A token over plain HTTP, to a node or to the bootstrap node, is counted every time; Admin
    // Router takes only a token the IAM issued.
    assert_eq!(
        get(&format!("{admin}/system/health/v1"), Some("secret")).status,
        401
    );
    assert_eq!(counters(&tb), (1, 4));
    let token = tb.token().unwrap();
    assert_eq!(
        get(&format!("{admin}/system/health/v1"), Some(&token)).status,
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
    assert_eq!(counters(&tb), (4, 4));
    // Admin Router consumes the token: the proxied request to Mesos carries none.
    assert_eq!(
        get(&format!("{admin}/mesos/metrics/snapshot"), Some(&token)).status,
        200
    );
    assert_eq!(counters(&tb), (5, 4));
    // Without one, nothing more is counted.
    assert_eq!(
        get(&format!("http://{m1}:5050/metrics/snapshot"), None).status,
        200
    );
    assert_eq!(get(tb.upgrade_script_url(), None).status, 200);
    assert_eq!(counters(&tb), (5, 4));
    // The record names where, never the token.
    let record = std::fs::read_to_string(tb.dir().join("record.jsonl")).unwrap();
    assert_eq!(record.matches("\"plaintext_token\"").count(), 5);
    assert!(!record.contains("secret") && !record.contains(&token));
}

#[test]
fn disabled_is_the_default_and_admin_router_is_open() {
    let tb = Testbed::builder()
        // The simulator's own endpoints are tested from this machine: the flat network.
        .network(dcos_sim::Network::Flat)
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

#[test]
fn strict_serves_tls_from_the_testbed_ca_and_exhibitor_wants_a_client_certificate() {
    let tb = start(Security::Strict);
    let ca = tb.def().ca_file().expect("a CA in strict mode");
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    for n in tb.nodes() {
        let bundle = std::fs::read_to_string(n.root.join("run/dcos/pki/CA/ca-bundle.crt")).unwrap();
        assert_eq!(
            bundle, ca_pem,
            "{}: the node's CA bundle is the cluster CA",
            n.name
        );
    }
    let ca = ca.to_string_lossy().to_string();
    let m1 = tb.node("m1").unwrap().address;
    let a1 = tb.node("a1").unwrap().address;
    let tls = tb.def().admin_tls_port();
    let ar = format!("https://{m1}:{tls}");

    // Admin Router: HTTPS with the cluster CA; an unknown CA fails; :80 redirects to HTTPS.
    let version = format!("{ar}/dcos-metadata/dcos-version.json");
    assert_eq!(curl(&["--cacert", &ca, &version]).1, "200");
    assert_eq!(
        curl(&[&version]).0,
        60,
        "not trusted without the cluster CA"
    );
    let (_, answer) = curl(&[&format!("http://{m1}:{}/mesos/state", tb.def().admin_port)]);
    assert!(answer.starts_with("307 https://"), "{answer}");
    // Mesos: TLS only, and a token on every request.
    let auth = format!("Authorization: token={}", tb.token().unwrap());
    let auth = auth.as_str();
    for url in [
        format!("https://{m1}:5050/metrics/snapshot"),
        format!("https://{a1}:5051/metrics/snapshot"),
    ] {
        assert_eq!(
            curl(&["--cacert", &ca, &url]).1,
            "401",
            "{url} without a token"
        );
        assert_eq!(curl(&["--cacert", &ca, "-H", auth, &url]).1, "200", "{url}");
    }
    assert_ne!(curl(&[&format!("http://{m1}:5050/metrics/snapshot")]).0, 0);
    // Its flags say so (what a check reads).
    let out = std::process::Command::new("curl")
        .args(["-s", "--cacert", &ca, "-H", auth])
        .arg(format!("https://{m1}:5050/flags"))
        .output()
        .unwrap();
    let flags: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        flags["flags"]["authenticate_http_readwrite"], "true",
        "{flags}"
    );
    // Exhibitor: a client certificate from the masters' exhibitor-tls-artifacts.
    let exhibitor = format!("https://{m1}:8181/exhibitor/v1/cluster/status");
    assert_ne!(
        curl(&["--cacert", &ca, &exhibitor]).0,
        0,
        "refused without a client certificate"
    );
    let t = tb
        .node("m1")
        .unwrap()
        .root
        .join("var/lib/dcos/exhibitor-tls-artifacts");
    let f = |n: &str| t.join(n).to_string_lossy().to_string();
    let (cert, key, root) = (
        f("client-cert.pem"),
        f("client-key.pem"),
        f("root-cert.pem"),
    );
    let with_cert = [
        "--cacert", &root, "--cert", &cert, "--key", &key, &exhibitor,
    ];
    assert_eq!(curl(&with_cert).1, "200");
    // Marathon: HTTPS on :8443; both ports answer only with a token.
    let marathon = format!("https://{m1}:8443/v2/info");
    assert_eq!(curl(&["--cacert", &ca, &marathon]).1, "401");
    assert_eq!(curl(&["--cacert", &ca, "-H", auth, &marathon]).1, "200");
    let before = counters(&tb);
    assert_eq!(curl(&[&format!("http://{m1}:8080/v2/info")]).1, "401");
    // A token over HTTPS is not a clear-text token; over plain :8080 it is.
    let proxied = format!("{ar}/mesos/metrics/snapshot");
    assert_eq!(curl(&["--cacert", &ca, "-H", auth, &proxied]).1, "200");
    assert_eq!(counters(&tb), (before.0, before.1 + 1));
    assert_eq!(
        curl(&["-H", auth, &format!("http://{m1}:8080/v2/info")]).1,
        "200"
    );
    assert_eq!(counters(&tb), (before.0 + 1, before.1 + 1));

    // The node's own checks use the CA bundle.
    for node in ["m1", "a1"] {
        let (code, out) = ssh(
            &tb,
            node,
            "$DCOS_SIM_ROOT/opt/mesosphere/bin/dcos-check-runner check node-poststart",
        );
        assert_eq!(code, 0, "{node}: {out}");
    }
}

#[test]
fn permissive_mesos_takes_http_and_https_on_one_port() {
    let tb = start(Security::Permissive);
    let ca = tb.def().ca_file().unwrap().to_string_lossy().to_string();
    let m1 = tb.node("m1").unwrap().address;
    let metrics = format!("{m1}:5050/metrics/snapshot");
    assert_eq!(curl(&[&format!("http://{metrics}")]).1, "200");
    let flags = common::get_json(&format!("{m1}:5050"), "/flags");
    assert_eq!(
        flags["flags"]["authenticate_http_readwrite"], "false",
        "permissive: off"
    );
    assert_eq!(
        curl(&["--cacert", &ca, &format!("https://{metrics}")]).1,
        "200"
    );
    let ar = format!("https://{m1}:{}", tb.def().admin_tls_port());
    let auth = format!("Authorization: token={}", tb.token().unwrap());
    let auth = auth.as_str();
    assert_eq!(
        curl(&[
            "--cacert",
            &ca,
            "-H",
            auth,
            &format!("{ar}/marathon/v2/apps")
        ])
        .1,
        "200"
    );
    assert_eq!(counters(&tb), (0, 0), "a token over HTTPS is not counted");
}

#[test]
fn the_upgrade_script_moves_a_node_from_permissive_to_strict_and_rollback_moves_it_back() {
    let tb = Testbed::builder()
        // The simulator's own endpoints are tested from this machine: the flat network.
        .network(dcos_sim::Network::Flat)
        .masters(1)
        .agents(1)
        .public_agents(0)
        .activation_ms(300)
        .security(Security::Permissive)
        .upgrade_security(Security::Strict)
        .start()
        .expect("testbed starts");
    let ca = tb.def().ca_file().unwrap().to_string_lossy().to_string();
    let a1 = tb.node("a1").unwrap();
    let plain = format!("http://{}:5051/metrics/snapshot", a1.address);
    let tls = format!("https://{}:5051/metrics/snapshot", a1.address);
    let auth = format!("Authorization: token={}", tb.token().unwrap());
    let mode = || {
        let text =
            std::fs::read_to_string(a1.root.join("opt/mesosphere/etc/bootstrap-config.json"))
                .unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["security"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(mode(), "permissive");
    assert_eq!(curl(&[&plain]).1, "200", "permissive: plain HTTP answers");
    let run = |url: &str| {
        ssh(
            &tb,
            "a1",
            &format!("cd \"$DCOS_SIM_ROOT/..\" && curl -fsS -o s.sh {url} && bash s.sh"),
        )
    };

    let (code, out) = run(tb.upgrade_script_url());
    assert_eq!(code, 0, "{out}");
    assert_eq!(mode(), "strict");
    common::wait_until("a1 back, strict", 10, || {
        curl(&["--cacert", &ca, "-H", &auth, &tls]).1 == "200"
    });
    assert_ne!(curl(&[&plain]).0, 0, "strict: no plain HTTP");
    assert_eq!(
        curl(&["--cacert", &ca, &tls]).1,
        "401",
        "strict: a token on every request"
    );

    let (code, out) = run(tb.rollback_script_url());
    assert_eq!(code, 0, "{out}");
    assert_eq!(mode(), "permissive");
    common::wait_until("a1 back, permissive", 10, || curl(&[&plain]).1 == "200");
}
