//! The cluster-side lock: two operators on two machines must not upgrade one cluster at once.
//!
//! Besides the state-directory lock (one process per machine), a run holds a lock directory on
//! every master: `<root><work_dir>/cluster.lock/` (default `/var/lib/dcos-upgrade/cluster.lock`),
//! created atomically with `mkdir`, holding `info` = run id, owner (`user@host`) and the heartbeat
//! (Unix seconds), one per line. A background heartbeat refreshes it while `run`, `resume` or
//! `rollback` execute; it is removed at the end. A lock whose heartbeat is older than
//! `[lock] stale_secs` (default 600) is stale, and is taken over only with `--take-over-lock`.
//! It is deliberately not kept in ZooKeeper: userland state does not belong in the ZooKeeper
//! that Mesos and Marathon share.
//!
//! Every lock command changes a node, so it goes through the change door (audited). The first
//! master in one canonical order (by address, whatever order an inventory lists them in) is
//! locked first and alone: whoever holds it is the only one that gets further, so two operators
//! never livelock holding half the masters each, and the other masters are then locked at once.
//! Taking the lock is one command per master, which also renews a lock this state directory
//! already holds (a resume) and takes over one left by an earlier process of it.

use crate::cluster::Cluster;
use crate::door::{Change, ScriptChange};
use crate::playbook::NodeSpec;
use crate::shell::quote;
use std::time::Duration;

mod holder;

use holder::dead_local_pid;
pub use holder::{owner, parse_held, Holder};

/// The step name under which lock commands are audited.
pub const STEP: &str = "cluster-lock";

/// Default staleness (seconds) when the inventory does not set `[lock] stale_secs`.
pub const DEFAULT_STALE_SECS: u64 = 600;

/// Why the cluster lock could not be taken or kept.
#[derive(Debug, thiserror::Error)]
pub enum ClusterLockError {
    /// Another run holds it and its heartbeat is fresh.
    #[error("another dcos-upgrade run holds the cluster lock on master {}: run {} by {}{} (heartbeat {}s ago); wait for it to finish", .0.node, .0.run, .0.owner, if .0.holder.is_empty() { String::new() } else { format!(" from state directory {}", .0.holder) }, .0.age_secs)]
    Held(Holder),
    /// Another run holds it with a fresh heartbeat, but its process is provably gone: it ran
    /// on this very host and its pid is no longer running.
    #[error("master {} has the cluster lock of run {} by {}, whose process (pid {pid} on this host) is no longer running (heartbeat {}s ago): the lock is left over; take it over with --take-over-lock", .holder.node, .holder.run, .holder.owner, .holder.age_secs)]
    Abandoned {
        /// The holder.
        holder: Holder,
        /// Its dead process.
        pid: u32,
    },
    /// Another run held it but stopped sending heartbeats.
    #[error("master {} has a stale cluster lock of run {} by {} (no heartbeat for {}s, stale after {stale_secs}s); if that run is really gone, pass --take-over-lock", .holder.node, .holder.run, .holder.owner, .holder.age_secs)]
    Stale {
        /// The stale holder.
        holder: Holder,
        /// The staleness threshold.
        stale_secs: u64,
    },
    /// The lock command failed on a master.
    #[error("cluster lock on master {node}: {reason}")]
    Remote {
        /// The master.
        node: String,
        /// Why.
        reason: String,
    },
}

/// The lock of one run on the cluster's masters.
pub struct ClusterLock {
    run: String,
    owner: String,
    holder: String,
    stale_secs: u64,
}

fn lock_dir(cluster: &Cluster, node: &NodeSpec) -> String {
    format!(
        "{}{}/cluster.lock",
        node.root, cluster.playbook.paths.work_dir
    )
}

const TIMEOUT: Duration = Duration::from_secs(30);

impl ClusterLock {
    /// A lock for `run` held from the state directory `holder` (its `store::holder_id`, so
    /// that two copies of one directory never both hold it); `stale_secs` from the inventory (0
    /// means the default).
    pub fn new(run: &str, holder: &str, stale_secs: u64) -> ClusterLock {
        ClusterLock {
            run: run.to_string(),
            owner: owner(),
            holder: holder.to_string(),
            stale_secs: if stale_secs == 0 {
                DEFAULT_STALE_SECS
            } else {
                stale_secs
            },
        }
    }

    /// The heartbeat interval: a quarter of the staleness, between 5 s and 2 min.
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_secs((self.stale_secs / 4).clamp(5, 120))
    }

    /// Takes the lock on every master: the canonical first master alone, then the others at
    /// once (see the module doc). A lock of this same run from this state directory (a resume)
    /// is renewed; another run's lock is refused, or taken over when stale and `take_over`. On
    /// refusal, the masters already locked by this call are released.
    pub async fn acquire(
        &self,
        change: &dyn Change,
        cluster: &Cluster,
        take_over: bool,
    ) -> Result<(), ClusterLockError> {
        let order = canonical(&cluster.inventory.masters);
        let Some((first, rest)) = order.split_first() else {
            return Ok(());
        };
        self.acquire_one(change, cluster, first, take_over).await?;
        let results = futures::future::join_all(
            rest.iter()
                .map(|m| self.acquire_one(change, cluster, m, take_over)),
        )
        .await;
        let mut taken = vec![*first];
        let mut refused = None;
        for (m, r) in rest.iter().zip(results) {
            match r {
                Ok(()) => taken.push(m),
                Err(e) => {
                    refused.get_or_insert(e);
                }
            }
        }
        match refused {
            None => Ok(()),
            Some(e) => {
                futures::future::join_all(
                    taken.iter().map(|t| self.release_one(change, cluster, t)),
                )
                .await;
                Err(e)
            }
        }
    }

    async fn acquire_one(
        &self,
        change: &dyn Change,
        cluster: &Cluster,
        m: &NodeSpec,
        take_over: bool,
    ) -> Result<(), ClusterLockError> {
        let dir = lock_dir(cluster, m);
        // Free: taken (TAKEN). Held by this state directory (this run resumed, or a run of an
        // earlier process of it that died before it recorded its run or whose run is
        // finished; a lock of an older version without a holder counts as ours only for this
        // same run): renewed in the same command (OURS), as this process holds the
        // directory's own lock. Anything else: HELD and what the lock says, judged here.
        let script = format!(
            "d={dir}; mkdir -p \"$(dirname \"$d\")\" || exit 3; now=$(date +%s); \
             put() {{ printf '%s\\n' {run} {owner} \"$now\" {holder} > \"$d/info.tmp\" && mv \"$d/info.tmp\" \"$d/info\" && echo \"$1\"; }}; \
             if mkdir \"$d\" 2>/dev/null; then put TAKEN; exit $?; fi; \
             r=$(sed -n 1p \"$d/info\" 2>/dev/null); h=$(sed -n 4p \"$d/info\" 2>/dev/null); \
             if {{ [ -n \"$h\" ] && [ \"$h\" = {holder} ]; }} || {{ [ -z \"$h\" ] && [ \"$r\" = {run} ]; }}; then put OURS; exit $?; fi; \
             echo HELD; echo \"NOW $now\"; echo \"MTIME $(stat -c %Y \"$d\" 2>/dev/null || echo 0)\"; cat \"$d/info\" 2>/dev/null; exit 0",
            dir = quote(&dir),
            run = quote(&self.run),
            owner = quote(&self.owner),
            holder = quote(&self.holder),
        );
        let out = self
            .send(
                change,
                m,
                "take the cluster lock (or renew this state directory's own)",
                &script,
            )
            .await?;
        if out.lines().any(|l| matches!(l.trim(), "TAKEN" | "OURS")) {
            return Ok(());
        }
        let holder = parse_held(&m.address, &out).ok_or_else(|| ClusterLockError::Remote {
            node: m.address.clone(),
            reason: format!("unexpected answer from the lock command: {:?}", out.trim()),
        })?;
        // Another run's lock whose process ran here and is gone: say so, and take it with
        // --take-over-lock without waiting for it to go stale. (The same run from another state
        // directory, as `resume --from-cluster` is, still waits for staleness: that resume
        // passes `take_over` itself and is owed the rule of issue 16.)
        if let Some(pid) = dead_local_pid(&holder.owner).filter(|_| holder.run != self.run) {
            if !take_over {
                return Err(ClusterLockError::Abandoned { holder, pid });
            }
            return self
                .write_info(
                    change,
                    cluster,
                    m,
                    None,
                    "take over the cluster lock of a process of this host that is gone",
                )
                .await;
        }
        if holder.age_secs < self.stale_secs {
            return Err(ClusterLockError::Held(holder));
        }
        if !take_over {
            return Err(ClusterLockError::Stale {
                holder,
                stale_secs: self.stale_secs,
            });
        }
        self.write_info(change, cluster, m, None, "take over a stale cluster lock")
            .await
    }

    /// Refreshes the heartbeat on every master (only where this run holds the lock).
    pub async fn heartbeat(
        &self,
        change: &dyn Change,
        cluster: &Cluster,
    ) -> Result<(), ClusterLockError> {
        futures::future::join_all(
            cluster
                .inventory
                .masters
                .iter()
                .map(|m| self.heartbeat_one(change, cluster, m)),
        )
        .await
        .into_iter()
        .collect()
    }

    async fn heartbeat_one(
        &self,
        change: &dyn Change,
        cluster: &Cluster,
        m: &NodeSpec,
    ) -> Result<(), ClusterLockError> {
        self.write_info(
            change,
            cluster,
            m,
            Some(&self.run),
            "refresh the cluster lock heartbeat",
        )
        .await
    }

    /// Rewrites `info` atomically; when `only_if` is set, only if that run holds the lock.
    async fn write_info(
        &self,
        change: &dyn Change,
        cluster: &Cluster,
        m: &NodeSpec,
        only_if: Option<&str>,
        what: &str,
    ) -> Result<(), ClusterLockError> {
        let dir = lock_dir(cluster, m);
        let guard = match only_if {
            Some(r) => format!(
                "[ \"$(sed -n 1p \"$d/info\" 2>/dev/null)\" = {} ] || {{ echo NOT-OURS; exit 5; }}; h=$(sed -n 4p \"$d/info\" 2>/dev/null); [ -z \"$h\" ] || [ \"$h\" = {} ] || {{ echo NOT-OURS; exit 5; }}; ",
                quote(r),
                quote(&self.holder)
            ),
            None => String::new(),
        };
        let script = format!(
            "d={dir}; mkdir -p \"$d\" || exit 3; {guard}printf '%s\\n' {run} {owner} \"$(date +%s)\" {holder} > \"$d/info.tmp\" && mv \"$d/info.tmp\" \"$d/info\"",
            dir = quote(&dir),
            run = quote(&self.run),
            owner = quote(&self.owner),
            holder = quote(&self.holder),
        );
        self.send(change, m, what, &script).await.map(|_| ())
    }

    /// Removes the lock on every master where this run holds it (best effort on each).
    pub async fn release(
        &self,
        change: &dyn Change,
        cluster: &Cluster,
    ) -> Result<(), ClusterLockError> {
        let results = futures::future::join_all(
            cluster
                .inventory
                .masters
                .iter()
                .map(|m| self.release_one(change, cluster, m)),
        )
        .await;
        results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
    }

    async fn release_one(
        &self,
        change: &dyn Change,
        cluster: &Cluster,
        m: &NodeSpec,
    ) -> Result<(), ClusterLockError> {
        let dir = lock_dir(cluster, m);
        let script = format!(
            "d={dir}; [ -d \"$d\" ] || exit 0; [ \"$(sed -n 1p \"$d/info\" 2>/dev/null)\" = {run} ] || exit 0; h=$(sed -n 4p \"$d/info\" 2>/dev/null); [ -z \"$h\" ] || [ \"$h\" = {holder} ] || exit 0; rm -rf \"$d\"",
            dir = quote(&dir),
            run = quote(&self.run),
            holder = quote(&self.holder),
        );
        self.send(change, m, "release the cluster lock", &script)
            .await
            .map(|_| ())
    }

    /// Runs a lock command through the chokepoint; its stdout on exit 0.
    async fn send(
        &self,
        change: &dyn Change,
        m: &NodeSpec,
        what: &str,
        script: &str,
    ) -> Result<String, ClusterLockError> {
        let out = change
            .script(ScriptChange {
                step: STEP,
                node: &Cluster::target(m),
                description: what,
                script,
                input: None,
                timeout: TIMEOUT,
            })
            .await
            .map_err(|e| ClusterLockError::Remote {
                node: m.address.clone(),
                reason: e.to_string(),
            })?;
        if out.status == Some(0) {
            Ok(out.stdout)
        } else {
            Err(ClusterLockError::Remote {
                node: m.address.clone(),
                reason: format!(
                    "cannot {what} (exit {:?}): {}",
                    out.status,
                    out.tail(300).trim()
                ),
            })
        }
    }
}

/// The masters in the order every run locks them: by address.
fn canonical(masters: &[NodeSpec]) -> Vec<&NodeSpec> {
    let mut v: Vec<&NodeSpec> = masters.iter().collect();
    v.sort_by(|a, b| a.address.cmp(&b.address).then(a.ssh_port.cmp(&b.ssh_port)));
    v
}

#[cfg(test)]
mod tests;
