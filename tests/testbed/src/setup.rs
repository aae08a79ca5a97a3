//! `up`, `down`, `fault` and `report`: everything the CLI does outside the daemon.

use crate::http;
use crate::model::{NodeDef, Report, Role, SimDef};
use crate::scripts;
use anyhow::{anyhow, bail, Context, Result};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `dcos-sim up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The testbed directory (created if missing).
    pub dir: PathBuf,
    /// Number of masters.
    pub masters: usize,
    /// Number of private agents.
    pub agents: usize,
    /// Number of public agents.
    pub public_agents: usize,
    /// Starting version.
    pub version: String,
    /// Target version of the upgrade script.
    pub upgrade_to: String,
    /// Activation delay.
    pub activation_ms: u64,
    /// Re-registration window.
    pub reregister_window_ms: u64,
    /// Marathon deployment duration.
    pub deploy_ms: u64,
    /// `127.A.B`, or random when `None`.
    pub subnet: Option<String>,
    /// Nodes that start at `upgrade_to`.
    pub at_target: Vec<String>,
    /// Run a real ZooKeeper server on every master (`--zookeeper real`).
    pub real_zookeeper: bool,
}

/// 64-bit FNV-1a, used for stable fake hashes.
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// A stable fake hex digest of `len` characters.
pub fn hex_id(seed: &str, len: usize) -> String {
    let mut out = String::new();
    let mut i = 0;
    while out.len() < len {
        out.push_str(&format!("{:016x}", fnv(&format!("{seed}#{i}"))));
        i += 1;
    }
    out.truncate(len);
    out
}

/// The package ids of a DC/OS version.
pub fn package_ids(version: &str) -> Vec<String> {
    [
        "dcos-metadata",
        "mesos",
        "marathon",
        "exhibitor",
        "adminrouter",
        "dcos-diagnostics",
    ]
    .iter()
    .map(|p| format!("{p}--{}", hex_id(&format!("{p}-{version}"), 40)))
    .collect()
}

/// The content of `dcos-version.json` for a version.
pub fn version_json(version: &str) -> String {
    format!(
        "{{\n  \"version\": \"{version}\",\n  \"dcos-image-commit\": \"{}\",\n  \"bootstrap-id\": \"{}\",\n  \"dcos-variant\": \"open\"\n}}\n",
        hex_id(&format!("commit-{version}"), 40),
        hex_id(&format!("bootstrap-{version}"), 40)
    )
}

fn write(path: &Path, content: &str) -> Result<()> {
    if let Some(p) = path.parent() {
        fs::create_dir_all(p)?;
    }
    fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

fn write_exec(path: &Path, content: &str) -> Result<()> {
    write(path, content)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

fn current_user() -> String {
    // SAFETY: getpwuid returns a pointer to static storage or null.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if !pw.is_null() {
            return std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .to_string();
        }
    }
    std::env::var("USER").unwrap_or_else(|_| "root".into())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn addr_free(addr: &str) -> bool {
    std::net::TcpListener::bind(addr).is_ok()
}

fn pick_subnet() -> String {
    let seed = fnv(&format!(
        "{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
    ));
    for i in 0..200u64 {
        let v = fnv(&format!("{seed}-{i}"));
        let a = 10 + (v % 240);
        let b = 1 + ((v >> 16) % 250);
        let s = format!("127.{a}.{b}");
        if addr_free(&format!("{s}.2:9999"))
            && addr_free(&format!("{s}.11:2222"))
            && addr_free(&format!("{s}.11:5050"))
        {
            return s;
        }
    }
    "127.77.77".into()
}

fn keygen(path: &Path, comment: &str) -> Result<()> {
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

fn sshd_path() -> Result<PathBuf> {
    for p in ["/usr/sbin/sshd", "/usr/local/sbin/sshd"] {
        if Path::new(p).exists() {
            return Ok(PathBuf::from(p));
        }
    }
    bail!("/usr/sbin/sshd not found: install openssh-server (apt-get install -y openssh-server)")
}

fn node_vars<'a>(def: &'a SimDef, n: &'a NodeDef, root: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("ROOT", root),
        ("CTL", def.ctl_url.as_str()),
        ("NODE", n.name.as_str()),
        ("ADDRESS", n.address.as_str()),
    ]
}

/// Maps a DC/OS version to the Mesos version it ships.
pub fn mesos_version(dcos: &str) -> &'static str {
    if dcos.starts_with("2.2") {
        "1.11.0"
    } else if dcos.starts_with("2.1") {
        "1.10.1"
    } else if dcos.starts_with("2.0") {
        "1.9.1"
    } else if dcos.starts_with("1.13") {
        "1.8.1"
    } else {
        "1.11.0"
    }
}

fn build_node_fs(def: &SimDef, n: &NodeDef, index: usize) -> Result<()> {
    let root = &n.root;
    let rs = root.to_string_lossy().to_string();
    let version = if def.at_target.contains(&n.name) {
        &def.upgrade_to
    } else {
        &def.version
    };
    let m = root.join("opt/mesosphere");
    write(&m.join("etc/dcos-version.json"), &version_json(version))?;
    write(
        &m.join("active/dcos-metadata/etc/dcos-version.json"),
        &version_json(version),
    )?;
    write(
        &m.join("active/.packages"),
        &(package_ids(version).join("\n") + "\n"),
    )?;
    write(
        &m.join("environment.export"),
        &format!(
            "export DCOS_VERSION={version}\nexport MESOS_IP_DISCOVERY_COMMAND=/opt/mesosphere/bin/detect_ip\nexport MESOS_HOSTNAME_LOOKUP=false\n"
        ),
    )?;
    fs::create_dir_all(m.join("packages"))?;
    fs::create_dir_all(m.join("lib"))?;
    write(&m.join("lib/README"), "dcos-sim library directory\n")?;
    let vars = node_vars(def, n, &rs);
    let admin = def.admin_port.to_string();
    let mut cvars = vars.clone();
    cvars.push(("ADMIN_PORT", &admin));
    let bin = m.join("bin");
    write_exec(
        &bin.join("pkgpanda"),
        &scripts::render(scripts::PKGPANDA, &vars),
    )?;
    write_exec(
        &bin.join("dcos-check-runner"),
        &scripts::render(scripts::CHECK_RUNNER, &cvars),
    )?;
    write_exec(
        &bin.join("dcos-shell"),
        &scripts::render(scripts::DCOS_SHELL, &vars),
    )?;
    write_exec(
        &bin.join("detect_ip"),
        &scripts::render(scripts::DETECT_IP, &vars),
    )?;
    let mv = mesos_version(version);
    let mesos_bin = if n.role == Role::Master {
        "mesos-master"
    } else {
        "mesos-slave"
    };
    write_exec(
        &bin.join(mesos_bin),
        &scripts::render(scripts::MESOS_BIN, &[("MESOS_VERSION", mv)]),
    )?;
    write_exec(
        &bin.join("dcos-zk"),
        &scripts::render(scripts::DCOS_ZK, &vars),
    )?;
    write(
        &root.join("etc/mesosphere/roles").join(n.role.role_file()),
        "",
    )?;
    write(
        &root.join("var/lib/dcos/cluster-id"),
        &format!("{}\n", uuid_like(&def.subnet)),
    )?;
    fs::create_dir_all(root.join("var/lib/mesos"))?;
    fs::create_dir_all(root.join("var/lib/docker"))?;
    fs::create_dir_all(root.join("var/log"))?;
    if n.role == Role::Master && def.real_zookeeper {
        // The real server writes version-2/ and zookeeper.out itself.
        crate::zk::write_config(def, n, index)?;
    } else if n.role == Role::Master {
        let zk = root.join("var/lib/dcos/exhibitor/zookeeper");
        write(&zk.join("myid"), &format!("{}\n", index + 1))?;
        write(&zk.join("zookeeper.out"), "zookeeper log\n")?;
        write(
            &zk.join("version-2/snapshot.100000000"),
            &format!("snapshot of {}\n", def.subnet),
        )?;
        write(&zk.join("version-2/log.100000001"), "transaction log\n")?;
        write(&zk.join("version-2/acceptedEpoch"), "1\n")?;
        write(&zk.join("version-2/currentEpoch"), "1\n")?;
    } else {
        write(&m.join("lib/libltdl.so.7"), "not really a library\n")?;
    }
    let shim = def.dir.join("nodes").join(&n.name).join("shim");
    write_exec(
        &shim.join("systemctl"),
        &scripts::render(scripts::SYSTEMCTL, &vars),
    )?;
    write_exec(&shim.join("df"), &scripts::render(scripts::DF, &vars))?;
    Ok(())
}

/// A UUID-shaped stable id.
pub fn uuid_like(seed: &str) -> String {
    let h = hex_id(seed, 32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn build_bootstrap(def: &SimDef) -> Result<()> {
    let serve = def.dir.join("bootstrap/serve");
    for v in [&def.version, &def.upgrade_to] {
        for id in package_ids(v) {
            let name = id.split("--").next().unwrap_or("pkg").to_string();
            let content = if name == "dcos-metadata" {
                version_json(v)
            } else {
                format!("{id}: not really a tarball\n")
            };
            write(
                &serve
                    .join("packages")
                    .join(&name)
                    .join(format!("{id}.tar.xz")),
                &content,
            )?;
        }
    }
    let bootstrap_url = format!("http://{}:8080", def.bootstrap_address);
    for (from, to, url) in [
        (&def.version, &def.upgrade_to, &def.upgrade_script_url),
        (&def.upgrade_to, &def.version, &def.rollback_script_url),
    ] {
        let rel = url
            .strip_prefix(&format!("{bootstrap_url}/"))
            .unwrap_or(url);
        let pk = package_ids(to).join(" ");
        let commit = hex_id(&format!("commit-{to}"), 40);
        let script = scripts::render(
            scripts::NODE_UPGRADE,
            &[
                ("FROM", from.as_str()),
                ("TO", to.as_str()),
                ("CTL", def.ctl_url.as_str()),
                ("BOOTSTRAP_URL", bootstrap_url.as_str()),
                ("PACKAGES", pk.as_str()),
                ("COMMIT", commit.as_str()),
            ],
        );
        write_exec(&serve.join(rel), &script)?;
    }
    Ok(())
}

fn sshd_config(def: &SimDef, n: &NodeDef) -> String {
    let d = &def.dir;
    let sd = d.join("nodes").join(&n.name).join("sshd");
    let shim = d.join("nodes").join(&n.name).join("shim");
    let mut env = format!(
        "DCOS_SIM_ROOT={} DCOS_SIM_NODE={} DCOS_SIM_CTL={} PATH={}:/usr/local/bin:/usr/bin:/bin",
        n.root.display(),
        n.name,
        def.ctl_url,
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
        "# dcos-sim sshd for node {name}\nListenAddress {addr}:{port}\nHostKey {hk}\nPidFile {pid}\nAuthorizedKeysFile {ak}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\nAllowUsers {user}\nSetEnv {env}\nMaxSessions 30\nMaxStartups 100:30:200\nLogLevel INFO\nSubsystem sftp {sftp}\n",
        name = n.name,
        addr = n.address,
        port = def.ssh_port,
        hk = sd.join("ssh_host_ed25519_key").display(),
        pid = sd.join("sshd.pid").display(),
        ak = d.join("keys/authorized_keys").display(),
        user = def.user,
    )
}

/// Spawns `cmd` in its own session, output appended to `log`, reaped by a background thread.
pub(crate) fn spawn_detached(cmd: &mut Command, log: &Path) -> Result<u32> {
    let f = fs::OpenOptions::new().create(true).append(true).open(log)?;
    let f2 = f.try_clone()?;
    cmd.stdin(Stdio::null()).stdout(f).stderr(f2);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd.spawn().with_context(|| format!("spawning {cmd:?}"))?;
    let pid = child.id();
    // Reap it in the background so it does not stay a zombie while we live.
    std::thread::spawn(move || {
        let mut c = child;
        let _ = c.wait();
    });
    Ok(pid)
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
    let pid = spawn_detached(&mut cmd, &sd.join("sshd.stdout.log"))?;
    write(
        &def.dir.join("pids").join(format!("sshd-{}.pid", n.name)),
        &format!("{pid}\n"),
    )?;
    Ok(pid)
}

fn wait_port(addr: &str, deadline: Instant) -> bool {
    let sa: std::net::SocketAddr = match addr.parse() {
        Ok(a) => a,
        Err(_) => return false,
    };
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&sa, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    false
}

/// `dcos-sim up`: creates the testbed and returns once the cluster is healthy.
pub fn up(opts: &UpOptions) -> Result<SimDef> {
    let dir = &opts.dir;
    fs::create_dir_all(dir)?;
    let dir = fs::canonicalize(dir)?;
    if dir.join("pids/daemon.pid").exists() {
        if let Ok(def) = SimDef::load(&dir) {
            if http::get(&def.ctl_addr(), "/health").is_ok() {
                bail!(
                    "a testbed is already running in {} (run `dcos-sim down --dir {}` first)",
                    dir.display(),
                    dir.display()
                );
            }
        }
    }
    let res = up_inner(opts, &dir);
    if res.is_err() {
        let _ = down(&dir);
    }
    res
}

fn up_inner(opts: &UpOptions, dir: &Path) -> Result<SimDef> {
    if opts.masters == 0 {
        bail!("--masters must be at least 1");
    }
    let sshd = sshd_path()?;
    if opts.real_zookeeper {
        crate::zk::require()?;
    }
    let subnet = opts.subnet.clone().unwrap_or_else(pick_subnet);
    let as_root = is_root();
    let boot = format!("{subnet}.2");
    let mut nodes = Vec::new();
    let mut add = |name: String, role: Role, address: String| {
        let root = dir.join("nodes").join(&name).join("root");
        nodes.push(NodeDef {
            name,
            role,
            address,
            root,
        });
    };
    for i in 0..opts.masters {
        add(
            format!("m{}", i + 1),
            Role::Master,
            format!("{subnet}.{}", 11 + i),
        );
    }
    for i in 0..opts.agents {
        add(
            format!("a{}", i + 1),
            Role::Agent,
            format!("{subnet}.{}", 21 + i),
        );
    }
    for i in 0..opts.public_agents {
        add(
            format!("p{}", i + 1),
            Role::PublicAgent,
            format!("{subnet}.{}", 41 + i),
        );
    }
    for t in &opts.at_target {
        if !nodes.iter().any(|n| &n.name == t) {
            bail!("--at-target: no node named {t}");
        }
    }
    let up_hex = hex_id(
        &format!("upgrade-{}-{}-{subnet}", opts.version, opts.upgrade_to),
        32,
    );
    let down_hex = hex_id(
        &format!("rollback-{}-{}-{subnet}", opts.upgrade_to, opts.version),
        32,
    );
    let def = SimDef {
        dir: dir.to_path_buf(),
        subnet: subnet.clone(),
        version: opts.version.clone(),
        upgrade_to: opts.upgrade_to.clone(),
        activation_ms: opts.activation_ms,
        reregister_window_ms: opts.reregister_window_ms,
        deploy_ms: opts.deploy_ms,
        at_target: opts.at_target.clone(),
        nodes,
        bootstrap_address: boot.clone(),
        ctl_url: format!("http://{boot}:9999"),
        admin_port: if as_root { 80 } else { 10080 },
        ssh_port: 2222,
        upgrade_script_url: format!("http://{boot}:8080/upgrade/{up_hex}/dcos_node_upgrade.sh"),
        rollback_script_url: format!("http://{boot}:8080/upgrade/{down_hex}/dcos_node_upgrade.sh"),
        as_root,
        user: current_user(),
        real_zookeeper: opts.real_zookeeper,
    };
    for sub in ["pids", "keys", "bootstrap", "nodes"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    let _ = fs::remove_file(dir.join("report.json"));
    let _ = fs::remove_file(dir.join("record.jsonl"));
    if as_root {
        fs::create_dir_all("/run/sshd")?;
    }
    // Keys.
    let client = dir.join("keys/client_ed25519");
    keygen(&client, "dcos-sim-client")?;
    let pubkey = fs::read_to_string(client.with_extension("pub"))?;
    write(&dir.join("keys/authorized_keys"), &pubkey)?;
    let mut known = String::new();
    let mut ssh_config = String::new();
    for (i, n) in def.nodes.iter().enumerate() {
        let sd = dir.join("nodes").join(&n.name).join("sshd");
        fs::create_dir_all(&sd)?;
        let hk = sd.join("ssh_host_ed25519_key");
        keygen(&hk, &format!("dcos-sim-{}", n.name))?;
        let hpub = fs::read_to_string(hk.with_extension("pub"))?;
        let mut parts = hpub.split_whitespace();
        let (kt, kb) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        known.push_str(&format!("[{}]:{} {kt} {kb}\n", n.address, def.ssh_port));
        write(&sd.join("sshd_config"), &sshd_config(&def, n))?;
        ssh_config.push_str(&format!(
            "Host {name} {addr}\n  HostName {addr}\n  Port {port}\n  User {user}\n  IdentityFile {id}\n  IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n\n",
            name = n.name,
            addr = n.address,
            port = def.ssh_port,
            user = def.user,
            id = client.display(),
            kh = dir.join("known_hosts").display(),
        ));
        build_node_fs(&def, n, i)?;
    }
    write(&dir.join("known_hosts"), &known)?;
    write(&dir.join("ssh_config"), &ssh_config)?;
    build_bootstrap(&def)?;
    write(&dir.join("sim.json"), &serde_json::to_string_pretty(&def)?)?;
    write(&dir.join("inventory.toml"), &inventory(&def)?)?;

    // Daemon.
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("serve")
        .arg("--dir")
        .arg(dir)
        .env("DCOS_SIM_DIR", dir);
    let pid = spawn_detached(&mut cmd, &dir.join("daemon.log"))?;
    write(&dir.join("pids/daemon.pid"), &format!("{pid}\n"))?;
    // sshd per node.
    let _ = sshd;
    for n in &def.nodes {
        start_sshd(&def, n)?;
    }
    // Wait for health.
    let deadline = Instant::now() + Duration::from_secs(10);
    for n in &def.nodes {
        if !wait_port(&format!("{}:{}", n.address, def.ssh_port), deadline) {
            let log = fs::read_to_string(dir.join("nodes").join(&n.name).join("sshd/sshd.log"))
                .unwrap_or_default();
            bail!(
                "sshd of {} did not start listening on {}:{}: {log}",
                n.name,
                n.address,
                def.ssh_port
            );
        }
    }
    loop {
        if let Ok(r) = http::get(&def.ctl_addr(), "/health") {
            if r.status == 200 && r.body.contains("\"healthy\":true") {
                break;
            }
        }
        if Instant::now() > deadline {
            let log = fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();
            bail!("the cluster did not become healthy within 10 s; daemon log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if def.real_zookeeper {
        // The daemon starts a server per master with its Exhibitor; wait for the whole ensemble
        // (a JVM start and an election), then seed a few znodes.
        let hosts: Vec<String> = def
            .nodes
            .iter()
            .filter(|n| n.role == Role::Master)
            .map(|n| n.address.clone())
            .collect();
        let zk_deadline = Instant::now() + Duration::from_secs(30);
        if let Err(e) = crate::zk::wait_ensemble(&hosts, zk_deadline) {
            let mut logs = String::new();
            for n in def.nodes.iter().filter(|n| n.role == Role::Master) {
                let out = fs::read_to_string(crate::zk::data_dir(&n.root).join("zookeeper.out"))
                    .unwrap_or_default();
                let tail: String = out.lines().rev().take(15).collect::<Vec<_>>().join("\n");
                logs.push_str(&format!(
                    "--- {} zookeeper.out (last lines, reversed)\n{tail}\n",
                    n.name
                ));
            }
            bail!("{e:#}\n{logs}");
        }
        crate::zk::seed(&hosts, zk_deadline)?;
    }
    Ok(def)
}

#[derive(serde::Serialize)]
struct InvNode {
    name: String,
    address: String,
    root: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    public: Option<bool>,
}

fn inventory(def: &SimDef) -> Result<String> {
    let mut v = toml::Table::new();
    let mut cluster = toml::Table::new();
    cluster.insert(
        "name".into(),
        format!("dcos-sim-{}", def.subnet.replace('.', "-")).into(),
    );
    v.insert("cluster".into(), cluster.into());
    let mut ssh = toml::Table::new();
    ssh.insert("user".into(), def.user.clone().into());
    ssh.insert("port".into(), (def.ssh_port as i64).into());
    ssh.insert(
        "identity_file".into(),
        def.dir
            .join("keys/client_ed25519")
            .to_string_lossy()
            .to_string()
            .into(),
    );
    ssh.insert(
        "known_hosts".into(),
        def.dir
            .join("known_hosts")
            .to_string_lossy()
            .to_string()
            .into(),
    );
    ssh.insert("become".into(), "none".into());
    v.insert("ssh".into(), ssh.into());
    let mut b = toml::Table::new();
    b.insert(
        "upgrade_script_url".into(),
        def.upgrade_script_url.clone().into(),
    );
    b.insert(
        "rollback_script_url".into(),
        def.rollback_script_url.clone().into(),
    );
    v.insert("bootstrap".into(), b.into());
    let conv = |n: &NodeDef| InvNode {
        name: n.name.clone(),
        address: n.address.clone(),
        root: n.root.to_string_lossy().to_string(),
        public: match n.role {
            Role::Master => None,
            Role::Agent => Some(false),
            Role::PublicAgent => Some(true),
        },
    };
    let masters: Vec<InvNode> = def
        .nodes
        .iter()
        .filter(|n| n.role == Role::Master)
        .map(conv)
        .collect();
    let agents: Vec<InvNode> = def
        .nodes
        .iter()
        .filter(|n| n.role != Role::Master)
        .map(conv)
        .collect();
    v.insert("masters".into(), toml::Value::try_from(masters)?);
    if !agents.is_empty() {
        v.insert("agents".into(), toml::Value::try_from(agents)?);
    }
    Ok(format!(
        "# written by dcos-sim up\n{}",
        toml::to_string(&v)?
    ))
}

/// Whether `pid` exists and is not a zombie.
pub(crate) fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let r = unsafe { libc::kill(pid, 0) } == 0;
    if !r {
        return false;
    }
    // A zombie counts as dead.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

fn kill_pid(pid: i32, group: bool) {
    // SAFETY: plain kill(2) calls.
    unsafe {
        if group {
            libc::kill(-pid, libc::SIGTERM);
        }
        libc::kill(pid, libc::SIGTERM);
    }
}

fn force_kill(pid: i32) {
    // SAFETY: plain kill(2) calls.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Stops a process (and its process group) by pid, waiting up to 3 s before SIGKILL.
pub fn stop_pid(pid: i32) {
    if pid <= 1 {
        return;
    }
    kill_pid(pid, true);
    let deadline = Instant::now() + Duration::from_secs(3);
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if pid_alive(pid) {
        force_kill(pid);
    }
}

/// Processes whose environment names this testbed (sessions, scripts left running on nodes).
fn testbed_processes(dir: &Path) -> Vec<i32> {
    let me = std::process::id() as i32;
    let d = dir.to_string_lossy().to_string();
    let markers = [
        format!("DCOS_SIM_DIR={d}"),
        format!("DCOS_SIM_ROOT={d}/nodes/"),
    ];
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid == me {
                continue;
            }
            let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            let hit = env.split(|b| *b == 0).any(|v| {
                let v = String::from_utf8_lossy(v);
                markers
                    .iter()
                    .any(|m| v == *m || (m.ends_with('/') && v.starts_with(m.as_str())))
            });
            if hit {
                out.push(pid);
            }
        }
    }
    out
}

fn read_pid(p: &Path) -> Option<i32> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// `dcos-sim down`: saves the final report and stops everything the testbed started. Idempotent.
pub fn down(dir: &Path) -> Result<()> {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if let Ok(def) = SimDef::load(&dir) {
        if let Ok(r) = http::get(&def.ctl_addr(), "/report") {
            if r.status == 200 {
                let _ = fs::write(dir.join("report.json"), &r.body);
            }
        }
    }
    let pids_dir = dir.join("pids");
    if let Ok(rd) = fs::read_dir(&pids_dir) {
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if let Some(pid) = read_pid(&f) {
                if pid_alive(pid) {
                    stop_pid(pid);
                }
            }
            let _ = fs::remove_file(&f);
        }
    }
    // Anything else that carries this testbed in its environment (ssh sessions, node scripts).
    for _ in 0..3 {
        let left = testbed_processes(&dir);
        if left.is_empty() {
            break;
        }
        for pid in &left {
            kill_pid(*pid, false);
        }
        std::thread::sleep(Duration::from_millis(200));
        for pid in testbed_processes(&dir) {
            force_kill_single(pid);
        }
    }
    Ok(())
}

fn force_kill_single(pid: i32) {
    // SAFETY: plain kill(2).
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// The fault kinds `dcos-sim fault` accepts.
pub const FAULT_KINDS: &[&str] = &[
    "upgrade-fails",
    "hang",
    "never-healthy",
    "slow-healthy",
    "ssh-down",
    "http-garbage",
    "disk-full",
    "tasks-failing",
    "flapping",
];

/// `dcos-sim fault`: sets (or clears) a fault on a node.
pub fn fault(dir: &Path, node: &str, kind: &str, clear: bool) -> Result<()> {
    if !FAULT_KINDS.contains(&kind) {
        bail!(
            "unknown fault kind {kind:?}; known: {}",
            FAULT_KINDS.join(", ")
        );
    }
    let dir = fs::canonicalize(dir)?;
    let def = SimDef::load(&dir)?;
    let n = def
        .node(node)
        .ok_or_else(|| anyhow!("no node named {node}"))?
        .clone();
    let path = format!(
        "/node/{node}/fault/{kind}{}",
        if clear { "/clear" } else { "" }
    );
    let r =
        http::post(&def.ctl_addr(), &path, "").context("the testbed daemon is not reachable")?;
    if r.status != 200 {
        bail!("daemon refused the fault: {} {}", r.status, r.body);
    }
    if kind == "ssh-down" {
        let pidf = dir.join("pids").join(format!("sshd-{node}.pid"));
        if clear {
            if !read_pid(&pidf).map(pid_alive).unwrap_or(false) {
                start_sshd(&def, &n)?;
                if !wait_port(
                    &format!("{}:{}", n.address, def.ssh_port),
                    Instant::now() + Duration::from_secs(5),
                ) {
                    bail!("sshd of {node} did not come back");
                }
            }
        } else {
            if let Some(pid) = read_pid(&pidf) {
                // Established connections go down too: kill the per-connection sshd children
                // (a node whose sshd dies mid-command), then the listener.
                for child in children_of(pid as u32) {
                    kill_pid(child as i32, false);
                }
                stop_pid(pid);
            }
            let _ = fs::remove_file(&pidf);
        }
    }
    Ok(())
}

/// Pids whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(pid) {
                out.push(child);
            }
        }
    }
    out
}

/// `dcos-sim report`: asks the daemon, or reads the report saved by `down`.
pub fn report(dir: &Path) -> Result<Report> {
    let dir = fs::canonicalize(dir)?;
    let def = SimDef::load(&dir)?;
    match http::get(&def.ctl_addr(), "/report") {
        Ok(r) if r.status == 200 => Ok(serde_json::from_str(&r.body)?),
        _ => {
            let saved = fs::read_to_string(dir.join("report.json"))
                .context("the testbed daemon is not running and no saved report.json exists")?;
            Ok(serde_json::from_str(&saved)?)
        }
    }
}

/// A short human-readable table of a report.
pub fn report_table(r: &Report) -> String {
    let mut s = format!(
        "{:<6} {:<14} {:<13} {:<10} {:>8} {:>8}\n",
        "NODE", "ADDRESS", "ROLE", "VERSION", "ATTEMPTS", "SERVICES"
    );
    for n in &r.nodes {
        s.push_str(&format!(
            "{:<6} {:<14} {:<13} {:<10} {:>8} {:>8}\n",
            n.name,
            n.address,
            n.role,
            n.version,
            n.upgrade_attempts,
            if n.services_up { "up" } else { "down" }
        ));
    }
    s.push_str(&format!(
        "leader: {}  quorum_loss_events: {}  max_masters_down: {}  max_agents_down: {}  tasks_lost: {}\n",
        r.leader.as_deref().unwrap_or("none"),
        r.quorum_loss_events,
        r.max_masters_down,
        r.max_agents_down,
        r.tasks_lost
    ));
    for u in &r.upgrade_order {
        s.push_str(&format!(
            "upgrade: {} {} -> {} leader={} ok={}\n",
            u.node, u.from, u.to, u.was_leader, u.ok
        ));
    }
    for a in &r.apps {
        s.push_str(&format!(
            "app {}: {} x{} healthy={} version={}\n",
            a.id, a.image, a.instances, a.tasks_healthy, a.version
        ));
    }
    s
}
