//! ZooKeeper's four-letter words (`ruok`, `srvr`, `mntr`): asking, parsing, and waiting for an
//! ensemble to serve.

use super::*;
use anyhow::{anyhow, bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub(super) fn sock(addr: &str) -> Result<SocketAddr> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse() {
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
    }
}
