//! The chokepoint: every mutation is audited durably before it is sent, passes a crash
//! checkpoint on each side, and has its outcome audited after. Secrets are redacted from
//! everything recorded.

use super::fake::FakeCluster;
use super::http::{Answer, ProbeError};
use super::ssh::{Output, RemoteError};
use super::transport::Transport;
use super::{Change, HttpChange, ScriptChange};
use crate::checkpoint;
use crate::store::{AuditEntry, Store, StoreError};
use async_trait::async_trait;

/// Why a change could not be made or recorded.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The audit log could not be written: nothing was sent.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The remote command did not complete.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The HTTP write got no answer.
    #[error(transparent)]
    Http(#[from] ProbeError),
}

/// What the audited door acts through.
enum Wire<'a> {
    Real(&'a Transport),
    InProcess(&'a FakeCluster),
}

/// The real change door of one run: audit (sled, flushed) → checkpoint → act → checkpoint →
/// audit.
pub struct AuditedChange<'a> {
    store: &'a Store,
    run: String,
    wire: Wire<'a>,
    secrets: Vec<String>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Replaces every secret (of 4 characters or more) in a text by `<redacted>`: those handed to
/// this door and every one the process registered (`crate::secrets`).
pub fn redact(secrets: &[String], text: &str) -> String {
    let mut out = crate::secrets::redact(text);
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "<redacted>");
    }
    out
}

impl<'a> AuditedChange<'a> {
    /// The change door of `run` over the real transports.
    pub fn new(
        store: &'a Store,
        run: &str,
        transport: &'a Transport,
        secrets: Vec<String>,
    ) -> AuditedChange<'a> {
        AuditedChange {
            store,
            run: run.to_string(),
            wire: Wire::Real(transport),
            secrets,
        }
    }

    /// The same door over an in-process cluster (hermetic tests, simulations): still audited
    /// in `store`, still checkpointed.
    pub fn in_process(
        store: &'a Store,
        run: &str,
        cluster: &'a FakeCluster,
        secrets: Vec<String>,
    ) -> AuditedChange<'a> {
        AuditedChange {
            store,
            run: run.to_string(),
            wire: Wire::InProcess(cluster),
            secrets,
        }
    }

    fn entry(&self, step: &str, node: &str, description: &str, command: String) -> AuditEntry {
        AuditEntry {
            at: now(),
            step: step.to_string(),
            node: node.to_string(),
            description: description.to_string(),
            command: redact(&self.secrets, &command),
            exit_status: None,
            duration_ms: 0,
            output_tail: String::new(),
            phase: "intent".into(),
        }
    }
}

#[async_trait]
impl Change for AuditedChange<'_> {
    async fn script(&self, c: ScriptChange<'_>) -> Result<Output, ChangeError> {
        let mut command = match &self.wire {
            Wire::Real(t) => t.command_line(c.script),
            Wire::InProcess(_) => format!("bash -c {}", crate::shell::quote(c.script)),
        };
        if let Some(i) = c.input {
            command.push_str(&format!(" < ({} bytes on stdin)", i.len()));
        }
        let mut entry = self.entry(c.step, &c.node.address, c.description, command);
        self.store.append_audit(&self.run, &entry)?;
        checkpoint::hit(&format!("before-remote:{}:{}", c.step, c.description));
        let res = match &self.wire {
            Wire::Real(t) => t.run_script(c.node, c.script, c.input, c.timeout).await,
            Wire::InProcess(f) => f.run_change(c.node, c.script, c.input),
        };
        checkpoint::hit(&format!("after-remote:{}:{}", c.step, c.description));
        entry.at = now();
        entry.phase = "outcome".into();
        match &res {
            Ok(o) => {
                entry.exit_status = o.status;
                entry.duration_ms = o.duration.as_millis() as u64;
                entry.output_tail = redact(&self.secrets, &o.tail(2000));
            }
            Err(e) => entry.output_tail = redact(&self.secrets, &e.to_string()),
        }
        self.store.append_audit(&self.run, &entry)?;
        Ok(res?)
    }

    async fn http(&self, c: HttpChange<'_>) -> Result<Answer, ChangeError> {
        let mut command = format!("{} {}", c.method.as_str(), c.url);
        if let Some(b) = c.body {
            command.push_str(&format!(" ({} bytes of JSON)", b.to_string().len()));
        }
        let node = url_host(c.url);
        let mut entry = self.entry(c.step, &node, c.description, command);
        self.store.append_audit(&self.run, &entry)?;
        checkpoint::hit(&format!("before-remote:{}:{}", c.step, c.description));
        let started = std::time::Instant::now();
        let res = match &self.wire {
            Wire::Real(t) => t.send(c.method, c.url, c.body).await,
            Wire::InProcess(f) => f.send_write(c.method, c.url, c.body),
        };
        checkpoint::hit(&format!("after-remote:{}:{}", c.step, c.description));
        entry.at = now();
        entry.phase = "outcome".into();
        entry.duration_ms = started.elapsed().as_millis() as u64;
        match &res {
            Ok(a) => {
                entry.exit_status = Some(i32::from(a.status));
                entry.output_tail = redact(&self.secrets, &super::tail(&a.body, 2000));
            }
            Err(e) => entry.output_tail = redact(&self.secrets, &e.to_string()),
        }
        self.store.append_audit(&self.run, &entry)?;
        Ok(res?)
    }

    fn redact(&self, text: &str) -> String {
        redact(&self.secrets, text)
    }
}

/// The host of a URL, for the audit log's node column.
fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_names_the_host_of_an_http_write() {
        assert_eq!(
            url_host("http://10.0.0.1:8080/v2/apps/web"),
            "10.0.0.1:8080"
        );
        assert_eq!(url_host("https://m1/marathon/v2/apps?force=true"), "m1");
    }

    #[test]
    fn secrets_are_redacted_and_short_strings_are_not_mistaken_for_them() {
        let s = vec!["sekrit-token".to_string(), "ab".to_string()];
        assert_eq!(
            redact(&s, "Authorization: token=sekrit-token ab"),
            "Authorization: token=<redacted> ab"
        );
    }
}
