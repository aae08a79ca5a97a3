//! Marathon's apps: reading an app definition, the defaults Marathon fills in, and the apps every
//! testbed starts with.

use super::*;
use serde_json::{json, Value};

impl App {
    /// `container.docker.image` (DOCKER and UCR with a docker image alike).
    pub(in crate::daemon) fn image(&self) -> String {
        self.def
            .get("container")
            .and_then(|c| c.pointer("/docker/image"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    }

    /// `container.type`.
    pub(in crate::daemon) fn container_type(&self) -> String {
        self.def
            .get("container")
            .and_then(|c| c.get("type"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    }

    /// Whether the app has health checks (Marathon counts `tasksHealthy` only for those).
    pub(in crate::daemon) fn has_health_checks(&self) -> bool {
        self.def
            .get("healthChecks")
            .and_then(|h| h.as_array())
            .is_some_and(|h| !h.is_empty())
    }

    /// Takes `instances`, `cpus` and `mem` from the definition.
    pub(in crate::daemon) fn sync_resources(&mut self) {
        let num = |k: &str| self.def.get(k).and_then(|v| v.as_f64());
        if let Some(n) = self.def.get("instances").and_then(|v| v.as_u64()) {
            self.instances = n;
        }
        self.cpus = num("cpus").unwrap_or(self.cpus);
        self.mem = num("mem").unwrap_or(self.mem);
    }
}

/// What Marathon fills in for a field an app definition leaves out.
pub(in crate::daemon) fn defaults() -> serde_json::Map<String, Value> {
    let v = json!({
        "cmd": null, "args": null, "user": null, "env": {}, "instances": 1,
        "cpus": 1.0, "mem": 128.0, "disk": 0.0, "gpus": 0, "executor": "", "constraints": [],
        "uris": [], "fetch": [], "storeUrls": [], "backoffSeconds": 1, "backoffFactor": 1.15,
        "maxLaunchDelaySeconds": 300, "container": null, "healthChecks": [],
        "readinessChecks": [], "dependencies": [],
        "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
        "labels": {}, "acceptedResourceRoles": null, "networks": [{"mode": "host"}],
        "portDefinitions": [], "requirePorts": false,
        "killSelection": "YOUNGEST_FIRST",
        "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
    });
    v.as_object().cloned().unwrap_or_default()
}

fn health_check() -> Value {
    json!([{"gracePeriodSeconds": 300, "intervalSeconds": 60, "maxConsecutiveFailures": 3,
            "portIndex": 0, "timeoutSeconds": 20, "delaySeconds": 15, "protocol": "MESOS_HTTP",
            "path": "/", "ipProtocol": "IPv4"}])
}

/// The apps every testbed starts with: `/web` (DOCKER, a persistent volume, port mappings,
/// docker parameters, health checks), `/api` (DOCKER, health checks) and `/worker` (the
/// Universal Container Runtime, `MESOS` with a docker image, and no health checks).
pub(in crate::daemon) fn seed_apps(wall: &str) -> Vec<App> {
    let web = json!({
        "instances": 3, "cpus": 0.5, "mem": 128.0,
        "env": {"LOG_LEVEL": "info"}, "labels": {"HAPROXY_GROUP": "external"},
        "networks": [{"mode": "container/bridge"}],
        "container": {"type": "DOCKER",
            "docker": {"image": "nginx:1.19.0", "forcePullImage": true, "privileged": false,
                       "parameters": [{"key": "log-driver", "value": "journald"}]},
            "volumes": [{"containerPath": "data", "mode": "RW",
                         "persistent": {"type": "root", "size": 512, "constraints": []}},
                        {"containerPath": "/etc/nginx/conf.d", "hostPath": "/opt/web/conf", "mode": "RO"}],
            "portMappings": [{"containerPort": 80, "hostPort": 0, "servicePort": 10000,
                              "protocol": "tcp", "name": "http", "labels": {"VIP_0": "/web:80"}}]},
        "healthChecks": health_check(),
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.0},
    });
    let api = json!({
        "instances": 2, "cpus": 1.0, "mem": 512.0, "cmd": "/srv/api --port $PORT0",
        "env": {"DB_URL": "postgres://db.marathon.l4lb.thisdcos.directory:5432/api"},
        "portDefinitions": [{"port": 10001, "protocol": "tcp", "name": "api"}],
        "container": {"type": "DOCKER", "volumes": [],
            "docker": {"image": "example/api:1.4.2", "forcePullImage": false, "privileged": false,
                       "parameters": []}},
        "healthChecks": health_check(),
    });
    let worker = json!({
        "instances": 1, "cpus": 0.5, "mem": 256.0, "cmd": "/srv/worker",
        "container": {"type": "MESOS", "volumes": [],
            "docker": {"image": "example/worker:2.0.1", "forcePullImage": false,
                       "pullConfig": {"secret": "pull-secret"}}},
        "secrets": {"pull-secret": {"source": "/worker/registry"}},
    });
    [("/web", web), ("/api", api), ("/worker", worker)]
        .into_iter()
        .map(|(id, over)| {
            let mut def = defaults();
            for (k, v) in over.as_object().cloned().unwrap_or_default() {
                def.insert(k, v);
            }
            let mut a = App {
                id: id.into(),
                def,
                instances: 1,
                cpus: 0.0,
                mem: 0.0,
                version: wall.to_string(),
                last_scaling: wall.to_string(),
                last_config: wall.to_string(),
                deployment: None,
            };
            a.sync_resources();
            a
        })
        .collect()
}
