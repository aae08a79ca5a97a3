//! The real ZooKeeper of `dcos-sim up --zookeeper real`: one server per master (Debian's
//! `zookeeper` package), its configuration and process handling, four-letter words, a tiny
//! blocking client (create, getChildren, getData) used to seed znodes and to read them back, and
//! a standalone server for restoring a backup in a test.

use crate::model::{NodeDef, Role, SimDef};
use anyhow::{anyhow, bail, Context, Result};
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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

fn sock(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow!("cannot resolve {addr}"))
}

/// Sends a four-letter word (`ruok`, `srvr`, `mntr`, ...) to `addr` (`host:port`) and returns
/// the whole answer.
pub fn four_letter(addr: &str, word: &str, timeout: Duration) -> Result<String> {
    let mut s = TcpStream::connect_timeout(&sock(addr)?, timeout)
        .with_context(|| format!("ZooKeeper {addr}: cannot connect"))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(word.as_bytes())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(k) => {
                buf.extend_from_slice(&chunk[..k]);
                if buf.len() > 1 << 20 {
                    break;
                }
            }
            Err(_) if !buf.is_empty() => break,
            Err(e) => return Err(anyhow!("ZooKeeper {addr}: reading the {word} answer: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The `Mode:` of a `srvr` answer, lower-cased (`leader`, `follower`, `standalone`).
pub fn parse_mode(srvr: &str) -> Option<String> {
    srvr.lines()
        .find_map(|l| l.trim().strip_prefix("Mode:"))
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty())
}

/// One `mntr` value.
pub fn mntr_value(mntr: &str, key: &str) -> Option<String> {
    mntr.lines().find_map(|l| {
        let (k, v) = l.split_once(['\t', ' '])?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// Asks `host:2181` `srvr` and returns its mode (`None` when it does not answer or does not serve).
pub fn mode(host: &str, timeout: Duration) -> Option<String> {
    four_letter(&format!("{host}:{CLIENT_PORT}"), "srvr", timeout)
        .ok()
        .and_then(|a| parse_mode(&a))
}

/// Whether the ensemble on `hosts` serves as a whole: every server leader or follower, exactly
/// one leader, and the leader has every other server as a synced follower.
pub fn ensemble_ready(hosts: &[String], timeout: Duration) -> bool {
    let modes: Vec<Option<String>> = hosts.iter().map(|h| mode(h, timeout)).collect();
    let leaders: Vec<&String> = hosts
        .iter()
        .zip(&modes)
        .filter(|(_, m)| m.as_deref() == Some("leader"))
        .map(|(h, _)| h)
        .collect();
    if leaders.len() != 1 || modes.iter().any(|m| m.is_none()) {
        return false;
    }
    if hosts.len() == 1 {
        return true;
    }
    let Ok(m) = four_letter(&format!("{}:{CLIENT_PORT}", leaders[0]), "mntr", timeout) else {
        return false;
    };
    mntr_value(&m, "zk_synced_followers").and_then(|v| v.parse::<usize>().ok())
        == Some(hosts.len() - 1)
}

/// Waits until [`ensemble_ready`] or the deadline passes.
pub fn wait_ensemble(hosts: &[String], deadline: Instant) -> Result<()> {
    loop {
        if ensemble_ready(hosts, Duration::from_millis(500)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let modes: Vec<String> = hosts
                .iter()
                .map(|h| {
                    format!(
                        "{h}: {}",
                        mode(h, Duration::from_millis(500)).unwrap_or_else(|| "no answer".into())
                    )
                })
                .collect();
            bail!(
                "the ZooKeeper ensemble did not form in time ({})",
                modes.join(", ")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// ZooKeeper error code `NoNode`.
pub const ERR_NO_NODE: i32 = -101;
/// ZooKeeper error code `NodeExists`.
pub const ERR_NODE_EXISTS: i32 = -110;

/// A minimal blocking ZooKeeper client (one session; create, getChildren, getData). The session is
/// closed on drop.
pub struct Client {
    s: TcpStream,
    addr: String,
    xid: i32,
}

fn put_str(b: &mut Vec<u8>, s: &[u8]) {
    b.extend_from_slice(&(s.len() as i32).to_be_bytes());
    b.extend_from_slice(s);
}

/// Reads big-endian fields from a reply.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| anyhow!("truncated ZooKeeper reply"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn int(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn long(&mut self) -> Result<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    fn buffer(&mut self) -> Result<Option<Vec<u8>>> {
        let n = self.int()?;
        if n < 0 {
            return Ok(None);
        }
        Ok(Some(self.take(n as usize)?.to_vec()))
    }
}

impl Client {
    /// Opens a session with the server at `addr` (`host:port`).
    pub fn connect(addr: &str, timeout: Duration) -> Result<Client> {
        let s = TcpStream::connect_timeout(&sock(addr)?, timeout)
            .with_context(|| format!("ZooKeeper {addr}: cannot connect"))?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        let mut c = Client {
            s,
            addr: addr.to_string(),
            xid: 0,
        };
        // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly.
        let mut req = Vec::new();
        req.extend_from_slice(&0i32.to_be_bytes());
        req.extend_from_slice(&0i64.to_be_bytes());
        req.extend_from_slice(&10_000i32.to_be_bytes());
        req.extend_from_slice(&0i64.to_be_bytes());
        put_str(&mut req, &[0u8; 16]);
        req.push(0);
        c.send(&req)?;
        let body = c
            .recv()
            .with_context(|| format!("ZooKeeper {addr}: no session (is the server serving?)"))?;
        let mut r = Reader { b: &body, pos: 0 };
        let _version = r.int()?;
        let timeout = r.int()?;
        let session = r.long()?;
        if timeout <= 0 || session == 0 {
            bail!("ZooKeeper {addr}: session refused");
        }
        Ok(c)
    }

    fn send(&mut self, body: &[u8]) -> Result<()> {
        let mut f = (body.len() as i32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        self.s
            .write_all(&f)
            .with_context(|| format!("ZooKeeper {}: write", self.addr))
    }

    fn recv(&mut self) -> Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.s.read_exact(&mut len)?;
        let n = i32::from_be_bytes(len);
        if !(0..=(16 << 20)).contains(&n) {
            bail!("ZooKeeper {}: frame of {n} bytes", self.addr);
        }
        let mut buf = vec![0u8; n as usize];
        self.s.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Sends one request (`op` and its body) and returns the error code and the reply body.
    fn call(&mut self, op: i32, body: &[u8]) -> Result<(i32, Vec<u8>)> {
        self.xid += 1;
        let xid = self.xid;
        let mut req = Vec::with_capacity(8 + body.len());
        req.extend_from_slice(&xid.to_be_bytes());
        req.extend_from_slice(&op.to_be_bytes());
        req.extend_from_slice(body);
        self.send(&req)?;
        loop {
            let reply = self
                .recv()
                .with_context(|| format!("ZooKeeper {}: reading a reply", self.addr))?;
            let mut r = Reader { b: &reply, pos: 0 };
            let rx = r.int()?;
            let _zxid = r.long()?;
            let err = r.int()?;
            if rx == xid {
                return Ok((err, reply[r.pos..].to_vec()));
            }
            // Pings (-2) and notifications (-1) are not ours; skip them.
        }
    }

    /// Creates a persistent znode with `data` (open ACL). `Ok(false)` when it already existed.
    pub fn create(&mut self, path: &str, data: &[u8]) -> Result<bool> {
        let mut b = Vec::new();
        put_str(&mut b, path.as_bytes());
        put_str(&mut b, data);
        b.extend_from_slice(&1i32.to_be_bytes()); // one ACL: world:anyone, all permissions
        b.extend_from_slice(&31i32.to_be_bytes());
        put_str(&mut b, b"world");
        put_str(&mut b, b"anyone");
        b.extend_from_slice(&0i32.to_be_bytes()); // persistent
        match self.call(1, &b)? {
            (0, _) => Ok(true),
            (ERR_NODE_EXISTS, _) => Ok(false),
            (e, _) => bail!("ZooKeeper {}: create {path}: error code {e}", self.addr),
        }
    }

    /// The children of `path`, sorted.
    pub fn children(&mut self, path: &str) -> Result<Vec<String>> {
        let mut b = Vec::new();
        put_str(&mut b, path.as_bytes());
        b.push(0);
        let (err, body) = self.call(8, &b)?;
        if err != 0 {
            bail!(
                "ZooKeeper {}: getChildren {path}: error code {err}",
                self.addr
            );
        }
        let mut r = Reader { b: &body, pos: 0 };
        let n = r.int()?;
        if !(0..=1_000_000).contains(&n) {
            bail!("ZooKeeper {}: implausible child count {n}", self.addr);
        }
        let mut out = Vec::new();
        for _ in 0..n {
            let name = r.buffer()?.unwrap_or_default();
            out.push(String::from_utf8_lossy(&name).into_owned());
        }
        out.sort();
        Ok(out)
    }

    /// The data of `path` (`None` for a znode without data or that does not exist).
    pub fn data(&mut self, path: &str) -> Result<Option<Vec<u8>>> {
        let mut b = Vec::new();
        put_str(&mut b, path.as_bytes());
        b.push(0);
        let (err, body) = self.call(4, &b)?;
        match err {
            0 => Reader { b: &body, pos: 0 }.buffer(),
            ERR_NO_NODE => Ok(None),
            e => bail!("ZooKeeper {}: getData {path}: error code {e}", self.addr),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // closeSession (-11), best effort.
        self.xid += 1;
        let mut req = self.xid.to_be_bytes().to_vec();
        req.extend_from_slice(&(-11i32).to_be_bytes());
        let _ = self.send(&req);
    }
}

/// Creates [`SEED_ZNODES`] through `hosts` (the first server that takes a session), retrying
/// until `deadline`.
pub fn seed(hosts: &[String], deadline: Instant) -> Result<()> {
    let mut last = anyhow!("no ZooKeeper server given");
    loop {
        for h in hosts {
            let r = Client::connect(&format!("{h}:{CLIENT_PORT}"), Duration::from_secs(2))
                .and_then(|mut c| {
                    for (p, d) in SEED_ZNODES {
                        c.create(p, d.as_bytes())?;
                    }
                    Ok(())
                });
            match r {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        if Instant::now() >= deadline {
            return Err(last.context("seeding the ZooKeeper ensemble"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_garbage_does_not_panic() {
        assert_eq!(
            parse_mode("Zookeeper version: 3.8.0\nMode: follower\n").as_deref(),
            Some("follower")
        );
        assert_eq!(
            parse_mode("This ZooKeeper instance is not currently serving requests"),
            None
        );
        assert_eq!(
            mntr_value(
                "zk_server_state\tleader\nzk_synced_followers\t2\n",
                "zk_synced_followers"
            )
            .as_deref(),
            Some("2")
        );
        let mut r = Reader { b: &[0, 0], pos: 0 };
        assert!(r.int().is_err());
        let mut r = Reader {
            b: &[0, 0, 0, 9, 1],
            pos: 0,
        };
        assert!(r.buffer().is_err());
    }
}
