//! Processes: starting detached ones, waiting for ports, stopping by pid, and `dcos-sim down`.

use crate::http;
use crate::model::SimDef;
use anyhow::{Context, Result};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

pub(super) fn wait_port(addr: &str, deadline: Instant) -> bool {
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

pub(super) fn kill_pid(pid: i32, group: bool) {
    // SAFETY: plain kill(2) calls.
    unsafe {
        if group {
            libc::kill(-pid, libc::SIGTERM);
        }
        libc::kill(pid, libc::SIGTERM);
    }
}

pub(super) fn force_kill(pid: i32) {
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
pub(super) fn testbed_processes(dir: &Path) -> Vec<i32> {
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

pub(super) fn read_pid(p: &Path) -> Option<i32> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// `dcos-sim down`: saves the final report and stops everything the testbed started. Idempotent.
pub fn down(dir: &Path) -> Result<()> {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let def = SimDef::load(&dir).ok();
    if let Some(def) = &def {
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
    if let Some(def) = &def {
        remove_namespaces(&def.netns_prefix())?;
    }
    Ok(())
}

/// Kills whatever still lives in this testbed's network namespaces (found by name prefix, so a
/// dead daemon or lost pid files do not leave any behind) and removes them.
fn remove_namespaces(prefix: &str) -> Result<()> {
    for ns in crate::netns::list(prefix) {
        for _ in 0..20 {
            let pids = crate::netns::pids_in(&ns);
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                force_kill_single(pid);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        crate::netns::delete(&ns)?;
    }
    Ok(())
}

pub(super) fn force_kill_single(pid: i32) {
    // SAFETY: plain kill(2).
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Pids whose parent is `pid` (from /proc).
pub(super) fn children_of(pid: u32) -> Vec<u32> {
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
