//! The `agent-new-id` fault (facts §8.2): the agent's recovery fails when it restarts, so it
//! registers with a NEW agent id; its old tasks end as Mesos reports them for partition-aware
//! frameworks (`TASK_GONE_BY_OPERATOR`) and Marathon relaunches them on other agents.

use super::*;
use crate::setup::uuid_like;
use serde_json::json;
use std::collections::HashMap;
use std::time::Instant;

/// The fault's name.
pub(super) const AGENT_NEW_ID: &str = "agent-new-id";

/// When each agent's main unit last came up, as seen at the last tick.
#[derive(Default)]
pub(super) struct AgentIdSt {
    seen: HashMap<usize, Instant>,
    renamed: u64,
}

impl Cluster {
    /// Every tick: an agent with the fault whose main unit came up again gets a new id, and its
    /// tasks move to the other agents with new task ids.
    pub(super) fn agent_id_tick(&mut self) {
        let agents: Vec<usize> = self.agents().collect();
        for i in agents {
            let unit = self.nodes[i].main_unit();
            let Some(since) = self.nodes[i].unit(unit).filter(|u| u.up).map(|u| u.since) else {
                continue;
            };
            let before = self.agent_ids.seen.insert(i, since);
            let restarted = before.is_some_and(|b| b != since);
            if !restarted || !self.nodes[i].fault(AGENT_NEW_ID) {
                continue;
            }
            self.agent_ids.renamed += 1;
            let old = self.nodes[i].id.clone();
            let name = self.nodes[i].def.name.clone();
            self.nodes[i].id = format!(
                "{}-S{}",
                uuid_like(&format!("agent-{name}-{}", self.agent_ids.renamed)),
                100 + self.agent_ids.renamed
            );
            let others: Vec<usize> = self.task_agents().into_iter().filter(|a| *a != i).collect();
            let mut gone = Vec::new();
            for k in 0..self.tasks.len() {
                if self.tasks[k].agent != i {
                    continue;
                }
                gone.push(self.tasks[k].id.clone());
                self.task_seq += 1;
                let seq = self.task_seq;
                let t = &mut self.tasks[k];
                if !others.is_empty() {
                    t.agent = others[k % others.len()];
                }
                t.id = format!(
                    "{}.{}",
                    t.app.trim_start_matches('/'),
                    uuid_like(&format!("task-{seq}"))
                );
            }
            let new = self.nodes[i].id.clone();
            self.record(
                "agent_new_id",
                json!({"node": name, "old_id": old, "new_id": new, "tasks_gone": gone, "state": "TASK_GONE_BY_OPERATOR"}),
            );
        }
    }
}
