//! Network namespaces for `--network firewalled`: one named namespace per node (a bind mount under
//! `/run/netns`, where `ip netns` finds it), a thread that acts inside one, and their removal.
//!
//! Creating and entering a namespace needs CAP_SYS_ADMIN (root in CI); see the README.

use anyhow::{anyhow, bail, Context, Result};
use std::ffi::CString;
use std::fs::{self, File};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

/// Where named network namespaces live (as `ip netns add` makes them).
pub const NETNS_DIR: &str = "/run/netns";

const NEEDS: &str = "--network firewalled needs CAP_SYS_ADMIN and CAP_NET_ADMIN (run as root), \
                     or use --network flat";

/// The file of the named namespace `name`.
pub fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

fn os_err(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// Brings the calling thread's loopback interface up (a new namespace starts with `lo` down).
fn lo_up() -> io::Result<()> {
    // SAFETY: a datagram socket used for two ioctls on a zeroed, NUL-terminated ifreq, then closed.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(os_err("socket"));
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            ifr.ifr_name[i] = *b as libc::c_char;
        }
        let mut r = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr);
        if r == 0 {
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            r = libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr);
        }
        let e = (r != 0).then(|| os_err("bringing lo up"));
        libc::close(fd);
        e.map_or(Ok(()), Err)
    }
}

/// Creates the named namespace `name` with its loopback up. Refuses an existing one.
pub fn create(name: &str) -> Result<()> {
    let p = path(name);
    if p.exists() {
        bail!(
            "network namespace {name} already exists (another testbed on this subnet, or one not \
             taken down: `ip netns del {name}`)"
        );
    }
    fs::create_dir_all(NETNS_DIR)
        .and_then(|_| File::create(&p))
        .map_err(|e| anyhow!("cannot create {}: {e}; {NEEDS}", p.display()))?;
    let target = p.clone();
    let made = std::thread::spawn(move || -> io::Result<()> {
        // SAFETY: unshare only changes this (short-lived) thread's network namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(os_err("unshare(CLONE_NEWNET)"));
        }
        lo_up()?;
        let src = cstr(Path::new("/proc/thread-self/ns/net"))?;
        let dst = cstr(&target)?;
        // SAFETY: valid NUL-terminated paths; a plain bind mount keeps the namespace alive.
        let r = unsafe {
            libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        if r != 0 {
            return Err(os_err("bind-mounting the namespace"));
        }
        Ok(())
    })
    .join()
    .map_err(|_| anyhow!("the namespace thread panicked"))?;
    if let Err(e) = made {
        let _ = fs::remove_file(&p);
        bail!("cannot create network namespace {name}: {e}; {NEEDS}");
    }
    Ok(())
}

/// Removes the named namespace (its processes must be gone for it to be freed). Idempotent.
pub fn delete(name: &str) -> Result<()> {
    let p = path(name);
    if !p.exists() {
        return Ok(());
    }
    let c = cstr(&p)?;
    // SAFETY: a valid path; MNT_DETACH also succeeds while the namespace is in use.
    unsafe {
        libc::umount2(c.as_ptr(), libc::MNT_DETACH);
    }
    fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))
}

/// The named namespaces whose names start with `prefix`.
pub fn list(prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(NETNS_DIR)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The identity (device, inode) of a namespace file.
fn ns_id(p: &Path) -> Option<(u64, u64)> {
    fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// The pids of processes living in the named namespace.
pub fn pids_in(name: &str) -> Vec<i32> {
    let Some(id) = ns_id(&path(name)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if ns_id(&e.path().join("ns/net")) == Some(id) {
                out.push(pid);
            }
        }
    }
    out
}

/// The TCP ports a process's network namespace listens on (from `/proc/<pid>/net/tcp` and `tcp6`:
/// Java listens on IPv6 sockets), without connecting to any of them.
pub fn listening_ports(pid: i32) -> Vec<u16> {
    let text = ["tcp", "tcp6"]
        .iter()
        .map(|f| fs::read_to_string(format!("/proc/{pid}/net/{f}")).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("sl"))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let local = f.nth(1)?;
            let state = f.nth(1)?;
            // State 0A is LISTEN; the local address is hex `IP:PORT`.
            (state == "0A")
                .then(|| u16::from_str_radix(local.rsplit(':').next()?, 16).ok())
                .flatten()
        })
        .collect()
}

/// Makes `cmd` start inside the named namespace (setns before exec).
pub fn enter_on_exec(cmd: &mut Command, name: &str) -> Result<()> {
    let f = File::open(path(name)).with_context(|| format!("opening network namespace {name}"))?;
    // The closure owns the (close-on-exec) descriptor: it closes with the Command.
    // SAFETY: setns is async-signal-safe; the descriptor is a namespace file opened above.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

type Job = Box<dyn FnOnce() + Send>;

/// A thread that lives inside one namespace: sockets it creates belong to that namespace.
pub struct NsThread {
    tx: mpsc::Sender<Job>,
    name: String,
}

impl NsThread {
    /// Starts a thread inside the named namespace.
    pub fn spawn(name: &str) -> Result<NsThread> {
        let f =
            File::open(path(name)).with_context(|| format!("opening network namespace {name}"))?;
        let (tx, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("netns-{name}"))
            .spawn(move || {
                // SAFETY: setns on a namespace file; affects this thread only.
                let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
                let ok = r == 0;
                let _ = ready_tx.send(if ok { Ok(()) } else { Err(os_err("setns")) });
                drop(f);
                if ok {
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| anyhow!("the namespace thread of {name} died"))?
            .with_context(|| format!("entering network namespace {name}"))?;
        Ok(NsThread {
            tx,
            name: name.to_string(),
        })
    }

    /// Runs `f` on the namespace's thread and returns its result.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
        let (rtx, rrx) = mpsc::channel();
        let gone = || io::Error::other(format!("the thread of namespace {} is gone", self.name));
        self.tx
            .send(Box::new(move || {
                let _ = rtx.send(f());
            }))
            .map_err(|_| gone())?;
        rrx.recv().map_err(|_| gone())
    }

    /// Binds a TCP listener on `addr` inside the namespace.
    pub fn bind(&self, addr: &str) -> io::Result<TcpListener> {
        let addr = addr.to_string();
        self.run(move || TcpListener::bind(addr))?
    }

    /// Connects to `addr` from inside the namespace.
    pub fn connect(&self, addr: &str, timeout: Duration) -> io::Result<TcpStream> {
        let sa: SocketAddr = addr
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
        self.run(move || TcpStream::connect_timeout(&sa, timeout))?
    }
}

/// Whether `addr` accepts a connection from inside the named namespace.
pub fn accepts_in(name: &str, addr: &str) -> bool {
    NsThread::spawn(name)
        .and_then(|t| Ok(t.connect(addr, Duration::from_millis(300))?))
        .is_ok()
}
