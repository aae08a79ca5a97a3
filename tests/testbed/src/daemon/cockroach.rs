//! CockroachDB (IAM's database) on the masters: one node per master on the versions that run
//! it (OSS 1.13+, facts §8.2), whose ranges stay under-replicated for a while after a master
//! restarts (and while one is down); `cockroach node status --ranges` on a master reads this
//! view. A master that goes down while the ranges are under-replicated because of another
//! master counts an `iam_unavailable_events` (IAM loses its quorum on those ranges).

use super::*;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Ranges per node in the table (the docs sample shows about 190, `payloads/cockroach-node-status-ranges.txt`).
const RANGES: u64 = 190;

/// CockroachDB's state beside the masters.
#[derive(Default)]
pub(super) struct CockroachSt {
    /// When each master's CockroachDB last came up after being down.
    up_since: HashMap<usize, Instant>,
    /// Masters down at the last tick.
    down: BTreeSet<usize>,
    /// Masters that went down while another one's ranges were under-replicated.
    pub(super) unavailable_events: u64,
}

/// Whether a DC/OS version runs CockroachDB on its masters (OSS 1.13+; facts §8.2).
pub(super) fn has_cockroach(version: &str) -> bool {
    let mut it = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0)) >= (1, 13)
}

impl Cluster {
    fn crdb_masters(&self) -> Vec<usize> {
        self.masters()
            .filter(|i| has_cockroach(&self.nodes[*i].version))
            .collect()
    }

    /// Masters whose ranges are under-replicated now (down, or caught up less than
    /// `crdb_catch_up_ms` ago), other than `except`.
    fn crdb_lagging(&self, now: Instant, except: Option<usize>) -> Vec<usize> {
        let ms = self.crdb_masters();
        if ms.len() < 2 {
            return Vec::new();
        }
        ms.into_iter()
            .filter(|i| Some(*i) != except)
            .filter(|i| {
                !self.nodes[*i].unit_up("dcos-mesos-master")
                    || self.cockroach.up_since.get(i).is_some_and(|t| {
                        now.duration_since(*t) < Duration::from_millis(self.def.crdb_catch_up_ms)
                    })
            })
            .collect()
    }

    /// Every tick: note masters going down (counting those that go while another lags) and
    /// coming back.
    pub(super) fn cockroach_tick(&mut self, now: Instant) {
        for i in self.crdb_masters() {
            let up = self.nodes[i].unit_up("dcos-mesos-master");
            let was_down = self.cockroach.down.contains(&i);
            if !up && !was_down {
                let lagging = self.crdb_lagging(now, Some(i));
                if !lagging.is_empty() {
                    self.cockroach.unavailable_events += 1;
                    let names: Vec<String> = lagging
                        .iter()
                        .map(|l| self.nodes[*l].def.name.clone())
                        .collect();
                    let name = self.nodes[i].def.name.clone();
                    self.record(
                        "iam_unavailable",
                        json!({"node": name, "underreplicated_on": names}),
                    );
                }
                self.cockroach.down.insert(i);
            } else if up && was_down {
                self.cockroach.down.remove(&i);
                self.cockroach.up_since.insert(i, now);
            }
        }
    }

    /// `cockroach node status --ranges` as seen from master `from` (tsv or the pretty table).
    fn cockroach_table(&self, from: usize, tsv: bool) -> Option<String> {
        if !has_cockroach(&self.nodes[from].version)
            || !self.nodes[from].unit_up("dcos-mesos-master")
        {
            return None;
        }
        let now = Instant::now();
        let lagging = self.crdb_lagging(now, None);
        let cols = [
            "id",
            "address",
            "build",
            "updated_at",
            "started_at",
            "replicas_leaders",
            "replicas_leaseholders",
            "ranges",
            "ranges_unavailable",
            "ranges_underreplicated",
        ];
        let mut rows = vec![cols.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
        for (k, i) in self.crdb_masters().into_iter().enumerate() {
            if !self.nodes[i].unit_up("dcos-mesos-master") {
                continue;
            }
            let under = if lagging.is_empty() { 0 } else { RANGES / 3 };
            rows.push(vec![
                (k + 1).to_string(),
                format!("{}:26257", self.nodes[i].def.address),
                "v19.1.11".into(),
                "2026-12-01 00:00:00".into(),
                "2026-12-01 00:00:00".into(),
                (RANGES / 3).to_string(),
                (RANGES / 3).to_string(),
                RANGES.to_string(),
                "0".into(),
                under.to_string(),
            ]);
        }
        Some(if tsv {
            let mut s = format!("{} rows\n", rows.len() - 1);
            for r in &rows {
                s.push_str(&r.join("\t"));
                s.push('\n');
            }
            s
        } else {
            let w: Vec<usize> = (0..cols.len())
                .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
                .collect();
            let line = format!(
                "+{}+\n",
                w.iter()
                    .map(|n| "-".repeat(n + 2))
                    .collect::<Vec<_>>()
                    .join("+")
            );
            let mut s = line.clone();
            for (k, r) in rows.iter().enumerate() {
                let cells: Vec<String> = r
                    .iter()
                    .zip(&w)
                    .map(|(c, n)| format!(" {c:>n$} "))
                    .collect();
                s.push_str(&format!("|{}|\n", cells.join("|")));
                if k == 0 {
                    s.push_str(&line);
                }
            }
            s.push_str(&line);
            s
        })
    }
}

/// `GET /node/{node}/cockroach/status?format=tsv` (what the node's `cockroach` script prints).
pub(super) async fn ctl_cockroach_status(
    State(s): State<Shared>,
    UrlPath(node): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    match c.cockroach_table(i, q.get("format").map(String::as_str) == Some("tsv")) {
        Some(t) => text(StatusCode::OK, &t),
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "Error: unable to connect or connection lost.",
        ),
    }
}
