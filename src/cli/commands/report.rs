//! `report`: a run's report as HTML (with the SVG timeline), Markdown or JSON.

use super::status::open_for_reading;
use super::{store_error, CliResult, Ctx};
use crate::cli::args::{ReportArgs, ReportFormat};
use crate::cli::exit;
use crate::cli::CliError;

/// Runs `report`.
pub(super) fn exec(a: ReportArgs, ctx: &Ctx) -> CliResult<i32> {
    let store = open_for_reading(&ctx.dir, "report")?.ok_or_else(|| {
        CliError::new(
            exit::LOCKED,
            format!(
                "a run holds the state database in {}; `report` reads it when the run stops",
                ctx.dir.display()
            ),
        )
    })?;
    let id = match &a.run {
        Some(r) => r.clone(),
        None => store.latest_run().map_err(store_error)?,
    };
    let report = crate::report::Report::load(store.source(), &id).map_err(store_error)?;
    let text = match a.format {
        ReportFormat::Html => crate::report::html(&report),
        ReportFormat::Markdown => crate::report::markdown(&report),
        ReportFormat::Json => {
            let mut v = serde_json::to_value(&report).unwrap_or_default();
            v["schema_version"] = crate::cli::SCHEMA_VERSION.into();
            serde_json::to_string(&v).unwrap_or_default()
        }
    };
    super::print_line(&text);
    Ok(exit::OK)
}
