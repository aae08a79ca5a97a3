//! A standalone ZooKeeper server on a data directory (e.g. a restored backup), for tests.

use super::*;
use anyhow::{bail, Result};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A standalone ZooKeeper server on a data directory (e.g. a restored backup), on a free port of
/// 127.0.0.1; stopped on drop.
pub struct Standalone {
    pid: i32,
    port: u16,
    dir: tempfile::TempDir,
}

impl Standalone {
    /// Starts a standalone server whose `dataDir` is `data_dir` and waits (up to `wait`) until it
    /// serves.
    pub fn start(data_dir: &Path, wait: Duration) -> Result<Standalone> {
        let java = require()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = tempfile::Builder::new().prefix("dcos-sim-zk-").tempdir()?;
        let cfg = dir.path().join("zoo.cfg");
        fs::write(
            &cfg,
            format!(
                "tickTime=250\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=*\npreAllocSize=1024\n",
                data_dir.display()
            ),
        )?;
        let mut cmd = Command::new(java);
        cmd.args(JVM_OPTS)
            .arg("-cp")
            .arg(ZK_JAR)
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(&cfg);
        let log = dir.path().join("zookeeper.out");
        let pid = crate::setup::spawn_detached(&mut cmd, &log)? as i32;
        let s = Standalone { pid, port, dir };
        let deadline = Instant::now() + wait;
        loop {
            if let Ok(a) = four_letter(&s.addr(), "srvr", Duration::from_millis(500)) {
                if parse_mode(&a).is_some() {
                    return Ok(s);
                }
            }
            if Instant::now() >= deadline || !crate::setup::pid_alive(pid) {
                let out =
                    fs::read_to_string(s.dir.path().join("zookeeper.out")).unwrap_or_default();
                bail!(
                    "the standalone ZooKeeper on {} did not serve: {out}",
                    s.addr()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        crate::setup::stop_pid(self.pid);
    }
}
