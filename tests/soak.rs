//! Random kills: the CLI is SIGKILLed at random moments during upgrades and rollbacks, over and
//! over, and each time continued; the cluster must end where it should with no double upgrade.
//!
//! `DCOS_UPGRADE_SOAK_KILLS` sets how many kills (default 6 in the suite; the documented soak
//! is 50: `DCOS_UPGRADE_SOAK_KILLS=50 cargo test --test soak -- --nocapture`).
//! `DCOS_UPGRADE_SOAK_SEED` replays a sequence.

mod common;

use common::{strs, text, Env};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The soak's from-version (a patch to 2.2.1).
const FROM: &str = "2.2.0";

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn latest(env: &Env) -> Option<(String, String)> {
    let out = env.cmd(&["--output", "json", "status"]).output().unwrap();
    // status's exit code says where the run stands (0 done, 1 failed, 3 at a gate, 5 paused);
    // others (2: no run yet) have no run to read.
    if !matches!(out.status.code(), Some(0 | 1 | 3 | 5)) {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Some((
        v["run"].as_str()?.to_string(),
        v["state"].as_str()?.to_string(),
    ))
}

#[test]
fn random_kills_during_upgrades_and_rollbacks_lose_nothing_and_upgrade_nothing_twice() {
    let kills: usize = std::env::var("DCOS_UPGRADE_SOAK_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let seed: u64 = std::env::var("DCOS_UPGRADE_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("soak: {kills} kills, seed {seed}");
    let mut rng = Lcg(seed);
    // A patch upgrade (2.2.0 -> 2.2.1): no point of no return, so every rollback may undo the
    // masters too (rollback past a door is tested in tests/rollback.rs).
    let env = Env::patch(3, 4, 1);
    let run = env.run_args(&["--yes"]);
    let mut killed = 0;
    let mut cycles = 0u64;
    let mut upgrading = true;
    let mut base = latest(&env).map(|(r, _)| r);
    loop {
        let now = latest(&env);
        let complete = if upgrading {
            matches!(&now, Some((r, s)) if Some(r) != base.as_ref() && s == "done")
        } else {
            matches!(&now, Some((_, s)) if s == "rolled_back")
        };
        if complete {
            cycles += 1;
            let version = if upgrading { "2.2.1" } else { FROM };
            let r = env.report();
            for n in &r.nodes {
                assert_eq!(n.version, version, "{}: {r:#?}", n.name);
                assert_eq!(
                    n.upgrade_attempts, cycles,
                    "{}: one script start per direction: {r:#?}",
                    n.name
                );
            }
            assert_eq!(r.quorum_loss_events, 0, "quorum lost");
            assert!(r.max_agents_down <= 1, "too many agents down at once");
            // Both directions are soaked: half the kills in the upgrade, the rest in the rollback.
            if killed >= kills && cycles >= 2 {
                break;
            }
            upgrading = !upgrading;
            base = now.map(|(r, _)| r);
            continue;
        }
        let args: Vec<&str> = if !upgrading {
            vec!["rollback", "--yes"]
        } else if now.as_ref().map(|n| &n.0) == base.as_ref() {
            strs(&run)
        } else {
            vec!["resume", "--yes"]
        };
        let mut child = env
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_millis(300 + rng.next() % 2500);
        let mut ended = false;
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                ended = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let budget = if cycles == 0 { kills / 2 } else { kills };
        if !ended && killed < budget {
            child.kill().unwrap();
            child.wait().unwrap();
            killed += 1;
            continue;
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?} failed: {}", text(&out));
    }
    eprintln!("soak: {killed} random kills survived over {cycles} directions (seed {seed})");
    assert!(cycles >= 2);
}
