//! The subcommands: each turns its arguments into calls on the library and the result into
//! output and an exit code.

use super::args::{Cli, Command, Inputs, OutputMode, PlanArgs, ResumeArgs, RunArgs, RunSelect};
use super::exit;
use super::prompt::TerminalPrompter;
use super::render::{HumanSink, JsonSink};
use super::CliError;
use crate::cluster::Cluster;
use crate::engine::cluster_lock::{ClusterLock, ClusterLockError};
use crate::engine::{Engine, Outcome, Prompter, RunOptions};
use crate::events::{stamp, Event, EventSink};
use crate::facts::ClusterFacts;
use crate::machine::{Record, RunView, StepState};
use crate::model::Role;
use crate::plan::{self, Plan, PlanOptions};
use crate::playbook::{Become, ConfigError, Inventory, NodeSpec, Playbook, SourceFile};
use crate::probe::{facts, Http, HttpOptions};
use crate::remote::{HostKeyPolicy, Ssh, SshOptions};
use crate::store::{read_snapshot, LockError, LockInfo, RunRecord, StateLock, Store, StoreError};
use std::io::IsTerminal;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

type CliResult<T> = Result<T, CliError>;

/// Runs the chosen subcommand.
pub async fn dispatch(cli: Cli) -> CliResult<i32> {
    let state_dir = state_dir(cli.state_dir.clone())?;
    let json = cli.output == OutputMode::Json;
    match cli.command {
        Command::Plan(a) => plan_cmd(a, json).await,
        Command::Check(a) => check_cmd(a, json).await,
        Command::Run(a) => run_cmd(a, json, &state_dir).await,
        Command::Resume(a) => resume_cmd(a, json, &state_dir, false).await,
        Command::Rollback(a) => resume_cmd(a, json, &state_dir, true).await,
        Command::Status(a) => status_cmd(a, json, &state_dir),
        Command::Log(a) => log_cmd(a, json, &state_dir),
    }
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

fn bad_input(e: ConfigError) -> CliError {
    CliError::new(exit::BAD_INPUT, e.to_string())
}

fn store_error(e: StoreError) -> CliError {
    let code = match e {
        StoreError::NoRun(_) | StoreError::NoRuns => exit::BAD_INPUT,
        _ => exit::FAILED,
    };
    CliError::new(code, e.to_string())
}

fn load_inputs(inputs: &Inputs) -> CliResult<(Inventory, Playbook, Option<String>)> {
    let inventory = Inventory::load(&inputs.inventory).map_err(bad_input)?;
    let playbook = Playbook::load(inputs.playbook.as_deref()).map_err(bad_input)?;
    let text = match &inputs.playbook {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| CliError::new(exit::BAD_INPUT, format!("{}: {e}", p.display())))?,
        ),
        None => None,
    };
    Ok((inventory, playbook, text))
}

fn secrets() -> Vec<String> {
    ["DCOS_ACS_TOKEN", "DCOS_UPGRADE_TOKEN"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Connects the edges: SSH pool and HTTP client.
fn connect(inventory: Inventory, playbook: Playbook, trust_new: bool) -> CliResult<Cluster> {
    let timeouts = playbook.timeouts.with_overrides(&inventory.timeouts);
    let ssh = Ssh::new(SshOptions {
        user: inventory.ssh.user.clone(),
        identity_file: inventory.ssh.identity_file.clone(),
        known_hosts: inventory.ssh.known_hosts.clone(),
        jump_host: inventory.ssh.jump_host.clone(),
        connect_timeout: Duration::from_secs(inventory.ssh.connect_timeout_secs),
        sudo: inventory.ssh.become_ == Become::Sudo,
        host_keys: if trust_new {
            HostKeyPolicy::TrustNew
        } else {
            HostKeyPolicy::Strict
        },
        max_parallel_connects: 8,
    })
    .map_err(|e| CliError::new(exit::FAILED, format!("cannot prepare SSH: {e}")))?;
    let http = Http::new(&HttpOptions {
        timeout: Duration::from_secs(playbook.timeouts.http_secs),
        ca_file: inventory
            .http
            .ca_file
            .clone()
            .or_else(|| std::env::var_os("DCOS_UPGRADE_CA_FILE").map(PathBuf::from)),
        token: secrets().into_iter().next(),
    })
    .map_err(|e| CliError::new(exit::BAD_INPUT, e.to_string()))?;
    Ok(Cluster {
        agents: inventory.agents.clone().unwrap_or_default(),
        inventory,
        playbook,
        timeouts,
        ssh,
        http,
    })
}

async fn observe(cluster: &mut Cluster, with_apps: bool) -> CliResult<ClusterFacts> {
    facts::resolve_agents(cluster)
        .await
        .map_err(|e| CliError::new(exit::FAILED, e))?;
    Ok(facts::gather(cluster, with_apps).await)
}

fn plan_options(inventory: &Inventory, a: &PlanArgs) -> CliResult<PlanOptions> {
    crate::versions::DcosVersion::parse(&a.to)
        .map_err(|e| CliError::new(exit::BAD_INPUT, format!("--to {:?}: {e}", a.to)))?;
    if a.max_unavailable == 0 {
        return Err(CliError::new(
            exit::BAD_INPUT,
            "--max-unavailable must be at least 1",
        ));
    }
    Ok(PlanOptions {
        cluster: inventory.cluster_name.clone(),
        to: a.to.clone(),
        max_unavailable: a.max_unavailable,
        frameworks: inventory.frameworks.clone(),
    })
}

async fn make_plan(a: &PlanArgs) -> CliResult<(Cluster, Plan, Option<String>)> {
    let (inventory, playbook, pb_text) = load_inputs(&a.inputs)?;
    let opts = plan_options(&inventory, a)?;
    let mut cluster = connect(inventory, playbook, a.inputs.trust_new_host_keys)?;
    let facts = observe(&mut cluster, !opts.frameworks.is_empty()).await?;
    let plan =
        plan::build(&facts, &opts).map_err(|e| CliError::new(exit::FAILED, e.to_string()))?;
    Ok((cluster, plan, pb_text))
}

async fn plan_cmd(a: PlanArgs, json: bool) -> CliResult<i32> {
    let (cluster, plan, _) = make_plan(&a).await?;
    cluster.ssh.close().await;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan).unwrap_or_default()
        );
    } else {
        print!("{}", render_plan(&plan));
    }
    Ok(exit::OK)
}

/// The plan as a table for people.
pub fn render_plan(plan: &Plan) -> String {
    let mut s = format!(
        "Plan for cluster {}: {} -> {} (agents: canary, then batches of {})\n",
        plan.cluster,
        plan.from.as_deref().unwrap_or("?"),
        plan.to,
        plan.max_unavailable
    );
    for ph in &plan.phases {
        s.push_str(&format!("\n{}\n", ph.id));
        if ph.steps.is_empty() {
            s.push_str("  (nothing to do)\n");
        }
        for st in &ph.steps {
            let mut extra = Vec::new();
            if let Some(r) = st.role {
                extra.push(r.to_string());
            }
            if st.leader == Some(true) {
                extra.push("leader".into());
            }
            if let Some(b) = st.batch {
                extra.push(if b == 0 {
                    "canary".into()
                } else {
                    format!("batch {b}")
                });
            }
            if let (Some(f), Some(t)) = (&st.from, &st.to) {
                extra.push(format!("{f} -> {t}"));
            }
            if let Some(r) = &st.reason {
                extra.push(r.clone());
            }
            s.push_str(&format!(
                "  {:<8} {:<40} {}\n",
                format!("{:?}", st.action).to_lowercase(),
                st.id,
                extra.join(", ")
            ));
        }
    }
    s
}

async fn check_cmd(a: Inputs, json: bool) -> CliResult<i32> {
    let (inventory, playbook, _) = load_inputs(&a)?;
    let mut cluster = connect(inventory, playbook, a.trust_new_host_keys)?;
    let facts = observe(&mut cluster, false).await?;
    let report = crate::phases::checks::checklist(&cluster, &facts, None).await;
    cluster.ssh.close().await;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", report.render());
    }
    Ok(if report.blocked() {
        exit::FAILED
    } else {
        exit::OK
    })
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
        cluster: cluster.to_string(),
    }))
}

fn lock(dir: &Path, run: &str, command: &str) -> CliResult<StateLock> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            CliError::new(
                exit::FAILED,
                format!("state directory {}: {e}", dir.display()),
            )
        })?;
    StateLock::acquire(
        dir,
        &LockInfo {
            run: run.to_string(),
            pid: std::process::id(),
            command: command.to_string(),
            since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
    )
    .map_err(|e| match e {
        LockError::Held(_) | LockError::HeldUnknown(_) => {
            CliError::new(exit::LOCKED, e.to_string())
        }
        LockError::Io { .. } => CliError::new(exit::FAILED, e.to_string()),
    })
}

fn new_run_id() -> String {
    let r: u16 = rand::random();
    format!("{}-{r:04x}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"))
}

async fn run_cmd(a: RunArgs, json: bool, dir: &Path) -> CliResult<i32> {
    let run_id = new_run_id();
    // Bad input is refused before the state directory is touched (not even its lock file).
    let (inventory, _, _) = load_inputs(&a.plan.inputs)?;
    plan_options(&inventory, &a.plan)?;
    let mut lk = lock(dir, &run_id, "run")?;
    let store = Store::open(dir).map_err(store_error)?;
    let (cluster, plan, pb_text) = make_plan(&a.plan).await?;
    let (events, human) = sink(json);
    if let Some(h) = &human {
        h.line(&render_plan(&plan));
    }
    let options = RunOptions {
        yes: a.yes,
        on_failure: a.on_failure,
        skip_backup: a.skip_backup,
        ack_release_notes: a.ack_release_notes.clone(),
    };
    let inventory_text = std::fs::read_to_string(&a.plan.inputs.inventory).unwrap_or_default();
    let record = RunRecord {
        id: run_id.clone(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        cluster: plan.cluster.clone(),
        plan,
        inventory_path: std::fs::canonicalize(&a.plan.inputs.inventory)
            .unwrap_or(a.plan.inputs.inventory.clone()),
        inventory_text,
        playbook_text: pb_text,
        options: serde_json::to_value(&options).unwrap_or_default(),
    };
    store.create_run(&record).map_err(store_error)?;
    let _ = lk.update(&LockInfo {
        run: run_id.clone(),
        pid: std::process::id(),
        command: "run".into(),
        since: record.created_at.clone(),
    });
    if a.skip_backup {
        let _ = store.append_audit(
            &run_id,
            &crate::store::AuditEntry {
                at: record.created_at.clone(),
                step: "backup/zookeeper".into(),
                node: "-".into(),
                description: "--skip-backup given: the ZooKeeper backup will not be taken".into(),
                command: String::new(),
                exit_status: None,
                duration_ms: 0,
                output_tail: String::new(),
                phase: "decision".into(),
            },
        );
    }
    let prompter = prompter(a.yes, human.clone(), &record.cluster);
    execute(
        &store,
        &record,
        &cluster,
        options,
        prompter,
        events.as_ref(),
        Action::Run,
        a.take_over_lock,
    )
    .await
}

async fn resume_cmd(a: ResumeArgs, json: bool, dir: &Path, rollback: bool) -> CliResult<i32> {
    let command = if rollback { "rollback" } else { "resume" };
    let _lk = lock(dir, a.run.as_deref().unwrap_or("?"), command)?;
    let store = Store::open(dir).map_err(store_error)?;
    let id = match &a.run {
        Some(r) => r.clone(),
        None => store.latest_run().map_err(store_error)?,
    };
    let record = store.run(&id).map_err(store_error)?;
    let view = RunView::replay(&record.plan, &store.journal(&id).map_err(store_error)?)
        .map_err(|e| CliError::new(exit::FAILED, format!("run {id}: {e}")))?;
    let rollback_after_done = rollback
        && (view.state == crate::machine::RunState::Done
            || (a.restore_zookeeper && view.state == crate::machine::RunState::RolledBack));
    if !view.state.is_unfinished() && !rollback_after_done {
        let msg = format!("run {id} is {}; nothing to {command}", view.state.as_str());
        eprintln!("{msg}");
        return Ok(exit::OK);
    }
    let src = SourceFile::from_text(
        &record.inventory_path.to_string_lossy(),
        &record.inventory_text,
    );
    let inventory = Inventory::parse(&src).map_err(bad_input)?;
    let playbook = match &record.playbook_text {
        Some(t) => Playbook::parse(&SourceFile::from_text("<playbook saved with the run>", t))
            .map_err(bad_input)?,
        None => Playbook::builtin(),
    };
    let mut cluster = connect(inventory, playbook, false)?;
    if facts::resolve_agents(&mut cluster).await.is_err() {
        cluster.agents = cluster.inventory.agents.clone().unwrap_or_default();
    }
    add_planned_agents(&mut cluster, &record.plan);
    let mut options: RunOptions =
        serde_json::from_value(record.options.clone()).unwrap_or_default();
    options.yes = a.yes;
    if a.ack_release_notes.is_some() {
        options.ack_release_notes = a.ack_release_notes.clone();
    }
    let (events, human) = sink(json);
    let prompter = prompter(a.yes, human.clone(), &record.cluster);
    if rollback && !a.yes && prompter.is_none() {
        return Err(CliError::new(
            exit::GATE,
            format!("rollback of run {id} changes every upgraded node: run `dcos-upgrade rollback --run {id} --yes` to confirm"),
        ));
    }
    if rollback {
        if let Some(p) = &prompter {
            if !p.confirm(&format!(
                "Roll back run {id} on cluster {}?",
                record.cluster
            )) {
                return Ok(exit::GATE);
            }
        }
    }
    execute(
        &store,
        &record,
        &cluster,
        options,
        prompter,
        events.as_ref(),
        if rollback {
            Action::Rollback {
                restore_zookeeper: a.restore_zookeeper,
            }
        } else {
            Action::Resume
        },
        a.take_over_lock,
    )
    .await
}

/// Agents named in the plan but not discovered now (e.g. down) still need their step.
fn add_planned_agents(cluster: &mut Cluster, plan: &Plan) {
    for (_, s) in plan.steps() {
        let (Some(addr), Some(role)) = (&s.node, s.role) else {
            continue;
        };
        if role != Role::Master && cluster.node(addr).is_none() {
            cluster.agents.push(NodeSpec {
                address: addr.clone(),
                name: s.name.clone().unwrap_or_else(|| addr.clone()),
                ssh_port: cluster.inventory.ssh.port,
                root: String::new(),
                role,
                public_listed: true,
            });
        }
    }
}

/// What `execute` does with the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// A new run.
    Run,
    /// Continue a run.
    Resume,
    /// Undo a run (then, on request, restore the ZooKeeper backup).
    Rollback {
        /// `--restore-zookeeper` was given.
        restore_zookeeper: bool,
    },
}

#[allow(clippy::too_many_arguments)]
async fn execute(
    store: &Store,
    record: &RunRecord,
    cluster: &Cluster,
    options: RunOptions,
    prompter: Option<Arc<dyn Prompter>>,
    events: &dyn EventSink,
    action: Action,
    take_over_lock: bool,
) -> CliResult<i32> {
    let engine = Engine::new(store, record, cluster, options, prompter, events, secrets())
        .map_err(|e| CliError::new(exit::FAILED, e.to_string()))?;
    // The cluster-side lock on the masters (engine::cluster_lock), through the chokepoint.
    let changer = crate::engine::chokepoint::Changer::new(store, &record.id, cluster, secrets());
    let cluster_lock = ClusterLock::new(&record.id, cluster.inventory.lock.stale_secs.unwrap_or(0));
    if let Err(e) = cluster_lock
        .acquire(&changer, cluster, take_over_lock)
        .await
    {
        cluster.ssh.close().await;
        let code = match e {
            ClusterLockError::Held(_) | ClusterLockError::Stale { .. } => exit::LOCKED,
            ClusterLockError::Remote { .. } => exit::FAILED,
        };
        return Err(CliError::new(code, e.to_string()));
    }
    let heartbeat = async {
        loop {
            tokio::time::sleep(cluster_lock.heartbeat_interval()).await;
            if let Err(e) = cluster_lock.heartbeat(&changer, cluster).await {
                tracing::warn!("{e}");
            }
        }
    };
    let work = async {
        match action {
            Action::Run => engine.execute(false).await,
            Action::Resume => engine.execute(true).await,
            Action::Rollback { restore_zookeeper } => {
                let already = engine.view().state == crate::machine::RunState::RolledBack;
                let outcome = if already {
                    Outcome::RolledBack {
                        after_failure: None,
                    }
                } else {
                    engine.rollback(None).await?
                };
                match outcome {
                    Outcome::RolledBack { .. } if restore_zookeeper => {
                        engine.restore_zookeeper().await
                    }
                    other => Ok(other),
                }
            }
        }
    };
    let result = tokio::select! {
        r = work => r,
        _ = heartbeat => unreachable!("the heartbeat loop never ends"),
        _ = tokio::signal::ctrl_c() => {
            let _ = cluster_lock.release(&changer, cluster).await;
            let _ = store.append(&record.id, &Record::RunPaused { reason: "interrupted (Ctrl-C)".into() });
            let msg = format!("interrupted; the state is saved. A node script already started keeps running on its node. Continue with `dcos-upgrade resume --run {}`", record.id);
            events.emit(&stamp(Event::RunFinished { run: record.id.clone(), state: "paused".into(), exit_code: exit::INTERRUPTED, message: msg }));
            return Ok(exit::INTERRUPTED);
        }
    };
    if let Err(e) = cluster_lock.release(&changer, cluster).await {
        tracing::warn!("{e}");
    }
    let outcome = result.map_err(|e| {
        CliError::new(
            exit::FAILED,
            format!("{e}\nthe state is kept as it was; `dcos-upgrade status` shows it"),
        )
    })?;
    let view = engine.view();
    let _ = store.write_snapshot(&record.id, &view);
    cluster.ssh.close().await;
    let (state, code, message) = match &outcome {
        Outcome::Done => ("done", exit::OK, format!("run {} done: every node at {}", record.id, record.plan.to)),
        Outcome::AtGate { gate } if gate.starts_with("no-undo:") || gate == "restore-zookeeper" => (
            "paused",
            exit::GATE,
            format!(
                "rollback stopped at gate {gate}: it needs an explicit approval (see above). Approve with: dcos-upgrade rollback --run {} --yes",
                record.id
            ),
        ),
        Outcome::AtGate { gate } if gate.starts_with("release-notes") => (
            "paused",
            exit::GATE,
            format!(
                "stopped at gate {gate}: the release notes of DC/OS {to} must be acknowledged. Read them (playbooks/release-notes/), then continue with: dcos-upgrade resume --run {} --yes --ack-release-notes {to}",
                record.id,
                to = record.plan.to
            ),
        ),
        Outcome::AtGate { gate } => (
            "paused",
            exit::GATE,
            format!("stopped at gate {gate}, waiting for approval (no terminal and no --yes). Continue with: dcos-upgrade resume --run {} --yes", record.id),
        ),
        Outcome::Stopped { reason } => ("paused", exit::GATE, format!("{reason}. Continue with: dcos-upgrade resume --run {}", record.id)),
        Outcome::Failed { step, error } => (
            "failed",
            exit::FAILED,
            format!("step {step} failed: {error}\nthe run is paused and its state saved. Choices: `dcos-upgrade resume --run {id}` retries the step; `dcos-upgrade rollback --run {id}` undoes this run's changes", id = record.id),
        ),
        Outcome::RolledBack { after_failure } => (
            "rolled_back",
            if after_failure.is_some() { exit::FAILED } else { exit::OK },
            match after_failure {
                Some(e) => format!("rolled back after a failure: {e}"),
                None => format!("run {} rolled back", record.id),
            },
        ),
        Outcome::Restored { archive } => (
            "rolled_back",
            exit::OK,
            format!("ZooKeeper restored on every master from {archive}; check the cluster's services before using it"),
        ),
        Outcome::RollbackFailed { step, error } => (
            "failed",
            exit::FAILED,
            format!("rollback stopped at {step}: {error}\n`dcos-upgrade rollback --run {}` tries again", record.id),
        ),
    };
    let summary = summary(record, &view, store.dir());
    events.emit(&stamp(Event::RunFinished {
        run: record.id.clone(),
        state: state.into(),
        exit_code: code,
        message: format!("{summary}{message}"),
    }));
    Ok(code)
}

fn summary(record: &RunRecord, view: &RunView, _dir: &Path) -> String {
    let mut s = String::from("\nSummary:\n");
    for (p, st) in record.plan.steps() {
        let v = view.step(&st.id);
        let state = v.map(|v| v.state).unwrap_or(StepState::Pending);
        let state = serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        s.push_str(&format!(
            "  {:<10} {:<40} {}\n",
            p.id.as_str(),
            st.id,
            state
        ));
        if let Some(a) = v
            .and_then(|v| v.output.get("archive"))
            .and_then(|a| a.as_str())
        {
            s.push_str(&format!("             ZooKeeper backup: {a}\n"));
        }
    }
    let undone: Vec<&str> = view
        .steps
        .iter()
        .filter(|v| v.state == StepState::Undone)
        .map(|v| v.id.as_str())
        .collect();
    if !undone.is_empty() {
        s.push_str(&format!(
            "Undone ({}): {}\n",
            undone.len(),
            undone.join(", ")
        ));
    }
    s.push_str("Nodes and apps:\n");
    for t in crate::engine::rollback::target_states(&record.plan, view) {
        s.push_str(&format!("  {:<24} {}\n", t.target, t.state));
    }
    s
}

fn open_for_reading(dir: &Path) -> Result<Option<Store>, CliError> {
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::new(
            exit::FAILED,
            format!(
                "state directory {}: exists and is not a directory",
                dir.display()
            ),
        ));
    }
    if !dir.join("state.sled").exists() {
        return Err(CliError::new(
            exit::BAD_INPUT,
            format!(
                "no state in {}: no run has been started here",
                dir.display()
            ),
        ));
    }
    match Store::open(dir) {
        Ok(s) => Ok(Some(s)),
        Err(StoreError::Open { reason, .. })
            if reason.contains("WouldBlock") || reason.contains("lock") =>
        {
            Ok(None)
        }
        Err(e) => Err(store_error(e)),
    }
}

fn status_cmd(a: RunSelect, json: bool, dir: &Path) -> CliResult<i32> {
    let (id, view, targets) = match open_for_reading(dir)? {
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
            (id, view, targets)
        }
        None => {
            // A run holds the database: read its snapshot.
            let lock_text = std::fs::read_to_string(dir.join("lock")).unwrap_or_default();
            let holder: Option<LockInfo> = serde_json::from_str(&lock_text).ok();
            let id = a.run.clone().or(holder.map(|h| h.run)).ok_or_else(|| {
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
            (id, view, Vec::new())
        }
    };
    if json {
        let v = serde_json::json!({
            "run": id,
            "state": view.state.as_str(),
            "phase": view.phase,
            "pause_reason": view.pause_reason,
            "rollback": view.rollback,
            "steps": view.steps,
            "targets": targets,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!("run {id}: {} (phase {})", view.state.as_str(), view.phase);
        if let Some(r) = &view.pause_reason {
            println!("  paused: {r}");
        }
        for s in &view.steps {
            let state = serde_json::to_value(s.state)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            print!("  {:<12} {}", state, s.id);
            if let Some(m) = &s.message {
                print!("  ({m})");
            }
            println!();
        }
        if !targets.is_empty() {
            println!("nodes and apps:");
            for t in &targets {
                println!("  {:<24} {}", t.target, t.state);
            }
        }
    }
    Ok(exit::OK)
}

fn log_cmd(a: RunSelect, json: bool, dir: &Path) -> CliResult<i32> {
    let store = open_for_reading(dir)?.ok_or_else(|| {
        CliError::new(
            exit::LOCKED,
            "a run holds the state database; `log` is available when it stops (`status` works now)",
        )
    })?;
    let id = match &a.run {
        Some(r) => r.clone(),
        None => store.latest_run().map_err(store_error)?,
    };
    store.run(&id).map_err(store_error)?;
    for e in store.audit(&id).map_err(store_error)? {
        if json {
            println!("{}", serde_json::to_string(&e).unwrap_or_default());
        } else {
            let status = e
                .exit_status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into());
            println!(
                "{} {:<7} {:<16} {:<36} exit={} {}ms  {}",
                e.at, e.phase, e.node, e.step, status, e.duration_ms, e.description
            );
            println!("    $ {}", e.command);
            if !e.output_tail.is_empty() {
                for l in e
                    .output_tail
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                {
                    println!("    | {l}");
                }
            }
        }
    }
    Ok(exit::OK)
}
