//! What was observed about the cluster before planning ("facts first, decide later").
//!
//! Pure data: gathered by `probe::facts`, consumed by `plan::build`.

use crate::model::Role;
use serde::{Deserialize, Serialize};

/// One node as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFacts {
    /// Address (in DC/OS the Mesos hostname is the IP).
    pub address: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The installed DC/OS version from `dcos-version.json`, if it could be read.
    pub version: Option<String>,
    /// Whether this master was the Mesos leader when facts were gathered.
    pub is_leader: bool,
    /// Why the node could not be observed, if it could not.
    pub error: Option<String>,
    /// Agents: the Mesos fault-domain zone the leading master reports (read when the plan
    /// limits agents per zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// One Marathon app as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppFacts {
    /// App id, e.g. `/web`.
    pub id: String,
    /// `container.docker.image`, if any.
    pub image: Option<String>,
    /// Marathon's version timestamp.
    pub version: String,
}

/// Everything observed before planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ClusterFacts {
    /// Masters in inventory order.
    pub masters: Vec<NodeFacts>,
    /// Agents (listed or discovered), private and public.
    pub agents: Vec<NodeFacts>,
    /// Address of the Mesos leader, if one is elected.
    pub leader: Option<String>,
    /// Marathon apps (only gathered when the frameworks phase needs them).
    pub apps: Vec<AppFacts>,
}

impl ClusterFacts {
    /// Every node, masters first.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeFacts> {
        self.masters.iter().chain(self.agents.iter())
    }
}
