//! `--to` is parsed strictly and the version path judged before anything changes (issue 13
//! defect 11, issue 15): `plan` exits as `run` would, and a refused `run` records no run and
//! touches no node.

mod common;

use common::Env;

fn out(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn malformed_targets_are_bad_input_and_undocumented_ones_fail_before_any_change() {
    let env = Env::new(3, 1, 0, &[]);
    let inv = env.inventory();
    let inv = inv.to_str().unwrap();
    for (to, code, says) in [
        ("v2.2.1", 2, "2.2.1"),
        ("2.2.1 ", 2, "2.2.1"),
        ("02.2.1", 2, "2.2.1"),
        ("2.2.1+build", 2, "2.2.1"),
        ("2.2", 2, "2.2.1"),
        ("2.2.1-rc1", 2, "pre-release"),
        ("2.1.4", 1, "versions.path"),
        ("2.1.3", 0, "nothing"),
    ] {
        let o = env
            .cmd(&["plan", "--inventory", inv, "--to", to])
            .output()
            .unwrap();
        let text = out(&o);
        assert_eq!(o.status.code(), Some(code), "plan --to {to:?}: {text}");
        if code != 0 {
            assert!(text.contains(says), "plan --to {to:?}: {text}");
        }
    }
    // A downgrade target is refused by `plan` too.
    let o = env
        .cmd(&["plan", "--inventory", inv, "--to", "2.1.2"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("downgrade"), "{}", out(&o));

    // `run` to a release that does not exist: refused before a run is recorded.
    let o = env.run_to("2.1.4", &["--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains("versions.path"), "{}", out(&o));
    let st = env.cmd(&["status"]).output().unwrap();
    assert_ne!(
        st.status.code(),
        Some(0),
        "a refused run left a run behind: {}",
        out(&st)
    );
    let r = env.report();
    assert!(r
        .nodes
        .iter()
        .all(|n| n.upgrade_attempts == 0 && n.services_up));
}
