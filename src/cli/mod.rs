//! The command line: argv in, one call, output and an exit code out. Only this module prints
//! and decides exit codes.

pub mod args;
mod commands;
pub mod prompt;
pub mod render;

use args::Cli;
use clap::Parser;
use std::process::ExitCode;

/// Exit codes (DESIGN.md).
pub mod exit {
    /// Done.
    pub const OK: i32 = 0;
    /// A step failed or a check blocked.
    pub const FAILED: i32 = 1;
    /// Bad input (arguments, inventory, playbook).
    pub const BAD_INPUT: i32 = 2;
    /// Stopped at a gate waiting for approval.
    pub const GATE: i32 = 3;
    /// Another run holds the lock.
    pub const LOCKED: i32 = 4;
    /// `status`: the run is paused or was interrupted (`resume` continues it).
    pub const PAUSED: i32 = 5;
    /// Interrupted; state saved.
    pub const INTERRUPTED: i32 = 130;
}

/// `--version`: the crate version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("DCOS_UPGRADE_COMMIT"),
    ")"
);

static COLOR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Whether this process colours its stderr (decided once from `--color` and `NO_COLOR`).
pub fn color_enabled() -> bool {
    COLOR.get().copied().unwrap_or(false)
}

/// `--color` and `NO_COLOR` (https://no-color.org: set and not empty) into yes or no; `auto`
/// colours only a terminal.
fn colour(choice: args::ColorChoice) -> bool {
    use std::io::IsTerminal;
    match choice {
        args::ColorChoice::Always => true,
        args::ColorChoice::Never => false,
        args::ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    }
}

/// stderr logging through `tracing`: `DCOS_UPGRADE_LOG`, else `RUST_LOG`, else by `-v`.
fn init_logging(verbose: u8, ansi: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "warn,dcos_upgrade=debug",
        _ => "debug,dcos_upgrade=trace",
    };
    let filter = EnvFilter::try_from_env("DCOS_UPGRADE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_target(verbose > 0)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The version of every JSON object the CLI prints (`schema_version`); schemas/ describes it.
pub const SCHEMA_VERSION: u32 = crate::events::SCHEMA_VERSION;

/// The JSON Schemas of the CLI's JSON outputs, generated from the Rust types: file name under
/// `schemas/` and its text (tests/schemas.rs checks the committed files match).
pub fn json_schemas() -> Vec<(&'static str, String)> {
    let text = |s: schemars::Schema| {
        let mut t = serde_json::to_string_pretty(&s).unwrap_or_default();
        t.push('\n');
        t
    };
    vec![
        (
            "event.schema.json",
            text(schemars::schema_for!(crate::events::Stamped)),
        ),
        (
            "run-summary.schema.json",
            text(schemars::schema_for!(crate::events::RunSummary)),
        ),
        (
            "status.schema.json",
            text(schemars::schema_for!(commands::status::StatusJson)),
        ),
        ("error.schema.json", text(schemars::schema_for!(JsonError))),
    ]
}

/// What `--output json` prints on stdout when a command fails.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct JsonError {
    /// The version of this object's shape.
    pub schema_version: u32,
    /// Always `error`.
    pub event: String,
    /// The process exit code.
    pub exit_code: i32,
    /// What went wrong, for people.
    pub message: String,
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    /// Exit code.
    pub code: i32,
    /// What to tell the operator (may span lines).
    pub message: String,
}

impl CliError {
    /// An error with a code.
    pub fn new(code: i32, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
        }
    }
}

/// The program: parse, run, print the error chain once, exit with the right code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let color = colour(cli.color);
    let _ = COLOR.set(color);
    init_logging(cli.verbose, color);
    let json = cli.output == args::OutputMode::Json;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED as u8);
        }
    };
    let code = match rt.block_on(commands::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", crate::secrets::for_people(&e.message));
            if json {
                // Under --output json an error is an object on stdout too.
                let v = JsonError {
                    schema_version: SCHEMA_VERSION,
                    event: "error".into(),
                    exit_code: e.code,
                    message: e.message.clone(),
                };
                commands::print_json(&serde_json::to_value(&v).unwrap_or_default());
            }
            e.code
        }
    };
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code.clamp(0, 255) as u8)
}
