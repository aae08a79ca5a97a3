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

/// The version of every JSON object the CLI prints (`schema_version`); schemas/ describes it.
pub const SCHEMA_VERSION: u32 = 1;

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
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info,dcos_upgrade=debug",
        _ => "debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DCOS_UPGRADE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .try_init();
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
            eprintln!("error: {}", e.message);
            e.code
        }
    };
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code.clamp(0, 255) as u8)
}
