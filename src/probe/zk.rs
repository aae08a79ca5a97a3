//! ZooKeeper's four-letter words (`ruok`, `srvr`, `mntr`) over plain TCP on the client port,
//! with typed parsers. Read-only: these commands change nothing on the server.

use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The ZooKeeper client port DC/OS uses on every master.
pub const CLIENT_PORT: u16 = 2181;

/// Largest answer read (mntr is a few hundred bytes).
const MAX_ANSWER: usize = 64 * 1024;

/// Sends one four-letter word to `host:port` and returns the whole answer.
///
/// # Errors
/// A message naming the server and the word when the connection, the write or the read fails
/// or takes longer than `timeout`.
pub async fn four_letter(
    host: &str,
    port: u16,
    word: &str,
    timeout: Duration,
) -> Result<String, String> {
    let addr = format!("{host}:{port}");
    let fut = async {
        let mut s = TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("ZooKeeper {addr}: cannot connect: {e}"))?;
        s.write_all(word.as_bytes())
            .await
            .map_err(|e| format!("ZooKeeper {addr}: cannot send {word}: {e}"))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() > MAX_ANSWER {
                        break;
                    }
                }
                // A server may reset the connection right after answering.
                Err(_) if !buf.is_empty() => break,
                Err(e) => return Err(format!("ZooKeeper {addr}: reading the {word} answer: {e}")),
            }
        }
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| format!("ZooKeeper {addr}: no answer to {word} within {timeout:?}"))?
}

/// What one server says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ZkServer {
    /// The server's address.
    pub host: String,
    /// `ruok` answered `imok`.
    pub ok: bool,
    /// `Mode:` from `srvr` (`leader`, `follower`, `standalone`, `observer`), if it answered.
    pub mode: Option<String>,
    /// `zk_synced_followers` from `mntr` (only a leader reports it).
    pub synced_followers: Option<u64>,
    /// `zk_znode_count` from `mntr`.
    pub znode_count: Option<u64>,
    /// `zk_num_alive_connections` from `mntr`.
    pub connections: Option<u64>,
    /// Every `mntr` key and value as the server sent them (keys vary by version).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub mntr: std::collections::BTreeMap<String, String>,
    /// Why a word got no usable answer.
    pub error: Option<String>,
}

/// Asks one server `ruok`, `srvr` and `mntr`; never fails, the errors are kept in the result.
pub async fn server(host: &str, port: u16, timeout: Duration) -> ZkServer {
    let ruok = four_letter(host, port, "ruok", timeout).await;
    if ruok.is_err() {
        return server_from(host, ruok, Err(String::new()), Err(String::new()));
    }
    let srvr = four_letter(host, port, "srvr", timeout).await;
    let mntr = four_letter(host, port, "mntr", timeout).await;
    server_from(host, ruok, srvr, mntr)
}

/// What one server says about itself, from its answers to `ruok`, `srvr` and `mntr` (however
/// they were read: over TCP here, or on the node by `probe::node`).
pub fn server_from(
    host: &str,
    ruok: Result<String, String>,
    srvr: Result<String, String>,
    mntr: Result<String, String>,
) -> ZkServer {
    let mut z = ZkServer {
        host: host.to_string(),
        ..Default::default()
    };
    match ruok {
        Ok(a) => z.ok = a.trim() == "imok",
        Err(e) => {
            z.error = Some(e);
            return z;
        }
    }
    match srvr {
        Ok(a) => {
            z.mode = parse_srvr_mode(&a);
            if z.mode.is_none() {
                z.error = Some(format!(
                    "ZooKeeper {host}: srvr answered without a Mode: {}",
                    a.trim()
                ));
            }
        }
        Err(e) => z.error = Some(e),
    }
    match mntr {
        Ok(a) => {
            let m = parse_mntr(&a);
            let num = |k: &str| m.get(k).and_then(|v| v.parse::<u64>().ok());
            z.synced_followers = num("zk_synced_followers");
            z.znode_count = num("zk_znode_count");
            z.connections = num("zk_num_alive_connections");
            z.mntr = m.into_iter().collect();
        }
        Err(e) => {
            if z.error.is_none() {
                z.error = Some(e);
            }
        }
    }
    z
}

/// The `Mode:` line of a `srvr` answer, lower-cased.
pub fn parse_srvr_mode(answer: &str) -> Option<String> {
    answer
        .lines()
        .find_map(|l| l.trim().strip_prefix("Mode:"))
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty())
}

/// The key/value lines of a `mntr` answer (tab separated).
pub fn parse_mntr(answer: &str) -> HashMap<String, String> {
    answer
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(2, ['\t', ' ']);
            let k = it.next()?.trim();
            let v = it.next()?.trim();
            (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Judges an ensemble of `expected` servers: all answer `imok`, exactly one leader, the rest
/// followers, and the leader has `expected - 1` synced followers.
pub fn judge(servers: &[ZkServer], expected: usize) -> Result<String, String> {
    let mut problems = Vec::new();
    for s in servers {
        if let Some(e) = &s.error {
            problems.push(e.clone());
        } else if !s.ok {
            problems.push(format!("ZooKeeper {}: ruok did not answer imok", s.host));
        }
    }
    let leaders: Vec<&ZkServer> = servers
        .iter()
        .filter(|s| s.mode.as_deref() == Some("leader"))
        .collect();
    if leaders.len() != 1 {
        problems.push(format!(
            "{} ZooKeeper servers say Mode: leader, expected exactly 1",
            leaders.len()
        ));
    }
    for s in servers.iter().filter(|s| s.mode.is_some()) {
        let m = s.mode.as_deref().unwrap_or_default();
        if m != "leader" && m != "follower" {
            problems.push(format!("ZooKeeper {} is in mode {m}", s.host));
        }
    }
    if let [l] = leaders.as_slice() {
        let want = expected.saturating_sub(1) as u64;
        match l.synced_followers {
            Some(n) if n == want => {}
            Some(n) => problems.push(format!(
                "the ZooKeeper leader {} has {n} synced followers, expected {want}",
                l.host
            )),
            None => problems.push(format!(
                "the ZooKeeper leader {} reports no zk_synced_followers",
                l.host
            )),
        }
    }
    if problems.is_empty() {
        let l = leaders.first().map(|l| l.host.as_str()).unwrap_or("?");
        let znodes = leaders.first().and_then(|l| l.znode_count).unwrap_or(0);
        Ok(format!(
            "{} ZooKeeper servers imok, leader {l} with {} synced followers, {znodes} znodes",
            servers.len(),
            expected.saturating_sub(1)
        ))
    } else {
        Err(problems.join("; "))
    }
}

/// Lists the children of `path` with the ZooKeeper client protocol (a session that only reads,
/// closed at once). Used for the top-level znodes.
///
/// # Errors
/// A message naming the server when it cannot be reached or answers something else.
pub async fn children(
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let addr = format!("{host}:{port}");
    let fut = async {
        let mut s = TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("ZooKeeper {addr}: cannot connect: {e}"))?;
        // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly.
        let mut req = Vec::new();
        req.extend_from_slice(&0i32.to_be_bytes());
        req.extend_from_slice(&0i64.to_be_bytes());
        req.extend_from_slice(&10_000i32.to_be_bytes());
        req.extend_from_slice(&0i64.to_be_bytes());
        req.extend_from_slice(&16i32.to_be_bytes());
        req.extend_from_slice(&[0u8; 16]);
        req.push(0);
        send_frame(&mut s, &req)
            .await
            .map_err(|e| format!("ZooKeeper {addr}: connect: {e}"))?;
        read_frame(&mut s)
            .await
            .map_err(|e| format!("ZooKeeper {addr}: connect answer: {e}"))?;
        // getChildren (type 8): xid, type, path, watch=false.
        let mut req = Vec::new();
        req.extend_from_slice(&1i32.to_be_bytes());
        req.extend_from_slice(&8i32.to_be_bytes());
        req.extend_from_slice(&(path.len() as i32).to_be_bytes());
        req.extend_from_slice(path.as_bytes());
        req.push(0);
        send_frame(&mut s, &req)
            .await
            .map_err(|e| format!("ZooKeeper {addr}: getChildren: {e}"))?;
        let body = read_frame(&mut s)
            .await
            .map_err(|e| format!("ZooKeeper {addr}: getChildren answer: {e}"))?;
        // closeSession (type -11), best effort.
        let mut close = Vec::new();
        close.extend_from_slice(&2i32.to_be_bytes());
        close.extend_from_slice(&(-11i32).to_be_bytes());
        let _ = send_frame(&mut s, &close).await;
        parse_children(&body).map_err(|e| format!("ZooKeeper {addr}: getChildren {path}: {e}"))
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| {
        format!("ZooKeeper {addr}: no answer to getChildren {path} within {timeout:?}")
    })?
}

async fn send_frame(s: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    s.write_all(&f).await
}

async fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let n = i32::from_be_bytes(len);
    if !(0..=(MAX_ANSWER as i32 * 16)).contains(&n) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {n} bytes"),
        ));
    }
    let mut buf = vec![0u8; n as usize];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Parses a getChildren reply: header (xid, zxid, err) then a vector of strings.
pub fn parse_children(body: &[u8]) -> Result<Vec<String>, String> {
    let mut pos = 0usize;
    let mut take = |n: usize| -> Result<&[u8], String> {
        let end = pos
            .checked_add(n)
            .filter(|e| *e <= body.len())
            .ok_or("truncated reply")?;
        let s = &body[pos..end];
        pos = end;
        Ok(s)
    };
    let int = |b: &[u8]| i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let _xid = take(4)?;
    let _zxid = take(8)?;
    let err = int(take(4)?);
    if err != 0 {
        return Err(format!("error code {err}"));
    }
    let count = int(take(4)?);
    if !(0..=100_000).contains(&count) {
        return Err(format!("implausible child count {count}"));
    }
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let len = int(take(4)?);
        if len < 0 {
            return Err("negative name length".into());
        }
        out.push(String::from_utf8_lossy(take(len as usize)?).into_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
