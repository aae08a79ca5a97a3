//! The HTTP client for probes: verified TLS, timeouts, no redirects followed, typed errors
//! that say what came back when it was not what was expected.

use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::time::Duration;

/// How to talk HTTP to the cluster.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Timeout of one request.
    pub timeout: Duration,
    /// Extra CA bundle (PEM) for the DC/OS CA.
    pub ca_file: Option<PathBuf>,
    /// DC/OS ACS token, sent as `Authorization: token=<...>` (never logged).
    pub token: Option<String>,
}

/// Why a probe did not get the answer it needs.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProbeError {
    /// No connection (refused, reset, TLS, timeout).
    #[error("{url}: unreachable: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// An unexpected HTTP status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// A body that is not what the documented API returns.
    #[error("{url}: unexpected answer ({reason}); body starts with {body:?}")]
    Garbage {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
        /// The start of the body.
        body: String,
    },
    /// The HTTP client could not be built (bad CA file...).
    #[error("HTTP client: {0}")]
    Setup(String),
}

/// One raw answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// `Location` header, if any.
    pub location: Option<String>,
    /// Body text (lossy UTF-8, at most 4 MiB).
    pub body: String,
}

/// The probe HTTP client. Its trust (the cluster CA) and its token can change while it is in
/// use: the CA read over SSH from a master, a token from a login.
pub struct Http {
    opts: HttpOptions,
    client: std::sync::RwLock<reqwest::Client>,
    extra_ca: std::sync::RwLock<Option<Vec<u8>>>,
    token: std::sync::RwLock<Option<String>>,
}

const MAX_BODY: usize = 4 * 1024 * 1024;

fn head(s: &str) -> String {
    let mut end = s.len().min(120);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn build(opts: &HttpOptions, extra_ca: Option<&[u8]>) -> Result<reqwest::Client, ProbeError> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(if opts.timeout.is_zero() {
            Duration::from_secs(10)
        } else {
            opts.timeout
        })
        .connect_timeout(Duration::from_secs(5))
        .no_proxy();
    if let Some(ca) = &opts.ca_file {
        let pem = std::fs::read(ca)
            .map_err(|e| ProbeError::Setup(format!("CA bundle {}: {e}", ca.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| ProbeError::Setup(format!("CA bundle {}: {e}", ca.display())))?;
        b = b.tls_certs_merge(certs);
    }
    if let Some(pem) = extra_ca {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| ProbeError::Setup(format!("the cluster CA bundle: {e}")))?;
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| ProbeError::Setup(e.to_string()))
}

impl Http {
    /// Builds the client (the process must have installed a rustls crypto provider).
    pub fn new(opts: &HttpOptions) -> Result<Http, ProbeError> {
        if let Some(t) = &opts.token {
            crate::secrets::register(t);
        }
        Ok(Http {
            client: std::sync::RwLock::new(build(opts, None)?),
            opts: opts.clone(),
            extra_ca: std::sync::RwLock::new(None),
            token: std::sync::RwLock::new(opts.token.clone()),
        })
    }

    /// The ACS token, for the node-local reads' standard input (never logged).
    pub fn token(&self) -> Option<String> {
        self.token.read().ok().and_then(|t| t.clone())
    }

    /// Replaces the token (after a login); it is registered as a secret first.
    pub fn set_token(&self, token: String) {
        crate::secrets::register(&token);
        if let Ok(mut t) = self.token.write() {
            *t = Some(token);
        }
    }

    /// Whether the operator named a CA file (then no other CA is fetched).
    pub fn has_ca_file(&self) -> bool {
        self.opts.ca_file.is_some()
    }

    /// Whether the cluster CA was added.
    pub fn has_cluster_ca(&self) -> bool {
        self.extra_ca.read().map(|c| c.is_some()).unwrap_or(false)
    }

    /// Trusts the cluster CA (PEM) from now on.
    pub fn trust(&self, pem: &[u8]) -> Result<(), ProbeError> {
        let client = build(&self.opts, Some(pem))?;
        if let Ok(mut c) = self.client.write() {
            *c = client;
        }
        if let Ok(mut e) = self.extra_ca.write() {
            *e = Some(pem.to_vec());
        }
        Ok(())
    }

    /// Sends a request and reads the answer, whatever its status. The token goes only over
    /// HTTPS: a request to a plain `http://` URL never carries it.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, ProbeError> {
        let client = self
            .client
            .read()
            .map_err(|_| ProbeError::Setup("HTTP client lock poisoned".into()))?
            .clone();
        let started = std::time::Instant::now();
        let method_name = method.to_string();
        let mut req = client.request(method, url);
        if let Some(t) = self.token().filter(|_| url.starts_with("https://")) {
            req = req.header("Authorization", format!("token={t}"));
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| ProbeError::Unreachable {
            url: url.to_string(),
            reason: error_chain(&e),
        })?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let bytes = resp.bytes().await.map_err(|e| ProbeError::Unreachable {
            url: url.to_string(),
            reason: error_chain(&e),
        })?;
        let bytes = &bytes[..bytes.len().min(MAX_BODY)];
        // The URL carries no secret (the token goes in a header); at debug level, what a slow
        // run spends its time on.
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            status,
            "http {method_name} {url}"
        );
        Ok(Answer {
            status,
            location,
            body: String::from_utf8_lossy(bytes).into_owned(),
        })
    }
}

/// Parses a 2xx answer as `T`, or says what came instead.
pub fn parse_json<T: DeserializeOwned>(url: &str, a: &Answer) -> Result<T, ProbeError> {
    if !(200..300).contains(&a.status) {
        return Err(ProbeError::Status {
            url: url.to_string(),
            status: a.status,
            body: head(&a.body),
        });
    }
    serde_json::from_str(&a.body).map_err(|e| ProbeError::Garbage {
        url: url.to_string(),
        reason: e.to_string(),
        body: head(&a.body),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        let t = x.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = x.source();
    }
    s
}
