//! `runs`: the runs of a state directory (id, cluster, from -> to, state, started).

use super::status::{holder, open_for_reading};
use super::{print_line, store_error, CliResult, Ctx};
use crate::cli::exit;
use crate::machine::RunView;

/// Runs `runs`.
pub(super) fn exec(ctx: &Ctx) -> CliResult<i32> {
    let Some(store) = open_for_reading(&ctx.dir, "runs")? else {
        let h = holder(&ctx.dir);
        return Err(crate::cli::CliError::new(
            exit::LOCKED,
            format!(
                "a run holds the state database in {}{}; `runs` lists them when it stops (`status` works now)",
                ctx.dir.display(),
                h.map(|h| format!(" (run {}, pid {})", h.run, h.pid)).unwrap_or_default()
            ),
        ));
    };
    let records = store.runs().map_err(store_error)?;
    if !ctx.json {
        print_line(&format!(
            "{:<24} {:<16} {:<18} {:<12} started",
            "run", "cluster", "from -> to", "state"
        ));
    }
    for r in records {
        let state = store
            .journal(&r.id)
            .ok()
            .and_then(|j| RunView::replay(&r.plan, &j).ok())
            .map(|v| v.state.as_str())
            .unwrap_or("unreadable");
        let from = r.plan.from.clone().unwrap_or_else(|| "?".into());
        let ok = if ctx.json {
            print_line(
                &serde_json::json!({
                    "schema_version": crate::cli::SCHEMA_VERSION,
                    "run": r.id,
                    "cluster": r.cluster,
                    "from": from,
                    "to": r.plan.to,
                    "state": state,
                    "started": r.created_at,
                })
                .to_string(),
            )
        } else {
            print_line(&format!(
                "{:<24} {:<16} {:<18} {:<12} {}",
                r.id,
                r.cluster,
                format!("{from} -> {}", r.plan.to),
                state,
                r.created_at
            ))
        };
        if !ok {
            break;
        }
    }
    Ok(exit::OK)
}
