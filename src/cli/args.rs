//! Command-line arguments (clap derive): what the user typed, validated only.

use crate::engine::OnFailure;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Guided, resumable, rollback-able rolling upgrades of DC/OS clusters.
#[derive(Debug, Parser)]
#[command(
    name = "dcos-upgrade",
    version = crate::cli::VERSION,
    about,
    long_about = None,
    after_help = ROOT_HELP
)]
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
    /// More log output on stderr: -v the decisions and every SSH and HTTP action, -vv all
    /// (RUST_LOG or DCOS_UPGRADE_LOG, a tracing filter, overrides it).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Colour on the terminal: auto (only on a terminal, not with NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
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

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Shells for `completions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// bash
    Bash,
    /// zsh
    Zsh,
    /// fish
    Fish,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A self-contained HTML page with the SVG timeline.
    Html,
    /// Markdown (the timeline as an SVG file beside it is not needed: a table of times).
    Markdown,
    /// One JSON document.
    Json,
}

const ROOT_HELP: &str = "\
Examples:
  dcos-upgrade check --inventory cluster.toml
  dcos-upgrade plan --inventory cluster.toml --to 2.2.1
  dcos-upgrade run --inventory cluster.toml --to 2.2.1
  dcos-upgrade status; dcos-upgrade resume

Exit codes: 0 done; 1 failed (a step failed or a check blocked); 2 bad input; 3 stopped at a
gate waiting for approval; 4 another run holds a lock; 5 (status) paused or interrupted;
130 interrupted by a signal (state saved, `resume` continues).

Environment:
  DCOS_UPGRADE_STATE_DIR  the state directory (as --state-dir)
  DCOS_ACS_TOKEN          the DC/OS ACS token sent to the cluster's HTTP endpoints (never recorded)
  DCOS_UPGRADE_TOKEN      the same, read when DCOS_ACS_TOKEN is not set
  DCOS_UPGRADE_CA_FILE    the CA file for the cluster's TLS (when the inventory's [http] has none)
  DCOS_UPGRADE_LOG        a tracing filter for stderr logs (e.g. dcos_upgrade=debug); RUST_LOG too
  NO_COLOR                no colour (as --color never)
  XDG_STATE_HOME          the default state directory's parent";

const RUN_HELP: &str = "\
Examples:
  dcos-upgrade run --inventory cluster.toml --to 2.2.1
  dcos-upgrade run --inventory cluster.toml --to 2.2.1 --yes --ack-release-notes 2.2.1 --output json
  dcos-upgrade --state-dir ./state run --inventory cluster.toml --to 2.2.1 --max-unavailable 2";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prechecks only; changes nothing.
    #[command(
        after_help = "Examples:\n  dcos-upgrade check --inventory cluster.toml\n  dcos-upgrade check --inventory cluster.toml --output json"
    )]
    Check(CheckArgs),
    /// The full ordered plan; changes nothing.
    #[command(
        after_help = "Examples:\n  dcos-upgrade plan --inventory cluster.toml --to 2.2.1\n  dcos-upgrade plan --inventory cluster.toml --to 2.2.1 --output json"
    )]
    Plan(PlanArgs),
    /// Upgrade the cluster.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Take the pre-upgrade backups now, outside an upgrade (ZooKeeper, and IAM, etcd and the
    /// Marathon app definitions where the cluster has them); listed by `status`.
    #[command(
        after_help = "Examples:\n  dcos-upgrade backup --inventory cluster.toml\n  dcos-upgrade backup --inventory cluster.toml --output json"
    )]
    Backup(BackupArgs),
    /// Continue the latest unfinished run (after Ctrl-C, a crash, a gate).
    #[command(
        after_help = "Examples:\n  dcos-upgrade resume\n  dcos-upgrade resume --run 20261201T080000Z-1a2b --yes"
    )]
    Resume(ResumeArgs),
    /// Undo a run's changes in reverse order.
    #[command(
        after_help = "Examples:\n  dcos-upgrade rollback --run 20261201T080000Z-1a2b\n  dcos-upgrade rollback --run 20261201T080000Z-1a2b --yes --restore-zookeeper"
    )]
    Rollback(RollbackArgs),
    /// Where a run stands (exit 0 done, 1 failed, 3 waiting at a gate, 5 paused or interrupted).
    #[command(
        after_help = "Examples:\n  dcos-upgrade status\n  dcos-upgrade status --run 20261201T080000Z-1a2b --output json"
    )]
    Status(RunSelect),
    /// The audit log of every remote command of a run.
    #[command(
        after_help = "Examples:\n  dcos-upgrade log\n  dcos-upgrade log --follow --node m1\n  dcos-upgrade log --step masters/ --output json"
    )]
    Log(LogArgs),
    /// The runs of this state directory.
    #[command(
        after_help = "Examples:\n  dcos-upgrade runs\n  dcos-upgrade --state-dir ./state runs --output json"
    )]
    Runs,
    /// A run's report (cluster before and after, an SVG timeline, backups, failures, figures).
    #[command(
        after_help = "Examples:\n  dcos-upgrade report --format html > upgrade.html\n  dcos-upgrade report --run 20261201T080000Z-1a2b --format markdown"
    )]
    Report(ReportArgs),
    /// Shell completions on stdout.
    #[command(
        after_help = "Examples:\n  dcos-upgrade completions bash > /etc/bash_completion.d/dcos-upgrade\n  dcos-upgrade completions zsh > ~/.zfunc/_dcos-upgrade\n  dcos-upgrade completions fish > ~/.config/fish/completions/dcos-upgrade.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// The man page (roff) on stdout.
    #[command(
        after_help = "Examples:\n  dcos-upgrade man > dcos-upgrade.1 && man ./dcos-upgrade.1"
    )]
    Man,
}

/// `report` arguments.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run (default: the latest).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// The format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
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

/// `check` arguments.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Inventory and playbook.
    #[command(flatten)]
    pub inputs: Inputs,
    /// A node DC/OS knows that the inventory leaves out on purpose, as for `plan` and `run`
    /// (its address or hostname as DC/OS reports it; repeatable): shown as excluded, not as a
    /// blocker.
    #[arg(long, value_name = "NODE")]
    pub exclude: Vec<String>,
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
    /// Agents upgraded at once after the canary: a number, or a percentage of the cluster's
    /// agents (private and public), e.g. `10%`. A percentage rounds down and is at least one
    /// agent: 10% of 25 agents is 2, of 5 agents is 1.
    #[arg(long, default_value = "1", value_name = "N|N%")]
    pub max_unavailable: crate::plan::MaxUnavailable,
    /// At most N agents of one Mesos fault-domain zone (`domain.fault_domain.zone.name` in the
    /// leading master's `/slaves`, DC/OS 1.11+) in a batch. Agents that report no zone count as
    /// one zone together.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_unavailable_per_zone: Option<u32>,
    /// Leave out a node DC/OS knows that the inventory does not list (its address or hostname
    /// as DC/OS reports it; repeatable). Without it such a node blocks the plan. An excluded node
    /// is not upgraded; the plan and the run's summary name it with a warning.
    #[arg(long, value_name = "NODE")]
    pub exclude: Vec<String>,
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

/// `backup` arguments.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Inventory and playbook.
    #[command(flatten)]
    pub inputs: Inputs,
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
    /// Rebuild the run from the journal's copies on the masters (a machine that never saw it;
    /// the run's cluster lock is taken over once its heartbeat is stale).
    #[arg(long, requires = "inventory")]
    pub from_cluster: bool,
    /// The cluster inventory (TOML), with --from-cluster.
    #[arg(long, value_name = "FILE", requires = "from_cluster")]
    pub inventory: Option<std::path::PathBuf>,
    /// With --from-cluster: the playbook the run was started with, when it was not the built-in
    /// one (its `paths.work_dir` says where the masters keep the journal's copies).
    #[arg(long, value_name = "FILE", requires = "from_cluster")]
    pub playbook: Option<std::path::PathBuf>,
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
    /// Read the run from the journal's copies on the masters instead (changes nothing).
    #[arg(long, requires = "inventory")]
    pub from_cluster: bool,
    /// The cluster inventory (TOML), with --from-cluster.
    #[arg(long, value_name = "FILE", requires = "from_cluster")]
    pub inventory: Option<std::path::PathBuf>,
    /// With --from-cluster: the playbook the run was started with, when it was not the built-in
    /// one (its `paths.work_dir` says where the masters keep the journal's copies).
    #[arg(long, value_name = "FILE", requires = "from_cluster")]
    pub playbook: Option<std::path::PathBuf>,
}
