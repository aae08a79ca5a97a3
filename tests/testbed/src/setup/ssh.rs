//! Keys, host keys, `known_hosts`, `ssh_config` and each node's sshd (its config and its start).

use super::*;
use crate::model::{NodeDef, SimDef};
use anyhow::{bail, Context, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(super) fn keygen(path: &Path, comment: &str) -> Result<()> {
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(path.with_extension("pub"));
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .context("running ssh-keygen (is openssh-client installed?)")?;
    if !out.status.success() {
        bail!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

pub(super) fn sshd_path() -> Result<PathBuf> {
    for p in ["/usr/sbin/sshd", "/usr/local/sbin/sshd"] {
        if Path::new(p).exists() {
            return Ok(PathBuf::from(p));
        }
    }
    bail!("/usr/sbin/sshd not found: install openssh-server (apt-get install -y openssh-server)")
}

/// The login user's home on a node: its own directory, empty.
fn node_home(def: &SimDef, n: &NodeDef) -> PathBuf {
    def.dir.join("nodes").join(&n.name).join("home")
}

pub(super) fn sshd_config(def: &SimDef, n: &NodeDef) -> String {
    let d = &def.dir;
    let sd = d.join("nodes").join(&n.name).join("sshd");
    let shim = d.join("nodes").join(&n.name).join("shim");
    // HOME is the node's own (empty) home: bash started by sshd reads ~/.bashrc even when not
    // interactive, and the home of the user running the testbed is not a DC/OS node's (a
    // developer's ~/.bashrc that runs `pyenv init` cost ~100 processes and ~130 ms per command).
    let mut env = format!(
        "DCOS_SIM_ROOT={} DCOS_SIM_NODE={} DCOS_SIM_CTL={} HOME={} PATH={}:/usr/local/bin:/usr/bin:/bin",
        n.root.display(),
        n.name,
        def.ctl_url,
        node_home(def, n).display(),
        shim.display()
    );
    if !def.as_root {
        env.push_str(" DCOS_SIM_FAKE_ROOT=1");
    }
    let sftp = [
        "/usr/lib/openssh/sftp-server",
        "/usr/libexec/openssh/sftp-server",
        "/usr/lib/ssh/sftp-server",
    ]
    .iter()
    .find(|p| Path::new(p).exists())
    .copied()
    .unwrap_or("internal-sftp");
    format!(
        "# dcos-sim sshd for node {name}\nListenAddress {addr}:{port}\nHostKey {hk}\nPidFile {pid}\nAuthorizedKeysFile {ak}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\nAllowUsers {user}\nSetEnv {env}\nMaxSessions 30\nMaxStartups 100:30:200\nLogLevel VERBOSE\nSubsystem sftp {sftp}\n",
        name = n.name,
        addr = n.address,
        port = def.ssh_port,
        hk = sd.join("ssh_host_ed25519_key").display(),
        pid = sd.join("sshd.pid").display(),
        ak = d.join("keys/authorized_keys").display(),
        user = def.user,
    )
}

/// Starts (or restarts) the sshd of one node and records its pid.
pub fn start_sshd(def: &SimDef, n: &NodeDef) -> Result<u32> {
    let sd = def.dir.join("nodes").join(&n.name).join("sshd");
    let mut cmd = Command::new(sshd_path()?);
    cmd.arg("-D")
        .arg("-f")
        .arg(sd.join("sshd_config"))
        .arg("-E")
        .arg(sd.join("sshd.log"));
    cmd.env("DCOS_SIM_DIR", &def.dir);
    if let Some(ns) = def.netns(&n.name) {
        crate::netns::enter_on_exec(&mut cmd, &ns)?;
    }
    let pid = spawn_detached(&mut cmd, &sd.join("sshd.stdout.log"))?;
    write(
        &def.dir.join("pids").join(format!("sshd-{}.pid", n.name)),
        &format!("{pid}\n"),
    )?;
    Ok(pid)
}

/// Waits until the node's sshd answers: on its address (flat), or inside its namespace and through
/// the daemon's host-side proxy (firewalled).
pub(super) fn wait_sshd(def: &SimDef, n: &NodeDef, deadline: Instant) -> bool {
    let addr = format!("{}:{}", n.address, def.ssh_port);
    if let Some(ns) = def.netns(&n.name) {
        while !crate::netns::accepts_in(&ns, &addr) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        if let Some(b) = def.bastion.as_ref().filter(|b| b.name != n.name) {
            // Behind a bastion: through its namespace's proxy.
            let bns = def.netns(&b.name).unwrap_or_default();
            while !crate::netns::accepts_in(&bns, &addr) {
                if Instant::now() > deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(30));
            }
            return true;
        }
    }
    wait_port(&addr, deadline)
}

/// Writes the client key, every node's host key and sshd_config, `known_hosts` and `ssh_config`.
pub(super) fn write_ssh_files(def: &SimDef) -> Result<()> {
    let dir = &def.dir;
    let client = dir.join("keys/client_ed25519");
    keygen(&client, "dcos-sim-client")?;
    let pubkey = fs::read_to_string(client.with_extension("pub"))?;
    write(&dir.join("keys/authorized_keys"), &pubkey)?;
    let mut known = String::new();
    let mut ssh_config = String::new();
    for n in def.bastion.iter().chain(&def.nodes) {
        let sd = dir.join("nodes").join(&n.name).join("sshd");
        fs::create_dir_all(&n.root)?;
        fs::create_dir_all(&sd)?;
        fs::create_dir_all(node_home(def, n))?;
        let hk = sd.join("ssh_host_ed25519_key");
        keygen(&hk, &format!("dcos-sim-{}", n.name))?;
        let hpub = fs::read_to_string(hk.with_extension("pub"))?;
        let mut parts = hpub.split_whitespace();
        let (kt, kb) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        known.push_str(&format!("[{}]:{} {kt} {kb}\n", n.address, def.ssh_port));
        write(&sd.join("sshd_config"), &sshd_config(def, n))?;
        // Behind a bastion, the nodes are reached through it.
        let jump = match &def.bastion {
            Some(b) if b.name != n.name => format!("  ProxyJump {}\n", b.name),
            _ => String::new(),
        };
        ssh_config.push_str(&format!(
            "Host {name} {addr}\n{jump}  HostName {addr}\n  Port {port}\n  User {user}\n  IdentityFile {id}\n  IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n\n",
            name = n.name,
            addr = n.address,
            port = def.ssh_port,
            user = def.user,
            id = client.display(),
            kh = dir.join("known_hosts").display(),
        ));
    }
    write(&dir.join("known_hosts"), &known)?;
    write(&dir.join("ssh_config"), &ssh_config)?;
    Ok(())
}
