//! Command-line arguments (clap derive): what the user typed, validated only.

use crate::engine::OnFailure;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Guided, resumable, rollback-able rolling upgrades of DC/OS clusters.
#[derive(Debug, Parser)]
#[command(name = "dcos-upgrade", version, about, long_about = None)]
pub struct Cli {
    /// State directory (journal, audit log, backups). Default: $XDG_STATE_HOME/dcos-upgrade.
    #[arg(
        long,
        global = true,
        env = "DCOS_UPGRADE_STATE_DIR",
        value_name = "DIR"
    )]
    pub state_dir: Option<PathBuf>,
    /// Output: human (terminal) or json (JSON lines on stdout).
    #[arg(long, global = true, value_enum, default_value_t = OutputMode::Human)]
    pub output: OutputMode,
    /// More log output (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Output modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputMode {
    /// Human-readable (progress on stderr).
    Human,
    /// JSON (one object per line on stdout).
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prechecks only; changes nothing.
    Check(Inputs),
    /// The full ordered plan; changes nothing.
    Plan(PlanArgs),
    /// Upgrade the cluster.
    Run(RunArgs),
    /// Continue the latest unfinished run (after Ctrl-C, a crash, a gate).
    Resume(ResumeArgs),
    /// Undo a run's changes in reverse order.
    Rollback(RollbackArgs),
    /// Where a run stands (exit 0 done, 1 failed, 3 waiting at a gate, 5 paused or interrupted).
    Status(RunSelect),
    /// The audit log of every remote command of a run.
    Log(LogArgs),
    /// The runs of this state directory.
    Runs,
}

/// Inventory and playbook.
#[derive(Debug, Args)]
pub struct Inputs {
    /// The cluster inventory (TOML).
    #[arg(long, value_name = "FILE")]
    pub inventory: PathBuf,
    /// A playbook other than the built-in DC/OS one.
    #[arg(long, value_name = "FILE")]
    pub playbook: Option<PathBuf>,
    /// Trust host keys seen for the first time (a changed key is always refused).
    #[arg(long)]
    pub trust_new_host_keys: bool,
}

/// `plan` arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Inventory and playbook.
    #[command(flatten)]
    pub inputs: Inputs,
    /// Target DC/OS version.
    #[arg(long, value_name = "VERSION")]
    pub to: String,
    /// Agents upgraded at once after the canary.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub max_unavailable: u32,
}

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Plan arguments.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Approve every gate (non-interactive use).
    #[arg(long)]
    pub yes: bool,
    /// Acknowledge the release notes of this version.
    #[arg(long, value_name = "VERSION")]
    pub ack_release_notes: Option<String>,
    /// What to do when a step fails without a terminal.
    #[arg(long, value_enum, default_value_t = OnFailure::Pause)]
    pub on_failure: OnFailure,
    /// Do not take the ZooKeeper backup (recorded in the audit log).
    #[arg(long)]
    pub skip_backup: bool,
    /// Take over the cluster lock of another run whose heartbeat is stale.
    #[arg(long)]
    pub take_over_lock: bool,
}

/// `resume` arguments.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run (default: the latest).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Approve every gate.
    #[arg(long)]
    pub yes: bool,
    /// Take over the cluster lock of another run whose heartbeat is stale.
    #[arg(long)]
    pub take_over_lock: bool,
    /// Acknowledge the release notes of this version (when the run stopped at their gate).
    #[arg(long, value_name = "VERSION")]
    pub ack_release_notes: Option<String>,
    /// Trust host keys seen for the first time (a changed key is always refused).
    #[arg(long)]
    pub trust_new_host_keys: bool,
}

/// `rollback` arguments.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The run (default: the latest).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Confirm the rollback and approve its gates.
    #[arg(long)]
    pub yes: bool,
    /// Take over the cluster lock of another run whose heartbeat is stale.
    #[arg(long)]
    pub take_over_lock: bool,
    /// After undoing the nodes, restore the run's ZooKeeper backup on every master. A last
    /// resort: ZooKeeper is down on all masters meanwhile. Needs confirmation.
    #[arg(long)]
    pub restore_zookeeper: bool,
    /// Trust host keys seen for the first time (a changed key is always refused).
    #[arg(long)]
    pub trust_new_host_keys: bool,
}

/// `log` arguments.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// The run (default: the latest).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Keep printing new entries while the run goes on (stops when it ends).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only the commands sent to this node (name or address).
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
    /// Only the commands of steps whose id contains this text (e.g. `masters/`).
    #[arg(long, value_name = "STEP")]
    pub step: Option<String>,
}

/// Selects a run.
#[derive(Debug, Args)]
pub struct RunSelect {
    /// The run (default: the latest).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
}
