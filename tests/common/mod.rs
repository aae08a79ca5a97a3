//! Test support shared by the integration tests: a testbed cluster plus a state directory, and
//! helpers to run the real `dcos-upgrade` binary against it.
#![allow(dead_code)]

use dcos_sim::{Report, Testbed};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The `[timeouts]` of the test clusters: short, so a failing gate fails fast.
pub const FAST_TIMEOUTS: &str =
    "node_script_secs = 60\nmaster_gate_secs = 30\nagent_gate_secs = 30\nbackup_secs = 30\npoll_ms = 200\n";

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_dcos-upgrade")
}

/// A testbed cluster and a private state directory for dcos-upgrade.
pub struct Env {
    /// The cluster (torn down on drop).
    pub tb: Testbed,
    /// dcos-upgrade's state directory.
    pub state: tempfile::TempDir,
}

impl Env {
    /// A cluster of `masters` + `agents` + `public` at 2.1.3 (target 2.2.1), fast timings.
    pub fn new(masters: usize, agents: usize, public: usize, at_target: &[&str]) -> Env {
        Env::with_timeouts(masters, agents, public, at_target, FAST_TIMEOUTS)
    }

    /// As `new`, with the inventory's `[timeouts]` table body given.
    pub fn with_timeouts(
        masters: usize,
        agents: usize,
        public: usize,
        at_target: &[&str],
        timeouts: &str,
    ) -> Env {
        Env::at_version("2.1.3", masters, agents, public, at_target, timeouts)
    }

    /// A cluster on the patch path 2.2.0 -> 2.2.1, which has no point of no return (so a
    /// rollback may undo every master), with the fast timeouts of `new`.
    pub fn patch(masters: usize, agents: usize, public: usize) -> Env {
        Env::at_version("2.2.0", masters, agents, public, &[], FAST_TIMEOUTS)
    }

    fn at_version(
        version: &str,
        masters: usize,
        agents: usize,
        public: usize,
        at_target: &[&str],
        timeouts: &str,
    ) -> Env {
        let tb = Testbed::builder()
            .masters(masters)
            .agents(agents)
            .public_agents(public)
            .version(version)
            .upgrade_to("2.2.1")
            .at_target(at_target)
            .activation_ms(400)
            .start()
            .expect("testbed up");
        append(&tb.inventory_path(), &format!("\n[timeouts]\n{timeouts}"));
        Env {
            tb,
            state: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A cluster a test started itself, with a fresh state directory.
    pub fn adopt(tb: Testbed) -> Env {
        Env {
            tb,
            state: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The inventory path.
    pub fn inventory(&self) -> PathBuf {
        self.tb.inventory_path()
    }

    /// A dcos-upgrade command with the state dir set and stdin closed (no terminal).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--state-dir").arg(self.state.path());
        c.args(args);
        c.stdin(Stdio::null());
        c
    }

    /// The arguments of a non-interactive `run` of this cluster to 2.2.1 (release notes
    /// acknowledged, every gate approved), plus `extra`.
    pub fn run_args(&self, extra: &[&str]) -> Vec<String> {
        let inv = self.inventory();
        let mut args: Vec<String> = [
            "run",
            "--inventory",
            inv.to_str().unwrap(),
            "--to",
            "2.2.1",
            "--ack-release-notes",
            "2.2.1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// `run` to another target than 2.2.1 (release notes of that target acknowledged).
    pub fn run_to(&self, to: &str, extra: &[&str]) -> Output {
        let inv = self.inventory();
        let mut args = vec![
            "run",
            "--inventory",
            inv.to_str().unwrap(),
            "--to",
            to,
            "--ack-release-notes",
            to,
        ];
        args.extend_from_slice(extra);
        self.cmd(&args).output().expect("run dcos-upgrade")
    }

    /// `run` with the inventory and target, plus extra args; waits for it.
    pub fn run(&self, extra: &[&str]) -> Output {
        let args = self.run_args(extra);
        self.cmd(&strs(&args)).output().expect("run dcos-upgrade")
    }

    /// `plan` of this cluster to 2.2.1 with the global flags `global` (e.g. `--output json`)
    /// before the subcommand and `extra` after it; waits for it.
    pub fn plan(&self, global: &[&str], extra: &[&str]) -> Output {
        let inv = self.inventory();
        let mut args = global.to_vec();
        args.extend([
            "plan",
            "--inventory",
            inv.to_str().unwrap(),
            "--to",
            "2.2.1",
        ]);
        args.extend_from_slice(extra);
        self.cmd(&args).output().expect("plan")
    }

    /// The testbed's record.
    pub fn report(&self) -> Report {
        self.tb.report().expect("report")
    }

    /// `status --output json` as a value.
    pub fn status(&self) -> serde_json::Value {
        let out = self.cmd(&["--output", "json", "status"]).output().unwrap();
        // status's exit code says where the run stands: 0 done, 1 failed, 3 at a gate, 5 paused.
        assert!(
            matches!(out.status.code(), Some(0 | 1 | 3 | 5)),
            "status failed: {}",
            text(&out)
        );
        serde_json::from_slice(&out.stdout).expect("status json")
    }

    /// Starts a command with JSON output and kills it (SIGKILL) once `when` matches an event.
    /// Returns the events seen before the kill, or panics if the process ended first.
    pub fn kill_when(
        &self,
        args: &[&str],
        when: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let mut child: Child = self
            .cmd(&all)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().unwrap();
        let mut seen = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("read");
            let v: serde_json::Value = serde_json::from_str(&line).expect("json event");
            let hit = when(&v);
            seen.push(v);
            if hit {
                child.kill().expect("kill -9");
                let _ = child.wait();
                return seen;
            }
        }
        let status = child.wait().unwrap();
        panic!("the process ended ({status}) before the kill point; events: {seen:#?}");
    }
}

/// A run record of a plan for one master at 2.1.3 (target 2.2.1), for tests of the state
/// directory that need a run but no cluster.
pub fn one_master_run(id: &str, cluster: &str) -> dcos_upgrade::store::RunRecord {
    use dcos_upgrade::facts::{ClusterFacts, NodeFacts};
    use dcos_upgrade::plan::{build, PlanOptions};
    let facts = ClusterFacts {
        masters: vec![NodeFacts {
            address: "127.0.0.11".into(),
            name: "m1".into(),
            role: dcos_upgrade::model::Role::Master,
            version: Some("2.1.3".into()),
            is_leader: true,
            error: None,
            zone: None,
        }],
        ..Default::default()
    };
    let options = PlanOptions {
        cluster: cluster.into(),
        to: "2.2.1".into(),
        max_unavailable: 1,
        max_unavailable_per_zone: None,
        frameworks: vec![],
    };
    dcos_upgrade::store::RunRecord {
        id: id.into(),
        created_at: "2024-01-01T00:00:00Z".into(),
        cluster: cluster.into(),
        plan: build(&facts, &options).expect("plan"),
        inventory_path: "/x".into(),
        inventory_text: String::new(),
        playbook_text: None,
        options: serde_json::Value::Null,
    }
}

/// Borrows owned arguments as `&str`s.
pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Appends text to a file.
pub fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Removes the table `[name]` (its header and keys, up to the next table) from a TOML file.
pub fn remove_table(path: &Path, name: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let header = format!("[{name}]");
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim_start().starts_with('[') {
            inside = line.trim() == header;
        }
        if !inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(out.len() < text.len(), "no [{name}] in {}", path.display());
    std::fs::write(path, out).unwrap();
}

/// stdout + stderr for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts the upgrade's outcome: every node at `to`, each upgraded node's script started
/// exactly once (nodes in `untouched` never), quorum kept, agents down at once within the limit.
pub fn assert_upgraded(r: &Report, to: &str, untouched: &[&str], max_unavailable: u64) {
    for n in &r.nodes {
        assert_eq!(n.version, to, "node {} not at {to}: {r:#?}", n.name);
        let expected = if untouched.contains(&n.name.as_str()) {
            0
        } else {
            1
        };
        assert_eq!(
            n.upgrade_attempts, expected,
            "node {} script starts: {r:#?}",
            n.name
        );
        assert!(n.services_up, "node {} services down", n.name);
    }
    assert_eq!(r.quorum_loss_events, 0, "quorum lost: {r:#?}");
    assert!(
        r.max_agents_down <= max_unavailable,
        "agents down at once {} > {max_unavailable}",
        r.max_agents_down
    );
    assert!(r.max_masters_down <= 1, "more than one master down at once");
}

/// The binary with this state directory and arguments, no terminal and no `DCOS_ACS_TOKEN`
/// (credentials come from the inventory's `[auth]`); waits for it.
pub fn product(state: &std::path::Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .stdin(Stdio::null())
        .env_remove("DCOS_ACS_TOKEN")
        .output()
        .unwrap()
}

/// The first file under `dir` whose bytes contain `needle` (a secret must be in none).
pub fn contains_anywhere(dir: &std::path::Path, needle: &[u8]) -> Option<std::path::PathBuf> {
    for e in walk(dir) {
        if let Ok(b) = std::fs::read(&e) {
            if b.windows(needle.len()).any(|w| w == needle) {
                return Some(e);
            }
        }
    }
    None
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Makes every node of the testbed report the Enterprise variant (`dcos-variant` in its version
/// files, facts §2): the testbed's nodes are Open DC/OS otherwise.
pub fn make_enterprise(tb: &Testbed) {
    for n in tb.nodes() {
        for f in [
            "opt/mesosphere/etc/dcos-version.json",
            "opt/mesosphere/active/dcos-metadata/etc/dcos-version.json",
        ] {
            let p = n.root.join(f);
            let t = std::fs::read_to_string(&p).unwrap();
            assert!(t.contains("\"dcos-variant\": \"open\""), "{t}");
            std::fs::write(&p, t.replace("\"open\"", "\"enterprise\"")).unwrap();
        }
    }
}

/// `check --output json` of `inventory` (plus `extra`) with a fresh state directory and no
/// terminal: its exit code and its checklist's entries.
pub fn check_json(inventory: &Path, extra: &[&str]) -> (Option<i32>, Vec<serde_json::Value>) {
    let state = tempfile::tempdir().expect("tempdir");
    let out = Command::new(bin())
        .arg("--state-dir")
        .arg(state.path())
        .args(["--output", "json", "check", "--inventory"])
        .arg(inventory)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("check");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check's output is not JSON ({e}): {}", text(&out)));
    (
        out.status.code(),
        v["checks"].as_array().cloned().unwrap_or_default(),
    )
}

/// The checklist entry `id`, if `check` listed it.
pub fn check_entry(checks: &[serde_json::Value], id: &str) -> Option<serde_json::Value> {
    checks.iter().find(|c| c["id"] == id).cloned()
}
