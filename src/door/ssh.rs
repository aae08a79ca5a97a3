//! OpenSSH through the `openssh` crate: one multiplexed connection per node, strict host keys,
//! bounded connection concurrency, timeouts, and privilege escalation.

use crate::shell::quote;
use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

/// How unknown host keys are treated. A changed key is always refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Only hosts already in known_hosts (the default).
    Strict,
    /// Trust and record a host seen for the first time (explicit opt-in).
    TrustNew,
}

/// Settings for every connection.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Login user.
    pub user: String,
    /// Private key file, if any.
    pub identity_file: Option<PathBuf>,
    /// known_hosts file checked strictly.
    pub known_hosts: Option<PathBuf>,
    /// Jump host `user@host:port`.
    pub jump_host: Option<String>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Wrap commands in `sudo -n` when true.
    pub sudo: bool,
    /// Host key policy.
    pub host_keys: HostKeyPolicy,
    /// At most this many connections are opened at once.
    pub max_parallel_connects: usize,
}

/// Where one node's sshd is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeTarget {
    /// Address.
    pub address: String,
    /// SSH port.
    pub port: u16,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit status (None when killed by a signal).
    pub status: Option<i32>,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
    /// How long it took.
    pub duration: Duration,
}

impl Output {
    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.status == Some(0)
    }

    /// The last `n` characters of stdout and stderr, for messages and the audit log.
    pub fn tail(&self, n: usize) -> String {
        let both = format!("{}{}", self.stdout, self.stderr);
        tail(&both, n)
    }
}

/// The last `n` characters of a text, on a character boundary.
pub fn tail(s: &str, n: usize) -> String {
    let s = s.trim_end();
    if s.len() <= n {
        return s.to_string();
    }
    let mut start = s.len() - n;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &s[start..])
}

/// Why a remote command did not produce an exit status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RemoteError {
    /// No SSH connection could be made.
    #[error("{node}: cannot connect over SSH: {reason}")]
    Connect {
        /// The node.
        node: String,
        /// Why (host key, refused, auth, timeout...).
        reason: String,
    },
    /// The connection broke while the command ran.
    #[error("{node}: SSH command failed: {reason}")]
    Command {
        /// The node.
        node: String,
        /// Why.
        reason: String,
    },
    /// The command did not finish in time.
    #[error("{node}: command did not finish within {secs} s")]
    Timeout {
        /// The node.
        node: String,
        /// The limit.
        secs: u64,
    },
}

/// A pool of SSH connections, one per node, opened on first use.
pub struct Ssh {
    opts: SshOptions,
    sessions: Mutex<HashMap<NodeTarget, Arc<Session>>>,
    connect_limit: Semaphore,
    control_dir: tempfile::TempDir,
}

impl Ssh {
    /// A pool with these options (no connection is made yet).
    pub fn new(opts: SshOptions) -> std::io::Result<Ssh> {
        // Control sockets need a short path.
        let control_dir = tempfile::Builder::new().prefix("dcu").tempdir_in("/tmp")?;
        let n = opts.max_parallel_connects.max(1);
        Ok(Ssh {
            opts,
            sessions: Mutex::new(HashMap::new()),
            connect_limit: Semaphore::new(n),
            control_dir,
        })
    }

    /// Whether commands are wrapped in sudo.
    pub fn uses_sudo(&self) -> bool {
        self.opts.sudo
    }

    pub(super) async fn session(&self, node: &NodeTarget) -> Result<Arc<Session>, RemoteError> {
        if let Some(s) = self.sessions.lock().await.get(node) {
            return Ok(s.clone());
        }
        let _permit = self
            .connect_limit
            .acquire()
            .await
            .map_err(|e| RemoteError::Connect {
                node: node.address.clone(),
                reason: e.to_string(),
            })?;
        if let Some(s) = self.sessions.lock().await.get(node) {
            return Ok(s.clone());
        }
        let mut b = SessionBuilder::default();
        b.user(self.opts.user.clone())
            .port(node.port)
            .connect_timeout(self.opts.connect_timeout)
            .server_alive_interval(Duration::from_secs(5))
            .control_directory(self.control_dir.path())
            .control_persist(ControlPersist::IdleFor(
                NonZeroUsize::new(60).expect("60 > 0"),
            ))
            .known_hosts_check(match self.opts.host_keys {
                HostKeyPolicy::Strict => KnownHosts::Strict,
                HostKeyPolicy::TrustNew => KnownHosts::Add,
            });
        if let Some(k) = &self.opts.identity_file {
            b.keyfile(k);
        }
        if let Some(k) = &self.opts.known_hosts {
            b.user_known_hosts_file(k);
        }
        if let Some(j) = &self.opts.jump_host {
            b.jump_hosts([j]);
        }
        let session = b
            .connect_mux(&node.address)
            .await
            .map_err(|e| RemoteError::Connect {
                node: node.address.clone(),
                reason: describe_ssh_error(&e),
            })?;
        let session = Arc::new(session);
        self.sessions
            .lock()
            .await
            .insert(node.clone(), session.clone());
        Ok(session)
    }

    async fn forget(&self, node: &NodeTarget) {
        self.sessions.lock().await.remove(node);
    }

    /// Runs a shell script on a node (as root when the inventory says `become = "sudo"`).
    ///
    /// The script is passed as one quoted word to `bash -c`, so nothing in it is interpreted
    /// by the login shell. A broken connection is retried once with a new connection.
    pub async fn run(
        &self,
        node: &NodeTarget,
        script: &str,
        timeout: Duration,
    ) -> Result<Output, RemoteError> {
        let line = self.command_line(script);
        match self.run_once(node, &line, timeout).await {
            Err(RemoteError::Command { .. }) => {
                self.forget(node).await;
                self.run_once(node, &line, timeout).await
            }
            other => other,
        }
    }

    /// Runs a script with `input` on its standard input (e.g. to copy a file to the node).
    pub async fn run_with_input(
        &self,
        node: &NodeTarget,
        script: &str,
        input: &[u8],
        timeout: Duration,
    ) -> Result<Output, RemoteError> {
        use tokio::io::AsyncWriteExt;
        let line = self.command_line(script);
        let session = self.session(node).await?;
        let started = Instant::now();
        let err = |reason: String| RemoteError::Command {
            node: node.address.clone(),
            reason,
        };
        let work = async {
            let mut cmd = session.raw_command(&line);
            cmd.stdin(openssh::Stdio::piped())
                .stdout(openssh::Stdio::piped())
                .stderr(openssh::Stdio::piped());
            let mut child = cmd.spawn().await.map_err(|e| err(describe_ssh_error(&e)))?;
            if let Some(mut stdin) = child.stdin().take() {
                stdin
                    .write_all(input)
                    .await
                    .map_err(|e| err(e.to_string()))?;
                stdin.shutdown().await.map_err(|e| err(e.to_string()))?;
            }
            child
                .wait_with_output()
                .await
                .map_err(|e| err(describe_ssh_error(&e)))
        };
        let out =
            tokio::time::timeout(timeout, work)
                .await
                .map_err(|_| RemoteError::Timeout {
                    node: node.address.clone(),
                    secs: timeout.as_secs(),
                })??;
        Ok(Output {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            duration: started.elapsed(),
        })
    }

    /// The exact command line sent for a script (for the audit log).
    pub fn command_line(&self, script: &str) -> String {
        if self.opts.sudo {
            format!("sudo -n bash -c {}", quote(script))
        } else {
            format!("bash -c {}", quote(script))
        }
    }

    async fn run_once(
        &self,
        node: &NodeTarget,
        line: &str,
        timeout: Duration,
    ) -> Result<Output, RemoteError> {
        let session = self.session(node).await?;
        let started = Instant::now();
        let mut cmd = session.raw_command(line);
        let out = match tokio::time::timeout(timeout, cmd.output()).await {
            Err(_) => {
                return Err(RemoteError::Timeout {
                    node: node.address.clone(),
                    secs: timeout.as_secs(),
                })
            }
            Ok(Err(e)) => {
                return Err(RemoteError::Command {
                    node: node.address.clone(),
                    reason: describe_ssh_error(&e),
                })
            }
            Ok(Ok(o)) => o,
        };
        Ok(Output {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            duration: started.elapsed(),
        })
    }

    /// Closes every connection.
    pub async fn close(&self) {
        let sessions: Vec<Arc<Session>> =
            self.sessions.lock().await.drain().map(|(_, s)| s).collect();
        for s in sessions {
            if let Ok(s) = Arc::try_unwrap(s) {
                let _ = s.close().await;
            }
        }
    }
}

fn describe_ssh_error(e: &openssh::Error) -> String {
    let text = format!("{e}");
    let mut source = std::error::Error::source(e);
    let mut chain = text;
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    if chain.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || chain.contains("Host key verification failed")
    {
        chain.push_str(" (the host key is unknown or has changed: check known_hosts; a changed key is never accepted)");
    }
    chain
}
