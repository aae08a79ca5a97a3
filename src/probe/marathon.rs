//! Marathon: apps, one app's definition, and running deployments.

use super::mesos::host_port;
use crate::door::{get_json, parse_json, Observe, ProbeError};
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

/// Lists apps.
pub async fn apps(http: &dyn Observe, master: &str, port: u16) -> Result<Vec<App>, ProbeError> {
    let url = format!("http://{}/v2/apps", host_port(master, port));
    let a = http.get(&url).await?;
    Ok(parse_json::<Apps>(&url, &a)?.apps)
}

/// Lists deployments in progress (their ids and affected apps).
pub async fn deployments(
    http: &dyn Observe,
    master: &str,
    port: u16,
) -> Result<Vec<serde_json::Value>, ProbeError> {
    let url = format!("http://{}/v2/deployments", host_port(master, port));
    get_json(http, &url).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_app_list_parses() {
        let v: Apps =
            serde_json::from_str(include_str!("../../tests/data/marathon-v2-apps.json")).unwrap();
        assert_eq!(v.apps[0].id, "/myapp");
        assert_eq!(v.apps[0].instances, 3);
        assert_eq!(v.apps[0].deployments.len(), 1);
    }
}
