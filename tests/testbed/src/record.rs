//! Reading the daemon's event record (`DIR/record.jsonl`) from tests: what happened, in order.

use serde::Deserialize;
use std::path::Path;

/// One line of `record.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct Recorded {
    /// Seconds since the daemon started.
    pub t: f64,
    /// The event name (`unit`, `tool_missing`, `etcd_backup`, `http_write`, ...).
    pub event: String,
    /// Its data.
    pub data: serde_json::Value,
}

/// Every event recorded so far, in order (lines that do not parse are skipped).
pub fn events(dir: &Path) -> Vec<Recorded> {
    std::fs::read_to_string(dir.join("record.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The events named `event`, in order.
pub fn named(dir: &Path, event: &str) -> Vec<Recorded> {
    events(dir)
        .into_iter()
        .filter(|e| e.event == event)
        .collect()
}
