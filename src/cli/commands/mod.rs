//! The subcommands, one file each, and what they share: the state directory, the event sink,
//! the prompter, and the one function that turns an operation's end into an exit code.

mod backup;
mod check;
mod docs;
mod log;
mod plan;
mod report;
mod run;
mod runs;
pub(super) mod status;

pub use plan::render_plan;

use super::args::{Cli, Command, OutputMode};
use super::exit;
use super::prompt::TerminalPrompter;
use super::render::{HumanSink, JsonSink};
use super::CliError;
use crate::engine::{GateId, Outcome, Prompter};
use crate::events::{stamp, Event, EventSink, FinalState};
use crate::ops::{End, Finished, Handoff, OpsError};
use crate::store::StoreError;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

type CliResult<T> = Result<T, CliError>;

/// What every command shares: the state directory, the output mode, and how suggested
/// commands are written.
pub(super) struct Ctx {
    /// The state directory in use.
    pub dir: PathBuf,
    /// JSON output.
    pub json: bool,
    /// Writes the commands that messages suggest.
    pub handoff: Handoff,
}

/// Runs the chosen subcommand.
pub async fn dispatch(cli: Cli) -> CliResult<i32> {
    let ctx = Ctx {
        dir: state_dir(cli.state_dir.clone())?,
        json: cli.output == OutputMode::Json,
        handoff: Handoff {
            state_dir: cli.state_dir.clone(),
        },
    };
    let json = ctx.json;
    match cli.command {
        Command::Plan(a) => plan::exec(a, json).await,
        Command::Check(a) => check::exec(a, json).await,
        Command::Run(a) => run::exec(a, &ctx).await,
        Command::Backup(a) => backup::exec(a, &ctx).await,
        Command::Resume(a) => run::resume(a, &ctx).await,
        Command::Rollback(a) => run::rollback(a, &ctx).await,
        Command::Status(a) if a.from_cluster => status::from_cluster(a, &ctx).await,
        Command::Status(a) => status::exec(a, &ctx),
        Command::Log(a) => log::exec(a, &ctx).await,
        Command::Runs => runs::exec(&ctx),
        Command::Report(a) => report::exec(a, &ctx),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man => docs::man(),
    }
}

/// Writes one line (or block) to stdout; false when the reader went away (e.g. `| head -1`):
/// the command then stops quietly with its exit code instead of panicking.
pub(crate) fn print_line(s: &str) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // Every line to stdout goes through the one redactor.
    writeln!(out, "{}", crate::secrets::redact(s))
        .and_then(|_| out.flush())
        .is_ok()
}

/// Writes one JSON value as one line on stdout (false when the reader went away).
pub(crate) fn print_json(v: &serde_json::Value) -> bool {
    print_line(&serde_json::to_string(v).unwrap_or_default())
}

/// A serializable value as one JSON line with `schema_version` first-level key added.
pub(super) fn print_versioned(v: &impl serde::Serialize) -> bool {
    let mut v = serde_json::to_value(v).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("schema_version".into(), crate::cli::SCHEMA_VERSION.into());
    }
    print_json(&v)
}

fn state_dir(given: Option<PathBuf>) -> CliResult<PathBuf> {
    if let Some(d) = given {
        return Ok(d);
    }
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("dcos-upgrade"));
    }
    match std::env::var_os("HOME") {
        Some(h) => Ok(PathBuf::from(h).join(".local/state/dcos-upgrade")),
        None => Err(CliError::new(
            exit::BAD_INPUT,
            "no state directory: set --state-dir, DCOS_UPGRADE_STATE_DIR or HOME",
        )),
    }
}

fn store_error(e: StoreError) -> CliError {
    CliError::from(OpsError::from(e))
}

impl From<OpsError> for CliError {
    fn from(e: OpsError) -> CliError {
        let code = match &e {
            OpsError::BadInput(_) => exit::BAD_INPUT,
            OpsError::Locked(_) => exit::LOCKED,
            OpsError::NeedsApproval(_) => exit::GATE,
            OpsError::Failed(_) => exit::FAILED,
        };
        CliError::new(code, e.to_string())
    }
}

fn sink(json: bool) -> (Arc<dyn EventSink>, Option<Arc<HumanSink>>) {
    if json {
        (Arc::new(JsonSink), None)
    } else {
        let h = Arc::new(HumanSink::new());
        (h.clone(), Some(h))
    }
}

fn prompter(yes: bool, human: Option<Arc<HumanSink>>, cluster: &str) -> Option<Arc<dyn Prompter>> {
    if yes || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return None;
    }
    Some(Arc::new(TerminalPrompter {
        sink: human,
        cluster: std::sync::Mutex::new(cluster.to_string()),
    }))
}

/// The run's state, exit code and closing message after `run`, `resume` or `rollback`: the one
/// place where an outcome becomes an exit code. Announces `run_finished` and returns the code.
fn exit_for(f: &Finished, events: &dyn EventSink, h: &Handoff) -> i32 {
    let id = &f.run;
    let yes: &[&str] = if f.yes { &["--yes"] } else { &[] };
    let at_prompt = super::prompt::INTERRUPTED_AT_PROMPT.load(std::sync::atomic::Ordering::SeqCst);
    let (state, code, message) = match &f.end {
        End::Engine(Outcome::Stopped { .. } | Outcome::AtGate { .. }) if at_prompt => (
            FinalState::Paused,
            exit::INTERRUPTED,
            format!("interrupted at the prompt (Ctrl-C); the run is paused and its state saved. Continue with: {}", h.resume(id, yes)),
        ),
        End::NothingToDo { state } => {
            let message = format!("run {id} is {state}; nothing to do");
            let state = if state == "rolled_back" {
                FinalState::RolledBack
            } else {
                FinalState::Done
            };
            events.emit(&stamp(Event::RunFinished {
                run: id.clone(),
                state,
                exit_code: exit::OK,
                message,
                summary: None,
            }));
            return exit::OK;
        }
        End::Interrupted { signal, rolling_back } => (
            FinalState::Paused,
            exit::INTERRUPTED,
            format!(
                "interrupted ({signal}){}; the state is saved and the cluster lock released. A node script already started keeps running on its node. Continue with: {}",
                if *rolling_back { " while rolling back" } else { "" },
                // Continuing a rollback needs the approval of starting one: `rollback`.
                if *rolling_back { h.rollback(id, yes) } else { h.resume(id, yes) }
            ),
        ),
        End::Engine(outcome) => match outcome {
            Outcome::Done => (FinalState::Done, exit::OK, format!("run {id} done: every node at {}", f.to)),
            Outcome::AtGate { gate } if gate.is_rollback_gate() => (
                FinalState::Paused,
                exit::GATE,
                format!(
                    "rollback stopped at gate {gate}: it needs an explicit approval (see above). Approve with: {}",
                    h.rollback(id, &["--yes"])
                ),
            ),
            Outcome::AtGate { gate: gate @ GateId::ReleaseNotes(to) } => (
                FinalState::Paused,
                exit::GATE,
                format!(
                    "stopped at gate {gate}: the release notes of DC/OS {to} must be acknowledged. Read them (playbooks/release-notes/), then continue with: {}",
                    h.resume(id, &["--yes", "--ack-release-notes", to.as_str()])
                ),
            ),
            Outcome::AtGate { gate: gate @ GateId::PauseAfter(_) } => (
                FinalState::Paused,
                exit::GATE,
                format!("stopped at gate {gate}: the inventory's pause_after asks for a person's approval here (the --yes of the run that reached it does not give it). Look at the cluster, then continue with: {}", h.resume(id, &["--yes"])),
            ),
            Outcome::AtGate { gate } => (
                FinalState::Paused,
                exit::GATE,
                format!("stopped at gate {gate}, waiting for approval (no terminal and no --yes). Continue with: {}", h.resume(id, &["--yes"])),
            ),
            Outcome::Stopped { reason } => (
                FinalState::Paused,
                exit::GATE,
                format!("{reason}. Continue with: {}", h.resume(id, yes)),
            ),
            Outcome::Failed { step, error } => (
                FinalState::Failed,
                exit::FAILED,
                format!(
                    "step {step} failed{}\nthe run is paused and its state saved. Choices: `{}` retries the step; `{}` undoes this run's changes",
                    // The summary above already has the error in its node's line: once is enough.
                    if f.summary.contains(error.as_str()) {
                        " (the error is in its line above)".to_string()
                    } else {
                        format!(": {error}")
                    },
                    h.resume(id, yes),
                    h.rollback(id, &["--yes"])
                ),
            ),
            Outcome::RolledBack { after_failure } => (
                FinalState::RolledBack,
                if after_failure.is_some() { exit::FAILED } else { exit::OK },
                match after_failure {
                    Some(e) => format!("rolled back after a failure: {e}"),
                    None => format!("run {id} rolled back"),
                },
            ),
            Outcome::Restored { archive } => (
                FinalState::RolledBack,
                exit::OK,
                format!("ZooKeeper restored on every master from {archive}; check the cluster's services before using it"),
            ),
            // The journal says paused (RollbackStopped): so does the event, with exit 1 since
            // the cluster is not where the rollback was to take it.
            Outcome::RollbackStopped { reason } => (
                FinalState::Paused,
                exit::FAILED,
                format!("rollback stopped: {reason}"),
            ),
            Outcome::RollbackFailed { step, error } => (
                FinalState::Failed,
                exit::FAILED,
                format!("rollback stopped at {step}: {error}\n`{}` tries again", h.rollback(id, &["--yes"])),
            ),
        },
    };
    let timing = f
        .timing
        .as_ref()
        .map(crate::ops::runlog::summary_text)
        .unwrap_or_default();
    let ev = stamp(Event::RunFinished {
        run: id.clone(),
        state,
        exit_code: code,
        message: format!("{}{timing}{message}", f.summary),
        summary: f.timing.clone(),
    });
    if let Some(l) = &f.log {
        l.record(&ev);
    }
    events.emit(&ev);
    code
}
