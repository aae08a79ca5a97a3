//! Agents rejoin with their tasks (facts §1.5, §8.2): before an agent goes down, its agent id
//! and running tasks are read from the leader's `/state`; after, the same agent id must be
//! registered and those tasks RUNNING again. An agent whose recovery failed registers with a
//! NEW id (`slave/registered` is 1 but its tasks are gone): that is "agent lost its tasks".

use crate::cluster::Cluster;
use crate::playbook::NodeSpec;
use crate::probe::mesos::Slave;
use crate::probe::wait::Poll;
use serde::Deserialize;

/// An agent as the leader saw it before it went down (journalled before the script starts, so a
/// resumed step compares with it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct AgentBefore {
    /// Its agent id.
    pub id: String,
    /// Its tasks in `TASK_RUNNING`.
    pub tasks: Vec<String>,
}

#[derive(Deserialize)]
struct State {
    #[serde(default)]
    slaves: Vec<Slave>,
    #[serde(default)]
    frameworks: Vec<Framework>,
}

#[derive(Deserialize)]
struct Framework {
    #[serde(default)]
    tasks: Vec<Task>,
}

#[derive(Deserialize)]
struct Task {
    id: String,
    slave_id: String,
    state: String,
}

async fn state(c: &Cluster) -> Result<State, String> {
    crate::probe::admin::get_json::<State>(c, "/mesos/state")
        .await
        .map_err(|e| e.to_string())
}

fn running_on<'a>(s: &'a State, id: &'a str) -> impl Iterator<Item = &'a Task> + 'a {
    s.frameworks
        .iter()
        .flat_map(|f| &f.tasks)
        .filter(move |t| t.slave_id == id && t.state == "TASK_RUNNING")
}

/// Reads `node`'s agent id and running tasks at the leader.
pub async fn before(c: &Cluster, node: &NodeSpec) -> Result<AgentBefore, String> {
    let s = state(c).await?;
    let slave = s
        .slaves
        .iter()
        .find(|a| a.address() == node.address)
        .ok_or_else(|| {
            format!(
                "agent {} is not registered at the leading master",
                node.address
            )
        })?;
    Ok(AgentBefore {
        id: slave.id.clone(),
        tasks: running_on(&s, &slave.id).map(|t| t.id.clone()).collect(),
    })
}

/// After `node` is back: the same agent id registered and every recorded task RUNNING.
pub async fn rejoined(c: &Cluster, node: &NodeSpec, b: &AgentBefore) -> Poll<String> {
    let s = match state(c).await {
        Ok(s) => s,
        Err(e) => return Poll::NotYet(e),
    };
    let Some(slave) = s.slaves.iter().find(|a| a.address() == node.address) else {
        return Poll::NotYet(format!(
            "agent {} is not registered at the leading master",
            node.address
        ));
    };
    if slave.id != b.id {
        return Poll::Abort(format!(
            "agent lost its tasks: {} registered with a new agent id {} (it was {}; its recovery failed), so its {} task(s) ({}) are gone",
            node.address,
            slave.id,
            b.id,
            b.tasks.len(),
            b.tasks.join(", ")
        ));
    }
    let running: Vec<&str> = running_on(&s, &b.id).map(|t| t.id.as_str()).collect();
    let missing: Vec<&str> = b
        .tasks
        .iter()
        .map(String::as_str)
        .filter(|t| !running.contains(t))
        .collect();
    if missing.is_empty() {
        Poll::Ready(format!(
            "agent {} rejoined as {} with its {} task(s) running",
            node.address,
            b.id,
            b.tasks.len()
        ))
    } else {
        Poll::NotYet(format!(
            "agent {} ({}): task(s) not RUNNING again yet: {}",
            node.address,
            b.id,
            missing.join(", ")
        ))
    }
}
