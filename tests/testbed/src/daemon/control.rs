//! The control API on the bootstrap address (:9999, for the testbed's own scripts and CLI), the
//! report it serves, and the bootstrap file server (:8080).

use super::*;
use crate::model::{AppReport, NodeReport, Report, UpgradeRecord};
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

pub(super) async fn ctl_health(State(s): State<Shared>) -> Response {
    let c = s.lock().unwrap();
    ok_json(
        json!({"healthy": c.healthy(), "leader": c.leader.map(|l| c.nodes[l].def.address.clone())}),
    )
}

pub(super) async fn ctl_report(State(s): State<Shared>) -> Response {
    let c = s.lock().unwrap();
    ok_json(serde_json::to_value(c.report()).unwrap_or(Value::Null))
}

pub(super) async fn ctl_unit_action(
    State(s): State<Shared>,
    UrlPath((node, unit, action)): UrlPath<(String, String, String)>,
) -> Response {
    if !["start", "stop", "restart"].contains(&action.as_str()) {
        return text(
            StatusCode::BAD_REQUEST,
            "action must be start, stop or restart",
        );
    }
    let stop = {
        let mut c = s.lock().unwrap();
        let Some(i) = c.idx(&node) else {
            return text(StatusCode::NOT_FOUND, "no such node");
        };
        if !c.set_units(i, &unit, &action) {
            return text(StatusCode::NOT_FOUND, "no such unit");
        }
        sync_listeners(&s, &mut c);
        c.zk_reconcile()
    };
    // A stopped Exhibitor takes its ZooKeeper down before systemctl returns.
    stop_zookeepers(&s, stop).await;
    // Give aborted listeners a moment to close.
    tokio::time::sleep(Duration::from_millis(30)).await;
    text(StatusCode::OK, "ok")
}

pub(super) async fn ctl_unit_status(
    State(s): State<Shared>,
    UrlPath((node, unit)): UrlPath<(String, String)>,
) -> Response {
    let c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    let n = &c.nodes[i];
    let unit = unit.trim_end_matches(".service");
    if unit == "dcos.target" {
        return text(
            StatusCode::OK,
            if n.all_up() { "active" } else { "inactive" },
        );
    }
    match n.unit(unit) {
        Some(u) => text(StatusCode::OK, u.status()),
        None => text(StatusCode::NOT_FOUND, "unknown"),
    }
}

pub(super) async fn ctl_units(State(s): State<Shared>, UrlPath(node): UrlPath<String>) -> Response {
    let c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    let mut out = String::new();
    for u in &c.nodes[i].units {
        out.push_str(&format!(
            "{}.service loaded {} running {}\n",
            u.name,
            u.status(),
            u.name
        ));
    }
    text(StatusCode::OK, &out)
}

pub(super) async fn ctl_fault_get(
    State(s): State<Shared>,
    UrlPath((node, kind)): UrlPath<(String, String)>,
) -> Response {
    let c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    text(
        StatusCode::OK,
        if c.nodes[i].fault(&kind) { "1" } else { "0" },
    )
}

pub(super) async fn ctl_fault_set(
    State(s): State<Shared>,
    UrlPath((node, kind)): UrlPath<(String, String)>,
) -> Response {
    fault_change(s, node, kind, true)
}

pub(super) async fn ctl_fault_clear(
    State(s): State<Shared>,
    UrlPath((node, kind)): UrlPath<(String, String)>,
) -> Response {
    fault_change(s, node, kind, false)
}

pub(super) fn fault_change(s: Shared, node: String, kind: String, set: bool) -> Response {
    let mut c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    if set {
        c.nodes[i].faults.insert(kind.clone());
    } else {
        c.nodes[i].faults.remove(&kind);
    }
    c.record("fault", json!({"node": node, "kind": kind, "set": set}));
    c.tick();
    sync_listeners(&s, &mut c);
    text(StatusCode::OK, "ok")
}

pub(super) async fn ctl_attempt(
    State(s): State<Shared>,
    UrlPath(node): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut c = s.lock().unwrap();
    let Some(i) = c.idx(&node) else {
        return text(StatusCode::NOT_FOUND, "no such node");
    };
    c.nodes[i].attempts += 1;
    let rec = UpgradeRecord {
        node: node.clone(),
        was_leader: c.leader == Some(i),
        from: q.get("from").cloned().unwrap_or_default(),
        to: q.get("to").cloned().unwrap_or_default(),
        ok: false,
    };
    c.record(
        "upgrade_attempt",
        serde_json::to_value(&rec).unwrap_or(Value::Null),
    );
    c.upgrade_order.push(rec);
    text(StatusCode::OK, &(c.upgrade_order.len() - 1).to_string())
}

pub(super) async fn ctl_attempt_done(
    State(s): State<Shared>,
    UrlPath((node, idx)): UrlPath<(String, usize)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut c = s.lock().unwrap();
    let code = q.get("code").cloned().unwrap_or_default();
    if let Some(r) = c.upgrade_order.get_mut(idx) {
        if r.node == node {
            r.ok = code == "0";
        }
    }
    c.record(
        "upgrade_done",
        json!({"node": node, "attempt": idx, "code": code}),
    );
    text(StatusCode::OK, "ok")
}

/// `POST /iam/token?uid=U`: a valid token for `U` (the testbed's shortcut for tests).
pub(super) async fn ctl_token(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut c = s.lock().unwrap();
    if !c.def.security_on() {
        return text(StatusCode::NOT_FOUND, "security is disabled: no IAM");
    }
    let uid = q
        .get("uid")
        .cloned()
        .unwrap_or_else(|| crate::iam::USER_UID.into());
    let t = c.iam.issue(&uid);
    text(StatusCode::OK, &t)
}

/// `POST /iam/revoke`: invalidates every issued token.
pub(super) async fn ctl_revoke(State(s): State<Shared>) -> Response {
    let mut c = s.lock().unwrap();
    let n = c.iam.revoke_all();
    c.record("tokens_revoked", json!({"count": n}));
    text(StatusCode::OK, &n.to_string())
}

/// Counts a token sent to the bootstrap node's file server (plain HTTP; a token never belongs
/// there, issue 10).
pub(super) async fn bootstrap_guard(
    State(s): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.headers().contains_key(header::AUTHORIZATION) {
        let mut c = s.lock().unwrap();
        c.plaintext_token_requests += 1;
        c.record(
            "plaintext_token",
            json!({"node": "bootstrap", "path": req.uri().path()}),
        );
    }
    next.run(req).await
}

pub(super) async fn static_file(
    State(dir): State<PathBuf>,
    UrlPath(path): UrlPath<String>,
) -> Response {
    if path.split('/').any(|p| p == ".." || p.starts_with('.')) {
        return text(StatusCode::NOT_FOUND, "404 Not Found");
    }
    match std::fs::read(dir.join(&path)) {
        Ok(b) => {
            let ct = if path.ends_with(".sh") {
                "text/x-sh"
            } else if path.ends_with(".json") {
                "application/json"
            } else {
                "application/octet-stream"
            };
            (StatusCode::OK, [(header::CONTENT_TYPE, ct)], Body::from(b)).into_response()
        }
        Err(_) => text(StatusCode::NOT_FOUND, "404 Not Found"),
    }
}

impl Cluster {
    pub(super) fn report(&self) -> Report {
        Report {
            nodes: self
                .nodes
                .iter()
                .map(|n| NodeReport {
                    name: n.def.name.clone(),
                    address: n.def.address.clone(),
                    role: n.def.role.as_str().into(),
                    version: n.version.clone(),
                    upgrade_attempts: n.attempts,
                    services_up: n.all_up(),
                })
                .collect(),
            quorum_loss_events: self.quorum_loss_events,
            max_agents_down: self.max_agents_down,
            max_masters_down: self.max_masters_down,
            upgrade_order: self.upgrade_order.clone(),
            apps: self
                .apps
                .iter()
                .map(|a| AppReport {
                    id: a.id.clone(),
                    version: a.version.clone(),
                    image: a.image(),
                    instances: a.instances,
                    tasks_healthy: self
                        .tasks
                        .iter()
                        .filter(|t| t.app == a.id && self.task_healthy(t))
                        .count() as u64,
                    container_type: a.container_type(),
                    definition: Value::Object(a.def.clone()),
                })
                .collect(),
            tasks_lost: self.tasks_lost,
            leader: self.leader.map(|l| self.nodes[l].def.address.clone()),
            plaintext_token_requests: self.plaintext_token_requests,
            unauthorized_requests: self.unauthorized_requests,
            marathon_leader: marathon_leader_idx(self).map(|l| self.nodes[l].def.address.clone()),
            marathon_storage_version: self.marathon.storage.clone(),
            marathon_down_masters: self
                .masters()
                .filter(|i| !self.nodes[*i].unit_up("dcos-marathon"))
                .map(|i| self.nodes[i].def.name.clone())
                .collect(),
            marathon_migrating: self.marathon.migrating.is_some(),
            marathon_migrations_interrupted: self.marathon.interrupted,
            iam_unavailable_events: self.cockroach.unavailable_events,
        }
    }
}
