//! The run's summary for people at its end: steps, backups, undone steps, nodes and apps.

use crate::machine::{RunView, StepState};
use crate::store::RunRecord;

/// The run's summary for people: steps, backups, undone steps, nodes and apps.
pub fn summary(record: &RunRecord, view: &RunView) -> String {
    let mut s = String::from("\nSummary:\n");
    for e in &record.plan.excluded {
        s.push_str(&format!("  {}\n", e.warning()));
    }
    for (p, st) in record.plan.steps() {
        let v = view.step(&st.id);
        let state = v.map(|v| v.state).unwrap_or(StepState::Pending);
        let state = serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        s.push_str(&format!(
            "  {:<10} {:<40} {}\n",
            p.id.as_str(),
            st.id,
            state
        ));
        if let Some(b) = v.and_then(|v| {
            crate::phases::outputs::read::<crate::phases::outputs::BackupOutput>(&v.output)
        }) {
            s.push_str(&format!(
                "             ZooKeeper backup: {} (sha256 {})\n",
                b.archive.display(),
                b.sha256
            ));
        }
        if let Some(b) = v.and_then(|v| {
            crate::phases::outputs::read::<crate::phases::outputs::StateBackupOutput>(&v.output)
        }) {
            for f in &b.files {
                s.push_str(&format!("             {} backup: {f}\n", f.kind));
            }
        }
    }
    let undone: Vec<&str> = view
        .steps
        .iter()
        .filter(|v| v.state == StepState::Undone)
        .map(|v| v.id.as_str())
        .collect();
    if !undone.is_empty() {
        s.push_str(&format!(
            "Undone ({}): {}\n",
            undone.len(),
            undone.join(", ")
        ));
    }
    s.push_str("Nodes and apps:\n");
    for t in crate::engine::target_states(&record.plan, view) {
        s.push_str(&format!("  {:<24} {}\n", t.target, t.state));
    }
    s
}
