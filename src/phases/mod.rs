//! How each kind of step is done (and checked, and undone). One file per phase.

pub mod backup;
pub mod checks;
pub mod frameworks;
pub mod gates;
pub mod guards;
pub mod node_upgrade;
pub mod validate;

use crate::cluster::Cluster;
use crate::engine::chokepoint::Changer;
use crate::events::{stamp, Event, EventSink};
use crate::plan::Step;
use std::path::Path;

/// What a step implementation gets.
pub struct StepCtx<'a> {
    /// The cluster.
    pub cluster: &'a Cluster,
    /// The chokepoint for changes.
    pub changer: &'a Changer<'a>,
    /// Run id.
    pub run: &'a str,
    /// The step.
    pub step: &'a Step,
    /// Attempt number (1 for the first).
    pub attempt: u32,
    /// Target version.
    pub to: &'a str,
    /// From version (the plan's).
    pub from: Option<&'a str>,
    /// Events.
    pub events: &'a dyn EventSink,
    /// The state directory (backups are copied under it).
    pub state_dir: &'a Path,
    /// Extra options of the run.
    pub options: &'a crate::engine::RunOptions,
}

impl StepCtx<'_> {
    /// Says something about the step's progress.
    pub fn progress(&self, message: impl Into<String>) {
        self.events.emit(&stamp(Event::StepProgress {
            step: self.step.id.clone(),
            message: message.into(),
        }));
    }

    /// The step's node as the inventory names it.
    pub fn node(&self) -> Result<&crate::playbook::NodeSpec, String> {
        let addr = self
            .step
            .node
            .as_deref()
            .ok_or_else(|| format!("step {} names no node", self.step.id))?;
        self.cluster.node(addr).ok_or_else(|| {
            format!(
                "node {addr} of step {} is not in the inventory",
                self.step.id
            )
        })
    }

    /// A directory name derived from the step id.
    pub fn slug(&self) -> String {
        self.step
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}
