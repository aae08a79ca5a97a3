//! The real ZooKeeper of `dcos-sim up --zookeeper real`: one server per master (Debian's
//! `zookeeper` package), its configuration and process handling. Four-letter words are in
//! `words`, a tiny blocking client (create, getChildren, getData) used to seed znodes and to read
//! them back in `client`, and a standalone server for restoring a backup in a test in `standalone`.

mod client;
mod standalone;
mod words;

pub use client::*;
pub use standalone::*;
pub use words::*;

use crate::model::{NodeDef, Role, SimDef};
use anyhow::{anyhow, bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The ZooKeeper server jar of Debian's `zookeeper` package (its manifest names the dependencies).
pub const ZK_JAR: &str = "/usr/share/java/zookeeper.jar";
/// The server's main class.
pub const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";
/// The client port on every master (as in DC/OS).
pub const CLIENT_PORT: u16 = 2181;
/// The quorum port on every master.
pub const QUORUM_PORT: u16 = 2888;
/// The leader-election port on every master.
pub const ELECTION_PORT: u16 = 3888;
/// Znodes created by `up` in real mode, with their data (parents first).
pub const SEED_ZNODES: &[(&str, &str)] = &[
    // DC/OS's own top-level znodes besides Mesos and Marathon, as a 2.1+ cluster has them
    // (facts §8.6: cluster-id from bootstrap.py, cockroach 1.13+, etcd and cluster 2.1+).
    ("/cluster-id", "dcos-sim-cluster-id"),
    ("/cockroach", ""),
    ("/etcd", ""),
    ("/cluster", ""),
    ("/mesos", ""),
    ("/marathon", ""),
    ("/dcos", ""),
    ("/dcos/dcos-sim-seed", "seeded by dcos-sim up"),
    ("/dcos/dcos-sim-seed/a", "alpha"),
    ("/dcos/dcos-sim-seed/b", "bravo"),
];

/// JVM options: small heap, fast start, no admin server (it would take :8080), no JMX.
const JVM_OPTS: &[&str] = &[
    "-Xms16m",
    "-Xmx128m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
    "-Dzookeeper.admin.enableServer=false",
    "-Dzookeeper.jmx.log4j.disable=true",
];

/// The `java` binary to run the servers with (`$JAVA_HOME/bin/java`, else `java` on `PATH`).
pub fn java() -> Option<PathBuf> {
    if let Ok(home) = std::env::var("JAVA_HOME") {
        let p = Path::new(&home).join("bin/java");
        if p.is_file() {
            return Some(p);
        }
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("java"))
        .find(|p| p.is_file())
}

/// Fails with an installation hint when the ZooKeeper jar or Java is missing.
pub fn require() -> Result<PathBuf> {
    if !Path::new(ZK_JAR).is_file() {
        bail!("{ZK_JAR} not found: install ZooKeeper (apt-get install -y zookeeper)");
    }
    java().ok_or_else(|| {
        anyhow!("java not found: install ZooKeeper with its Java (apt-get install -y zookeeper)")
    })
}

/// Whether a real ZooKeeper can be started here (the jar and `java` exist).
pub fn available() -> bool {
    require().is_ok()
}

/// The data directory of a master's ZooKeeper: `<root>/var/lib/dcos/exhibitor/zookeeper`.
pub fn data_dir(root: &Path) -> PathBuf {
    root.join("var/lib/dcos/exhibitor/zookeeper")
}

/// Exhibitor's record of the running ZooKeeper's pid: `<root>/var/lib/dcos/exhibitor/zk.pid`.
pub fn node_pid_file(root: &Path) -> PathBuf {
    root.join("var/lib/dcos/exhibitor/zk.pid")
}

/// The testbed's record of a master's ZooKeeper pid: `DIR/pids/zk-<name>.pid` (`down` kills it).
pub fn pid_file(def: &SimDef, name: &str) -> PathBuf {
    def.dir.join("pids").join(format!("zk-{name}.pid"))
}

/// The server's configuration: `<root>/var/lib/dcos/exhibitor/conf/zoo.cfg`.
pub fn config_file(root: &Path) -> PathBuf {
    root.join("var/lib/dcos/exhibitor/conf/zoo.cfg")
}

/// Writes `zoo.cfg` and `myid` for master `n` (the `index`-th master, `myid` = index + 1).
pub fn write_config(def: &SimDef, n: &NodeDef, index: usize) -> Result<()> {
    let dd = data_dir(&n.root);
    fs::create_dir_all(&dd)?;
    fs::write(dd.join("myid"), format!("{}\n", index + 1))?;
    let masters: Vec<&NodeDef> = def
        .nodes
        .iter()
        .filter(|m| m.role == Role::Master)
        .collect();
    let mut cfg = format!(
        "# written by dcos-sim up (--zookeeper real)\ntickTime=250\ninitLimit=40\nsyncLimit=20\n\
         dataDir={}\nclientPort={CLIENT_PORT}\nclientPortAddress={}\nadmin.enableServer=false\n\
         4lw.commands.whitelist=*\npreAllocSize=1024\nquorumListenOnAllIPs=false\n",
        dd.display(),
        n.address
    );
    if masters.len() == 1 {
        // A quorum of one (Mode: leader), not standalone mode.
        cfg.push_str("standaloneEnabled=false\n");
    }
    for (i, m) in masters.iter().enumerate() {
        cfg.push_str(&format!(
            "server.{}={}:{QUORUM_PORT}:{ELECTION_PORT}\n",
            i + 1,
            m.address
        ));
    }
    let path = config_file(&n.root);
    if let Some(p) = path.parent() {
        fs::create_dir_all(p)?;
    }
    fs::write(&path, cfg).with_context(|| format!("writing {}", path.display()))
}

fn read_pid(p: &Path) -> Option<i32> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// The pid of master `n`'s ZooKeeper when it runs (from `DIR/pids/zk-<name>.pid`).
pub fn running_pid(def: &SimDef, n: &NodeDef) -> Option<i32> {
    read_pid(&pid_file(def, &n.name)).filter(|p| crate::setup::pid_alive(*p))
}

/// Starts master `n`'s ZooKeeper server (output to `zookeeper.out` in its data directory) and
/// records its pid in `DIR/pids/zk-<name>.pid` and `<root>/var/lib/dcos/exhibitor/zk.pid`.
pub fn spawn(def: &SimDef, n: &NodeDef) -> Result<u32> {
    let java = require()?;
    let mut cmd = Command::new(java);
    cmd.args(JVM_OPTS)
        .arg("-cp")
        .arg(ZK_JAR)
        .arg(MAIN_CLASS)
        .arg(config_file(&n.root))
        .env("DCOS_SIM_DIR", &def.dir)
        .current_dir(data_dir(&n.root));
    if let Some(ns) = def.netns(&n.name) {
        // Firewalled: the server lives in the master's namespace (the daemon forwards the other
        // masters' quorum and election ports into it).
        crate::netns::enter_on_exec(&mut cmd, &ns)?;
    }
    let pid = crate::setup::spawn_detached(&mut cmd, &data_dir(&n.root).join("zookeeper.out"))?;
    fs::write(pid_file(def, &n.name), format!("{pid}\n"))?;
    fs::write(node_pid_file(&n.root), format!("{pid}\n"))?;
    Ok(pid)
}

/// Stops master `n`'s ZooKeeper (SIGTERM, SIGKILL after 3 s) and removes both pid files.
pub fn stop(def: &SimDef, n: &NodeDef) {
    if let Some(pid) = read_pid(&pid_file(def, &n.name)) {
        crate::setup::stop_pid(pid);
    }
    let _ = fs::remove_file(pid_file(def, &n.name));
    let _ = fs::remove_file(node_pid_file(&n.root));
}
