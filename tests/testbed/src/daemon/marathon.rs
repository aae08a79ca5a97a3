//! Marathon on :8080: info, leader, apps (GET and PUT, which starts a deployment) and deployments.

use super::*;
use crate::setup::{hex_id, uuid_like};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

pub(super) fn marathon_leader_idx(c: &Cluster) -> Option<usize> {
    if let Some(l) = c.leader {
        if c.nodes[l].unit_up("dcos-marathon") {
            return Some(l);
        }
    }
    c.masters().find(|i| c.nodes[*i].unit_up("dcos-marathon"))
}

pub(super) async fn marathon_info(State(ctx): State<Ctx>) -> Response {
    let c = ctx.shared.lock().unwrap();
    let ml = marathon_leader_idx(&c);
    let leader = ml.map(|l| format!("{}:8080", c.nodes[l].def.address));
    let addr = &c.nodes[ctx.node].def.address;
    ok_json(json!({
        "name": "marathon", "version": "1.11.1", "buildref": hex_id("marathon", 40),
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
    match marathon_leader_idx(&c) {
        Some(l) => ok_json(json!({"leader": format!("{}:8080", c.nodes[l].def.address)})),
        None => json_resp(
            StatusCode::NOT_FOUND,
            &json!({"message": "There is no leader"}),
        ),
    }
}

pub(super) fn app_json(c: &Cluster, a: &App) -> Value {
    let tasks: Vec<&Task> = c.tasks.iter().filter(|t| t.app == a.id).collect();
    let running = tasks.iter().filter(|t| c.task_running(t)).count();
    let healthy = tasks.iter().filter(|t| c.task_healthy(t)).count();
    let mut v = json!({
        "id": a.id, "cmd": null, "args": null, "user": null, "env": {}, "instances": a.instances,
        "cpus": a.cpus, "mem": a.mem, "disk": 0.0, "gpus": 0, "executor": "", "constraints": [],
        "uris": [], "fetch": [], "storeUrls": [], "backoffSeconds": 1, "backoffFactor": 1.15,
        "maxLaunchDelaySeconds": 300,
        "container": {"type": "DOCKER", "volumes": [],
                      "docker": {"image": a.image, "forcePullImage": false, "privileged": false, "parameters": []},
                      "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp", "name": "http"}]},
        "healthChecks": [{"gracePeriodSeconds": 300, "intervalSeconds": 60, "maxConsecutiveFailures": 3,
                          "portIndex": 0, "timeoutSeconds": 20, "delaySeconds": 15, "protocol": "MESOS_HTTP",
                          "path": "/", "ipProtocol": "IPv4"}],
        "readinessChecks": [], "dependencies": [],
        "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
        "labels": {}, "acceptedResourceRoles": null, "ipAddress": null,
        "version": a.version,
        "versionInfo": {"lastScalingAt": a.last_scaling, "lastConfigChangeAt": a.last_config},
        "killSelection": "YOUNGEST_FIRST", "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
        "tasksStaged": 0, "tasksRunning": running, "tasksHealthy": healthy, "tasksUnhealthy": running - healthy,
        "deployments": a.deployment.iter().map(|d| json!({"id": d.id})).collect::<Vec<_>>(),
    });
    if let Some(o) = v.as_object_mut() {
        for (k, val) in &a.extra {
            o.insert(k.clone(), val.clone());
        }
    }
    v
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
    let id = norm_id(&id);
    match c.apps.iter().find(|a| a.id == id) {
        Some(a) => ok_json(json!({"app": app_json(&c, a)})),
        None => json_resp(
            StatusCode::NOT_FOUND,
            &json!({"message": format!("App '{id}' does not exist")}),
        ),
    }
}

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
    let force = q.get("force").map(|f| f == "true").unwrap_or(false);
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
                image: String::new(),
                instances: 1,
                cpus: 0.1,
                mem: 32.0,
                version: new_version.clone(),
                last_scaling: new_version.clone(),
                last_config: new_version.clone(),
                deployment: None,
                extra: serde_json::Map::new(),
            });
            c.apps.len() - 1
        }
    };
    let mut scaled = false;
    {
        let a = &mut c.apps[idx];
        if let Some(img) = defv
            .pointer("/container/docker/image")
            .and_then(|v| v.as_str())
        {
            a.image = img.to_string();
        }
        if let Some(n) = def.get("instances").and_then(|v| v.as_u64()) {
            scaled = n != a.instances;
            a.instances = n;
        }
        if let Some(x) = def.get("cpus").and_then(|v| v.as_f64()) {
            a.cpus = x;
        }
        if let Some(x) = def.get("mem").and_then(|v| v.as_f64()) {
            a.mem = x;
        }
        for k in ["cmd", "args", "env", "labels", "constraints"] {
            if let Some(v) = def.get(k) {
                a.extra.insert(k.to_string(), v.clone());
            }
        }
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
        json!({"app": id, "deploymentId": dep_id, "version": new_version}),
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
