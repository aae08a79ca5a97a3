//! Copying a node's output into a local file as a stream (large backups): the bytes go to disk
//! as they arrive, hashed on the way, never held in memory or in a `String`.

use super::ssh::{NodeTarget, RemoteError, Ssh};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

/// What a streamed copy produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    /// The script's exit status (None when killed by a signal).
    pub status: Option<i32>,
    /// Its standard error (lossy UTF-8).
    pub stderr: String,
    /// How many bytes were written to the file.
    pub bytes: u64,
    /// Their SHA-256, hex.
    pub sha256: String,
}

impl Streamed {
    /// Whether the script exited 0.
    pub fn ok(&self) -> bool {
        self.status == Some(0)
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A private (0600) file at `dest`, truncated.
pub(super) fn create_private(dest: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dest)
}

/// Writes `data` to `dest` and hashes it (the fallback of doors that cannot stream).
pub(super) fn write_all(dest: &Path, data: &[u8]) -> std::io::Result<(u64, String)> {
    let mut f = create_private(dest)?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok((data.len() as u64, hex(&Sha256::digest(data))))
}

impl Ssh {
    /// Runs a read-only script and streams its standard output into `dest`.
    pub async fn run_to_file(
        &self,
        node: &NodeTarget,
        script: &str,
        dest: &Path,
        timeout: Duration,
    ) -> Result<Streamed, RemoteError> {
        use tokio::io::AsyncReadExt;
        let line = self.command_line(script);
        let session = self.session(node).await?;
        let err = |reason: String| RemoteError::Command {
            node: node.address.clone(),
            reason,
        };
        let mut file = create_private(dest).map_err(|e| err(format!("{}: {e}", dest.display())))?;
        let work = async {
            let mut cmd = session.raw_command(&line);
            cmd.stdin(openssh::Stdio::null())
                .stdout(openssh::Stdio::piped())
                .stderr(openssh::Stdio::piped());
            let mut child = cmd.spawn().await.map_err(|e| err(e.to_string()))?;
            let mut stdout = child
                .stdout()
                .take()
                .ok_or_else(|| err("no stdout".into()))?;
            let mut stderr = child
                .stderr()
                .take()
                .ok_or_else(|| err("no stderr".into()))?;
            let errs = tokio::spawn(async move {
                let mut v = Vec::new();
                let _ = stderr.read_to_end(&mut v).await;
                v
            });
            let mut hasher = Sha256::new();
            let mut bytes = 0u64;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = stdout
                    .read(&mut buf)
                    .await
                    .map_err(|e| err(e.to_string()))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n])
                    .map_err(|e| err(format!("{}: {e}", dest.display())))?;
                bytes += n as u64;
            }
            let status = child.wait().await.map_err(|e| err(e.to_string()))?;
            file.sync_all()
                .map_err(|e| err(format!("{}: {e}", dest.display())))?;
            let stderr = errs.await.unwrap_or_default();
            Ok::<_, RemoteError>(Streamed {
                status: status.code(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
                bytes,
                sha256: hex(&hasher.finalize()),
            })
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| RemoteError::Timeout {
                node: node.address.clone(),
                secs: timeout.as_secs(),
            })?
    }
}
