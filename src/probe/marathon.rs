//! Marathon: apps, one app's definition, and running deployments.

use super::admin;
use crate::cluster::Cluster;
use crate::door::ProbeError;
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
