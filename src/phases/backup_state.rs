//! The backups beside ZooKeeper (facts §4, §8.3): the IAM database where CockroachDB runs
//! (`dcos-shell iam-database-backup`, 1.12+; `cockroach dump … iam` on Enterprise 1.10/1.11), etcd on the Mesos leader (`dcos-shell dcos-etcdctl
//! backup`, 2.1+), and Marathon's app definitions (the full `/v2/apps`), each copied here with
//! its size and SHA-256. A tool the version does not have is recorded as absent, not run.

use super::backup_copy::{self, Copied};
use super::outputs::{BackupFile, StateBackupOutput};
use super::StepCtx;
use crate::cluster::Cluster;
use crate::playbook::NodeSpec;
use crate::shell::quote;
use sha2::{Digest, Sha256};
use std::time::Duration;

async fn has(c: &Cluster, node: &NodeSpec, tool: &str) -> Result<bool, String> {
    let path = format!("{}/opt/mesosphere/bin/{tool}", node.root);
    Ok(c.query(node, &format!("test -x {}", quote(&path)))
        .await
        .map_err(|e| e.to_string())?
        .ok())
}

fn file(kind: &str, node: Option<&NodeSpec>, how: &str, copied: Copied) -> BackupFile {
    BackupFile {
        kind: kind.to_string(),
        node: node.map(|n| n.address.clone()),
        method: how.to_string(),
        path: copied.local,
        bytes: copied.bytes,
        sha256: copied.sha256,
    }
}

/// Whether `node` is an Enterprise 1.10/1.11 master with CockroachDB: it reports a 1.10 or 1.11
/// release, has `cockroach`, and its variant is Enterprise (the node probe's own reading).
async fn enterprise_cockroach_before_1_12(c: &Cluster, node: &NodeSpec) -> Result<bool, String> {
    let id = c.identity(node).await?;
    let version = crate::versions::RecordedVersion::from(id.version);
    if !matches!(version.parsed().map(|v| v.minor()), Some((1, 10 | 11))) {
        return Ok(false);
    }
    let cockroach = quote(&format!("{}/opt/mesosphere/bin/cockroach", node.root));
    let script = format!(
        "[ -x {cockroach} ] && {{ {}; }}",
        super::checks::variant_script(node)
    );
    let out = c.query(node, &script).await.map_err(|e| e.to_string())?;
    Ok(out.stdout.lines().next().map(str::trim) == Some("enterprise"))
}

/// The IAM database from one master, streamed from the tool's standard output:
/// `dcos-shell iam-database-backup` (1.12+), else on Enterprise 1.10/1.11 the documented
/// `cockroach dump --certs-dir=/run/dcos/pki/cockroach --host=$(detect_ip) iam` (facts §4,
/// "1.10/1.11 docs").
async fn iam(ctx: &StepCtx<'_>, dir: &std::path::Path) -> Result<Option<BackupFile>, String> {
    let c = ctx.cluster;
    let Some(m) = c.inventory.masters.first() else {
        return Ok(None);
    };
    let (how, script) = if has(c, m, "iam-database-backup").await? {
        (
            "dcos-shell iam-database-backup",
            format!(
                "{}/opt/mesosphere/bin/dcos-shell iam-database-backup",
                m.root
            ),
        )
    } else if enterprise_cockroach_before_1_12(c, m).await? {
        let p = |rel: &str| quote(&format!("{}{rel}", m.root));
        (
            "cockroach dump iam",
            format!(
                "{cr} dump --certs-dir={certs} --host=\"$({ip})\" iam",
                cr = p("/opt/mesosphere/bin/cockroach"),
                certs = p("/run/dcos/pki/cockroach"),
                ip = p("/opt/mesosphere/bin/detect_ip"),
            ),
        )
    } else {
        return Ok(None);
    };
    let local = dir.join("iam-backup.sql");
    let part = local.with_extension("sql.part");
    let got = c
        .observe
        .query_to_file(
            &Cluster::target(m),
            &script,
            &part,
            Duration::from_secs(c.timeouts.backup_secs),
        )
        .await
        .map_err(|e| e.to_string())?;
    if !got.ok() || got.bytes == 0 {
        let _ = std::fs::remove_file(&part);
        return Err(format!(
            "{}: {how} failed (exit {:?}): {}",
            m.address,
            got.status,
            got.stderr.trim()
        ));
    }
    std::fs::rename(&part, &local).map_err(|e| format!("{}: {e}", local.display()))?;
    Ok(Some(file(
        "iam",
        Some(m),
        how,
        Copied {
            local,
            bytes: got.bytes,
            sha256: got.sha256,
        },
    )))
}

/// etcd on the Mesos leader (the docs' place for it), copied off and removed from the node.
async fn etcd(ctx: &StepCtx<'_>, dir: &std::path::Path) -> Result<Option<BackupFile>, String> {
    let c = ctx.cluster;
    let leader = c
        .leader_address()
        .await
        .map_err(|e| format!("cannot find the Mesos leader for the etcd backup: {e}"))?;
    let Some(m) = leader.as_deref().and_then(|a| c.node(a)) else {
        return Err("no Mesos leader is elected: the etcd backup runs on the leader".into());
    };
    if !has(c, m, "dcos-etcdctl").await? {
        return Ok(None);
    }
    let remote = format!(
        "{}{}/{}/backup/etcd-backup-{}.tar",
        m.root, c.playbook.paths.work_dir, ctx.run, ctx.attempt
    );
    let parent = remote.rsplit_once('/').map(|(d, _)| d).unwrap_or("/");
    let how = "dcos-shell dcos-etcdctl backup";
    let timeout = Duration::from_secs(c.timeouts.backup_secs);
    let script = format!(
        "mkdir -p {d} && rm -f {r} && {root}/opt/mesosphere/bin/dcos-shell dcos-etcdctl backup {r}",
        d = quote(parent),
        r = quote(&remote),
        root = m.root
    );
    let out = ctx
        .change(m, "etcd backup on the Mesos leader", &script, None, timeout)
        .await
        .map_err(|e| e.to_string())?;
    if !out.ok() {
        return Err(format!(
            "{}: {how} failed (exit {:?}): {}",
            m.address,
            out.status,
            out.tail(300)
        ));
    }
    let copied = backup_copy::copy_off(c, m, &remote, &dir.join("etcd-backup.tar")).await?;
    let _ = ctx
        .change(
            m,
            "delete the copied etcd backup from the master",
            &format!("rm -f {}", quote(&remote)),
            None,
            timeout,
        )
        .await;
    Ok(Some(file("etcd", Some(m), how, copied)))
}

/// Marathon's app definitions, the full `GET /v2/apps` through Admin Router.
async fn marathon_apps(ctx: &StepCtx<'_>, dir: &std::path::Path) -> Result<BackupFile, String> {
    let apps: serde_json::Value = crate::probe::admin::get_json(ctx.cluster, "/marathon/v2/apps")
        .await
        .map_err(|e| format!("Marathon app definitions: {e}"))?;
    let data = serde_json::to_vec_pretty(&apps).map_err(|e| e.to_string())?;
    let local = dir.join("marathon-apps.json");
    backup_copy::write_private(&local, &data)?;
    Ok(file(
        "marathon-apps",
        None,
        "GET /v2/apps",
        Copied {
            local,
            bytes: data.len() as u64,
            sha256: crate::door::hex(&Sha256::digest(&data)),
        },
    ))
}

/// Which of the state backups failed (each message names the file or the command).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateBackupError {
    /// The run's backup directory cannot be made.
    #[error("{0}")]
    Directory(String),
    /// The IAM (CockroachDB) backup.
    #[error("{0}")]
    Iam(String),
    /// The etcd snapshot.
    #[error("{0}")]
    Etcd(String),
    /// The Marathon app definitions.
    #[error("{0}")]
    MarathonApps(String),
}

/// Takes every one of these backups the cluster has.
pub async fn take(ctx: &StepCtx<'_>) -> Result<serde_json::Value, StateBackupError> {
    let dir =
        backup_copy::local_dir(ctx.state_dir, ctx.run).map_err(StateBackupError::Directory)?;
    let mut files = Vec::new();
    let mut absent = Vec::new();
    match iam(ctx, &dir).await.map_err(StateBackupError::Iam)? {
        Some(f) => files.push(f),
        None => {
            absent.push("iam: no iam-database-backup on this version, and no Enterprise 1.10/1.11 CockroachDB (no IAM database to dump)".to_string())
        }
    }
    match etcd(ctx, &dir).await.map_err(StateBackupError::Etcd)? {
        Some(f) => files.push(f),
        None => {
            absent.push("etcd: no dcos-etcdctl on this version (etcd runs from 2.1)".to_string())
        }
    }
    files.push(
        marathon_apps(ctx, &dir)
            .await
            .map_err(StateBackupError::MarathonApps)?,
    );
    for f in &files {
        ctx.progress(format!("{} backup saved to {f}", f.kind));
    }
    Ok(super::outputs::write(&StateBackupOutput { files, absent }))
}
