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

mod config;
mod output;

use config::jump_config;
pub use output::{tail, Output, RemoteError};

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
    /// Login user (`None`: `~/.ssh/config`'s, else the local user).
    pub user: Option<String>,
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
    /// SSH port (`None`: `~/.ssh/config`'s, else 22).
    pub port: Option<u16>,
}

/// A pool of SSH connections, one per node, opened on first use.
pub struct Ssh {
    opts: SshOptions,
    sessions: Mutex<HashMap<NodeTarget, Arc<Session>>>,
    connect_limit: Semaphore,
    control_dir: tempfile::TempDir,
    /// The OpenSSH config handed to every connection when a jump host is used.
    jump_config: Option<PathBuf>,
}

impl Ssh {
    /// A pool with these options (no connection is made yet).
    pub fn new(opts: SshOptions) -> std::io::Result<Ssh> {
        // Control sockets need a short path.
        let control_dir = tempfile::Builder::new().prefix("dcu").tempdir_in("/tmp")?;
        let n = opts.max_parallel_connects.max(1);
        let jump_config = match &opts.jump_host {
            Some(_) => {
                let path = control_dir.path().join("jump_config");
                std::fs::write(&path, jump_config(&opts)?)?;
                Some(path)
            }
            None => None,
        };
        Ok(Ssh {
            opts,
            sessions: Mutex::new(HashMap::new()),
            connect_limit: Semaphore::new(n),
            control_dir,
            jump_config,
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
        if let Some(u) = &self.opts.user {
            b.user(u.clone());
        }
        if let Some(p) = node.port {
            b.port(p);
        }
        b.connect_timeout(self.opts.connect_timeout)
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
        if let Some(c) = &self.jump_config {
            b.config_file(c);
        }
        let session = match b.connect_mux(&node.address).await {
            Ok(s) => s,
            Err(e) => {
                let mut reason = describe_ssh_error(&e);
                if let Some(why) = self.jump_host_refusal().await {
                    reason = why;
                }
                return Err(RemoteError::Connect {
                    node: node.address.clone(),
                    reason,
                });
            }
        };
        let session = Arc::new(session);
        self.sessions
            .lock()
            .await
            .insert(node.clone(), session.clone());
        Ok(session)
    }

    /// Why the jump host itself refuses, when it does. The `ssh` that OpenSSH starts for the
    /// jump prints its errors where nobody reads them, so the node's connection only says
    /// "connection closed"; a direct login to the bastion with the same config names the cause
    /// (an unknown or changed host key, a refused key).
    async fn jump_host_refusal(&self) -> Option<String> {
        let (jump, config) = (self.opts.jump_host.as_ref()?, self.jump_config.as_ref()?);
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.arg("-F")
            .arg(config)
            .arg("-o")
            .arg(format!(
                "ConnectTimeout={}",
                self.opts.connect_timeout.as_secs().max(1)
            ))
            .arg(format!("ssh://{jump}"))
            .arg("true")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(self.opts.connect_timeout * 2, cmd.output())
            .await
            .ok()?
            .ok()?;
        if out.status.success() {
            return None;
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let mut why = format!("the jump host {jump} refused the connection: {stderr}");
        if stderr.contains("Host key verification failed")
            || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
            || stderr.contains("No ED25519 host key is known")
            || stderr.contains("host key")
        {
            why.push_str(" (the jump host's host key is unknown or has changed: add it to the same known_hosts as the nodes'; a changed key is never accepted)");
        }
        Some(why)
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
        trace_command(node, &line, out.status.code(), started.elapsed());
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
        trace_command(node, line, out.status.code(), started.elapsed());
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

/// One finished remote command at debug level (`DCOS_UPGRADE_LOG=dcos_upgrade::door=debug`):
/// the node, how long it took and its exit status, with the start of the command line (command
/// lines carry no secret: tokens and keys go on standard input). What a slow run spends its time
/// on, without the audit log's full text.
fn trace_command(node: &NodeTarget, line: &str, status: Option<i32>, took: Duration) {
    let head: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(100)
        .collect();
    tracing::debug!(
        node = %node.address,
        ms = took.as_millis() as u64,
        status = ?status,
        "ssh {head}"
    );
}

#[cfg(test)]
mod tests;
