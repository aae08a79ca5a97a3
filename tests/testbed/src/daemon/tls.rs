//! TLS on the node listeners (`--security permissive|strict`): which port speaks what, the server
//! and client configurations made from the testbed CA, and a listener that serves plain HTTP, TLS
//! or both (told apart by the first byte) to axum, telling each handler whether it came over TLS.

use super::*;
use crate::model::Security;
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// What a listener speaks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Wire {
    /// Plain HTTP only.
    Plain,
    /// TLS only.
    Tls,
    /// TLS and plain HTTP on the same port (Mesos in permissive mode).
    Both,
    /// TLS with a client certificate signed by the cluster CA (Exhibitor in strict mode).
    TlsClientCert,
}

/// What `kind`'s `port` speaks on a node in `security` mode (issue 10; facts §8.1): disabled is plain
/// everywhere; permissive adds Admin Router's HTTPS port and Marathon's :8443 and lets Mesos and
/// Exhibitor take both; strict makes Mesos TLS-only and Exhibitor want a client certificate.
pub(super) fn wire_for(def: &SimDef, security: Security, kind: Kind, port: u16) -> Wire {
    match (security, kind) {
        (Security::Disabled, _) => Wire::Plain,
        (_, Kind::Admin) if port == def.admin_tls_port() => Wire::Tls,
        (_, Kind::Marathon) if port == MARATHON_TLS_PORT => Wire::Tls,
        (Security::Permissive, Kind::Master | Kind::Agent | Kind::Exhibitor) => Wire::Both,
        (Security::Strict, Kind::Master | Kind::Agent) => Wire::Tls,
        (Security::Strict, Kind::Exhibitor) => Wire::TlsClientCert,
        _ => Wire::Plain,
    }
}

/// Marathon's HTTPS port (`http_config.https_port`).
pub(super) const MARATHON_TLS_PORT: u16 = 8443;

/// The TLS configurations made from `DIR/pki` and `DIR/dcos-ca.crt`.
pub(super) struct Tls {
    server: TlsAcceptor,
    client_cert: TlsAcceptor,
    /// For Admin Router's upstream connections: trusts the CA, presents the node certificate.
    pub(super) client: Arc<rustls::ClientConfig>,
}

impl Tls {
    /// Loads the configurations (`None` when security is disabled).
    pub(super) fn load(def: &SimDef) -> anyhow::Result<Option<Arc<Tls>>> {
        let Some(ca) = def.ca_file() else {
            return Ok(None);
        };
        let pki = def.pki_dir();
        let certs =
            CertificateDer::pem_file_iter(pki.join("node.crt"))?.collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_file(pki.join("node.key"))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&ca)? {
            roots.add(c?)?;
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let base = || {
            rustls::ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
        };
        let server = base()?
            .with_no_client_auth()
            .with_single_cert(certs.clone(), key.clone_key())?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .build()?;
        let client_cert = base()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())?;
        let client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)?;
        Ok(Some(Arc::new(Tls {
            server: TlsAcceptor::from(Arc::new(server)),
            client_cert: TlsAcceptor::from(Arc::new(client_cert)),
            client: Arc::new(client),
        })))
    }
}

/// One accepted connection.
pub(super) enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// What a handler learns about its connection (`ConnectInfo<Conn>`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Conn {
    /// Whether the request came over TLS.
    pub(super) tls: bool,
}

impl Connected<IncomingStream<'_, NodeListener>> for Conn {
    fn connect_info(s: IncomingStream<'_, NodeListener>) -> Conn {
        Conn {
            tls: matches!(s.io(), Stream::Tls(_)),
        }
    }
}

/// A bound port speaking `Wire`: a task accepts and shakes hands (so one slow client does not
/// hold up the others) and hands finished connections to axum. Dropping it closes the port.
pub(super) struct NodeListener {
    rx: mpsc::Receiver<(Stream, SocketAddr)>,
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for NodeListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl NodeListener {
    /// Takes over a bound std listener (of any namespace).
    pub(super) fn new(
        l: std::net::TcpListener,
        wire: Wire,
        tls: Option<Arc<Tls>>,
    ) -> io::Result<Self> {
        l.set_nonblocking(true)?;
        let local = l.local_addr()?;
        let l = tokio::net::TcpListener::from_std(l)?;
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let Ok((s, addr)) = l.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (tx, tls) = (tx.clone(), tls.clone());
                tokio::spawn(async move {
                    let open = tokio::time::timeout(Duration::from_secs(5), open(s, wire, tls));
                    if let Ok(Some(io)) = open.await {
                        let _ = tx.send((io, addr)).await;
                    }
                });
            }
        });
        Ok(NodeListener { rx, local, task })
    }
}

/// Turns an accepted TCP connection into what `wire` speaks (`None`: a failed handshake).
async fn open(s: TcpStream, wire: Wire, tls: Option<Arc<Tls>>) -> Option<Stream> {
    let tls_first = match wire {
        Wire::Plain => false,
        Wire::Tls | Wire::TlsClientCert => true,
        Wire::Both => {
            let mut b = [0u8; 1];
            // A TLS record starts with 0x16 (handshake); anything else is plain HTTP.
            matches!(s.peek(&mut b).await, Ok(1) if b[0] == 0x16)
        }
    };
    if !tls_first {
        return Some(Stream::Plain(s));
    }
    let tls = tls?;
    let acceptor = if wire == Wire::TlsClientCert {
        &tls.client_cert
    } else {
        &tls.server
    };
    acceptor
        .accept(s)
        .await
        .ok()
        .map(|t| Stream::Tls(Box::new(t)))
}

impl Listener for NodeListener {
    type Io = Stream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Stream, SocketAddr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task is gone (never while the listener lives): wait to be dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
