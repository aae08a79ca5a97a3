//! The journaled outputs of the steps whose outputs other code reads, as types. Outputs are the
//! only state steps share (steno): the rollback, the summary and the guards read them back with
//! [`read`], never by poking at JSON keys.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What the ZooKeeper backup step leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupOutput {
    /// The archive on this machine.
    pub archive: PathBuf,
    /// Its SHA-256, computed on the node and checked here.
    pub sha256: String,
    /// The master it was taken on.
    pub node: String,
    /// The archive's path on that master.
    pub remote_archive: String,
    /// Its size.
    pub bytes: u64,
    /// How it was made: `dcos-zk`, or `zookeeper-data-dir` (a file-level archive of the data
    /// directory, on versions without `dcos-zk`). Older runs recorded none: `dcos-zk`.
    #[serde(default = "default_method")]
    pub method: String,
}

fn default_method() -> String {
    "dcos-zk".to_string()
}

/// One backup file copied off the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupFile {
    /// `iam`, `etcd` or `marathon-apps`.
    pub kind: String,
    /// The node it was taken on (None: read through Admin Router).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The documented command or request that made it.
    pub method: String,
    /// The file on this machine.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256 (computed on the node and checked here where it was copied).
    pub sha256: String,
}

/// Where the file is, its size and its SHA-256: `PATH (N bytes, sha256 HEX)`.
impl std::fmt::Display for BackupFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} bytes, sha256 {})",
            self.path.display(),
            self.bytes,
            self.sha256
        )
    }
}

/// What the state backup step leaves (IAM, etcd, Marathon app definitions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateBackupOutput {
    /// The files taken.
    pub files: Vec<BackupFile>,
    /// The backups this version has no tool for, in words.
    #[serde(default)]
    pub absent: Vec<String>,
}

/// What a node upgrade (or its undo) leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeOutput {
    /// The node's address.
    pub node: String,
    /// The version it reported before the script started (None when resumed mid-script).
    pub installed_before: Option<String>,
    /// The version it reports now.
    pub version: String,
    /// The attempt that succeeded.
    pub attempt: u32,
    /// The attempt directory on the node (`pid`, `out.log`, `rc`).
    pub work_dir: String,
    /// The rollout guards' probe after the step (see `guards`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<serde_json::Value>,
}

/// What a Marathon app change leaves. Journaled twice: as a write-ahead note before the change
/// is sent (`deployment` None), and as the step's output once the deployment finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppOutput {
    /// The app id.
    pub app: String,
    /// The whole definition before the change, as `GET /v2/apps/<id>` gave it (what rollback
    /// puts back).
    pub previous: serde_json::Value,
    /// The image it is changed to.
    pub image: String,
    /// The deployment Marathon named in its answer to the change, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
}

/// Serializes an output for the journal.
pub fn write<T: Serialize>(output: &T) -> serde_json::Value {
    serde_json::to_value(output).unwrap_or(serde_json::Value::Null)
}

/// Reads a journaled output back; None when the step left none (or another shape).
pub fn read<T: DeserializeOwned>(output: &serde_json::Value) -> Option<T> {
    serde_json::from_value(output.clone()).ok()
}

/// Every backup file a run's steps recorded (`kind`: `zookeeper`, `iam`, `etcd`,
/// `marathon-apps`), in step order, with where it is on this machine, its size and SHA-256: what
/// `status` lists.
pub fn backup_files(outputs: &[&serde_json::Value]) -> Vec<BackupFile> {
    let mut out = Vec::new();
    for o in outputs {
        if let Some(z) = read::<BackupOutput>(o) {
            out.push(BackupFile {
                kind: "zookeeper".into(),
                node: Some(z.node),
                method: z.method,
                path: z.archive,
                bytes: z.bytes,
                sha256: z.sha256,
            });
        } else if let Some(s) = read::<StateBackupOutput>(o) {
            out.extend(s.files);
        }
    }
    out
}
