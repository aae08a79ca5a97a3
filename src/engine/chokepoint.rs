//! The one chokepoint for every command that changes a node: audit intent durably, act,
//! audit the outcome. Crash checkpoints sit on both sides of the remote command.

use crate::checkpoint;
use crate::cluster::Cluster;
use crate::playbook::NodeSpec;
use crate::remote::{Output, RemoteError};
use crate::store::{AuditEntry, Store, StoreError};
use std::time::Duration;

/// Why a change could not be made or recorded.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The audit log could not be written: nothing was sent.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The remote command did not complete.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

/// Sends node-changing commands for one run.
pub struct Changer<'a> {
    store: &'a Store,
    run: &'a str,
    cluster: &'a Cluster,
    secrets: Vec<String>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl<'a> Changer<'a> {
    /// A chokepoint for a run; `secrets` are redacted from everything recorded.
    pub fn new(store: &'a Store, run: &'a str, cluster: &'a Cluster, secrets: Vec<String>) -> Self {
        Changer {
            store,
            run,
            cluster,
            secrets,
        }
    }

    /// Replaces every secret in a text by `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in self.secrets.iter().filter(|s| s.len() >= 4) {
            out = out.replace(s.as_str(), "<redacted>");
        }
        out
    }

    /// Runs a node-changing script: audit intent (durable) → run → audit outcome.
    pub async fn change(
        &self,
        step: &str,
        node: &NodeSpec,
        description: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<Output, ChangeError> {
        self.change_with_input(step, node, description, script, None, timeout)
            .await
    }

    /// As `change`, with bytes sent on the command's standard input (recorded by size only).
    pub async fn change_with_input(
        &self,
        step: &str,
        node: &NodeSpec,
        description: &str,
        script: &str,
        input: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, ChangeError> {
        let mut command = self.redact(&self.cluster.ssh.command_line(script));
        if let Some(i) = input {
            command.push_str(&format!(" < ({} bytes on stdin)", i.len()));
        }
        let mut entry = AuditEntry {
            at: now(),
            step: step.to_string(),
            node: node.address.clone(),
            description: description.to_string(),
            command,
            exit_status: None,
            duration_ms: 0,
            output_tail: String::new(),
            phase: "intent".into(),
        };
        self.store.append_audit(self.run, &entry)?;
        checkpoint::hit(&format!("before-remote:{step}:{description}"));
        let target = Cluster::target(node);
        let res = match input {
            Some(i) => {
                self.cluster
                    .ssh
                    .run_with_input(&target, script, i, timeout)
                    .await
            }
            None => self.cluster.ssh.run(&target, script, timeout).await,
        };
        checkpoint::hit(&format!("after-remote:{step}:{description}"));
        entry.at = now();
        entry.phase = "outcome".into();
        match &res {
            Ok(o) => {
                entry.exit_status = o.status;
                entry.duration_ms = o.duration.as_millis() as u64;
                entry.output_tail = self.redact(&o.tail(2000));
            }
            Err(e) => entry.output_tail = self.redact(&e.to_string()),
        }
        self.store.append_audit(self.run, &entry)?;
        Ok(res?)
    }
}
