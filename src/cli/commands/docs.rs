//! `completions` and `man`: generated from the same clap definitions as the parser.

use super::CliResult;
use crate::cli::args::{Cli, Shell};
use crate::cli::exit;
use crate::cli::CliError;
use clap::CommandFactory;

/// Prints the completion script of `shell` on stdout.
pub(super) fn completions(shell: Shell) -> CliResult<i32> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    let sh = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(sh, &mut cmd, "dcos-upgrade", &mut out);
    write_out(&out)
}

/// Prints the man page (roff) on stdout: the synopsis, options, subcommands and the examples,
/// exit codes and environment of the top-level help.
pub(super) fn man() -> CliResult<i32> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| CliError::new(exit::FAILED, format!("man page: {e}")))?;
    write_out(&out)
}

fn write_out(bytes: &[u8]) -> CliResult<i32> {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    // A closed pipe is the reader's choice, not an error.
    let _ = o.write_all(bytes).and_then(|_| o.flush());
    Ok(exit::OK)
}
