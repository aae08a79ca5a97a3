//! Who holds the cluster lock: this process as `user@host pid N`, a held lock's answer parsed, and
//! a holder whose process is gone.

/// Who holds a cluster lock, as read from a master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The master the lock was read from.
    pub node: String,
    /// The holder's run id.
    pub run: String,
    /// `user@host` of the holder.
    pub owner: String,
    /// Seconds since the holder's last heartbeat.
    pub age_secs: u64,
    /// The holder's state directory (`host:device:inode:id`), empty in locks of older versions.
    pub holder: String,
}

/// `user@host pid N` of this process (the pid lets a later process on the same host tell a
/// holder that is gone from one that is alive).
pub fn owner() -> String {
    format!("{} pid {}", user_at_host(), std::process::id())
}

/// `user@host` of this process.
pub(super) fn user_at_host() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    format!("{user}@{host}")
}

/// Parses the answer of a held lock: `HELD`, `NOW <t>`, `MTIME <t>`, then run, owner, heartbeat.
/// A lock whose `info` is missing (its taker died between `mkdir` and writing it) is dated by the
/// directory's mtime and held by an unknown run.
pub fn parse_held(node: &str, out: &str) -> Option<Holder> {
    let mut lines = out.lines().map(str::trim).skip_while(|l| *l != "HELD");
    lines.next()?;
    let now: u64 = lines.next()?.strip_prefix("NOW ")?.trim().parse().ok()?;
    let mtime: u64 = lines.next()?.strip_prefix("MTIME ")?.trim().parse().ok()?;
    let run = lines.next().unwrap_or("").to_string();
    let owner = lines.next().unwrap_or("").to_string();
    let beat = lines
        .next()
        .and_then(|h| h.parse::<u64>().ok())
        .unwrap_or(mtime);
    let holder = lines.next().unwrap_or("").to_string();
    Some(Holder {
        node: node.to_string(),
        run: if run.is_empty() {
            "<unknown>".into()
        } else {
            run
        },
        owner: if owner.is_empty() {
            "<unknown>".into()
        } else {
            owner
        },
        age_secs: now.saturating_sub(beat),
        holder,
    })
}

/// The pid of a holder `user@host pid N` that ran on this host and is no longer running.
pub(super) fn dead_local_pid(owner: &str) -> Option<u32> {
    let (who, pid) = owner.rsplit_once(" pid ")?;
    let pid: u32 = pid.trim().parse().ok()?;
    let host = who.rsplit_once('@').map(|(_, h)| h)?;
    let here = user_at_host();
    let this_host = here.rsplit_once('@').map(|(_, h)| h)?;
    if host != this_host || pid == 0 {
        return None;
    }
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    (!alive).then_some(pid)
}
