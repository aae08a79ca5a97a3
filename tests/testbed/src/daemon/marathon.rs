//! Marathon on :8080: info (its version per node), leader, apps (GET, and PUT with its merge or
//! replace semantics, which starts a deployment) and deployments. The model is `marathon_model`.

use super::*;
use crate::setup::{hex_id, uuid_like};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

pub(super) async fn marathon_info(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    // While the leader migrates its storage it does not serve as leader yet (inference: the
    // facts file says only not to interrupt it, §8.2; the testbed shows no leader meanwhile).
    let ml = marathon_leader_idx(&c).filter(|_| c.marathon.migrating.is_none());
    let leader = ml.map(|l| format!("{}:8080", c.nodes[l].def.address));
    let addr = &c.nodes[ctx.node].def.address;
    let version = marathon_version(&c.nodes[ctx.node].version);
    ok_json(json!({
        "name": "marathon", "version": version, "buildref": hex_id("marathon", 40),
        "elected": ml == Some(ctx.node), "leader": leader, "frameworkId": c.framework_id,
        "marathon_config": {"master": "zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181/mesos", "features": ["vips", "task_killing", "external_volumes", "gpu_resources"],
                            "mesos_role": "slave_public", "hostname": addr, "ha": true, "framework_name": "marathon",
                            "checkpoint": true, "failover_timeout": 604800, "mesos_user": "root"},
        "zookeeper_config": {"zk": "zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181/marathon", "zk_timeout": 10000, "zk_session_timeout": 10000, "zk_max_versions": 50},
        "http_config": {"http_port": 8080, "https_port": 8443},
    }))
}

pub(super) async fn marathon_leader(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    match marathon_leader_idx(&c).filter(|_| c.marathon.migrating.is_none()) {
        Some(l) => ok_json(json!({"leader": format!("{}:8080", c.nodes[l].def.address)})),
        None => json_resp(
            StatusCode::NOT_FOUND,
            &json!({"message": "There is no leader"}),
        ),
    }
}

/// An app as `GET /v2/apps` shows it: its definition plus Marathon's own fields. `tasksHealthy`
/// counts only tasks with health info, so it stays 0 for an app without health checks
/// (`core/appinfo/TaskCounts.scala`, facts §8.5).
pub(super) fn app_json(c: &Cluster, a: &App) -> Value {
    let tasks: Vec<&Task> = c.tasks.iter().filter(|t| t.app == a.id).collect();
    let running = tasks.iter().filter(|t| c.task_running(t)).count();
    let healthy = if a.has_health_checks() {
        tasks.iter().filter(|t| c.task_healthy(t)).count()
    } else {
        0
    };
    let unhealthy = if a.has_health_checks() {
        running - healthy
    } else {
        0
    };
    let mut v = a.def.clone();
    v.insert("id".into(), json!(a.id));
    v.insert("version".into(), json!(a.version));
    v.insert(
        "versionInfo".into(),
        json!({"lastScalingAt": a.last_scaling, "lastConfigChangeAt": a.last_config}),
    );
    for (k, n) in [
        ("tasksStaged", 0),
        ("tasksRunning", running),
        ("tasksHealthy", healthy),
        ("tasksUnhealthy", unhealthy),
    ] {
        v.insert(k.into(), json!(n));
    }
    v.insert(
        "deployments".into(),
        json!(a
            .deployment
            .iter()
            .map(|d| json!({"id": d.id}))
            .collect::<Vec<_>>()),
    );
    Value::Object(v)
}

pub(super) fn marathon_down(c: &Cluster) -> Option<Response> {
    if marathon_leader_idx(c).is_none() {
        return Some(json_resp(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"message": "Could not determine the current leader"}),
        ));
    }
    None
}

pub(super) async fn marathon_apps(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = marathon_down(&c) {
        return r;
    }
    let apps: Vec<Value> = c.apps.iter().map(|a| app_json(&c, a)).collect();
    ok_json(json!({"apps": apps}))
}

pub(super) fn norm_id(id: &str) -> String {
    format!("/{}", id.trim_matches('/'))
}

pub(super) async fn marathon_app(State(ctx): State<Ctx>, UrlPath(id): UrlPath<String>) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = marathon_down(&c) {
        return r;
    }
    let id = norm_id(&id);
    match c.apps.iter().find(|a| a.id == id) {
        Some(a) => ok_json(json!({"app": app_json(&c, a)})),
        None => json_resp(
            StatusCode::NOT_FOUND,
            &json!({"message": format!("App '{id}' does not exist")}),
        ),
    }
}

/// Fields of `GET /v2/apps/<id>` that Marathon computes; a PUT that carries them does not set them.
const COMPUTED: [&str; 9] = [
    "id",
    "versionInfo",
    "tasksStaged",
    "tasksRunning",
    "tasksHealthy",
    "tasksUnhealthy",
    "deployments",
    "tasks",
    "lastTaskFailure",
];

/// `PUT /v2/apps/<id>`. By default a partial update that merges top-level fields only
/// (`container = update.container.orElse(app.container)`, mesosphere/marathon
/// `raml/AppConversion.scala`, facts §8.5); with `?partialUpdate=false` the body replaces the
/// definition (Marathon's defaults for what it leaves out). A `version` next to other fields is
/// refused: in Marathon's `AppUpdate` a version means "roll back to that version" and may only be
/// combined with `id` (mesosphere/marathon `AppUpdate` validation; not in the facts file).
pub(super) async fn marathon_put(
    State(ctx): State<Ctx>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let mut c = ctx.shared.lock().unwrap();
    if let Some(r) = marathon_down(&c) {
        return r;
    }
    let id = norm_id(&id);
    let defv: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let Some(def) = defv.as_object() else {
        return json_resp(
            StatusCode::BAD_REQUEST,
            &json!({"message": "Invalid JSON", "details": [{"path": "/", "errors": ["error.expected.jsobject"]}]}),
        );
    };
    if def.contains_key("version") && def.keys().any(|k| k != "version" && k != "id") {
        return json_resp(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({"message": "Object is not valid", "details": [{"path": "/version", "errors": ["The 'version' field may only be combined with the 'id' field."]}]}),
        );
    }
    let force = q.get("force").map(|f| f == "true").unwrap_or(false);
    let partial = q.get("partialUpdate").map(|f| f != "false").unwrap_or(true);
    let now = SystemTime::now();
    let new_version = iso8601(now);
    let dep_id = uuid_like(&format!("dep-{id}-{new_version}-{}", c.task_seq));
    let ends = Instant::now() + Duration::from_millis(c.def.deploy_ms);
    let existing = c.apps.iter().position(|a| a.id == id);
    let created = existing.is_none();
    let idx = match existing {
        Some(i) => {
            if let Some(d) = &c.apps[i].deployment {
                if !force {
                    let msg = "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.";
                    return json_resp(
                        StatusCode::CONFLICT,
                        &json!({"message": msg, "deployments": [{"id": d.id}]}),
                    );
                }
            }
            i
        }
        None => {
            c.apps.push(App {
                id: id.clone(),
                def: defaults(),
                instances: 1,
                cpus: 1.0,
                mem: 128.0,
                version: new_version.clone(),
                last_scaling: new_version.clone(),
                last_config: new_version.clone(),
                deployment: None,
            });
            c.apps.len() - 1
        }
    };
    let scaled;
    {
        let a = &mut c.apps[idx];
        let before = a.instances;
        if !partial {
            a.def = defaults();
        }
        for (k, v) in def {
            if !COMPUTED.contains(&k.as_str()) {
                a.def.insert(k.clone(), v.clone());
            }
        }
        a.sync_resources();
        scaled = a.instances != before;
        if scaled {
            a.last_scaling = new_version.clone();
        } else {
            a.last_config = new_version.clone();
        }
        a.deployment = Some(Deployment {
            id: dep_id.clone(),
            version: new_version.clone(),
            ends,
        });
    }
    if scaled || created {
        c.place_tasks(&id);
    }
    c.record(
        "marathon_deploy",
        json!({"app": id, "deploymentId": dep_id, "version": new_version, "partial": partial}),
    );
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json_resp(
        status,
        &json!({"deploymentId": dep_id, "version": new_version}),
    )
}

pub(super) async fn marathon_deployments(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    if let Some(r) = marathon_down(&c) {
        return r;
    }
    let deps: Vec<Value> = c
        .apps
        .iter()
        .filter_map(|a| a.deployment.as_ref().map(|d| (a, d)))
        .map(|(a, d)| {
            json!({
                "id": d.id, "version": d.version, "affectedApps": [a.id], "affectedPods": [],
                "steps": [{"actions": [{"action": "RestartApplication", "app": a.id}]}],
                "currentActions": [{"action": "RestartApplication", "app": a.id, "readinessCheckResults": []}],
                "currentStep": 1, "totalSteps": 1,
            })
        })
        .collect();
    ok_json(Value::Array(deps))
}
