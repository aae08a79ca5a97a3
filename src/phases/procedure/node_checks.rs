//! DC/OS's own checks as gates (facts §8.2): `node-poststart` on a node before it goes down and
//! after it is back, `cluster` on a master at the precheck and the postcheck. A check with
//! status 2+ fails (status 1 is a warning, reported), and so does a runner error such as an
//! unknown check, which the runner reports with exit code 0: the JSON is read, not the exit
//! code. The documented transient failures of a path are waited out until the last master.

use crate::cluster::Cluster;
use crate::phases::checks::{CheckResult, Severity};
use crate::playbook::NodeSpec;
use crate::probe::checks::{self, CheckType, Outcome};
use crate::probe::wait::Poll;
use crate::versions::{DcosVersion, RecordedVersion};

/// Checks a path's first masters are known to fail until every master runs the target
/// (facts §8.2): CockroachDB replication on OSS 1.12 -> 1.13 (the first upgraded master
/// bootstraps a one-node CockroachDB), etcd on 2.0 -> 2.1 (etcd bootstraps through ZooKeeper;
/// the etcd check's name is not in the facts file, so any check named `etcd*`).
pub fn transient(from: Option<&RecordedVersion>, to: &RecordedVersion, check: &str) -> bool {
    let minor = |v: &RecordedVersion| v.parsed().map(DcosVersion::minor);
    match (from.and_then(minor), minor(to)) {
        (Some((1, 12)), Some((1, 13))) => check == "cockroachdb_replication",
        (Some((2, 0)), Some((2, 1))) => check.starts_with("etcd"),
        _ => false,
    }
}

/// What a run of the checks says: `Ready(warnings)` or why not. `tolerate` names checks whose
/// failure is expected for now.
pub fn judge(
    node: &str,
    kind: &str,
    o: &Outcome,
    tolerate: &(dyn Fn(&str) -> bool + Sync),
) -> Poll<Vec<String>> {
    match o {
        Outcome::NoRunner => Poll::Ready(vec![format!(
            "{node}: neither dcos-check-runner nor dcos-diagnostics is installed; DC/OS's own {kind} checks were not run"
        )]),
        Outcome::Errored { error, checks } => Poll::NotYet(format!(
            "DC/OS {kind} checks on {node}: the check runner reported an error (exit code 0 notwithstanding): {error} [{}]",
            checks.join("; ")
        )),
        Outcome::Ran(all) => {
            let mut failed = Vec::new();
            let mut warnings = Vec::new();
            for (name, c) in all {
                if c.status == 0 {
                    continue;
                }
                let line = format!(
                    "check {name} on {node}: status {} ({}): {}",
                    c.status,
                    status_word(c.status),
                    c.output.trim()
                );
                if c.status == 1 || tolerate(name) {
                    warnings.push(line);
                } else {
                    failed.push(line);
                }
            }
            if failed.is_empty() {
                Poll::Ready(warnings)
            } else {
                Poll::NotYet(format!("DC/OS {kind} checks failed: {}", failed.join("; ")))
            }
        }
    }
}

fn status_word(s: i64) -> &'static str {
    match s {
        0 => "OK",
        1 => "WARNING",
        2 => "CRITICAL",
        _ => "UNKNOWN",
    }
}

/// One poll of `node-poststart` on `node`.
pub async fn node_poststart(
    c: &Cluster,
    node: &NodeSpec,
    tolerate: &(dyn Fn(&str) -> bool + Sync),
) -> Poll<Vec<String>> {
    match checks::run(c, node, CheckType::NodePoststart).await {
        Ok(o) => judge(&node.address, "node-poststart", &o, tolerate),
        Err(e) => Poll::NotYet(e),
    }
}

/// The checklist's DC/OS checks: `node-poststart` on every node and `cluster` on the first
/// master that runs it.
pub async fn prechecks(c: &Cluster) -> Vec<CheckResult> {
    let nodes: Vec<&NodeSpec> = c.nodes().collect();
    let (runs, cluster) = tokio::join!(
        futures::future::join_all(nodes.iter().map(|n| node_poststart(c, n, &|_| false))),
        cluster_check(c)
    );
    vec![node_checks_entry(runs), cluster]
}

/// The checklist's `dcos.node_checks` entry from what `node-poststart` said on each node (run
/// by [`prechecks`], or read in the observation's round on each node).
pub fn from_outcomes(outcomes: &[(&str, &Result<Outcome, String>)]) -> CheckResult {
    node_checks_entry(
        outcomes
            .iter()
            .map(|(node, o)| match o {
                Ok(o) => judge(node, "node-poststart", o, &|_| false),
                Err(e) => Poll::NotYet(e.clone()),
            })
            .collect(),
    )
}

fn node_checks_entry(runs: Vec<Poll<Vec<String>>>) -> CheckResult {
    let count = runs.len();
    let mut failed = Vec::new();
    let mut warned = Vec::new();
    for r in runs {
        match r {
            Poll::Ready(w) => warned.extend(w),
            Poll::NotYet(e) | Poll::Abort(e) => failed.push(e),
        }
    }
    CheckResult {
        id: "dcos.node_checks".into(),
        severity: Severity::Blocker,
        passed: failed.is_empty(),
        found: if failed.is_empty() {
            let mut s = format!("dcos-check-runner check node-poststart passes on {count} node(s)");
            if !warned.is_empty() {
                s.push_str(&format!(" ({})", warned.join("; ")));
            }
            s
        } else {
            failed.join("; ")
        },
        remedy: if failed.is_empty() {
            String::new()
        } else {
            "fix what the named DC/OS check reports (run `/opt/mesosphere/bin/dcos-shell dcos-check-runner check node-poststart` on the node; `dcos-diagnostics` on 1.10/1.11) before upgrading".into()
        },
        data: None,
    }
}

/// `check cluster` on the first master that answers, as a checklist entry.
pub async fn cluster_check(c: &Cluster) -> CheckResult {
    let mut last = String::from("no master");
    let mut verdict = None;
    for m in &c.inventory.masters {
        match checks::run(c, m, CheckType::Cluster).await {
            Ok(o) => {
                verdict = Some(judge(&m.address, "cluster", &o, &|_| false));
                break;
            }
            Err(e) => last = e,
        }
    }
    let (passed, found) = match verdict {
        Some(Poll::Ready(w)) if w.is_empty() => {
            (true, "dcos-check-runner check cluster passes".to_string())
        }
        Some(Poll::Ready(w)) => (true, w.join("; ")),
        Some(Poll::NotYet(e) | Poll::Abort(e)) => (false, e),
        None => (false, format!("cannot run the cluster checks: {last}")),
    };
    CheckResult {
        id: "dcos.cluster_checks".into(),
        severity: Severity::Blocker,
        passed,
        found,
        remedy: if passed {
            String::new()
        } else {
            "fix what `dcos-check-runner check cluster` reports on a master before upgrading".into()
        },
        data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::checks::Check;

    #[test]
    fn failures_and_runner_errors_fail_and_transients_are_tolerated_when_told() {
        let mut m = std::collections::BTreeMap::new();
        m.insert(
            "a".to_string(),
            Check {
                status: 0,
                output: "OK".into(),
            },
        );
        m.insert(
            "journald_dir_permissions".to_string(),
            Check {
                status: 2,
                output: "bad group".into(),
            },
        );
        let o = Outcome::Ran(m);
        match judge("n1", "node-poststart", &o, &|_| false) {
            Poll::NotYet(e) => assert!(
                e.contains("journald_dir_permissions") && e.contains("bad group"),
                "{e}"
            ),
            p => panic!("{p:?}"),
        }
        assert!(
            matches!(judge("n1", "node-poststart", &o, &|n| n == "journald_dir_permissions"), Poll::Ready(w) if w.len() == 1)
        );
        let e = Outcome::Errored {
            error: "One or more requested checks could not be found on this node.".into(),
            checks: vec!["x: Check not found".into()],
        };
        assert!(
            matches!(judge("n1", "cluster", &e, &|_| true), Poll::NotYet(s) if s.contains("x: Check not found"))
        );
        let v = |s: &str| RecordedVersion::from(s);
        assert!(transient(
            Some(&v("1.12.4")),
            &v("1.13.0"),
            "cockroachdb_replication"
        ));
        assert!(transient(Some(&v("2.0.9")), &v("2.1.0"), "etcd_health"));
        assert!(!transient(
            Some(&v("2.1.3")),
            &v("2.2.1"),
            "cockroachdb_replication"
        ));
    }
}
