//! What the cluster says is shown, never obeyed, and secrets never reach the output (issue 13,
//! defects 7 and 8): a version file with terminal escape sequences, and one that echoes the
//! operator's token, go through `check` and `plan`.

mod common;

use common::Env;

fn set_version(env: &Env, node: &str, version: &str) {
    let f = env.tb.dir().join(format!(
        "nodes/{node}/root/opt/mesosphere/etc/dcos-version.json"
    ));
    let text = std::fs::read_to_string(&f).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut v = v.as_object().unwrap().clone();
    v.insert("version".into(), serde_json::Value::String(version.into()));
    std::fs::write(&f, serde_json::to_string(&v).unwrap()).unwrap();
}

fn all_output(o: &std::process::Output) -> Vec<u8> {
    [o.stdout.clone(), o.stderr.clone()].concat()
}

#[test]
fn escape_sequences_from_a_node_are_escaped_and_an_echoed_token_is_redacted() {
    let env = Env::new(3, 1, 0, &[]);
    let inv = env.inventory();
    let inv = inv.to_str().unwrap();
    set_version(&env, "a1", "2.1.3\u{1b}]0;pwned\u{7}\u{1b}[2J");
    for args in [
        vec!["check", "--inventory", inv],
        vec!["plan", "--inventory", inv, "--to", "2.2.1"],
    ] {
        let o = env.cmd(&args).output().unwrap();
        let out = all_output(&o);
        let text = String::from_utf8_lossy(&out);
        assert!(
            !out.contains(&0x1b) && !out.contains(&0x07),
            "{args:?} printed raw control characters: {text:?}"
        );
        assert!(
            text.contains("pwned"),
            "{args:?} does not show the version at all: {text}"
        );
    }

    let token = "dcos-token-6f1c2a9e4b7d";
    set_version(&env, "a1", token);
    for args in [
        vec!["check", "--inventory", inv],
        vec!["--output", "json", "check", "--inventory", inv],
        vec!["plan", "--inventory", inv, "--to", "2.2.1"],
    ] {
        let o = env
            .cmd(&args)
            .env("DCOS_ACS_TOKEN", token)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&all_output(&o)).to_string();
        assert!(!text.contains(token), "{args:?} printed the token: {text}");
        assert!(text.contains("<redacted>"), "{args:?}: {text}");
    }
}
