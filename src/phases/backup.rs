//! The ZooKeeper backup on one standby master, the documented way, copied to this machine with
//! its SHA-256 checked, and saved beside the installed versions and the inventory.

use super::StepCtx;
use crate::cluster::Cluster;
use crate::probe::exhibitor;
use crate::probe::wait::{self, Poll};
use crate::shell::{self, quote};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::time::Duration;

/// Takes the backup (or, on resume, finishes one that was in flight).
pub async fn zookeeper(ctx: &StepCtx<'_>) -> Result<serde_json::Value, String> {
    let c = ctx.cluster;
    let node = ctx.node()?;
    let b = &c.playbook.backup;
    let root = node.root.as_str();
    let dir = format!(
        "{}{}/{}/backup/attempt-{}",
        root, c.playbook.paths.work_dir, ctx.run, ctx.attempt
    );
    let archive = format!("{dir}/zookeeper-backup.tar.gz");
    let timeout = Duration::from_secs(c.timeouts.backup_secs);
    let exists = c
        .query(node, &format!("test -s {}", quote(&archive)))
        .await
        .map_err(|e| e.to_string())?
        .ok();
    let backed_up = if !exists {
        // The archive must not exist and its parent must (dcos-zk's rules).
        let mk = format!("mkdir -p {} && rm -f {}", quote(&dir), quote(&archive));
        change(ctx, node, "prepare the backup directory", &mk, timeout).await?;
        let stop =
            shell::render(&b.stop_exhibitor, &[("root", root)]).map_err(|e| e.to_string())?;
        change(
            ctx,
            node,
            "stop Exhibitor for the ZooKeeper backup",
            &stop,
            timeout,
        )
        .await?;
        let backup = shell::render(&b.backup, &[("root", root), ("archive", &archive)])
            .map_err(|e| e.to_string())?;
        Some(change(ctx, node, "dcos-zk backup", &backup, timeout).await)
    } else {
        None
    };
    // Exhibitor is started again whatever the backup did (and on resume, when the step was
    // interrupted while it was stopped).
    let start = shell::render(&b.start_exhibitor, &[("root", root)]).map_err(|e| e.to_string())?;
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
    .await
    .map_err(|e| e.to_string())?;
    // Copy it here and check it.
    let out = c
        .query(
            node,
            &format!(
                "sha256sum {a} | cut -d' ' -f1 && base64 -w0 {a}",
                a = quote(&archive)
            ),
        )
        .await
        .map_err(|e| e.to_string())?;
    if !out.ok() {
        return Err(format!(
            "{}: cannot read the backup archive {archive}: {}",
            node.address,
            out.tail(300)
        ));
    }
    let mut lines = out.stdout.lines();
    let remote_sum = lines.next().unwrap_or_default().trim().to_string();
    let data = base64::engine::general_purpose::STANDARD
        .decode(lines.next().unwrap_or_default().trim())
        .map_err(|e| format!("backup archive copy is damaged: {e}"))?;
    let local_sum = hex(&Sha256::digest(&data));
    if local_sum != remote_sum {
        return Err(format!(
            "backup archive copy does not match: SHA-256 {local_sum} here, {remote_sum} on {}",
            node.address
        ));
    }
    let local_dir = ctx.state_dir.join("backups").join(ctx.run);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&local_dir)
        .map_err(|e| format!("{}: {e}", local_dir.display()))?;
    let local = local_dir.join("zookeeper-backup.tar.gz");
    write_private(&local, &data)?;
    let mut versions = serde_json::Map::new();
    for n in c.nodes() {
        if let Ok(id) = c.identity(n).await {
            versions.insert(n.address.clone(), id.version.into());
        }
    }
    write_private(
        &local_dir.join("installed-versions.json"),
        &serde_json::to_vec_pretty(&versions).unwrap_or_default(),
    )?;
    let inv = std::fs::read(&c.inventory.path).unwrap_or_default();
    write_private(&local_dir.join("inventory.toml"), &inv)?;
    ctx.progress(format!(
        "ZooKeeper backup saved to {} (sha256 {local_sum})",
        local.display()
    ));
    Ok(super::outputs::write(&super::outputs::BackupOutput {
        archive: local,
        sha256: local_sum,
        node: node.address.clone(),
        remote_archive: archive,
        bytes: data.len() as u64,
    }))
}

async fn change(
    ctx: &StepCtx<'_>,
    node: &crate::playbook::NodeSpec,
    what: &str,
    script: &str,
    timeout: Duration,
) -> Result<(), String> {
    let out = ctx
        .change(node, what, script, None, timeout)
        .await
        .map_err(|e| e.to_string())?;
    if out.ok() {
        Ok(())
    } else {
        Err(format!(
            "{}: {what} failed (exit {:?}): {}",
            node.address,
            out.status,
            out.tail(400)
        ))
    }
}

async fn zk_serving(c: &Cluster) -> Poll<()> {
    match exhibitor::first_answer(c).await {
        Ok((_, s)) => match exhibitor::judge(&s, c.inventory.masters.len()) {
            Ok(()) => Poll::Ready(()),
            Err(e) => Poll::NotYet(e),
        },
        Err(e) => Poll::NotYet(e),
    }
}

fn write_private(path: &std::path::Path, data: &[u8]) -> Result<(), String> {
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The last resort: restores the run's ZooKeeper backup on every master (Exhibitor stopped on
/// all of them first, as the DC/OS backup-restore procedure says), then waits for a quorum.
pub async fn restore(
    ctx: &StepCtx<'_>,
    archive: &std::path::Path,
    sha256: &str,
) -> Result<(), String> {
    let c = ctx.cluster;
    let data = std::fs::read(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let sum = hex(&Sha256::digest(&data));
    if sum != sha256 {
        return Err(format!(
            "{} has SHA-256 {sum}, but the backup was recorded as {sha256}: refusing to restore it",
            archive.display()
        ));
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
        let dir = path
            .rsplit_once('/')
            .map(|(d, _)| d)
            .unwrap_or(&path)
            .to_string();
        let script = format!(
            "mkdir -p {d} && cat > {p}.tmp && mv {p}.tmp {p} && sha256sum {p} | cut -d' ' -f1",
            d = quote(&dir),
            p = quote(&path)
        );
        let out = ctx
            .change(
                m,
                "copy the ZooKeeper backup to the master",
                &script,
                Some(&data),
                timeout,
            )
            .await
            .map_err(|e| e.to_string())?;
        if !out.ok() || out.stdout.trim() != sha256 {
            return Err(format!(
                "{}: the copied backup does not match ({})",
                m.address,
                out.tail(200)
            ));
        }
    }
    let mut result = Ok(());
    for m in &masters {
        let stop = shell::render(&b.stop_exhibitor, &[("root", m.root.as_str())])
            .map_err(|e| e.to_string())?;
        if let Err(e) = change(
            ctx,
            m,
            "stop Exhibitor on every master for the restore",
            &stop,
            timeout,
        )
        .await
        {
            result = Err(e);
            break;
        }
    }
    if result.is_ok() {
        for m in &masters {
            let path = remote(m);
            let cmd = shell::render(&b.restore, &[("root", m.root.as_str()), ("archive", &path)])
                .map_err(|e| e.to_string())?;
            if let Err(e) = change(ctx, m, "dcos-zk restore", &cmd, timeout).await {
                result = Err(e);
                break;
            }
        }
    }
    // Exhibitor is started again on every master whatever happened above.
    for m in &masters {
        let start = shell::render(&b.start_exhibitor, &[("root", m.root.as_str())])
            .map_err(|e| e.to_string())?;
        if let Err(e) = change(ctx, m, "start Exhibitor after the restore", &start, timeout).await {
            if result.is_ok() {
                result = Err(e);
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
    .await
    .map_err(|e| e.to_string())
}
