//! A minimal blocking ZooKeeper client (one session; create, getChildren, getData) and the znode
//! seeding of `up`.

use super::*;
use anyhow::{anyhow, bail, Context, Result};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_replies_do_not_panic() {
        let mut r = Reader { b: &[0, 0], pos: 0 };
        assert!(r.int().is_err());
        let mut r = Reader {
            b: &[0, 0, 0, 9, 1],
            pos: 0,
        };
        assert!(r.buffer().is_err());
    }
}
