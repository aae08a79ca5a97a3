//! The per-node endpoints that are not the masters' services: dcos-diagnostics, Admin Router's
//! version file, and the Mesos agent on :5051.

use super::*;
use crate::model::Role;
use crate::setup::{hex_id, mesos_version, uuid_like};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::time::UNIX_EPOCH;

pub(super) async fn diag_health(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let n = &c.nodes[ctx.node];
    let units: Vec<Value> = n
        .units
        .iter()
        .map(|u| {
            json!({"id": format!("{}.service", u.name), "health": if u.up { 0 } else { 1 }, "output": "",
                   "description": format!("{} (simulated)", u.name), "help": "", "name": u.name})
        })
        .collect();
    let role = match n.def.role {
        Role::Master => "master",
        Role::Agent => "agent",
        Role::PublicAgent => "agent_public",
    };
    let mesos_id = if n.def.role == Role::Master {
        uuid_like(&format!("master-{}", n.def.name))
    } else {
        n.id.clone()
    };
    ok_json(
        json!({"units": units, "hostname": n.def.address, "ip": n.def.address, "dcos_version": n.version,
                   "node_role": role, "mesos_id": mesos_id, "dcos_diagnostics_version": "0.6.0"}),
    )
}

/// `GET /system/health/v1/nodes` on a master (dcos-diagnostics' aggregate, facts §5:
/// `{"nodes": [{"host_ip", "health", "role"}]}`, role `master`, `agent` or `agent_public`,
/// health 0 healthy / 1 unhealthy). Agents are found through the leader's `/slaves`, so an agent
/// the leader marked unreachable is missing (the monitoring docs' "Known Issues").
pub(super) async fn diag_nodes(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    if c.nodes[ctx.node].def.role != Role::Master {
        return text(StatusCode::NOT_FOUND, "404 Not Found");
    }
    let node = |i: usize| {
        let n = &c.nodes[i];
        let role = match n.def.role {
            Role::Master => "master",
            Role::Agent => "agent",
            Role::PublicAgent => "agent_public",
        };
        let healthy = n.units.iter().all(|u| u.up);
        json!({"host_ip": n.def.address, "health": if healthy { 0 } else { 1 }, "role": role})
    };
    let nodes: Vec<Value> = c
        .masters()
        .chain(super::mesos_master::listed(&c))
        .map(node)
        .collect();
    ok_json(json!({ "nodes": nodes }))
}

pub(super) async fn dcos_version(State(ctx): State<Ctx>) -> Response {
    let root = ctx.shared.lock().unwrap().nodes[ctx.node].def.root.clone();
    match std::fs::read_to_string(root.join("opt/mesosphere/etc/dcos-version.json")) {
        Ok(s) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            s,
        )
            .into_response(),
        Err(_) => text(StatusCode::NOT_FOUND, "404 Not Found"),
    }
}

pub(super) async fn agent_metrics(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let n = &c.nodes[ctx.node];
    let running = c
        .tasks
        .iter()
        .filter(|t| t.agent == ctx.node && c.task_running(t))
        .count() as f64;
    let m = [
        (
            "slave/registered",
            if c.registered(ctx.node) { 1.0 } else { 0.0 },
        ),
        ("slave/uptime_secs", (uptime(n) * 1000.0).round() / 1000.0),
        ("slave/recovery_errors", 0.0),
        ("slave/tasks_running", running),
        ("slave/tasks_staging", 0.0),
        ("slave/tasks_failed", n.tasks_failed as f64),
        ("slave/tasks_lost", 0.0),
        ("slave/tasks_killed", 0.0),
        ("slave/tasks_finished", 0.0),
        ("slave/executors_running", running),
        (
            "slave/frameworks_active",
            if running > 0.0 { 1.0 } else { 0.0 },
        ),
        ("system/cpus_total", 4.0),
        ("system/load_1min", 0.1),
    ];
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        metrics_body(&m),
    )
        .into_response()
}

pub(super) async fn agent_state(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let n = &c.nodes[ctx.node];
    if !c.registered(ctx.node) {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "Agent has not finished recovery",
        );
    }
    let addr = &n.def.address;
    let mv = mesos_version(&n.version);
    // `custom-attributes`: MESOS_ATTRIBUTES in /var/lib/dcos/mesos-slave-common, loaded after
    // mesos-slave-public, replaces public_ip (facts §8.6).
    let attrs = if n.fault("custom-attributes") {
        json!({"rack": "r1"})
    } else if n.def.role == Role::PublicAgent {
        json!({"public_ip": "true"})
    } else {
        json!({})
    };
    let tasks: Vec<Value> = c
        .tasks
        .iter()
        .filter(|t| t.agent == ctx.node)
        .map(|t| task_json(&c, t))
        .collect();
    let master = c.leader.map(|l| c.nodes[l].def.address.clone());
    ok_json(json!({
        "version": mv, "git_sha": hex_id(mv, 40), "git_tag": mv, "build_date": "2020-10-01 00:00:00",
        "build_time": 1601510400.0, "build_user": "",
        "start_time": c.start_wall.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64(),
        "id": n.id, "pid": format!("slave(1)@{addr}:5051"), "hostname": addr,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT", "AGENT_DRAINING"],
        "resources": resources(4.0, 14000.0), "reserved_resources": {}, "unreserved_resources": resources(4.0, 14000.0),
        "reserved_resources_full": {}, "attributes": attrs, "master_hostname": master,
        "log_dir": "/var/log/mesos", "flags": {"hostname_lookup": "false", "port": "5051"},
        "frameworks": if tasks.is_empty() { json!([]) } else { json!([{"id": c.framework_id, "name": "marathon", "executors": [{"tasks": tasks}]}]) },
        "completed_frameworks": [],
    }))
}
