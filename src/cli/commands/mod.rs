//! The subcommands, one file each, and the helpers they share: the state directory, loading
//! the inputs, connecting to the cluster, the event sink, the prompter and the state lock.

mod check;
mod execute;
mod log;
mod plan;
mod run;
mod status;

pub use plan::render_plan;

use super::args::{Cli, Command, Inputs, OutputMode};
use super::exit;
use super::prompt::TerminalPrompter;
use super::render::{HumanSink, JsonSink};
use super::CliError;
use crate::cluster::Cluster;
use crate::engine::Prompter;
use crate::events::EventSink;
use crate::facts::ClusterFacts;
use crate::playbook::{Become, ConfigError, Inventory, Playbook};
use crate::probe::{facts, Http, HttpOptions};
use crate::remote::{HostKeyPolicy, Ssh, SshOptions};
use crate::store::{LockError, LockInfo, StateLock, StoreError};
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
        Command::Plan(a) => plan::exec(a, json).await,
        Command::Check(a) => check::exec(a, json).await,
        Command::Run(a) => run::exec(a, json, &state_dir).await,
        Command::Resume(a) => run::resume(a, json, &state_dir, false).await,
        Command::Rollback(a) => run::resume(a, json, &state_dir, true).await,
        Command::Status(a) => status::exec(a, json, &state_dir),
        Command::Log(a) => log::exec(a, json, &state_dir),
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
