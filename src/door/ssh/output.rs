//! What a remote command gives back: its output, the tail of it for messages, and why it gave none.

use std::time::Duration;

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
