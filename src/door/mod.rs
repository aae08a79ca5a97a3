//! The two doors to the cluster, and the only way through them.
//!
//! - [`Observe`] is read-only: a query script on a node (over its SSH connection) and an HTTP
//!   `GET`. Facts, gates, checks and `plan` use it; it runs even in dry-run.
//! - [`Change`] is the chokepoint for every mutation: a node-changing script or an HTTP write
//!   (`PUT`, `POST`, `DELETE`). Its real implementation, [`AuditedChange`], durably audits the
//!   intent, passes the crash checkpoints, acts, and audits the outcome, for SSH and HTTP alike.
//!
//! The transports ([`Transport`]: OpenSSH and reqwest) live in private submodules: outside this
//! module nothing can run a raw SSH command or send a non-GET request, so every change is
//! audited by construction (`tests/doors.rs` also scans the sources for it). [`fake`] has the
//! in-process doors that hermetic tests and simulations plug in instead.

mod audited;
mod auth;
pub mod fake;
mod http;
mod ssh;
mod stream;
mod transport;

pub use audited::{AuditedChange, ChangeError};
pub use auth::Credentials;
pub use http::{parse_json, Answer, HttpOptions, ProbeError};
pub use ssh::{tail, HostKeyPolicy, NodeTarget, Output, RemoteError, SshOptions};
pub use stream::{hex, Streamed};
pub use transport::{Transport, TransportError};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// The read-only door: nothing sent through it changes the cluster.
#[async_trait]
pub trait Observe: Send + Sync {
    /// Runs a read-only script on a node (never audited; also used by `plan` and `check`).
    async fn query(
        &self,
        node: &NodeTarget,
        script: &str,
        timeout: Duration,
    ) -> Result<Output, RemoteError>;

    /// As `query`, with the door's credentials (the ACS token, if any, then a newline) on the
    /// script's standard input: for node-local reads that must authenticate. The token never
    /// appears on a command line or in a log.
    async fn query_with_token(
        &self,
        node: &NodeTarget,
        script: &str,
        timeout: Duration,
    ) -> Result<Output, RemoteError>;

    /// Runs a read-only script on a node and streams its standard output into the local file
    /// `dest` (private, replaced), hashing it on the way: for copying large files (backups) off
    /// a node. The default goes through [`Observe::query`] and base64, for doors that cannot
    /// stream (the fake cluster).
    async fn query_to_file(
        &self,
        node: &NodeTarget,
        script: &str,
        dest: &std::path::Path,
        timeout: Duration,
    ) -> Result<Streamed, RemoteError> {
        let out = self
            .query(
                node,
                &format!("set -o pipefail; {{ {script}\n}} | base64 -w0"),
                timeout,
            )
            .await?;
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD
            .decode(out.stdout.trim())
            .unwrap_or_default();
        let (bytes, sha256) = stream::write_all(dest, &data).map_err(|e| RemoteError::Command {
            node: node.address.clone(),
            reason: format!("{}: {e}", dest.display()),
        })?;
        Ok(Streamed {
            status: out.status,
            stderr: out.stderr,
            bytes,
            sha256,
        })
    }

    /// An HTTP `GET`, whatever its status.
    async fn get(&self, url: &str) -> Result<Answer, ProbeError>;

    /// Whether node scripts run through `sudo` (shown by `check`).
    fn uses_sudo(&self) -> bool;

    /// Whether HTTPS to the cluster is verified against a CA the operator named (`[http]
    /// ca_file`) or one the door was given with [`Observe::trust_ca`].
    fn trusts_cluster_ca(&self) -> bool;

    /// Trusts the cluster CA from now on (PEM, read over SSH from a master whose host key was
    /// verified; never trust-on-first-use over the network).
    fn trust_ca(&self, pem: &[u8]) -> Result<(), ProbeError>;

    /// Logs in at Admin Router's login endpoint `url` (`POST /acs/api/v1/auth/login`, which
    /// changes nothing in the cluster) and keeps the token inside the door for later requests.
    async fn login(&self, url: &str, credentials: &Credentials) -> Result<(), ProbeError>;
}

/// `GET` a 2xx answer parsed as `T`, or say what came instead.
pub async fn get_json<T: DeserializeOwned>(door: &dyn Observe, url: &str) -> Result<T, ProbeError> {
    let a = door.get(url).await?;
    parse_json(url, &a)
}

/// The HTTP methods that change something; `GET` is not one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMethod {
    /// `PUT`.
    Put,
    /// `POST`.
    Post,
    /// `DELETE`.
    Delete,
}

impl WriteMethod {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteMethod::Put => "PUT",
            WriteMethod::Post => "POST",
            WriteMethod::Delete => "DELETE",
        }
    }
}

/// A node-changing script, as handed to the change door.
#[derive(Debug, Clone, Copy)]
pub struct ScriptChange<'a> {
    /// The step (or `cluster-lock`) it belongs to, for the audit log.
    pub step: &'a str,
    /// The node.
    pub node: &'a NodeTarget,
    /// What it does, in words (the audit log and the checkpoint names use it).
    pub description: &'a str,
    /// The script.
    pub script: &'a str,
    /// Bytes for its standard input (recorded by size only).
    pub input: Option<&'a [u8]>,
    /// How long it may take.
    pub timeout: Duration,
}

/// An HTTP write, as handed to the change door.
#[derive(Debug, Clone, Copy)]
pub struct HttpChange<'a> {
    /// The step it belongs to, for the audit log.
    pub step: &'a str,
    /// What it does, in words.
    pub description: &'a str,
    /// The method.
    pub method: WriteMethod,
    /// The URL.
    pub url: &'a str,
    /// The JSON body, if any (recorded by size only).
    pub body: Option<&'a serde_json::Value>,
}

/// The change door: the one way to mutate a node or the cluster.
#[async_trait]
pub trait Change: Send + Sync {
    /// Runs a node-changing script.
    async fn script(&self, change: ScriptChange<'_>) -> Result<Output, ChangeError>;

    /// Sends an HTTP write.
    async fn http(&self, change: HttpChange<'_>) -> Result<Answer, ChangeError>;

    /// Replaces every secret in a text by `<redacted>` (for errors that leave the door).
    fn redact(&self, text: &str) -> String;
}
