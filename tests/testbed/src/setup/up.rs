//! `dcos-sim up`: the cluster definition, writing every file, starting the daemon and the sshds,
//! and waiting for health.

use super::*;
use crate::http;
use crate::model::{Network, NodeDef, Role, SimDef};
use anyhow::{bail, Result};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub(super) fn addr_free(addr: &str) -> bool {
    std::net::TcpListener::bind(addr).is_ok()
}

pub(super) fn pick_subnet() -> String {
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
            && crate::netns::list(&format!("dcos-sim-{}-", s.replace('.', "-"))).is_empty()
        {
            return s;
        }
    }
    "127.77.77".into()
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

pub(super) fn up_inner(opts: &UpOptions, dir: &Path) -> Result<SimDef> {
    if opts.masters == 0 {
        bail!("--masters must be at least 1");
    }
    let sshd = sshd_path()?;
    if opts.real_zookeeper {
        crate::zk::require()?;
    }
    if opts.bastion && opts.network != Network::Firewalled {
        bail!("--bastion needs --network firewalled (on a flat network every node is reachable)");
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
        check_ms: opts.check_ms,
        at_target: opts.at_target.clone(),
        nodes,
        bootstrap_address: boot.clone(),
        ctl_url: format!("http://{boot}:9999"),
        admin_port: if as_root { 80 } else { 10080 },
        ssh_port: 2222,
        upgrade_script_url: format!("http://{boot}:8080/upgrade/{up_hex}/dcos_node_upgrade.sh"),
        rollback_script_url: format!("http://{boot}:8080/upgrade/{down_hex}/dcos_node_upgrade.sh"),
        as_root,
        user: opts.ssh_user.clone().unwrap_or_else(current_user),
        real_zookeeper: opts.real_zookeeper,
        network: opts.network,
        security: opts.security,
        upgrade_security: opts.upgrade_security,
        bastion: opts.bastion.then(|| NodeDef {
            name: "bastion".into(),
            role: Role::Agent,
            address: format!("{subnet}.3"),
            root: dir.join("nodes/bastion/root"),
        }),
        token_ttl_secs: opts.token_ttl_secs,
        zones: opts.zones.clone(),
        zk_data_mb: opts.zk_data_mb,
        crdb_catch_up_ms: opts.crdb_catch_up_ms,
        up_secs: opts.up_secs,
    };
    for sub in ["pids", "keys", "bootstrap", "nodes"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    let _ = fs::remove_file(dir.join("report.json"));
    let _ = fs::remove_file(dir.join("record.jsonl"));
    if as_root {
        fs::create_dir_all("/run/sshd")?;
    }
    write_ssh_files(&def)?;
    if opts.ssh_user.is_some() {
        // sshd reads authorized_keys as the login user: the way to it must be open to them.
        for d in [dir.to_path_buf(), dir.join("keys")] {
            fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?;
        }
        fs::set_permissions(
            dir.join("keys/authorized_keys"),
            fs::Permissions::from_mode(0o644),
        )?;
    }
    for (i, n) in def.nodes.iter().enumerate() {
        build_node_fs(&def, n, i)?;
    }
    build_bootstrap(&def)?;
    if def.security_on() {
        make_pki(&def)?;
        crate::iam::write_credentials(&def.dir, &def.subnet)?;
    }
    write(&dir.join("sim.json"), &serde_json::to_string_pretty(&def)?)?;
    write(&dir.join("inventory.toml"), &inventory(&def)?)?;
    // Namespaces after sim.json, so that `down` (also after a failed `up`) finds them.
    for n in def.nodes.iter().chain(&def.bastion) {
        if let Some(ns) = def.netns(&n.name) {
            crate::netns::create(&ns)?;
        }
    }

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
    for n in def.nodes.iter().chain(&def.bastion) {
        start_sshd(&def, n)?;
    }
    // Wait for health (failing at once if the daemon died, e.g. on a port it could not bind).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(r) = http::get(&def.ctl_addr(), "/health") {
            if r.status == 200 && r.body.contains("\"healthy\":true") {
                break;
            }
        }
        let dead = !pid_alive(pid as i32);
        if dead || Instant::now() > deadline {
            let log = fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();
            if dead {
                bail!("the testbed daemon exited; daemon log:\n{log}");
            }
            bail!("the cluster did not become healthy within 10 s; daemon log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for n in def.nodes.iter().chain(&def.bastion) {
        if !wait_sshd(&def, n, deadline) {
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
        // Firewalled: from inside the first master's namespace (the cluster network).
        let first = def.nodes.iter().find(|n| n.role == Role::Master);
        let inside = first.and_then(|n| def.netns(&n.name));
        let in_cluster = |f: Box<dyn FnOnce() -> Result<()> + Send>| -> Result<()> {
            match &inside {
                Some(ns) => crate::netns::NsThread::spawn(ns)?.run(f)?,
                None => f(),
            }
        };
        let h = hosts.clone();
        let waited = in_cluster(Box::new(move || crate::zk::wait_ensemble(&h, zk_deadline)));
        if let Err(e) = waited {
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
        in_cluster(Box::new(move || crate::zk::seed(&hosts, zk_deadline)))?;
    }
    Ok(def)
}
