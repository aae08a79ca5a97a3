//! Records the node-side tools ask the daemon to keep (a tool a script asked for that the
//! node's version does not have, a backup taken), so tests judge from `record.jsonl` what
//! happened on a node and in which order (unit actions are recorded as `unit` by the model).

use super::*;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;

/// `POST /node/{node}/record/{event}?k=v...`: records `event` with the node, the query's
/// pairs, and the node's `dcos-exhibitor` unit state at that moment.
pub(super) async fn ctl_record(
    State(s): State<Shared>,
    UrlPath((node, event)): UrlPath<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    let exhibitor = c.nodes[i]
        .unit("dcos-exhibitor")
        .map(|u| u.status())
        .unwrap_or("none");
    let mut data = json!({"node": node, "exhibitor": exhibitor});
    for (k, v) in q {
        data[k] = Value::String(v);
    }
    c.record(&event, data);
    text(StatusCode::OK, "ok")
}
