//! The Mesos master on :5050: metrics, leader redirect, state, slaves, maintenance and teardown.

use super::*;
use crate::model::Role;
use crate::setup::{hex_id, mesos_version, uuid_like};
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::UNIX_EPOCH;

pub(super) fn uptime(n: &NodeSt) -> f64 {
    n.unit(n.main_unit())
        .map(|u| (u.since.elapsed() + u.up_before).as_secs_f64())
        .unwrap_or(0.0)
}

pub(super) async fn master_metrics(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let n = &c.nodes[ctx.node];
    let elected = c.leader == Some(ctx.node);
    let agents: Vec<usize> = c.agents().collect();
    let connected = agents.iter().filter(|i| c.registered(**i)).count() as f64;
    let total = agents.len() as f64;
    let running = c.tasks.iter().filter(|t| c.task_running(t)).count() as f64;
    let failed: u64 = c.nodes.iter().map(|n| n.tasks_failed).sum();
    let e = |v: f64| if elected { v } else { 0.0 };
    let m = [
        ("master/elected", if elected { 1.0 } else { 0.0 }),
        ("master/uptime_secs", (uptime(n) * 1000.0).round() / 1000.0),
        (
            "registrar/log/recovered",
            if c.quorum() { 1.0 } else { 0.0 },
        ),
        ("registrar/state_fetch_ms", 12.5),
        ("master/slaves_active", e(connected)),
        ("master/slaves_connected", e(connected)),
        ("master/slaves_disconnected", e(total - connected)),
        ("master/slaves_inactive", 0.0),
        ("master/slaves_unreachable", e(unreachable(&c) as f64)),
        ("master/recovery_slave_removals", 0.0),
        ("master/frameworks_active", e(1.0)),
        ("master/frameworks_connected", e(1.0)),
        ("master/tasks_running", e(running)),
        ("master/tasks_staging", 0.0),
        ("master/tasks_starting", 0.0),
        ("master/tasks_unreachable", 0.0),
        ("master/tasks_failed", e(failed as f64)),
        ("master/tasks_lost", e(c.tasks_lost as f64)),
        ("master/tasks_killed", 0.0),
        ("master/tasks_finished", 0.0),
        ("master/tasks_error", 0.0),
        ("system/cpus_total", 2.0),
        ("system/mem_total_bytes", 8_000_000_000.0),
        ("system/load_1min", 0.25),
    ];
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        metrics_body(&m),
    )
        .into_response()
}

pub(super) fn leader_redirect(c: &Cluster, me: usize, path: &str) -> Option<Response> {
    if c.leader == Some(me) {
        return None;
    }
    Some(match c.leader {
        Some(l) => (
            StatusCode::TEMPORARY_REDIRECT,
            [(
                header::LOCATION,
                format!("//{}:5050{path}", c.nodes[l].def.address),
            )],
            "",
        )
            .into_response(),
        None => text(StatusCode::SERVICE_UNAVAILABLE, "No leader elected"),
    })
}

/// `/master/redirect` and `/redirect`: a 307 to the leader, or 503 while none is elected. With the
/// `stale-redirect` fault the master names a stale leader instead: itself while it is a standby,
/// else the first other master that does not lead (issue 13 defect 2); `master/elected` in its
/// metrics stays the truth.
pub(super) async fn master_redirect(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let named = if c.nodes[ctx.node].fault("stale-redirect") {
        stale_leader(&c, ctx.node).or(c.leader)
    } else {
        c.leader
    };
    match named {
        Some(l) => (
            StatusCode::TEMPORARY_REDIRECT,
            [(
                header::LOCATION,
                format!("//{}:5050", c.nodes[l].def.address),
            )],
            "",
        )
            .into_response(),
        None => text(StatusCode::SERVICE_UNAVAILABLE, "No leader elected"),
    }
}

/// The master a stale redirect names: `me` unless it leads, else the first other non-leader
/// (`None` with a single master, whose redirect then stays the truth).
fn stale_leader(c: &Cluster, me: usize) -> Option<usize> {
    if c.leader != Some(me) {
        return Some(me);
    }
    c.masters().find(|i| Some(*i) != c.leader)
}

/// The agents the leader lists in `/slaves` and `/state`: all but those it marked unreachable
/// (fault `unreachable`). Mesos removes an unreachable agent from both lists and keeps only its id
/// (`slaves.unreachable` in apache/mesos `src/master/master.hpp`), so it is counted, not named:
/// `unreachable_slaves` in `/state` and the `master/slaves_unreachable` gauge (apache/mesos
/// `src/master/http.cpp`, `docs/monitoring.md`).
pub(super) fn listed(c: &Cluster) -> impl Iterator<Item = usize> + '_ {
    c.agents().filter(|i| !c.nodes[*i].fault("unreachable"))
}

/// How many agents the leader counts as unreachable (fault `unreachable`).
pub(super) fn unreachable(c: &Cluster) -> usize {
    c.agents()
        .filter(|i| c.nodes[*i].fault("unreachable"))
        .count()
}

pub(super) fn resources(cpus: f64, mem: f64) -> Value {
    json!({"cpus": cpus, "mem": mem, "disk": 40000.0, "gpus": 0.0, "ports": "[1025-2180, 2182-3887, 3889-5049, 5052-8079, 8082-8180, 8182-32000]"})
}

/// The agent's fault domain, when the testbed hands out zones (`up --zones`): the zones go to
/// the agents in turn, in node order. Mesos' shape (apache/mesos `docs/fault-domains.md`):
/// `{"fault_domain": {"region": {"name"}, "zone": {"name"}}}`; no zones: `null` (no domain).
fn agent_domain(c: &Cluster, i: usize) -> Value {
    let zones = &c.def.zones;
    if zones.is_empty() {
        return Value::Null;
    }
    let k = c.agents().position(|a| a == i).unwrap_or(0);
    json!({"fault_domain": {"region": {"name": "sim-region"}, "zone": {"name": zones[k % zones.len()]}}})
}

pub(super) fn slave_json(c: &Cluster, i: usize) -> Value {
    let n = &c.nodes[i];
    // `custom-attributes`: MESOS_ATTRIBUTES in /var/lib/dcos/mesos-slave-common, loaded after
    // mesos-slave-public, replaces public_ip (facts §8.6).
    let attrs = if n.fault("custom-attributes") {
        json!({"rack": "r1"})
    } else if n.def.role == Role::PublicAgent {
        json!({"public_ip": "true"})
    } else {
        json!({})
    };
    let (ucpu, umem) = c
        .tasks
        .iter()
        .filter(|t| t.agent == i)
        .filter_map(|t| c.apps.iter().find(|a| a.id == t.app))
        .fold((0.0, 0.0), |(x, y), a| (x + a.cpus, y + a.mem));
    let reg = c
        .start_wall
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    json!({
        "id": n.id,
        "hostname": n.def.address,
        "port": 5051,
        "attributes": attrs,
        "domain": agent_domain(c, i),
        "pid": format!("slave(1)@{}:5051", n.def.address),
        "registered_time": reg,
        "reregistered_time": reg,
        "resources": resources(4.0, 14000.0),
        "used_resources": resources(ucpu, umem),
        "offered_resources": resources(0.0, 0.0),
        "reserved_resources": {},
        "unreserved_resources": resources(4.0, 14000.0),
        "active": c.registered(i),
        "deactivated": false,
        "version": mesos_version(&n.version),
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT", "RESOURCE_PROVIDER", "RESIZE_VOLUME", "AGENT_OPERATION_FEEDBACK", "AGENT_DRAINING", "TASK_RESOURCE_LIMITS"],
    })
}

pub(super) fn task_json(c: &Cluster, t: &Task) -> Value {
    let running = c.task_running(t);
    json!({
        "id": t.id, "name": t.app.trim_start_matches('/'), "framework_id": c.framework_id,
        "executor_id": "", "slave_id": c.nodes[t.agent].id,
        "state": if running { "TASK_RUNNING" } else { "TASK_UNREACHABLE" },
        "resources": {"cpus": 0.5, "mem": 128.0},
    })
}

pub(super) async fn master_state(State(ctx): State<Ctx>, req: Request) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, req.uri().path()) {
        return r;
    }
    let n = &c.nodes[ctx.node];
    let addr = &n.def.address;
    let mv = mesos_version(&n.version);
    let mid = uuid_like(&format!("master-{}", n.def.name));
    let slaves: Vec<Value> = listed(&c).map(|i| slave_json(&c, i)).collect();
    let active = listed(&c).filter(|i| c.registered(*i)).count();
    let tasks: Vec<Value> = c.tasks.iter().map(|t| task_json(&c, t)).collect();
    let start = c
        .start_wall
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let elected = c
        .elected_wall
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let ip_u32 = addr
        .split('.')
        .filter_map(|o| o.parse::<u32>().ok())
        .rev()
        .fold(0u32, |acc, o| (acc << 8) | o);
    let v = json!({
        "version": mv, "git_sha": hex_id(mv, 40), "git_tag": mv, "build_date": "2020-10-01 00:00:00",
        "build_time": 1601510400.0, "build_user": "", "start_time": start, "elected_time": elected,
        "id": mid, "pid": format!("master@{addr}:5050"), "hostname": addr,
        "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
        "activated_slaves": active as f64, "deactivated_slaves": 0.0, "unreachable_slaves": unreachable(&c) as f64,
        "leader": format!("master@{addr}:5050"),
        "leader_info": {"id": mid, "pid": format!("master@{addr}:5050"), "port": 5050, "hostname": addr, "ip": ip_u32,
                         "address": {"hostname": addr, "ip": addr, "port": 5050}, "version": mv},
        "cluster": "dcos-sim", "log_dir": "/var/log/mesos",
        "flags": {"hostname_lookup": "false", "port": "5050", "quorum": format!("{}", c.masters().count() / 2 + 1), "zk": "zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181/mesos"},
        "slaves": slaves, "recovered_slaves": [],
        "frameworks": [{"id": c.framework_id, "name": "marathon", "hostname": addr, "active": true, "connected": true,
                         "role": "slave_public", "user": "root", "webui_url": format!("http://{addr}:8080"), "tasks": tasks,
                         "unreachable_tasks": [], "completed_tasks": [], "executors": []}],
        "completed_frameworks": [], "orphan_tasks": [], "unregistered_frameworks": [],
    });
    ok_json(v)
}

pub(super) async fn master_slaves(State(ctx): State<Ctx>, req: Request) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, req.uri().path()) {
        return r;
    }
    let slaves: Vec<Value> = listed(&c).map(|i| slave_json(&c, i)).collect();
    ok_json(json!({"slaves": slaves, "recovered_slaves": []}))
}

/// `GET /flags`: the master's flags as Mesos serves them (every value a string). DC/OS leaves
/// `authenticate_http_readwrite` off in OSS and security `disabled`/`permissive` (dcos/dcos
/// `gen/dcos-config.yaml` sets `MESOS_AUTHENTICATE_HTTP_READWRITE` only for strict mode); in
/// strict mode the testbed's Mesos authenticates every request, so both HTTP flags say so.
pub(super) async fn master_flags(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let n = &c.nodes[ctx.node];
    let strict = (n.security == crate::model::Security::Strict).to_string();
    ok_json(json!({"flags": {
        "authenticate_http_readwrite": strict,
        "authenticate_http_readonly": strict,
        "authenticate_agents": "false",
        "hostname_lookup": "false",
        "ip": n.def.address,
        "port": "5050",
        "quorum": ((c.nodes.iter().filter(|n| n.def.role == Role::Master).count() / 2) + 1).to_string(),
        "zk": "zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181/mesos",
    }}))
}

pub(super) async fn mesos_version_h(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let mv = mesos_version(&c.nodes[ctx.node].version);
    ok_json(
        json!({"version": mv, "build_user": "", "build_time": 1601510400.0, "build_date": "2020-10-01 00:00:00", "git_sha": hex_id(mv, 40), "git_tag": mv}),
    )
}

pub(super) async fn maint_schedule(State(ctx): State<Ctx>, req: Request) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, req.uri().path()) {
        return r;
    }
    ok_json(c.maintenance.clone())
}

pub(super) async fn maint_schedule_post(State(ctx): State<Ctx>, body: String) -> Response {
    let mut c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, "/maintenance/schedule") {
        return r;
    }
    match serde_json::from_str::<Value>(&body) {
        Ok(v) if v.get("windows").map(|w| w.is_array()).unwrap_or(false) => {
            c.maintenance = v;
            c.record("maintenance_schedule", c.maintenance.clone());
            text(StatusCode::OK, "")
        }
        _ => text(
            StatusCode::BAD_REQUEST,
            "Failed to parse the request body: expected a maintenance schedule",
        ),
    }
}

pub(super) async fn maint_status(State(ctx): State<Ctx>, req: Request) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, req.uri().path()) {
        return r;
    }
    let mut draining = Vec::new();
    if let Some(ws) = c.maintenance.get("windows").and_then(|w| w.as_array()) {
        for w in ws {
            if let Some(ids) = w.get("machine_ids").and_then(|m| m.as_array()) {
                for id in ids {
                    draining.push(json!({"id": id, "statuses": []}));
                }
            }
        }
    }
    ok_json(json!({"draining_machines": draining, "down_machines": []}))
}

pub(super) async fn teardown(
    State(ctx): State<Ctx>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = leader_redirect(&c, ctx.node, "/master/teardown") {
        return r;
    }
    let fid = q.get("frameworkId").cloned().or_else(|| {
        body.split('&')
            .find_map(|kv| kv.strip_prefix("frameworkId=").map(str::to_string))
    });
    match fid {
        None => text(
            StatusCode::BAD_REQUEST,
            "Missing 'frameworkId' query parameter in the request body",
        ),
        Some(f) if f == c.framework_id => text(
            StatusCode::FORBIDDEN,
            "dcos-sim refuses to tear down Marathon",
        ),
        Some(f) => text(
            StatusCode::BAD_REQUEST,
            &format!("No framework found with specified ID: {f}"),
        ),
    }
}
