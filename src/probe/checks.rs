//! DC/OS's own checks on a node: `dcos-check-runner check <type>` (1.12+) or
//! `dcos-diagnostics check <type>` (1.10/1.11), run under `dcos-shell` on the node, as the node
//! upgrade script chooses between them (facts §1.6 step 5), and their JSON read (facts §1.6,
//! §8.2: dcos/dcos-check-runner `runner/runner.go`): `{"status": N, "checks": {name: {"status":
//! N, "output": "..."}}}`, or `{"error": "...", "checks": ["name: error"]}` with exit 0 when a
//! check is unknown or failed to execute.

use crate::cluster::Cluster;
use crate::playbook::NodeSpec;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Which checks to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckType {
    /// `node-poststart`: the node's own health.
    NodePoststart,
    /// `cluster`: cluster-wide checks (run on a master).
    Cluster,
}

impl CheckType {
    fn as_str(self) -> &'static str {
        match self {
            CheckType::NodePoststart => "node-poststart",
            CheckType::Cluster => "cluster",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Check {
    /// 0 OK, 1 warning, 2 critical, 3+ unknown (dcos/dcos-checks `constants/constants.go`).
    pub status: i64,
    /// What the check printed.
    #[serde(default)]
    pub output: String,
}

/// What one run of the check runner said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The checks ran: each one's result.
    Ran(BTreeMap<String, Check>),
    /// The runner could not run some checks (unknown, or failed to execute): its error and the
    /// `name: error` entries. It still exits 0 in this case.
    Errored {
        /// The runner's `error`.
        error: String,
        /// Its `checks` entries.
        checks: Vec<String>,
    },
    /// The node has neither runner (before 1.10, or a broken install).
    NoRunner,
}

const MARK: &str = "@@dcu-checks-rc";

/// The script that runs the checks on `node` (read-only: checks only read).
pub fn script(node: &NodeSpec, kind: CheckType) -> String {
    let bin = |b: &str| Cluster::path(node, &format!("/opt/mesosphere/bin/{b}"));
    let cfg = Cluster::path(
        node,
        "/opt/mesosphere/etc/dcos-diagnostics-runner-config.json",
    );
    format!(
        "if [ -x {cr} ]; then {sh} {cr} check {t}; echo; echo \"{MARK} $?\"; \
         elif [ -f {cfg} ] || [ -x {dd} ]; then {sh} {dd} check {t}; echo; echo \"{MARK} $?\"; \
         else echo \"{MARK} none\"; fi",
        cr = bin("dcos-check-runner"),
        dd = bin("dcos-diagnostics"),
        sh = bin("dcos-shell"),
        t = kind.as_str(),
    )
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Json {
    Ran {
        checks: BTreeMap<String, Check>,
    },
    Errored {
        error: String,
        #[serde(default)]
        checks: Vec<String>,
    },
}

/// Parses the script's output.
pub fn parse(out: &str) -> Result<Outcome, String> {
    let (body, rc) = out
        .rsplit_once(MARK)
        .ok_or_else(|| format!("the check script printed no exit status: {}", tail(out)))?;
    if rc.trim() == "none" {
        return Ok(Outcome::NoRunner);
    }
    let body = body.trim();
    let start = body.find('{').ok_or_else(|| {
        format!(
            "the check runner printed no JSON (exit {}): {}",
            rc.trim(),
            tail(body)
        )
    })?;
    let json: Json = serde_json::from_str(&body[start..]).map_err(|e| {
        format!(
            "the check runner's output is not the documented JSON ({e}): {}",
            tail(body)
        )
    })?;
    Ok(match json {
        Json::Errored { error, checks } => Outcome::Errored { error, checks },
        Json::Ran { checks } => Outcome::Ran(checks),
    })
}

fn tail(s: &str) -> String {
    crate::door::tail(s.trim(), 300)
}

/// Runs the checks of `kind` on `node` through the observe door.
pub async fn run(c: &Cluster, node: &NodeSpec, kind: CheckType) -> Result<Outcome, String> {
    let out = c
        .query(node, &script(node, kind))
        .await
        .map_err(|e| format!("{}: {e}", node.address))?;
    parse(&out.stdout).map_err(|e| format!("{}: {e}", node.address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_shapes_are_read() {
        let ok = "{\"status\": 0, \"checks\": {\"components_master\": {\"output\": \"OK\", \"status\": 0}}}\n@@dcu-checks-rc 0\n";
        match parse(ok).unwrap() {
            Outcome::Ran(m) => assert_eq!(m["components_master"].status, 0),
            o => panic!("{o:?}"),
        }
        let bad = "{\"error\": \"One or more requested checks could not be found on this node.\", \"checks\": [\"cluster: Check not found\"]}\n@@dcu-checks-rc 0\n";
        assert_eq!(
            parse(bad).unwrap(),
            Outcome::Errored {
                error: "One or more requested checks could not be found on this node.".into(),
                checks: vec!["cluster: Check not found".into()]
            }
        );
        assert_eq!(parse("@@dcu-checks-rc none\n").unwrap(), Outcome::NoRunner);
        assert!(parse("garbage\n@@dcu-checks-rc 2\n").is_err());
        assert!(parse("").is_err());
    }
}
