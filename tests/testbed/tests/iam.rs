//! The testbed's IAM: login at Admin Router with a user or a service account, the CA it serves,
//! and tokens that expire.

mod common;

use common::curl;
use dcos_sim::{Security, Testbed};
use serde_json::Value;

/// `curl -s -X POST` of a JSON body: the exit code and the body answered.
fn post_json(ca: &str, url: &str, body: &str) -> (i32, String) {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "5", "--cacert", ca, "-X", "POST", "-H"])
        .args(["Content-Type: application/json", "-d", body, url])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn login_with_a_user_or_a_service_account_and_tokens_expire() {
    let tb = Testbed::builder()
        // The simulator's own endpoints are tested from this machine: the flat network.
        .network(dcos_sim::Network::Flat)
        .masters(1)
        .agents(1)
        .public_agents(0)
        .activation_ms(300)
        .security(Security::Strict)
        .token_ttl_secs(3)
        .start()
        .expect("testbed starts");
    let ca = tb.def().ca_file().unwrap().to_string_lossy().to_string();
    let m1 = tb.node("m1").unwrap().address;
    let ar = format!("https://{m1}:{}", tb.def().admin_tls_port());
    let login = format!("{ar}/acs/api/v1/auth/login");
    let works = |token: &str| {
        let auth = format!("Authorization: token={token}");
        curl(&[
            "--cacert",
            &ca,
            "-H",
            &auth,
            &format!("{ar}/mesos/metrics/snapshot"),
        ])
        .1 == "200"
    };
    let token_of = |answer: &str| -> Option<String> {
        let v: Value = serde_json::from_str(answer).ok()?;
        v["token"].as_str().map(str::to_string)
    };
    // The CA is served to anyone.
    let (code, pem) = {
        let out = std::process::Command::new("curl")
            .args(["-s", "--cacert", &ca, &format!("{ar}/ca/dcos-ca.crt")])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    assert_eq!(
        (code, pem),
        (Some(0), std::fs::read_to_string(&ca).unwrap())
    );

    // A user: uid and password from DIR/credentials/user.json.
    let user: Value =
        serde_json::from_str(&std::fs::read_to_string(dcos_sim::iam::user_file(tb.dir())).unwrap())
            .unwrap();
    let body = serde_json::json!({"uid": user["uid"], "password": user["password"]}).to_string();
    let (_, answer) = post_json(&ca, &login, &body);
    let user_token = token_of(&answer).unwrap_or_else(|| panic!("no token: {answer}"));
    assert!(works(&user_token));
    let wrong = serde_json::json!({"uid": user["uid"], "password": "nope"}).to_string();
    let (_, answer) = post_json(&ca, &login, &wrong);
    assert!(answer.contains("ERR_INVALID_CREDENTIALS"), "{answer}");

    // A service account: a login JWT signed with its key; one signed with another key fails.
    let key = dcos_sim::iam::service_key_file(tb.dir());
    let uid = dcos_sim::iam::SERVICE_ACCOUNT_UID;
    let jwt = dcos_sim::iam::service_login_jwt(&key, uid).unwrap();
    let (_, answer) = post_json(
        &ca,
        &login,
        &serde_json::json!({"uid": uid, "token": jwt}).to_string(),
    );
    let sa_token = token_of(&answer).unwrap_or_else(|| panic!("no token: {answer}"));
    assert!(works(&sa_token));
    let other = tb.dir().join("other.key");
    let st = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&other)
        .output()
        .unwrap();
    assert!(st.status.success());
    let forged = dcos_sim::iam::service_login_jwt(&other, uid).unwrap();
    let (_, answer) = post_json(
        &ca,
        &login,
        &serde_json::json!({"uid": uid, "token": forged}).to_string(),
    );
    assert!(answer.contains("does not verify"), "{answer}");
    let mismatched = serde_json::json!({"uid": dcos_sim::iam::USER_UID, "token": jwt}).to_string();
    assert!(post_json(&ca, &login, &mismatched)
        .1
        .contains("ERR_INVALID_CREDENTIALS"));

    // Tokens expire (3 s here): the same token is refused afterwards.
    common::wait_until("the user token to expire", 10, || !works(&user_token));
    common::wait_until("the service account's token to expire", 10, || {
        !works(&sa_token)
    });
    // Revoked (as an OSS 1.12 -> 1.13 upgrade does), a token is refused; a new login works.
    let (_, answer) = post_json(&ca, &login, &body);
    let revoked = token_of(&answer).unwrap();
    assert!(works(&revoked));
    tb.revoke_tokens().unwrap();
    assert!(!works(&revoked));
    let (_, answer) = post_json(&ca, &login, &body);
    assert!(works(&token_of(&answer).unwrap()));

    let r = tb.report().unwrap();
    assert_eq!(r.plaintext_token_requests, 0, "every token went over HTTPS");
    assert!(r.unauthorized_requests >= 5, "{}", r.unauthorized_requests);
}
