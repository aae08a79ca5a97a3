//! The playbook's timeouts, with the inventory's overrides applied and each as a bounded Duration.

use crate::playbook::inventory::TimeoutOverrides;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Timeouts (seconds unless `_ms`); ranges in [`crate::playbook::bounds`]: every `*_secs` wait
/// 1 to 604800, `poll_ms` 50 to 60000, `http_secs` 1 to 3600.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// How long a node's upgrade script may run.
    pub node_script_secs: u64,
    /// How long the gates after a master may take.
    pub master_gate_secs: u64,
    /// How long an agent may take to re-register.
    pub agent_gate_secs: u64,
    /// How long the backup may take.
    pub backup_secs: u64,
    /// How long one framework deployment may take.
    pub deployment_secs: u64,
    /// Polling interval.
    pub poll_ms: u64,
    /// Timeout of one HTTP request.
    pub http_secs: u64,
}

impl Timeouts {
    /// Applies the inventory's overrides.
    pub fn with_overrides(&self, o: &TimeoutOverrides) -> Timeouts {
        Timeouts {
            node_script_secs: o.node_script_secs.unwrap_or(self.node_script_secs),
            master_gate_secs: o.master_gate_secs.unwrap_or(self.master_gate_secs),
            agent_gate_secs: o.agent_gate_secs.unwrap_or(self.agent_gate_secs),
            backup_secs: o.backup_secs.unwrap_or(self.backup_secs),
            deployment_secs: o.deployment_secs.unwrap_or(self.deployment_secs),
            poll_ms: o.poll_ms.unwrap_or(self.poll_ms),
            http_secs: self.http_secs,
        }
    }

    /// The polling interval as a Duration (never below 50 ms, whatever the value).
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms.max(50))
    }

    /// A `*_secs` value as a Duration, clamped to the documented maximum (one week) so that
    /// `Instant::now() + d` can never overflow even for a value that bypassed the load checks.
    pub fn secs(value: u64) -> Duration {
        Duration::from_secs(value.min(crate::playbook::bounds::TIMEOUT_SECS.max))
    }

    /// `node_script_secs` as a Duration ([`Timeouts::secs`]).
    pub fn node_script(&self) -> Duration {
        Timeouts::secs(self.node_script_secs)
    }

    /// `master_gate_secs` as a Duration ([`Timeouts::secs`]).
    pub fn master_gate(&self) -> Duration {
        Timeouts::secs(self.master_gate_secs)
    }

    /// `agent_gate_secs` as a Duration ([`Timeouts::secs`]).
    pub fn agent_gate(&self) -> Duration {
        Timeouts::secs(self.agent_gate_secs)
    }

    /// `backup_secs` as a Duration ([`Timeouts::secs`]).
    pub fn backup(&self) -> Duration {
        Timeouts::secs(self.backup_secs)
    }

    /// `deployment_secs` as a Duration ([`Timeouts::secs`]).
    pub fn deployment(&self) -> Duration {
        Timeouts::secs(self.deployment_secs)
    }
}
