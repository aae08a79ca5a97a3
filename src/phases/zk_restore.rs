//! The last resort (`rollback --restore-zookeeper`, facts §8.3): the run's ZooKeeper backup put
//! back on every master, Exhibitor stopped on all of them first as the DC/OS backup-restore
//! procedure says, then ZooKeeper serving with a quorum and Marathon answering on every master.
//!
//! It is an [`Action`] like every step kind's, reached through
//! [`Registry::last_resort`](crate::action::Registry::last_resort), but not a step of the plan:
//! the plan never restores. The engine runs it with the context of the backup step it restores
//! (`backup/zookeeper`, whose journaled output names the archive) behind its own gate, and
//! journals it with its own records (`RestoreStarted`, `RestoreFailed`, `RestoreFinished`).

use super::backup::{change, has_dcos_zk, zk_serving, ScriptError};
use super::outputs::{self, BackupOutput};
use super::StepCtx;
use crate::action::{Action, StepError};
use crate::door::ChangeError;
use crate::probe::wait::{self, WaitError};
use crate::shell::{self, quote, TemplateError};
use async_trait::async_trait;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

/// Why the restore failed.
#[derive(Debug, thiserror::Error)]
pub enum ZkRestoreError {
    /// The backup step's output names no archive.
    #[error("this run took no ZooKeeper backup (skipped or failed): nothing to restore")]
    NoBackup,
    /// The archive cannot be read here.
    #[error("{}: {error}", path.display())]
    Archive {
        /// The archive.
        path: std::path::PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The archive is not the one the backup recorded.
    #[error("{} has SHA-256 {found}, but the backup was recorded as {recorded}: refusing to restore it", path.display())]
    Checksum {
        /// The archive.
        path: std::path::PathBuf,
        /// Its SHA-256 now.
        found: String,
        /// The SHA-256 the backup recorded.
        recorded: String,
    },
    /// A copy on a master is not the archive.
    #[error("{node}: the copied backup does not match ({tail})")]
    CopyMismatch {
        /// The master.
        node: String,
        /// The end of the copy's output.
        tail: String,
    },
    /// A copy could not be sent.
    #[error(transparent)]
    Change(#[from] ChangeError),
    /// A stop, restore or start script failed.
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// A playbook template does not render.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// Whether a master has `dcos-zk` could not be read.
    #[error("{0}")]
    Tool(String),
    /// ZooKeeper does not serve with a quorum after the restore.
    #[error(transparent)]
    NotServing(#[from] WaitError),
    /// ZooKeeper was restored, but Marathon does not serve on a master.
    #[error("ZooKeeper was restored, but {0}")]
    MarathonDown(Box<StepError>),
}

/// The last resort's action (see the module).
pub struct ZkRestore;

#[async_trait]
impl Action for ZkRestore {
    fn changes_cluster(&self) -> bool {
        true
    }

    /// Restores the archive the backup step's output names; the output names it again.
    async fn run(&self, ctx: &StepCtx<'_>) -> Result<Value, StepError> {
        let b = outputs::read::<BackupOutput>(ctx.noted()).ok_or(ZkRestoreError::NoBackup)?;
        restore(ctx, &b.archive, &b.sha256).await?;
        // The restore is only done when Marathon serves again on every master.
        for m in ctx.cluster.master_addrs() {
            super::doors::marathon_serves(ctx, &m)
                .await
                .map_err(|e| ZkRestoreError::MarathonDown(Box::new(e)))?;
        }
        Ok(serde_json::json!({ "archive": b.archive }))
    }
}

/// Restores `archive` (checked against `sha256`) on every master, then waits for a quorum.
async fn restore(ctx: &StepCtx<'_>, archive: &Path, sha256: &str) -> Result<(), ZkRestoreError> {
    let c = ctx.cluster;
    let data = std::fs::read(archive).map_err(|error| ZkRestoreError::Archive {
        path: archive.to_path_buf(),
        error,
    })?;
    let sum = crate::door::hex(&Sha256::digest(&data));
    if sum != sha256 {
        return Err(ZkRestoreError::Checksum {
            path: archive.to_path_buf(),
            found: sum,
            recorded: sha256.into(),
        });
    }
    let b = &c.playbook.backup;
    let timeout = Duration::from_secs(c.timeouts.backup_secs);
    let masters = c.inventory.masters.clone();
    let remote = |m: &crate::playbook::NodeSpec| {
        format!(
            "{}{}/{}/restore/zookeeper-backup.tar.gz",
            m.root, c.playbook.paths.work_dir, ctx.run
        )
    };
    for m in &masters {
        let path = remote(m);
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or(&path);
        let script = format!(
            "mkdir -p {d} && cat > {p}.tmp && mv {p}.tmp {p} && sha256sum {p} | cut -d' ' -f1",
            d = quote(dir),
            p = quote(&path)
        );
        let what = "copy the ZooKeeper backup to the master";
        let out = ctx.change(m, what, &script, Some(&data), timeout).await?;
        if !out.ok() || out.stdout.trim() != sha256 {
            return Err(ZkRestoreError::CopyMismatch {
                node: m.address.clone(),
                tail: out.tail(200),
            });
        }
    }
    let mut result = Ok(());
    for m in &masters {
        let stop = shell::render(&b.stop_exhibitor, &[("root", m.root.as_str())])?;
        let what = "stop Exhibitor on every master for the restore";
        if let Err(e) = change(ctx, m, what, &stop, timeout).await {
            result = Err(e.into());
            break;
        }
    }
    if result.is_ok() {
        for m in &masters {
            let path = remote(m);
            // The same tool or fallback as the backup: dcos-zk where the master has it.
            let (what, template) = match has_dcos_zk(c, m).await {
                Ok(true) => ("dcos-zk restore", &b.restore),
                Ok(false) => (
                    "restore the ZooKeeper data directory (no dcos-zk on this version)",
                    &b.zk_files_restore,
                ),
                Err(e) => {
                    result = Err(ZkRestoreError::Tool(e));
                    break;
                }
            };
            let cmd = shell::render(template, &[("root", m.root.as_str()), ("archive", &path)])?;
            if let Err(e) = change(ctx, m, what, &cmd, timeout).await {
                result = Err(e.into());
                break;
            }
        }
    }
    // Exhibitor is started again on every master whatever happened above.
    for m in &masters {
        let start = shell::render(&b.start_exhibitor, &[("root", m.root.as_str())])?;
        let what = "start Exhibitor after the restore";
        if let Err(e) = change(ctx, m, what, &start, timeout).await {
            if result.is_ok() {
                result = Err(e.into());
            }
        }
    }
    result?;
    wait::until(
        "ZooKeeper serving again after the restore",
        timeout,
        c.poll(),
        || zk_serving(c),
    )
    .await?;
    Ok(())
}
