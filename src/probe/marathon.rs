//! Marathon: apps, one app's definition (and how to change only its image), running
//! deployments, and the counters that say an app has settled.

use super::admin;
use crate::cluster::Cluster;
use crate::door::{get_json, Observe, ProbeError};
use serde::Deserialize;

/// The parts of an app the tool looks at (the full definition is kept as JSON).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    /// App id.
    pub id: String,
    /// Wanted instances.
    #[serde(default)]
    pub instances: u64,
    /// Version timestamp.
    #[serde(default)]
    pub version: String,
    /// Healthy tasks.
    #[serde(default)]
    pub tasks_healthy: u64,
    /// Running tasks.
    #[serde(default)]
    pub tasks_running: u64,
    /// Deployments in progress for this app.
    #[serde(default)]
    pub deployments: Vec<serde_json::Value>,
    /// Health checks.
    #[serde(default)]
    pub health_checks: Vec<serde_json::Value>,
    /// Container (for the docker image).
    #[serde(default)]
    pub container: Option<serde_json::Value>,
}

impl App {
    /// `container.docker.image`, if any.
    pub fn image(&self) -> Option<String> {
        self.container
            .as_ref()?
            .get("docker")?
            .get("image")?
            .as_str()
            .map(String::from)
    }
}

#[derive(Deserialize)]
struct Apps {
    apps: Vec<App>,
}

/// Lists apps (through Admin Router: `/marathon/` reaches the Marathon leader).
pub async fn apps(c: &Cluster) -> Result<Vec<App>, ProbeError> {
    Ok(admin::get_json::<Apps>(c, "/marathon/v2/apps").await?.apps)
}

/// Lists deployments in progress (their ids and affected apps).
pub async fn deployments(c: &Cluster) -> Result<Vec<serde_json::Value>, ProbeError> {
    admin::get_json(c, "/marathon/v2/deployments").await
}

/// Fields of `GET /v2/apps/<id>` that Marathon computes, and `version`: none of them is part of
/// what an operator defines, and a `version` in a PUT means "roll back to that version".
const COMPUTED: [&str; 9] = [
    "version",
    "versionInfo",
    "tasksStaged",
    "tasksRunning",
    "tasksHealthy",
    "tasksUnhealthy",
    "deployments",
    "tasks",
    "lastTaskFailure",
];

/// One app's full definition as JSON (`GET <url>`, the `app` member of the answer).
pub async fn app(http: &dyn Observe, url: &str) -> Result<serde_json::Value, ProbeError> {
    let v: serde_json::Value = get_json(http, url).await?;
    Ok(v.get("app").cloned().unwrap_or(v))
}

/// The definition an operator set: the app without Marathon's computed fields (what a PUT sends).
pub fn definition(app: &serde_json::Value) -> serde_json::Value {
    let mut d = app.clone();
    if let Some(o) = d.as_object_mut() {
        for k in COMPUTED {
            o.remove(k);
        }
    }
    d
}

/// `container.docker.image` of a definition (DOCKER, and UCR `MESOS` with a docker image).
pub fn image(app: &serde_json::Value) -> Option<&str> {
    app.pointer("/container/docker/image")?.as_str()
}

/// The definition with only its docker image changed; an app without one is an error.
pub fn with_image(app: &serde_json::Value, new: &str) -> Result<serde_json::Value, String> {
    let mut d = definition(app);
    let kind = d
        .pointer("/container/type")
        .and_then(|t| t.as_str())
        .unwrap_or("none")
        .to_string();
    match d.pointer_mut("/container/docker/image") {
        Some(slot) if slot.is_string() => {
            *slot = serde_json::Value::String(new.to_string());
            Ok(d)
        }
        _ => Err(format!(
            "the app has no docker image to change (container type {kind}); only DOCKER and MESOS containers with a docker image are upgraded"
        )),
    }
}

/// A deployment in progress: its id and the apps it changes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Deployment id.
    pub id: String,
    /// App ids.
    #[serde(default)]
    pub affected_apps: Vec<String>,
}

/// `GET <base>/v2/deployments`, typed.
pub async fn deployments_at(http: &dyn Observe, base: &str) -> Result<Vec<Deployment>, ProbeError> {
    get_json(http, &format!("{base}/v2/deployments")).await
}

/// The counters that say whether an app has settled after a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppState {
    /// Wanted instances.
    pub instances: u64,
    /// Running tasks.
    pub running: u64,
    /// Healthy tasks (counted by Marathon only for tasks with health checks).
    pub healthy: u64,
    /// Whether the app has health checks.
    pub health_checks: bool,
}

impl AppState {
    /// Reads the counters of an app's JSON.
    pub fn of(app: &serde_json::Value) -> AppState {
        let n = |k: &str| app.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
        AppState {
            instances: n("instances"),
            running: n("tasksRunning"),
            healthy: n("tasksHealthy"),
            health_checks: app
                .get("healthChecks")
                .and_then(|h| h.as_array())
                .is_some_and(|h| !h.is_empty()),
        }
    }

    /// Every instance running, and healthy where the app has health checks (`tasksHealthy`
    /// "does not include tasks without health info", facts §8.5); else what is missing.
    pub fn settled(&self) -> Result<(), String> {
        if self.running < self.instances {
            return Err(format!(
                "{} of {} tasks running",
                self.running, self.instances
            ));
        }
        if self.health_checks && self.healthy < self.instances {
            return Err(format!(
                "{} of {} tasks healthy",
                self.healthy, self.instances
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_image_changes_for_docker_and_ucr_and_computed_fields_go() {
        for kind in ["DOCKER", "MESOS"] {
            let app = json!({"id": "/a", "version": "v1", "tasksRunning": 1,
                "container": {"type": kind, "volumes": [{"containerPath": "data"}],
                              "docker": {"image": "x:1", "parameters": [{"key": "k"}]},
                              "portMappings": [{"containerPort": 80}]}});
            let d = with_image(&app, "x:2").unwrap();
            assert_eq!(d["container"]["docker"]["image"], "x:2");
            assert_eq!(d["container"]["type"], kind);
            assert_eq!(d["container"]["volumes"], app["container"]["volumes"]);
            assert_eq!(
                d["container"]["portMappings"],
                app["container"]["portMappings"]
            );
            assert!(d.get("version").is_none() && d.get("tasksRunning").is_none());
        }
        assert!(with_image(&json!({"id": "/c", "cmd": "sleep"}), "x:2").is_err());
    }

    #[test]
    fn an_app_without_health_checks_settles_on_running_tasks() {
        let app = json!({"instances": 2, "tasksRunning": 2, "tasksHealthy": 0, "healthChecks": []});
        assert_eq!(AppState::of(&app).settled(), Ok(()));
        let app =
            json!({"instances": 2, "tasksRunning": 2, "tasksHealthy": 1, "healthChecks": [{}]});
        assert!(AppState::of(&app)
            .settled()
            .unwrap_err()
            .contains("1 of 2 tasks healthy"));
    }

    #[test]
    fn the_documented_app_list_parses() {
        let v: Apps =
            serde_json::from_str(include_str!("../../tests/data/marathon-v2-apps.json")).unwrap();
        assert_eq!(v.apps[0].id, "/myapp");
        assert_eq!(v.apps[0].instances, 3);
        assert_eq!(v.apps[0].deployments.len(), 1);
    }
}
