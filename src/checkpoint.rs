//! Named crash checkpoints (rustup style), compiled in only with the `test-checkpoints` feature.
//!
//! When `DCOS_UPGRADE_CRASH_AT` names a checkpoint that is reached, the process writes the
//! name to `DCOS_UPGRADE_CRASH_MARKER` (if set) and kills itself with SIGKILL: no destructor,
//! no flush, exactly like `kill -9`. `DCOS_UPGRADE_CHECKPOINT_LOG` (if set) gets every
//! checkpoint name reached, one per line, so a test can enumerate them.
//! `DCOS_UPGRADE_CRASH_NEW` names a file of checkpoints already visited: the process appends
//! the first checkpoint it reaches that is not in the file, then kills itself there. Running
//! the same command again and again thus visits every checkpoint of the real flow, in order.

/// Marks a point where the process may be killed in crash tests.
#[inline]
pub fn hit(name: &str) {
    #[cfg(feature = "test-checkpoints")]
    imp::hit(name);
    #[cfg(not(feature = "test-checkpoints"))]
    let _ = name;
}

#[cfg(feature = "test-checkpoints")]
mod imp {
    use std::io::Write;

    pub fn hit(name: &str) {
        if let Some(log) = std::env::var_os("DCOS_UPGRADE_CHECKPOINT_LOG") {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
            {
                let _ = writeln!(f, "{name}");
            }
        }
        if let Some(visited) = std::env::var_os("DCOS_UPGRADE_CRASH_NEW") {
            let seen = std::fs::read_to_string(&visited).unwrap_or_default();
            if !seen.lines().any(|l| l == name) {
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&visited)
                {
                    let _ = writeln!(f, "{name}");
                    let _ = f.sync_all();
                }
                // SAFETY: sending SIGKILL to our own pid.
                unsafe {
                    libc::kill(libc::getpid(), libc::SIGKILL);
                }
            }
        }
        if std::env::var("DCOS_UPGRADE_CRASH_AT").ok().as_deref() == Some(name) {
            if let Some(marker) = std::env::var_os("DCOS_UPGRADE_CRASH_MARKER") {
                let _ = std::fs::write(marker, name);
            }
            // SAFETY: sending SIGKILL to our own pid.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}
