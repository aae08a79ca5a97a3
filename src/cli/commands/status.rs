//! `status`: a run's state, times, steps and targets, read from the store or, while a run
//! holds it, from the run's snapshot; the exit code says where it stands.

use super::{store_error, CliResult, Ctx};
use crate::cli::args::RunSelect;
use crate::cli::exit;
use crate::cli::CliError;
use crate::machine::{RunState, RunView};
use crate::ops::{require_state, Handoff};
use crate::store::{read_snapshot, LockInfo, RunRecord, StateReader, Store, StoreError};
use std::path::Path;

/// What `status` and `log` read: the state directory's read-only view (plain files, never
/// written: works on a read-only or full disk and while a run is active), or, for state written
/// before the view existed, the database itself.
pub(super) enum Reading {
    /// The read-only view.
    View(StateReader),
    /// The database (legacy state).
    Db(Store),
}

impl Reading {
    /// The latest run.
    pub(super) fn latest_run(&self) -> Result<String, StoreError> {
        match self {
            Reading::View(r) => r.latest_run(),
            Reading::Db(s) => s.latest_run(),
        }
    }

    /// A run's record. A run the view does not have is looked up in the database (state from
    /// an older version); when that cannot be opened either, it is an unknown run.
    pub(super) fn run(&self, id: &str) -> Result<RunRecord, StoreError> {
        match self {
            Reading::View(r) => match r.run(id) {
                Err(StoreError::NotMirrored { .. }) => match Store::open(r.dir()) {
                    Ok(s) => s.run(id),
                    Err(_) => Err(StoreError::NoRun(id.to_string())),
                },
                other => other,
            },
            Reading::Db(s) => s.run(id),
        }
    }

    /// A run's journal (from the database for a run the view does not have).
    pub(super) fn journal(&self, id: &str) -> Result<Vec<crate::machine::Record>, StoreError> {
        match self {
            Reading::View(r) => match r.journal(id) {
                Err(StoreError::NotMirrored { .. }) => Store::open(r.dir())?.journal(id),
                other => other,
            },
            Reading::Db(s) => s.journal(id),
        }
    }

    /// A run's audit entries (from the database for a run the view does not have).
    pub(super) fn audit(&self, id: &str) -> Result<Vec<crate::store::AuditEntry>, StoreError> {
        match self {
            Reading::View(r) => match r.audit(id) {
                Err(StoreError::NotMirrored { .. }) => Store::open(r.dir())?.audit(id),
                other => other,
            },
            Reading::Db(s) => s.audit(id),
        }
    }

    /// What reads a run back, for the report.
    pub(super) fn source(&self) -> &dyn crate::store::RunSource {
        match self {
            Reading::View(r) => r,
            Reading::Db(s) => s,
        }
    }

    /// Every run's record, oldest first.
    pub(super) fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        match self {
            Reading::Db(s) => s.runs(),
            Reading::View(r) => {
                let mut out = Vec::new();
                if let Ok(rd) = std::fs::read_dir(r.dir().join("runs")) {
                    for e in rd.flatten() {
                        let id = e.file_name().to_string_lossy().to_string();
                        if crate::store::valid_run_id(&id) {
                            if let Ok(rec) = r.run(&id) {
                                out.push(rec);
                            }
                        }
                    }
                }
                out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
                Ok(out)
            }
        }
    }

    /// Whether this is the read-only view (a run may hold the database meanwhile).
    pub(super) fn is_view(&self) -> bool {
        matches!(self, Reading::View(_))
    }
}

/// Opens `dir` for reading: the read-only view, else (older state) the database; None while a
/// run holds a database that has no view. Never creates anything; the error names the
/// directory looked in.
pub(super) fn open_for_reading(dir: &Path, command: &str) -> Result<Option<Reading>, CliError> {
    require_state(dir, command).map_err(CliError::from)?;
    match Store::open_read_only(dir) {
        Ok(r) => match r.latest_run() {
            Err(StoreError::NotMirrored { .. }) => {}
            _ => return Ok(Some(Reading::View(r))),
        },
        Err(e @ StoreError::NoState { .. }) => {
            return Err(CliError::new(exit::BAD_INPUT, e.to_string()))
        }
        Err(StoreError::NotMirrored { .. }) => {}
        Err(e) => return Err(store_error(e)),
    }
    match Store::open(dir) {
        Ok(s) => Ok(Some(Reading::Db(s))),
        Err(StoreError::Locked { .. }) => Ok(None),
        Err(e) => Err(store_error(e)),
    }
}

/// The pid of a live process holding `dir` for run `id`, if one does.
fn live_holder(dir: &Path, id: &str) -> Option<u32> {
    holder(dir)
        .filter(|h| h.run == id && super::log::pid_alive(h.pid))
        .map(|h| h.pid)
}

/// The process holding the state directory's lock, from its lock file.
pub(super) fn holder(dir: &Path) -> Option<LockInfo> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("lock")).ok()?).ok()
}

/// Where a run stands, in one word for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Done,
    RolledBack,
    Failed,
    AtGate,
    Paused,
    /// A process holds the run now.
    Running(u32),
    /// The journal says running but no process holds it (killed, crashed).
    Interrupted,
}

impl Standing {
    fn of(view: &RunView, live: Option<u32>) -> Standing {
        if let Some(pid) = live {
            return Standing::Running(pid);
        }
        match view.state {
            RunState::Done => Standing::Done,
            RunState::RolledBack => Standing::RolledBack,
            RunState::Failed => Standing::Failed,
            RunState::Running | RunState::RollingBack => Standing::Interrupted,
            // The engine's pause reasons at a gate (engine/gates.rs `wait_at` callers, and the
            // rollback's no-safe-undo gate) start with these words.
            RunState::Paused => match view.pause_reason.as_deref() {
                Some(r)
                    if r.starts_with("waiting for") || r.starts_with("rollback stopped before") =>
                {
                    Standing::AtGate
                }
                _ => Standing::Paused,
            },
        }
    }

    fn words(self) -> String {
        match self {
            Standing::Done => "done".into(),
            Standing::RolledBack => "rolled back".into(),
            Standing::Failed => "failed".into(),
            Standing::AtGate => "waiting at a gate".into(),
            Standing::Paused => "paused".into(),
            Standing::Running(pid) => format!("running (pid {pid})"),
            Standing::Interrupted => "interrupted (no process holds it)".into(),
        }
    }

    /// Documented in `status --help` and the README: 0 done (or rolled back, or running now),
    /// 1 failed, 3 waiting at a gate, 5 paused or interrupted.
    fn code(self) -> i32 {
        match self {
            Standing::Done | Standing::RolledBack | Standing::Running(_) => exit::OK,
            Standing::Failed => exit::FAILED,
            Standing::AtGate => exit::GATE,
            Standing::Paused | Standing::Interrupted => exit::PAUSED,
        }
    }

    fn next(self, h: &Handoff, id: &str, rollback: bool) -> Option<String> {
        let again = |yes: bool| {
            let y: &[&str] = if yes { &["--yes"] } else { &[] };
            if rollback {
                h.rollback(id, y)
            } else {
                h.resume(id, y)
            }
        };
        match self {
            Standing::Done => Some(format!(
                "{} writes its report",
                h.command(&["report", "--run", id, "--format", "html"])
            )),
            Standing::RolledBack => None,
            Standing::Running(_) => Some(h.command(&["log", "--run", id, "--follow"])),
            Standing::Failed => Some(format!(
                "{} retries the failed step; {} undoes the run",
                again(false),
                h.rollback(id, &["--yes"])
            )),
            Standing::AtGate => Some(format!("{} approves and continues", again(true))),
            Standing::Paused | Standing::Interrupted => Some(again(false)),
        }
    }
}

/// What `status --output json` prints (one object; schemas/status.schema.json).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct StatusJson {
    /// The version of this object's shape.
    pub schema_version: u32,
    /// Run id.
    pub run: String,
    /// `running`, `paused`, `failed`, `done` or `rolled_back` (DESIGN.md).
    pub state: String,
    /// In words, with who holds it: `running (pid N)`, `interrupted (no process holds it)`,
    /// `waiting at a gate`, `paused`, `failed`, `done`, `rolled back`.
    pub standing: String,
    /// The pid of the process running it now (0 when unknown), if one is.
    pub pid: Option<u32>,
    /// Cluster name (absent while a run holds the database).
    pub cluster: Option<String>,
    /// Version before the run.
    pub from: Option<String>,
    /// Target version.
    pub to: Option<String>,
    /// When the run was created (RFC 3339).
    pub started: Option<String>,
    /// When its status last changed (RFC 3339).
    pub updated: Option<String>,
    /// The current phase.
    pub phase: String,
    /// Why it paused.
    pub pause_reason: Option<String>,
    /// A rollback is in progress.
    pub rollback: bool,
    /// Points of no return seen crossed: `door`, `observation`, `after`.
    pub doors_crossed: Vec<serde_json::Value>,
    /// The ZooKeeper restore, when one was started: `archive`, `state` (in_progress, failed,
    /// done), `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<serde_json::Value>,
    /// The command to run next, complete.
    pub next: Option<String>,
    /// Steps: `id`, `state` (pending, running, done, failed, skipped, undone), `message`.
    pub steps: Vec<serde_json::Value>,
    /// Nodes and apps: `target`, `step`, `state`.
    pub targets: Vec<serde_json::Value>,
}

/// Runs `status --from-cluster --inventory FILE`: the run as the masters' copies of its
/// journal have it, rebuilt in a throwaway directory and shown as `status` shows it; changes
/// nothing (neither the cluster nor the state directory).
pub(super) async fn from_cluster(a: RunSelect, ctx: &Ctx) -> CliResult<i32> {
    let inv = a.inventory.clone().unwrap_or_default();
    let run = crate::ops::from_cluster::read(&inv, a.run.as_deref(), false).await?;
    for w in &run.warnings {
        eprintln!("note: {w}");
    }
    let tmp = tempfile::tempdir()
        .map_err(|e| CliError::new(exit::FAILED, format!("a temporary directory: {e}")))?;
    crate::ops::from_cluster::rebuild(tmp.path(), &run)?;
    let shown = Ctx {
        dir: tmp.path().to_path_buf(),
        json: ctx.json,
        handoff: ctx.handoff.clone(),
    };
    let select = RunSelect {
        run: Some(run.record.id.clone()),
        from_cluster: false,
        inventory: None,
    };
    exec(select, &shown)
}

/// Runs `status`.
pub(super) fn exec(a: RunSelect, ctx: &Ctx) -> CliResult<i32> {
    let dir = &ctx.dir;
    let (id, view, targets, record, live) = match open_for_reading(dir, "status")? {
        Some(store) => {
            let id = match &a.run {
                Some(r) => r.clone(),
                None => store.latest_run().map_err(store_error)?,
            };
            let record = store.run(&id).map_err(store_error)?;
            let journal = store.journal(&id).map_err(store_error)?;
            let view = RunView::replay(&record.plan, &journal)
                .map_err(|e| CliError::new(exit::FAILED, e.to_string()))?;
            let targets = crate::engine::rollback::target_states(&record.plan, &view);
            let live = if store.is_view() {
                live_holder(dir, &id)
            } else {
                None
            };
            (id, view, targets, Some(record), live)
        }
        None => {
            // A run holds the database: read its snapshot.
            let holder = holder(dir);
            let id = a
                .run
                .clone()
                .or(holder.as_ref().map(|h| h.run.clone()))
                .ok_or_else(|| {
                    CliError::new(
                        exit::LOCKED,
                        "a run holds the state database; pass --run ID",
                    )
                })?;
            let view = read_snapshot(dir, &id).ok_or_else(|| {
                CliError::new(
                    exit::LOCKED,
                    format!("run {id} is in progress and has no status snapshot yet"),
                )
            })?;
            let pid = holder.filter(|h| h.run == id).map(|h| h.pid).unwrap_or(0);
            (id, view, Vec::new(), None, Some(pid))
        }
    };
    let standing = Standing::of(&view, live);
    let updated = snapshot_time(dir, &id);
    let next = standing.next(&ctx.handoff, &id, view.rollback);
    if ctx.json {
        let v = StatusJson {
            schema_version: crate::cli::SCHEMA_VERSION,
            run: id.clone(),
            state: view.state.as_str().to_string(),
            standing: standing.words(),
            pid: live,
            cluster: record.as_ref().map(|r| r.cluster.clone()),
            from: record.as_ref().and_then(|r| r.plan.from.clone()),
            to: record.as_ref().map(|r| r.plan.to.clone()),
            started: record.as_ref().map(|r| r.created_at.clone()),
            updated: updated.clone(),
            phase: view.phase.as_str().to_string(),
            pause_reason: view.pause_reason.clone(),
            rollback: view.rollback,
            doors_crossed: view
                .doors_crossed
                .iter()
                .map(|d| serde_json::to_value(d).unwrap_or_default())
                .collect(),
            restore: view
                .restore
                .as_ref()
                .and_then(|r| serde_json::to_value(r).ok()),
            next: next.clone(),
            steps: view
                .steps
                .iter()
                .map(|s| serde_json::to_value(s).unwrap_or_default())
                .collect(),
            targets: targets
                .iter()
                .map(|t| serde_json::to_value(t).unwrap_or_default())
                .collect(),
        };
        let v = serde_json::to_value(&v).unwrap_or_default();
        super::print_line(&serde_json::to_string(&v).unwrap_or_default());
    } else {
        let mut s = format!("run {id}: {} (phase {})\n", standing.words(), view.phase);
        if let Some(r) = &record {
            s.push_str(&cluster_line(r));
        }
        if let Some(u) = &updated {
            s.push_str(&format!("  last change {u}\n"));
        }
        if let Some(r) = view.restore.as_ref().filter(|r| r.unfinished()) {
            s.push_str(&format!(
                "  ZooKeeper restore from {} is {} ({}): Exhibitor may be stopped on the masters; rollback finishes it\n",
                r.archive,
                r.state,
                r.error.as_deref().unwrap_or("interrupted")
            ));
        }
        if let Some(r) = &view.pause_reason {
            s.push_str(&format!("  paused: {r}\n"));
        }
        for d in &view.doors_crossed {
            s.push_str(&format!(
                "  point of no return crossed: {} after {} ({})\n",
                d.door, d.after, d.observation
            ));
        }
        for st in &view.steps {
            let state = serde_json::to_value(st.state)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            s.push_str(&format!("  {state:<12} {}", st.id));
            if let Some(m) = &st.message {
                s.push_str(&format!("  ({m})"));
            }
            s.push('\n');
        }
        if !targets.is_empty() {
            s.push_str("nodes and apps:\n");
            for t in &targets {
                s.push_str(&format!("  {:<24} {}\n", t.target, t.state));
            }
        }
        if let Some(n) = &next {
            s.push_str(&format!("next: {n}\n"));
        }
        super::print_line(s.trim_end());
    }
    Ok(standing.code())
}

fn cluster_line(r: &RunRecord) -> String {
    format!(
        "  cluster {}: {} -> {}, started {}\n",
        r.cluster,
        r.plan.from.as_deref().unwrap_or("?"),
        r.plan.to,
        r.created_at
    )
}

/// When the run's status snapshot was last written (RFC 3339 UTC), if it was.
fn snapshot_time(dir: &Path, id: &str) -> Option<String> {
    let m = std::fs::metadata(dir.join("runs").join(id).join("status.json")).ok()?;
    let t: chrono::DateTime<chrono::Utc> = m.modified().ok()?.into();
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}
