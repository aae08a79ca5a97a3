//! Upgrading one node: the documented script, run detached on the node so that it survives the
//! CLI or the connection dying, then the documented gates. Also the reverse (rollback).
//!
//! The run lives in `<work_dir>/<run>/<step>/attempt-N/` on the node (`pid`, `out.log`, `rc`).
//! Starting it is idempotent: `mkdir` of the attempt directory is the atomic "started" marker,
//! so sending the start command twice never starts the script twice.

use super::gates::{self, same_version};
use super::StepCtx;
use crate::action::StepError;
use crate::cluster::Cluster;
use crate::model::Role;
use crate::playbook::NodeSpec;
use crate::probe::wait::{self, Poll};
use crate::shell::{self, quote};
use crate::versions::DcosVersion;
use std::time::Duration;

/// What the node says about a detached script run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detached {
    /// Never started (no attempt directory).
    NotStarted,
    /// Started, pid not written yet.
    Starting,
    /// Running.
    Running,
    /// Ended with this exit status; `tail` is the end of its output.
    Exited {
        /// Exit status.
        rc: i32,
        /// End of the output.
        tail: String,
    },
    /// The process is gone and left no exit status (e.g. the node rebooted).
    Died {
        /// End of the output.
        tail: String,
    },
}

/// Why the node script did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeUpgradeError {
    /// The script ended with a non-zero exit status.
    #[error("{node}: dcos_node_upgrade.sh exited with status {status}: {error} (its whole output is on the node: {log})")]
    ScriptExited {
        /// The node, `name (address)`.
        node: String,
        /// Its exit status.
        status: i32,
        /// The script's own error line (else its last line).
        error: String,
        /// The path of its whole output on the node.
        log: String,
    },
    /// The script's process vanished without an exit status.
    #[error("{node}: dcos_node_upgrade.sh ended without an exit status (was the node restarted?): {error} (its output so far is on the node: {log})")]
    Vanished {
        /// The node, `name (address)`.
        node: String,
        /// The script's own error line (else its last line).
        error: String,
        /// The path of its output on the node.
        log: String,
    },
    /// The script could not be started.
    #[error("{node}: could not start the node upgrade script: {tail}")]
    NotStarted {
        /// The node's address.
        node: String,
        /// The end of the launcher's output.
        tail: String,
    },
}

/// Which way a node goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// from → to with the upgrade script.
    Upgrade,
    /// to → from with the rollback script.
    Rollback,
}

/// Parses the status query's output.
pub fn parse_status(out: &str) -> Detached {
    let (head, tail) = out.split_once("--tail--").unwrap_or((out, ""));
    let tail = tail.trim().to_string();
    let head = head.trim();
    if let Some(rc) = head.strip_prefix("rc=") {
        return match rc.trim().parse() {
            Ok(rc) => Detached::Exited { rc, tail },
            Err(_) => Detached::Died { tail },
        };
    }
    match head {
        "running" => Detached::Running,
        "nopid" => Detached::Starting,
        "died" => Detached::Died { tail },
        _ => Detached::NotStarted,
    }
}

fn status_script(dir: &str) -> String {
    format!(
        "d={d}; if [ -f \"$d/rc\" ]; then echo \"rc=$(cat \"$d/rc\")\"; \
         elif [ -f \"$d/pid\" ]; then if [ -d \"/proc/$(cat \"$d/pid\")\" ]; then echo running; else echo died; fi; \
         elif [ -d \"$d\" ]; then echo nopid; else echo none; fi; \
         echo --tail--; tail -c 3000 \"$d/out.log\" 2>/dev/null || true",
        d = quote(dir)
    )
}

/// The attempt directory on a node (not quoted).
pub fn attempt_dir(ctx: &StepCtx<'_>, node: &NodeSpec, direction: Direction) -> String {
    let kind = match direction {
        Direction::Upgrade => "",
        Direction::Rollback => "rollback-",
    };
    format!(
        "{}{}/{}/{}/{}attempt-{}",
        node.root,
        ctx.cluster.playbook.paths.work_dir,
        ctx.run,
        ctx.slug(),
        kind,
        ctx.attempt
    )
}

/// How long one on-node wait for the detached script lasts before it reports "still running"
/// (well under the 60 s limit of one query; a dead CLI leaves at most this much of a read-only
/// loop behind on the node).
const WAIT_BOUND_SECS: u64 = 20;

/// The pause between two polls of a node gate. Each poll is one command over the node's open
/// multiplexed connection, so a gate is noticed within this plus one round trip, whatever the
/// playbook's `poll_ms` (which paces the slower waits: backups, deployments, SSH retries).
pub const GATE_POLL: Duration = Duration::from_millis(100);

/// How long a started script may go without writing its pid before it counts as dead.
const NO_PID_LIMIT: Duration = Duration::from_secs(60);

/// The status script, after waiting on the node (every 50 ms, at most `bound_secs`) while the
/// script is starting or running. It returns within 50 ms of the script's end (its `rc`
/// file, or its process gone), so completion is noticed at once without polling from here.
fn wait_script(dir: &str, bound_secs: u64) -> String {
    format!(
        "d={d}; n={ticks}; \
         while [ \"$n\" -gt 0 ] && [ -d \"$d\" ] && [ ! -f \"$d/rc\" ]; do \
         if [ -f \"$d/pid\" ] && [ ! -d \"/proc/$(cat \"$d/pid\" 2>/dev/null)\" ]; then break; fi; \
         n=$((n-1)); sleep 0.05 2>/dev/null || {{ sleep 1; n=$((n-19)); }}; done; {status}",
        d = quote(dir),
        // 20 looks a second; `sleep 0.05` is GNU coreutils (a `sleep` without fractions falls
        // back to whole seconds, counted as 20 looks).
        ticks = bound_secs * 20,
        status = status_script(dir),
    )
}

async fn status(ctx: &StepCtx<'_>, node: &NodeSpec, dir: &str) -> Result<Detached, String> {
    let out = ctx
        .cluster
        .query(node, &status_script(dir))
        .await
        .map_err(|e| e.to_string())?;
    Ok(parse_status(&out.stdout))
}

/// The status once the script has ended or `WAIT_BOUND_SECS` (capped by `left`) have passed.
async fn wait_status(
    ctx: &StepCtx<'_>,
    node: &NodeSpec,
    dir: &str,
    left: Duration,
) -> Result<Detached, String> {
    let bound = left.as_secs().clamp(1, WAIT_BOUND_SECS);
    let out = ctx
        .cluster
        .query(node, &wait_script(dir, bound))
        .await
        .map_err(|e| e.to_string())?;
    Ok(parse_status(&out.stdout))
}

fn launch_script(
    c: &Cluster,
    node: &NodeSpec,
    dir: &str,
    url: &str,
    target: &str,
) -> Result<String, String> {
    let nu = &c.playbook.node_upgrade;
    let root = node.root.as_str();
    let mut parts: Vec<String> = Vec::new();
    if node.role.is_agent() {
        for t in &nu.agent_before {
            parts.push(shell::render(t, &[("root", root)]).map_err(|e| e.to_string())?);
        }
    }
    parts.push(shell::render(&nu.fetch, &[("script_url", url)]).map_err(|e| e.to_string())?);
    let mut run = shell::render(&nu.run, &[]).map_err(|e| e.to_string())?;
    let verbose = match (
        DcosVersion::parse(target),
        DcosVersion::parse(&nu.verbose_since),
    ) {
        (Ok(t), Ok(since)) => t.minor() >= since.minor(),
        _ => false,
    };
    if verbose {
        run.push(' ');
        run.push_str(&quote(&nu.verbose_flag));
    }
    parts.push(run);
    let inner = format!("{}; echo $? > rc.tmp; mv rc.tmp rc", parts.join(" && "));
    let parent = dir.rsplit_once('/').map(|(p, _)| p).unwrap_or(dir);
    Ok(format!(
        "set -e; mkdir -p {parent}; if ! mkdir {d} 2>/dev/null; then echo dcos-upgrade:already-started; exit 0; fi; \
         cd {d}; nohup setsid bash -c {inner} > out.log 2>&1 < /dev/null & echo $! > pid; echo dcos-upgrade:started",
        parent = quote(parent),
        d = quote(dir),
        inner = quote(&inner),
    ))
}

/// Upgrades (or rolls back) the step's node and gates on its health. Returns the step output.
pub async fn run(ctx: &StepCtx<'_>, direction: Direction) -> Result<serde_json::Value, StepError> {
    let c = ctx.cluster;
    let node = ctx.node()?;
    let (target, url) = match direction {
        Direction::Upgrade => (ctx.to.to_string(), c.inventory.bootstrap.upgrade_script_url.clone()),
        Direction::Rollback => (
            ctx.step.from.clone().ok_or(StepError::from("the step records no from-version to go back to"))?,
            c.inventory.bootstrap.rollback_script_url.clone().ok_or(StepError::from(
                "no rollback_script_url in the inventory's [bootstrap]: generate the node script from the target back to the from-version and list it",
            ))?,
        ),
    };
    let dir = attempt_dir(ctx, node, direction);
    let mut state = status(ctx, node, &dir).await?;
    let mut installed = None;
    let mut before = None;
    if state == Detached::NotStarted {
        let id = c.identity(node).await?;
        if same_version(&id.version, &target) {
            ctx.progress(format!(
                "{} already reports {target}; the script is not started",
                node.address
            ));
            state = Detached::Exited {
                rc: 0,
                tail: String::new(),
            };
        } else {
            if node.role == Role::Master {
                quorum_gate(ctx, node).await?;
            }
            if direction == Direction::Upgrade {
                before = Some(super::procedure::before_node(ctx, node).await?);
            }
            let script = launch_script(c, node, &dir, &url, &target)?;
            let out = ctx
                .change(
                    node,
                    "start dcos_node_upgrade.sh detached",
                    &script,
                    None,
                    Duration::from_secs(60),
                )
                .await?;
            if !out.ok() {
                return Err(NodeUpgradeError::NotStarted {
                    node: node.address.clone(),
                    tail: out.tail(500),
                }
                .into());
            }
            ctx.progress(format!(
                "{}: dcos_node_upgrade.sh started ({} -> {target})",
                node.address, id.version
            ));
            state = Detached::Starting;
        }
        installed = Some(id.version);
    }
    // Wait for the detached script to end: each poll waits on the node itself and returns as
    // soon as the script ends, so there is no pause between polls; only a failed query (the
    // connection broke) waits the playbook's poll interval before the next try.
    let timeout = Duration::from_secs(c.timeouts.node_script_secs);
    let started_wait = std::time::Instant::now();
    let ended = wait::until(
        &format!("{}: dcos_node_upgrade.sh to finish", node.address),
        timeout,
        Duration::ZERO,
        || {
            let known = state.clone();
            let dir = dir.clone();
            let left = timeout.saturating_sub(started_wait.elapsed());
            async move {
                let s = if matches!(known, Detached::Exited { .. }) {
                    known
                } else {
                    match wait_status(ctx, node, &dir, left).await {
                        Ok(s) => s,
                        Err(e) => {
                            tokio::time::sleep(c.poll()).await;
                            return Poll::NotYet(e);
                        }
                    }
                };
                match s {
                    Detached::Exited { .. } | Detached::Died { .. } => Poll::Ready(s),
                    Detached::Starting if started_wait.elapsed() > NO_PID_LIMIT => {
                        Poll::Ready(Detached::Died {
                            tail: "the script never wrote its pid".into(),
                        })
                    }
                    Detached::NotStarted => {
                        Poll::Abort(format!("the attempt directory {dir} vanished"))
                    }
                    _ => Poll::NotYet("still running".into()),
                }
            }
        },
    )
    .await?;
    match ended {
        Detached::Exited { rc: 0, .. } => {}
        Detached::Exited { rc, tail } => {
            return Err(NodeUpgradeError::ScriptExited {
                node: named(node),
                status: rc,
                error: error_line(&tail),
                log: format!("{dir}/out.log"),
            }
            .into())
        }
        Detached::Died { tail } => {
            return Err(NodeUpgradeError::Vanished {
                node: named(node),
                error: error_line(&tail),
                log: format!("{dir}/out.log"),
            }
            .into())
        }
        _ => unreachable!("wait returns only ended states"),
    }
    // Exit 0 does not mean healthy (facts §1.10): gate on our own checks.
    post_gates(ctx, node, &target).await?;
    match direction {
        Direction::Upgrade => super::procedure::after_node(ctx, node, &target, before).await?,
        // A master undone: CockroachDB (IAM) healthy again where it runs (issue 12), before the
        // rollback takes the next master down.
        Direction::Rollback => super::procedure::after_undo(ctx, node, &target).await?,
    }
    Ok(super::outputs::write(&super::outputs::NodeOutput {
        node: node.address.clone(),
        installed_before: installed,
        version: target,
        attempt: ctx.attempt,
        work_dir: dir,
        guard: None,
    }))
}

/// A node as people know it: `m1 (10.0.0.11)`, or the address alone when it has no other name.
fn named(node: &NodeSpec) -> String {
    if node.name == node.address {
        node.address.clone()
    } else {
        format!("{} ({})", node.name, node.address)
    }
}

/// The line of a script's output that says what went wrong: the last one that names an error
/// (`ERROR: ...`, `Error: ...`, `... failed ...`), else the last non-empty one.
fn error_line(out: &str) -> String {
    let lines: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| {
            let low = l.to_lowercase();
            low.starts_with("error") || low.contains("error:") || low.contains("failed")
        })
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_else(|| "(no output)".into())
}

/// Before a master goes down: the ensemble and the masters are healthy (quorum can survive).
async fn quorum_gate(ctx: &StepCtx<'_>, node: &NodeSpec) -> Result<(), String> {
    let c = ctx.cluster;
    crate::checkpoint::hit(&format!("in-gate:quorum:{}", ctx.step.id));
    wait::until(
        &format!("quorum gate before taking master {} down", node.address),
        Duration::from_secs(c.timeouts.master_gate_secs),
        GATE_POLL,
        || gates::masters_healthy(c),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// After the script: the node reports the target version and its role's health checks pass.
pub async fn post_gates(ctx: &StepCtx<'_>, node: &NodeSpec, target: &str) -> Result<(), String> {
    let c = ctx.cluster;
    crate::checkpoint::hit(&format!("in-gate:health:{}:{target}", ctx.step.id));
    let (secs, what) = if node.role == Role::Master {
        (c.timeouts.master_gate_secs, "master")
    } else {
        (c.timeouts.agent_gate_secs, "agent")
    };
    let deadline = Duration::from_secs(secs);
    wait::until(
        &format!(
            "gate after upgrading {what} {}: version {target}",
            node.address
        ),
        deadline,
        GATE_POLL,
        || gates::node_at_version(c, node, target),
    )
    .await
    .map_err(|e| e.to_string())?;
    if node.role == Role::Master {
        let leader = wait::until(
            &format!(
                "gate after upgrading master {}: Exhibitor serving, registrar/log/recovered = 1, leader elected",
                node.address
            ),
            deadline,
            GATE_POLL,
            || gates::masters_healthy(c),
        )
        .await
        .map_err(|e| e.to_string())?;
        ctx.progress(format!("masters healthy, Mesos leader {leader}"));
    } else {
        wait::until(
            &format!(
                "gate after upgrading agent {}: slave/registered = 1 within the re-registration window",
                node.address
            ),
            deadline,
            GATE_POLL,
            || gates::agent_registered(c, node),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_line_is_the_script_s_own_not_the_whole_trace() {
        let out = "Checking node\n+ systemctl stop dcos-mesos-master\nERROR: Expecting to upgrade DC/OS from 2.1.3 to 2.2.1. Version found on node: 2.0.0\n\n";
        assert_eq!(
            error_line(out),
            "ERROR: Expecting to upgrade DC/OS from 2.1.3 to 2.2.1. Version found on node: 2.0.0"
        );
        assert_eq!(error_line("one\ntwo\n"), "two");
        assert_eq!(error_line(""), "(no output)");
    }

    #[test]
    fn status_output_is_parsed() {
        assert_eq!(parse_status("none\n--tail--\n"), Detached::NotStarted);
        assert_eq!(parse_status("running\n--tail--\nx"), Detached::Running);
        assert_eq!(
            parse_status("rc=1\n--tail--\nERROR: boom\n"),
            Detached::Exited {
                rc: 1,
                tail: "ERROR: boom".into()
            }
        );
        assert!(matches!(
            parse_status("died\n--tail--\n"),
            Detached::Died { .. }
        ));
        assert!(matches!(
            parse_status("rc=\n--tail--\n"),
            Detached::Died { .. }
        ));
    }

    #[test]
    fn the_status_script_runs_in_a_real_shell() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("a b");
        let run = |d: &std::path::Path| {
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(status_script(d.to_str().unwrap()))
                .output()
                .unwrap();
            parse_status(&String::from_utf8_lossy(&out.stdout))
        };
        assert_eq!(run(&d), Detached::NotStarted);
        std::fs::create_dir(&d).unwrap();
        assert_eq!(run(&d), Detached::Starting);
        std::fs::write(d.join("pid"), "999999999").unwrap();
        assert!(matches!(run(&d), Detached::Died { .. }));
        std::fs::write(d.join("rc"), "0\n").unwrap();
        std::fs::write(d.join("out.log"), "done\n").unwrap();
        assert_eq!(
            run(&d),
            Detached::Exited {
                rc: 0,
                tail: "done".into()
            }
        );
    }

    #[test]
    fn the_wait_script_returns_as_soon_as_the_script_ends_and_after_its_bound_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("attempt-1");
        let d = d.to_str().unwrap().to_string();
        let sh = |script: String| {
            let t = std::time::Instant::now();
            let out = std::process::Command::new("bash")
                .arg("-c")
                .arg(script)
                .output()
                .unwrap();
            (
                parse_status(&String::from_utf8_lossy(&out.stdout)),
                t.elapsed(),
            )
        };
        // A detached run that ends 300 ms after it starts.
        std::fs::create_dir(&d).unwrap();
        let start = format!(
            "cd {q}; nohup setsid bash -c 'sleep 0.3; echo ok; echo 0 > rc.tmp; mv rc.tmp rc' > out.log 2>&1 < /dev/null & echo $! > pid",
            q = quote(&d)
        );
        assert!(std::process::Command::new("bash")
            .arg("-c")
            .arg(start)
            .status()
            .unwrap()
            .success());
        let (s, took) = sh(wait_script(&d, 10));
        assert_eq!(
            s,
            Detached::Exited {
                rc: 0,
                tail: "ok".into()
            }
        );
        assert!(took < Duration::from_secs(2), "noticed after {took:?}");
        // Still running at the bound: it says so after about the bound.
        std::fs::remove_file(format!("{d}/rc")).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(format!("{d}/pid"), child.id().to_string()).unwrap();
        let (s, took) = sh(wait_script(&d, 1));
        assert_eq!(s, Detached::Running);
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(5),
            "{took:?}"
        );
        // Its process dies without an exit status: noticed at once.
        child.kill().unwrap();
        child.wait().unwrap();
        let (s, took) = sh(wait_script(&d, 10));
        assert!(matches!(s, Detached::Died { .. }), "{s:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
}
