//! `log`: a run's audit trail, each command sent to a node shown once with its outcome; works
//! while a run is active (from the run's audit lines), follows it with `--follow`, filters by
//! node and step, and stops quietly when its reader goes away (`log | head -1`).

use super::status::{holder, open_for_reading};
use super::{print_line, store_error, CliResult, Ctx};
use crate::cli::args::LogArgs;
use crate::cli::exit;
use crate::cli::CliError;
use crate::store::{audit_lines_path, AuditEntry};
use std::io::{BufRead, Seek};
use std::path::Path;
use std::time::Duration;

/// Runs `log`.
pub(super) async fn exec(a: LogArgs, ctx: &Ctx) -> CliResult<i32> {
    let dir = &ctx.dir;
    let store = open_for_reading(dir, "log")?;
    let (id, names) = match (&store, &a.run) {
        (Some(s), run) => {
            let id = match run {
                Some(r) => r.clone(),
                None => s.latest_run().map_err(store_error)?,
            };
            let record = s.run(&id).map_err(store_error)?;
            let names: Vec<(String, String)> = record
                .plan
                .steps()
                .filter_map(|(_, st)| Some((st.name.clone()?, st.node.clone()?)))
                .collect();
            (id, names)
        }
        (None, Some(r)) => (r.clone(), Vec::new()),
        (None, None) => match holder(dir) {
            Some(h) => (h.run, Vec::new()),
            None => {
                return Err(CliError::new(
                    exit::LOCKED,
                    "a run holds the state database and its id is unknown; pass --run ID",
                ))
            }
        },
    };
    let filter = Filter {
        node: a.node.clone().map(|n| {
            names
                .iter()
                .find(|(name, _)| *name == n)
                .map(|(_, addr)| addr.clone())
                .unwrap_or(n)
        }),
        step: a.step.clone(),
    };
    let lines = audit_lines_path(dir, &id);
    let mut shown = Shown::new(ctx.json, filter);
    if !a.follow || !lines.exists() {
        let entries = match &store {
            Some(s) => s.audit(&id).map_err(store_error)?,
            None => read_lines(&lines).ok_or_else(|| {
                CliError::new(
                    exit::LOCKED,
                    format!("run {id} holds the state database and has no audit lines in {}; `log` reads it when the run stops", lines.display()),
                )
            })?,
        };
        for e in &entries {
            if !shown.entry(e) {
                return Ok(exit::OK);
            }
        }
        shown.in_flight();
        if !a.follow {
            return Ok(exit::OK);
        }
    }
    drop(store);
    follow(dir, &id, &lines, &mut shown).await;
    Ok(exit::OK)
}

/// Prints the audit lines as they are written, until the run's process is gone.
async fn follow(dir: &Path, id: &str, path: &Path, shown: &mut Shown) {
    let mut offset = 0u64;
    let mut partial = String::new();
    loop {
        let active = holder(dir)
            .map(|h| h.run == id && pid_alive(h.pid))
            .unwrap_or(false);
        if let Ok(mut f) = std::fs::File::open(path) {
            if f.seek(std::io::SeekFrom::Start(offset)).is_ok() {
                let mut r = std::io::BufReader::new(f);
                loop {
                    let mut l = String::new();
                    match r.read_line(&mut l) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            offset += n as u64;
                            partial.push_str(&l);
                            if !partial.ends_with('\n') {
                                continue;
                            }
                            let line = std::mem::take(&mut partial);
                            if let Ok(e) = serde_json::from_str::<AuditEntry>(&line) {
                                if !shown.entry(&e) {
                                    return;
                                }
                            }
                        }
                    }
                }
            }
        }
        if !active {
            shown.in_flight();
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

pub(super) fn pid_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid != 0 && unsafe { libc::kill(pid as i32, 0) } == 0
}

fn read_lines(path: &Path) -> Option<Vec<AuditEntry>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
    )
}

struct Filter {
    node: Option<String>,
    step: Option<String>,
}

impl Filter {
    fn keeps(&self, e: &AuditEntry) -> bool {
        self.node.as_ref().is_none_or(|n| &e.node == n)
            && self
                .step
                .as_ref()
                .is_none_or(|s| e.step.contains(s.as_str()))
    }
}

/// What has been printed: an intent is held back until its outcome arrives, so each command
/// shows once; those still without one are shown at the end as in flight.
struct Shown {
    json: bool,
    filter: Filter,
    pending: Vec<AuditEntry>,
}

impl Shown {
    fn new(json: bool, filter: Filter) -> Shown {
        Shown {
            json,
            filter,
            pending: Vec::new(),
        }
    }

    /// Takes one entry; false when stdout is closed.
    fn entry(&mut self, e: &AuditEntry) -> bool {
        if !self.filter.keeps(e) {
            return true;
        }
        if e.phase == "intent" {
            self.pending.push(e.clone());
            return true;
        }
        if let Some(i) = self
            .pending
            .iter()
            .position(|p| p.step == e.step && p.node == e.node && p.command == e.command)
        {
            self.pending.remove(i);
        }
        self.print(e, None)
    }

    fn in_flight(&mut self) {
        for e in std::mem::take(&mut self.pending) {
            if !self.print(
                &e,
                Some("no outcome recorded (in flight, or the process stopped)"),
            ) {
                return;
            }
        }
    }

    fn print(&self, e: &AuditEntry, note: Option<&str>) -> bool {
        if self.json {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["schema_version"] = crate::cli::SCHEMA_VERSION.into();
            return print_line(&serde_json::to_string(&v).unwrap_or_default());
        }
        let status = e
            .exit_status
            .map(|s| format!("exit {s}"))
            .unwrap_or_else(|| "exit -".into());
        let mut s = format!(
            "{} {:<16} {:<36} {status:<8} {:>6}ms  {}",
            e.at, e.node, e.step, e.duration_ms, e.description
        );
        if let Some(n) = note {
            s.push_str(&format!("  [{n}]"));
        }
        if !e.command.is_empty() {
            s.push_str(&format!("\n    $ {}", e.command));
        }
        let tail: Vec<&str> = e.output_tail.lines().rev().take(5).collect();
        for l in tail.into_iter().rev() {
            s.push_str(&format!("\n    | {l}"));
        }
        print_line(&s)
    }
}
