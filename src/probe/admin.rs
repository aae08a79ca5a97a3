//! Cluster-level reads through Admin Router on a master, the one port a production firewall
//! leaves open to outside machines besides SSH (facts §8.1): `/mesos/` (the leading master),
//! `/marathon/` (the Marathon leader), `/system/health/v1`.
//!
//! HTTPS with the cluster CA unless every master reports security `disabled`; plain HTTP only
//! then, and never with the token (the door sends it over HTTPS only). A plain-HTTP answer of
//! 401 (an authenticating Admin Router, as in open-source DC/OS with its IAM) is asked again over
//! HTTPS, never answered with the token in clear.

use crate::cluster::Cluster;
use crate::door::{parse_json, Answer, ProbeError};
use crate::model::Security;
use crate::playbook::NodeSpec;
use crate::probe::mesos::host_port;
use serde::de::DeserializeOwned;

/// Admin Router's plain-HTTP port on the masters (facts §8.1).
pub const HTTP_PORT: u16 = 80;
/// Admin Router's HTTPS port on the masters (facts §8.1).
pub const HTTPS_PORT: u16 = 443;

/// The Admin Router base URL of a master (`http://host` or `https://host`).
pub fn base(c: &Cluster, master: &NodeSpec) -> String {
    let mode = c
        .security
        .of(&master.address)
        .unwrap_or_else(|| c.security.strictest());
    if mode == Security::Disabled {
        with_port("http", &master.address, HTTP_PORT)
    } else {
        with_port("https", &master.address, HTTPS_PORT)
    }
}

fn with_port(scheme: &str, addr: &str, port: u16) -> String {
    let default = if scheme == "https" { 443 } else { 80 };
    if port == default {
        let host = host_port(addr, port);
        let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(&host);
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{}", host_port(addr, port))
    }
}

/// The path of the cluster CA on every node (facts §8.1).
pub const CA_BUNDLE: &str = "/run/dcos/pki/CA/ca-bundle.crt";

/// Makes sure HTTPS to the cluster is verified against its CA: the operator's `[http] ca_file`,
/// or the CA bundle read over SSH from `master` (trusted because its host key was verified).
pub async fn ensure_ca(c: &Cluster, master: &NodeSpec) -> Result<(), ProbeError> {
    if c.observe.trusts_cluster_ca() {
        return Ok(());
    }
    let path = Cluster::path(master, CA_BUNDLE);
    let out = c
        .query(master, &format!("cat {path}"))
        .await
        .map_err(super::node::remote)?;
    if !out.ok() || !out.stdout.contains("BEGIN CERTIFICATE") {
        return Err(ProbeError::Setup(format!(
            "no cluster CA at {CA_BUNDLE} on master {} ({}); name it with [http] ca_file",
            master.address,
            out.tail(200)
        )));
    }
    c.observe.trust_ca(out.stdout.as_bytes())
}

/// Logs in at Admin Router with the inventory's `[auth]`; false when there is nothing to log in
/// with.
pub async fn login(c: &Cluster) -> Result<bool, ProbeError> {
    let Some(creds) = &c.credentials else {
        return Ok(false);
    };
    let mut last = None;
    for m in &c.inventory.masters {
        ensure_ca(c, m).await?;
        let url = format!(
            "{}/acs/api/v1/auth/login",
            with_port("https", &m.address, HTTPS_PORT)
        );
        match c.observe.login(&url, creds).await {
            Ok(()) => return Ok(true),
            Err(e @ ProbeError::Status { .. }) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| ProbeError::Setup("no master to log in at".into())))
}

/// What an operator reads when Admin Router refuses the token and no login is possible.
pub fn refused(url: &str) -> ProbeError {
    ProbeError::Status {
        url: url.to_string(),
        status: 401,
        body: "Admin Router refused the token (it expired, was revoked, or none was given): give a fresh one in DCOS_ACS_TOKEN (or log in with [auth] in the inventory) and run `dcos-upgrade resume`".into(),
    }
}

/// `GET path` from the first master whose Admin Router answers; the URL asked and the answer.
/// A 401 over HTTPS logs in once (with `[auth]`) and asks again; without credentials it is an
/// error that says how to give a fresh token.
pub async fn get(c: &Cluster, path: &str) -> Result<(String, Answer), ProbeError> {
    let mut last = None;
    for m in &c.inventory.masters {
        let base = base(c, m);
        let url = format!("{base}{path}");
        if base.starts_with("https://") {
            ensure_ca(c, m).await?;
        }
        let answer = match c.observe.get(&url).await {
            Ok(a) if a.status == 401 && base.starts_with("https://") => {
                if login(c).await? {
                    c.observe.get(&url).await
                } else {
                    return Err(refused(&url));
                }
            }
            other => other,
        };
        match answer {
            Ok(a) if a.status == 401 && base.starts_with("https://") => return Err(refused(&url)),
            Ok(a) if a.status == 401 && base.starts_with("http://") => {
                // Authentication wanted: over TLS only.
                let tls = format!("{}{path}", with_port("https", &m.address, HTTPS_PORT));
                ensure_ca(c, m).await?;
                let again = match c.observe.get(&tls).await {
                    Ok(a) if a.status == 401 && login(c).await? => c.observe.get(&tls).await,
                    other => other,
                };
                match again {
                    Ok(a) if a.status == 401 => return Err(refused(&tls)),
                    Ok(a) => return Ok((tls, a)),
                    Err(e) => {
                        last = Some(ProbeError::Status {
                            url: url.clone(),
                            status: 401,
                            body: format!(
                                "Admin Router wants authentication, and its HTTPS port does not answer ({e}); the token is never sent over plain HTTP"
                            ),
                        })
                    }
                }
            }
            Ok(a) => return Ok((url, a)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| ProbeError::Unreachable {
        url: path.to_string(),
        reason: "the inventory lists no master".into(),
    }))
}

/// `GET path` through Admin Router, a 2xx answer parsed as `T`.
pub async fn get_json<T: DeserializeOwned>(c: &Cluster, path: &str) -> Result<T, ProbeError> {
    let (url, a) = get(c, path).await?;
    parse_json(&url, &a)
}

/// The Admin Router URL of `path` on the first master (for writes through the change door).
pub fn url(c: &Cluster, path: &str) -> Option<String> {
    c.inventory
        .masters
        .first()
        .map(|m| format!("{}{path}", base(c, m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ports_are_left_out_of_the_url() {
        assert_eq!(with_port("https", "10.0.0.1", 443), "https://10.0.0.1");
        assert_eq!(with_port("http", "10.0.0.1", 80), "http://10.0.0.1");
        assert_eq!(with_port("http", "fe80::1", 8080), "http://[fe80::1]:8080");
        assert_eq!(with_port("https", "fe80::1", 443), "https://[fe80::1]");
    }
}
