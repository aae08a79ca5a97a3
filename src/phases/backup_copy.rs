//! Copying a backup off the cluster: its size and SHA-256 read on the node, the bytes streamed
//! into the run's backup directory with a timeout that grows with the size, and the SHA-256
//! computed here compared with the node's.

use crate::cluster::Cluster;
use crate::playbook::NodeSpec;
use crate::shell::quote;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A backup file copied here and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The file on this machine.
    pub local: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, equal on the node and here.
    pub sha256: String,
}

/// How long a copy of `bytes` may take: a minute, plus a second per MiB (so at least 1 MiB/s
/// is asked of the link, however large the ZooKeeper data directory has grown).
pub fn copy_timeout(bytes: u64) -> Duration {
    Duration::from_secs(60 + bytes / (1 << 20))
}

/// The directory this run's (or `backup` command's) backups are copied to: private, under the
/// state directory (`backups/<run>`).
pub fn local_dir(state_dir: &Path, run: &str) -> Result<PathBuf, String> {
    let dir = state_dir.join("backups").join(run);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// Copies `remote` from `node` to `local` (through `local` + `.part`, renamed once verified).
pub async fn copy_off(
    c: &Cluster,
    node: &NodeSpec,
    remote: &str,
    local: &Path,
) -> Result<Copied, String> {
    let q = quote(remote);
    let out = c
        .query(
            node,
            &format!("stat -c %s {q} && sha256sum {q} | cut -d' ' -f1"),
        )
        .await
        .map_err(|e| e.to_string())?;
    if !out.ok() {
        return Err(format!(
            "{}: cannot read the backup {remote}: {}",
            node.address,
            out.tail(300)
        ));
    }
    let mut lines = out.stdout.lines();
    let bytes: u64 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("{}: no size for {remote}: {}", node.address, out.tail(200)))?;
    let remote_sum = lines.next().unwrap_or_default().trim().to_string();
    let part = PathBuf::from(format!("{}.part", local.display()));
    let timeout = copy_timeout(bytes);
    let got = c
        .observe
        .query_to_file(&Cluster::target(node), &format!("cat {q}"), &part, timeout)
        .await
        .map_err(|e| {
            let _ = std::fs::remove_file(&part);
            format!(
                "copying the backup {remote} ({bytes} bytes) from {} within {} s: {e}",
                node.address,
                timeout.as_secs()
            )
        })?;
    if !got.ok() || got.bytes != bytes || got.sha256 != remote_sum {
        let _ = std::fs::remove_file(&part);
        return Err(format!(
            "the copy of the backup {remote} from {} does not match: {} bytes with SHA-256 {} here, {bytes} bytes with SHA-256 {remote_sum} on the node{}",
            node.address,
            got.bytes,
            got.sha256,
            if got.ok() { String::new() } else { format!(" (the copy exited {:?}: {})", got.status, got.stderr.trim()) }
        ));
    }
    std::fs::rename(&part, local).map_err(|e| format!("{}: {e}", local.display()))?;
    Ok(Copied {
        local: local.to_path_buf(),
        bytes,
        sha256: got.sha256,
    })
}

/// Writes a backup file readable by its owner only (mode 0600) and flushes it to disk: a
/// backup holds the cluster's secrets as much as the state directory does.
pub fn write_private(path: &std::path::Path, data: &[u8]) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_timeout_grows_with_the_size() {
        assert_eq!(copy_timeout(0), Duration::from_secs(60));
        assert_eq!(copy_timeout(200 << 20), Duration::from_secs(260));
        assert!(copy_timeout(2 << 30) > copy_timeout(200 << 20));
    }
}
