//! Helpers shared by the testbed's own tests: ssh through the generated config, JSON GETs, waits.

#![allow(dead_code)]

use dcos_sim::http;
use dcos_sim::Testbed;
use serde_json::Value;
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `cmd` on `node` with `ssh -F DIR/ssh_config`; returns the exit code and stdout+stderr.
pub fn ssh(tb: &Testbed, node: &str, cmd: &str) -> (i32, String) {
    let out = Command::new("ssh")
        .arg("-F")
        .arg(tb.ssh_config())
        .args(["-o", "StrictHostKeyChecking=yes", node, cmd])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// `GET addr path`, asserting a 200 with a JSON body.
pub fn get_json(addr: &str, path: &str) -> Value {
    let r = http::get(addr, path).unwrap_or_else(|e| panic!("GET {addr}{path}: {e}"));
    assert_eq!(r.status, 200, "GET {addr}{path}: {}", r.body);
    serde_json::from_str(&r.body)
        .unwrap_or_else(|e| panic!("GET {addr}{path}: not JSON ({e}): {}", r.body))
}

/// Polls `f` every 100 ms until it holds; panics naming `what` after `secs`.
pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `curl -s` with `args`: its exit code and the HTTP status it printed (`000` when none).
pub fn curl(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            "--max-time",
            "5",
        ])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// Connects from the host (2 s timeout).
pub fn connect(addr: &str) -> std::io::Result<TcpStream> {
    let sa: SocketAddr = addr.parse().unwrap();
    TcpStream::connect_timeout(&sa, Duration::from_secs(2))
}

/// Asserts that `addr` refuses a connection from the host.
pub fn assert_refused(addr: &str) {
    match connect(addr) {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
        other => panic!("{addr} must refuse from the host, got {other:?}"),
    }
}

/// The first bytes a host-side connection to `addr` reads (an sshd says `SSH-2.0-...`).
pub fn banner(addr: &str) -> String {
    let mut s = connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).to_string()
}

/// This machine's network namespaces whose names start with `prefix`.
pub fn namespaces(prefix: &str) -> Vec<String> {
    dcos_sim::netns::list(prefix)
}
