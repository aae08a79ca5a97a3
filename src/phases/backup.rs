//! The ZooKeeper backup on one ZooKeeper follower, the documented way where the master has
//! `dcos-zk` (checked before Exhibitor is stopped) and as a file-level archive of the data
//! directory where it does not (facts §8.3), streamed to this machine with its SHA-256 checked,
//! and saved beside the installed versions and the inventory.

use super::backup_copy;
use super::StepCtx;
use crate::cluster::Cluster;
use crate::playbook::NodeSpec;
use crate::probe::exhibitor;
use crate::probe::wait::{self, Poll};
use crate::shell::{self, quote};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How the ZooKeeper archive was made.
pub const METHOD_DCOS_ZK: &str = "dcos-zk";
/// A file-level archive of the data directory (no `dcos-zk` on that version).
pub const METHOD_FILES: &str = "zookeeper-data-dir";

/// Why the ZooKeeper backup failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The step's node is not in the inventory.
    #[error(transparent)]
    Node(#[from] crate::action::NodeError),
    /// No Exhibitor answered (its message names each master's answer).
    #[error("{0}")]
    Exhibitor(String),
    /// No follower serves, so no master can be stopped.
    #[error("no ZooKeeper follower is serving, so no master can be stopped for the backup (Exhibitor says: {servers})")]
    NoFollower {
        /// Each server as Exhibitor lists it.
        servers: String,
    },
    /// Whether the master has `dcos-zk` could not be read.
    #[error("{0}")]
    Tool(String),
    /// A read on the master failed.
    #[error(transparent)]
    Remote(#[from] crate::door::RemoteError),
    /// The backup master could not be journaled before Exhibitor is stopped.
    #[error(transparent)]
    Note(#[from] crate::action::NoteError),
    /// A playbook template does not render.
    #[error(transparent)]
    Template(#[from] crate::shell::TemplateError),
    /// A stop, backup, start or delete script failed.
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// ZooKeeper does not serve again after the backup.
    #[error(transparent)]
    NotServing(#[from] wait::WaitError),
    /// The archive could not be copied here or saved (its message names the file).
    #[error("{0}")]
    Copy(String),
}

/// Written ahead before Exhibitor is stopped: on resume, the same master is used (and its
/// Exhibitor started again).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Note {
    backup_master: String,
}

/// Which master the backup stops: a ZooKeeper follower (Exhibitor `isLeader: false`, serving),
/// the planned one when it still is one, since stopping the ZooKeeper leader forces an election
/// (facts §8.3). A single master is its own ensemble.
async fn choose_master<'a>(ctx: &'a StepCtx<'_>) -> Result<&'a NodeSpec, BackupError> {
    let c = ctx.cluster;
    if let Some(n) = super::outputs::read::<Note>(ctx.noted()) {
        if let Some(m) = c.node(&n.backup_master) {
            return Ok(m);
        }
    }
    let planned = ctx.node()?;
    if c.inventory.masters.len() < 2 {
        return Ok(planned);
    }
    let (_, servers) = (exhibitor::first_answer(c).await).map_err(BackupError::Exhibitor)?;
    let follower = |m: &NodeSpec| {
        servers.iter().any(|s| {
            s.hostname == m.address
                && !s.is_leader
                && (s.code == 3 || s.description.eq_ignore_ascii_case("serving"))
        })
    };
    if follower(planned) {
        return Ok(planned);
    }
    // Among the followers, one that does not lead Mesos (its master keeps its local ZooKeeper).
    let mesos_leader = c.leader_address().await.ok().flatten();
    let mut followers: Vec<&NodeSpec> =
        c.inventory.masters.iter().filter(|m| follower(m)).collect();
    followers.sort_by_key(|m| mesos_leader.as_deref() == Some(m.address.as_str()));
    followers
        .first()
        .copied()
        .ok_or_else(|| BackupError::NoFollower {
            servers: servers
                .iter()
                .map(|s| {
                    format!(
                        "{} {}{}",
                        s.hostname,
                        s.description,
                        if s.is_leader { " (leader)" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Whether the master has `dcos-zk` (a read; nothing is stopped before it is known).
pub(super) async fn has_dcos_zk(c: &Cluster, node: &NodeSpec) -> Result<bool, String> {
    let tool = shell::render(&c.playbook.backup.zk_tool, &[("root", node.root.as_str())])
        .map_err(|e| e.to_string())?;
    let out = c
        .query(node, &format!("test -x {tool}"))
        .await
        .map_err(|e| e.to_string())?;
    Ok(out.ok())
}

/// The size of the master's ZooKeeper data directory (0 when it cannot be read).
async fn data_dir_bytes(c: &Cluster, node: &NodeSpec) -> u64 {
    let dir = format!("{}/var/lib/dcos/exhibitor/zookeeper", node.root);
    c.query(node, &format!("du -sb {} | cut -f1", quote(&dir)))
        .await
        .ok()
        .filter(|o| o.ok())
        .and_then(|o| o.stdout.trim().parse().ok())
        .unwrap_or(0)
}

/// Takes the backup (or, on resume, finishes one that was in flight).
pub async fn zookeeper(ctx: &StepCtx<'_>) -> Result<serde_json::Value, BackupError> {
    let c = ctx.cluster;
    let node = choose_master(ctx).await?;
    let b = &c.playbook.backup;
    let root = node.root.as_str();
    let dir = format!(
        "{}{}/{}/backup/attempt-{}",
        root, c.playbook.paths.work_dir, ctx.run, ctx.attempt
    );
    let archive = format!("{dir}/zookeeper-backup.tar.gz");
    let timeout = Duration::from_secs(c.timeouts.backup_secs);
    // The tool is looked for before anything is stopped (facts §8.3).
    let with_tool = has_dcos_zk(c, node).await.map_err(BackupError::Tool)?;
    let method = if with_tool {
        METHOD_DCOS_ZK
    } else {
        METHOD_FILES
    };
    // Archiving takes longer as the data directory grows: a second more per MiB of it.
    let data_bytes = data_dir_bytes(c, node).await;
    let archive_timeout = timeout + Duration::from_secs(data_bytes / (1 << 20));
    let exists = c
        .query(node, &format!("test -s {}", quote(&archive)))
        .await?
        .ok();
    let backed_up = if !exists {
        ctx.note(super::outputs::write(&Note {
            backup_master: node.address.clone(),
        }))?;
        if node.address != ctx.node()?.address {
            ctx.progress(format!(
                "{} leads ZooKeeper now: the backup is taken on the follower {}",
                ctx.node()?.address,
                node.address
            ));
        }
        // The archive must not exist and its parent must (dcos-zk's rules).
        let mk = format!("mkdir -p {} && rm -f {}", quote(&dir), quote(&archive));
        change(ctx, node, "prepare the backup directory", &mk, timeout).await?;
        let stop = shell::render(&b.stop_exhibitor, &[("root", root)])?;
        change(
            ctx,
            node,
            "stop Exhibitor for the ZooKeeper backup",
            &stop,
            timeout,
        )
        .await?;
        let (what, template) = if with_tool {
            ("dcos-zk backup", &b.backup)
        } else {
            (
                "archive the ZooKeeper data directory (no dcos-zk on this version)",
                &b.zk_files_backup,
            )
        };
        let backup = shell::render(template, &[("root", root), ("archive", &archive)])?;
        Some(change(ctx, node, what, &backup, archive_timeout).await)
    } else {
        None
    };
    // Exhibitor is started again whatever the backup did (and on resume, when the step was
    // interrupted while it was stopped).
    let start = shell::render(&b.start_exhibitor, &[("root", root)])?;
    change(
        ctx,
        node,
        "start Exhibitor after the backup",
        &start,
        timeout,
    )
    .await?;
    if let Some(backed_up) = backed_up {
        backed_up?;
    }
    wait::until(
        "ZooKeeper serving again after the backup",
        timeout,
        c.poll(),
        || zk_serving(c),
    )
    .await?;
    // Copy it here (streamed, checked) and take it off the master.
    let local_dir = backup_copy::local_dir(ctx.state_dir, ctx.run).map_err(BackupError::Copy)?;
    let local = local_dir.join("zookeeper-backup.tar.gz");
    let copied =
        (backup_copy::copy_off(c, node, &archive, &local).await).map_err(BackupError::Copy)?;
    change(
        ctx,
        node,
        "delete the copied ZooKeeper backup from the master",
        &format!("rm -f {}", quote(&archive)),
        timeout,
    )
    .await?;
    let mut versions = serde_json::Map::new();
    for (n, id) in c.identities().await {
        if let Ok(id) = id {
            versions.insert(n.address.clone(), id.version.into());
        }
    }
    backup_copy::write_private(
        &local_dir.join("installed-versions.json"),
        &serde_json::to_vec_pretty(&versions).unwrap_or_default(),
    )
    .map_err(BackupError::Copy)?;
    let inv = std::fs::read(&c.inventory.path).unwrap_or_default();
    backup_copy::write_private(&local_dir.join("inventory.toml"), &inv)
        .map_err(BackupError::Copy)?;
    ctx.progress(format!(
        "ZooKeeper backup ({method}) from {} saved to {} ({} bytes, sha256 {})",
        node.address,
        local.display(),
        copied.bytes,
        copied.sha256
    ));
    Ok(super::outputs::write(&super::outputs::BackupOutput {
        archive: local,
        sha256: copied.sha256,
        node: node.address.clone(),
        remote_archive: archive,
        bytes: copied.bytes,
        method: method.to_string(),
    }))
}

/// A node-changing script of the backup or the restore that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// It could not be sent or audited.
    #[error(transparent)]
    Change(#[from] crate::door::ChangeError),
    /// It ran and failed.
    #[error("{node}: {what} failed (exit {status:?}): {tail}")]
    Failed {
        /// The node's address.
        node: String,
        /// What it does, in words.
        what: String,
        /// Its exit status (None when killed).
        status: Option<i32>,
        /// The end of its output.
        tail: String,
    },
}

/// A node-changing script through the change door, audited under the step, that must exit 0.
pub(super) async fn change(
    ctx: &StepCtx<'_>,
    node: &crate::playbook::NodeSpec,
    what: &str,
    script: &str,
    timeout: Duration,
) -> Result<(), ScriptError> {
    let out = ctx.change(node, what, script, None, timeout).await?;
    if out.ok() {
        Ok(())
    } else {
        Err(ScriptError::Failed {
            node: node.address.clone(),
            what: what.into(),
            status: out.status,
            tail: out.tail(400),
        })
    }
}

/// One poll: ZooKeeper serves with a quorum, as the first Exhibitor that answers says.
pub(super) async fn zk_serving(c: &Cluster) -> Poll<()> {
    match exhibitor::first_answer(c).await {
        Ok((_, s)) => match exhibitor::judge(&s, c.inventory.masters.len()) {
            Ok(()) => Poll::Ready(()),
            Err(e) => Poll::NotYet(e),
        },
        Err(e) => Poll::NotYet(e),
    }
}
