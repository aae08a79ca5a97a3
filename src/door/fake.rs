//! In-process doors: a cluster answered by closures, for hermetic tests of the engine and the
//! operations layer, and for simulations at scale. Every call is recorded, so a test can assert
//! what was observed and what was changed.
//!
//! Production code never builds one; it is public so that integration tests and benchmarks can.

use super::http::{Answer, ProbeError};
use super::ssh::{NodeTarget, Output, RemoteError};
use super::{Observe, WriteMethod};
use async_trait::async_trait;
use std::sync::Mutex;
use std::time::Duration;

/// One call that reached the in-process cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// A read-only script (observe door).
    Query {
        /// The node's address.
        node: String,
        /// The script.
        script: String,
    },
    /// A node-changing script (change door).
    Change {
        /// The node's address.
        node: String,
        /// The script.
        script: String,
    },
    /// An HTTP `GET` (observe door).
    Get {
        /// The URL.
        url: String,
    },
    /// An HTTP write (change door).
    Write {
        /// The method.
        method: &'static str,
        /// The URL.
        url: String,
    },
}

type ScriptRule = Box<dyn Fn(&NodeTarget, &str) -> Option<Output> + Send + Sync>;
type GetRule = Box<dyn Fn(&str) -> Option<Answer> + Send + Sync>;
type WriteRule =
    Box<dyn Fn(WriteMethod, &str, Option<&serde_json::Value>) -> Option<Answer> + Send + Sync>;

/// A cluster that answers from closures. The first rule (in the order added) that returns
/// `Some` answers; a script with no rule exits 127, a URL with no rule is unreachable.
#[derive(Default)]
pub struct FakeCluster {
    scripts: Vec<ScriptRule>,
    gets: Vec<GetRule>,
    writes: Vec<WriteRule>,
    calls: Mutex<Vec<Call>>,
}

/// A successful script output with this stdout.
pub fn ok(stdout: impl Into<String>) -> Output {
    Output {
        status: Some(0),
        stdout: stdout.into(),
        stderr: String::new(),
        duration: Duration::ZERO,
    }
}

/// A 200 answer with this body.
pub fn answer(status: u16, body: impl Into<String>) -> Answer {
    Answer {
        status,
        location: None,
        body: body.into(),
    }
}

impl FakeCluster {
    /// A cluster with no rules.
    pub fn new() -> FakeCluster {
        FakeCluster::default()
    }

    /// Adds a rule for scripts (queries and changes alike).
    pub fn on_script(
        mut self,
        f: impl Fn(&NodeTarget, &str) -> Option<Output> + Send + Sync + 'static,
    ) -> Self {
        self.scripts.push(Box::new(f));
        self
    }

    /// Adds a rule for `GET`s.
    pub fn on_get(mut self, f: impl Fn(&str) -> Option<Answer> + Send + Sync + 'static) -> Self {
        self.gets.push(Box::new(f));
        self
    }

    /// Adds a rule for HTTP writes.
    pub fn on_write(
        mut self,
        f: impl Fn(WriteMethod, &str, Option<&serde_json::Value>) -> Option<Answer>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.writes.push(Box::new(f));
        self
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("calls lock").clone()
    }

    fn record(&self, c: Call) {
        self.calls.lock().expect("calls lock").push(c);
    }

    fn script(&self, node: &NodeTarget, script: &str) -> Output {
        self.scripts
            .iter()
            .find_map(|r| r(node, script))
            .unwrap_or_else(|| Output {
                status: Some(127),
                stdout: String::new(),
                stderr: format!(
                    "fake cluster: no rule answers this script on {}",
                    node.address
                ),
                duration: Duration::ZERO,
            })
    }

    /// A node-changing script (reached only through the audited change door).
    pub(super) fn run_change(
        &self,
        node: &NodeTarget,
        script: &str,
        _input: Option<&[u8]>,
    ) -> Result<Output, RemoteError> {
        self.record(Call::Change {
            node: node.address.clone(),
            script: script.to_string(),
        });
        Ok(self.script(node, script))
    }

    /// An HTTP write (reached only through the audited change door).
    pub(super) fn send_write(
        &self,
        method: WriteMethod,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, ProbeError> {
        self.record(Call::Write {
            method: method.as_str(),
            url: url.to_string(),
        });
        self.writes
            .iter()
            .find_map(|r| r(method, url, body))
            .ok_or_else(|| ProbeError::Unreachable {
                url: url.to_string(),
                reason: "fake cluster: no rule answers this write".into(),
            })
    }
}

#[async_trait]
impl Observe for FakeCluster {
    async fn query(
        &self,
        node: &NodeTarget,
        script: &str,
        _timeout: Duration,
    ) -> Result<Output, RemoteError> {
        self.record(Call::Query {
            node: node.address.clone(),
            script: script.to_string(),
        });
        Ok(self.script(node, script))
    }

    async fn query_with_token(
        &self,
        node: &NodeTarget,
        script: &str,
        timeout: Duration,
    ) -> Result<Output, RemoteError> {
        self.query(node, script, timeout).await
    }

    async fn get(&self, url: &str) -> Result<Answer, ProbeError> {
        self.record(Call::Get {
            url: url.to_string(),
        });
        self.gets
            .iter()
            .find_map(|r| r(url))
            .ok_or_else(|| ProbeError::Unreachable {
                url: url.to_string(),
                reason: "connection refused (fake cluster: no rule answers this URL)".into(),
            })
    }

    fn uses_sudo(&self) -> bool {
        false
    }

    fn trusts_cluster_ca(&self) -> bool {
        true
    }

    fn trust_ca(&self, _pem: &[u8]) -> Result<(), ProbeError> {
        Ok(())
    }

    async fn login(&self, url: &str, _credentials: &super::Credentials) -> Result<(), ProbeError> {
        self.record(Call::Get {
            url: format!("login {url}"),
        });
        Ok(())
    }
}
