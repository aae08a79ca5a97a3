//! The shell text run on a node for its upgrade: the detached launcher, the status and wait
//! queries, and reading their answers.

use crate::cluster::Cluster;
use crate::playbook::NodeSpec;
use crate::shell::{self, quote, TemplateError};
use crate::versions::{DcosVersion, RecordedVersion};

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

pub(super) fn status_script(dir: &str) -> String {
    format!(
        "d={d}; if [ -f \"$d/rc\" ]; then echo \"rc=$(cat \"$d/rc\")\"; \
         elif [ -f \"$d/pid\" ]; then if [ -d \"/proc/$(cat \"$d/pid\")\" ]; then echo running; else echo died; fi; \
         elif [ -d \"$d\" ]; then echo nopid; else echo none; fi; \
         echo --tail--; tail -c 3000 \"$d/out.log\" 2>/dev/null || true",
        d = quote(dir)
    )
}

/// The status script, after waiting on the node (at most `bound_secs`) while the script is
/// starting or running. Where the node has `flock` (util-linux), the launcher holds the attempt's
/// `lock` for as long as the script runs, and the wait blocks on that lock: it returns the
/// moment the script ends (or its process dies), with no polling. Otherwise (or until the
/// launcher has taken the lock) it looks every 50 ms for the script's `rc` file or its process
/// gone. Either way completion is noticed at once without polling from here.
pub(super) fn wait_script(dir: &str, bound_secs: u64) -> String {
    format!(
        "d={d}; n={ticks}; f=; if command -v flock >/dev/null 2>&1; then f=1; fi; \
         while [ \"$n\" -gt 0 ] && [ -d \"$d\" ] && [ ! -f \"$d/rc\" ]; do \
         if [ -n \"$f\" ] && [ -f \"$d/lock\" ]; then flock -s -w $(( (n + 19) / 20 )) \"$d/lock\" true >/dev/null 2>&1; break; fi; \
         if [ -f \"$d/pid\" ] && [ ! -d \"/proc/$(cat \"$d/pid\" 2>/dev/null)\" ]; then break; fi; \
         n=$((n-1)); sleep 0.05 2>/dev/null || {{ sleep 1; n=$((n-19)); }}; done; {status}",
        d = quote(dir),
        // 20 looks a second; `sleep 0.05` is GNU coreutils (a `sleep` without fractions falls
        // back to whole seconds, counted as 20 looks).
        ticks = bound_secs * 20,
        status = status_script(dir),
    )
}

pub(super) fn launch_script(
    c: &Cluster,
    node: &NodeSpec,
    dir: &str,
    url: &str,
    target: &RecordedVersion,
) -> Result<String, TemplateError> {
    let nu = &c.playbook.node_upgrade;
    let root = node.root.as_str();
    let mut parts: Vec<String> = Vec::new();
    if node.role.is_agent() {
        for t in &nu.agent_before {
            parts.push(shell::render(t, &[("root", root)])?);
        }
    }
    parts.push(shell::render(&nu.fetch, &[("script_url", url)])?);
    let mut run = shell::render(&nu.run, &[])?;
    let verbose = match (target.parsed(), DcosVersion::parse(&nu.verbose_since)) {
        (Some(t), Ok(since)) => t.minor() >= since.minor(),
        _ => false,
    };
    if verbose {
        run.push(' ');
        run.push_str(&quote(&nu.verbose_flag));
    }
    parts.push(run);
    let inner = format!("{}; echo $? > rc.tmp; mv rc.tmp rc", parts.join(" && "));
    // With util-linux `flock`, the script runs under the attempt's `lock`, held by `flock` until
    // the script ends (`-o`: the script and what it leaves running do not hold it), which the
    // wait blocks on; the pid is `flock`'s, alive exactly as long as the script.
    let parent = dir.rsplit_once('/').map(|(p, _)| p).unwrap_or(dir);
    Ok(format!(
        "set -e; mkdir -p {parent}; if ! mkdir {d} 2>/dev/null; then echo dcos-upgrade:already-started; exit 0; fi; \
         cd {d}; if command -v flock >/dev/null 2>&1; then nohup setsid flock -o -x lock bash -c {inner} > out.log 2>&1 < /dev/null & \
         else nohup setsid bash -c {inner} > out.log 2>&1 < /dev/null & fi; echo $! > pid; echo dcos-upgrade:started",
        parent = quote(parent),
        d = quote(dir),
        inner = quote(&inner),
    ))
}

/// The line of a script's output that says what went wrong: the last one that names an error
/// (`ERROR: ...`, `Error: ...`, `... failed ...`), else the last non-empty one.
pub(super) fn error_line(out: &str) -> String {
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
