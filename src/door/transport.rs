//! The real transports behind the doors: one multiplexed OpenSSH connection per node and one
//! verified-TLS HTTP client. Their raw calls (any script, any method) are private to `door`.

use super::http::{Answer, Http, HttpOptions, ProbeError};
use super::ssh::{NodeTarget, Output, RemoteError, Ssh, SshOptions};
use super::{Credentials, Observe, WriteMethod};
use async_trait::async_trait;
use std::time::Duration;

/// Why the transports could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The SSH control directory could not be made.
    #[error("cannot prepare SSH: {0}")]
    Ssh(#[source] std::io::Error),
    /// The HTTP client could not be built (a bad CA file...).
    #[error(transparent)]
    Http(#[from] ProbeError),
}

/// SSH and HTTP to the real cluster.
pub struct Transport {
    ssh: Ssh,
    http: Http,
}

impl Transport {
    /// Prepares both transports (no connection is made yet).
    pub fn new(ssh: SshOptions, http: &HttpOptions) -> Result<Transport, TransportError> {
        Ok(Transport {
            ssh: Ssh::new(ssh).map_err(TransportError::Ssh)?,
            http: Http::new(http)?,
        })
    }

    /// Closes every SSH connection.
    pub async fn close(&self) {
        self.ssh.close().await;
    }

    /// The exact command line sent for a script (for the audit log).
    pub(super) fn command_line(&self, script: &str) -> String {
        self.ssh.command_line(script)
    }

    /// Runs any script (the change door's use only).
    pub(super) async fn run_script(
        &self,
        node: &NodeTarget,
        script: &str,
        input: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, RemoteError> {
        match input {
            Some(i) => self.ssh.run_with_input(node, script, i, timeout).await,
            None => self.ssh.run(node, script, timeout).await,
        }
    }

    /// Sends an HTTP write (the change door's use only).
    pub(super) async fn send(
        &self,
        method: WriteMethod,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, ProbeError> {
        let m = match method {
            WriteMethod::Put => reqwest::Method::PUT,
            WriteMethod::Post => reqwest::Method::POST,
            WriteMethod::Delete => reqwest::Method::DELETE,
        };
        self.http.send(m, url, body).await
    }
}

#[async_trait]
impl Observe for Transport {
    async fn query(
        &self,
        node: &NodeTarget,
        script: &str,
        timeout: Duration,
    ) -> Result<Output, RemoteError> {
        self.ssh.run(node, script, timeout).await
    }

    async fn query_with_token(
        &self,
        node: &NodeTarget,
        script: &str,
        timeout: Duration,
    ) -> Result<Output, RemoteError> {
        let mut input = self.http.token().unwrap_or_default().into_bytes();
        input.push(b'\n');
        self.ssh.run_with_input(node, script, &input, timeout).await
    }

    async fn query_to_file(
        &self,
        node: &NodeTarget,
        script: &str,
        dest: &std::path::Path,
        timeout: Duration,
    ) -> Result<super::Streamed, RemoteError> {
        self.ssh.run_to_file(node, script, dest, timeout).await
    }

    async fn get(&self, url: &str) -> Result<Answer, ProbeError> {
        self.http.send(reqwest::Method::GET, url, None).await
    }

    fn uses_sudo(&self) -> bool {
        self.ssh.uses_sudo()
    }

    fn trusts_cluster_ca(&self) -> bool {
        self.http.has_ca_file() || self.http.has_cluster_ca()
    }

    fn trust_ca(&self, pem: &[u8]) -> Result<(), ProbeError> {
        self.http.trust(pem)
    }

    async fn login(&self, url: &str, credentials: &Credentials) -> Result<(), ProbeError> {
        if !url.starts_with("https://") {
            return Err(ProbeError::Setup(format!(
                "refusing to log in over plain HTTP ({url}): credentials go over HTTPS only"
            )));
        }
        let body = credentials.login_body()?;
        let a = self
            .http
            .send(reqwest::Method::POST, url, Some(&body))
            .await?;
        if a.status != 200 {
            return Err(ProbeError::Status {
                url: url.to_string(),
                status: a.status,
                body: format!(
                    "login as {credentials:?} refused: {}",
                    a.body.chars().take(200).collect::<String>()
                ),
            });
        }
        let token = serde_json::from_str::<serde_json::Value>(&a.body)
            .ok()
            .and_then(|v| v.get("token").and_then(|t| t.as_str()).map(String::from))
            .ok_or_else(|| ProbeError::Garbage {
                url: url.to_string(),
                reason: "the login answer has no token".into(),
                body: String::new(),
            })?;
        self.http.set_token(token);
        Ok(())
    }
}
