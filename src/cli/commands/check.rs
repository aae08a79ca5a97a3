//! `check`: observe the cluster and print the prechecks checklist; exit 1 if it blocks.

use super::{connect, load_inputs, observe, CliResult};
use crate::cli::args::Inputs;
use crate::cli::exit;

/// Runs `check`.
pub(super) async fn exec(a: Inputs, json: bool) -> CliResult<i32> {
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
