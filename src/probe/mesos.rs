//! Mesos master and agent: leader, metrics, registered agents.

use crate::door::{parse_json, Answer, Observe, ProbeError};
use serde::Deserialize;
use std::collections::HashMap;

/// A `/metrics/snapshot` answer: metric name -> value. Keys arrive with escaped slashes
/// (`registrar\/log\/recovered`), which JSON parsing unescapes.
#[derive(Debug, Clone, Default)]
pub struct Metrics(pub HashMap<String, f64>);

impl Metrics {
    /// A metric's value, if present and numeric.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.0
            .get(key)
            .or_else(|| self.0.get(&key.replace('/', "\\/")))
            .copied()
    }
}

/// Reads `/metrics/snapshot` on a master or agent.
pub async fn metrics(http: &dyn Observe, addr: &str, port: u16) -> Result<Metrics, ProbeError> {
    let url = format!("http://{}/metrics/snapshot", host_port(addr, port));
    let a = http.get(&url).await?;
    parse_metrics(&url, &a)
}

/// Parses a `/metrics/snapshot` answer (numbers, quoted numbers or booleans; escaped slashes).
pub fn parse_metrics(url: &str, a: &Answer) -> Result<Metrics, ProbeError> {
    let url = url.to_string();
    let raw: HashMap<String, serde_json::Value> = parse_json(&url, a)?;
    let mut out = HashMap::new();
    for (k, v) in raw {
        let n = match &v {
            serde_json::Value::Number(n) => n.as_f64(),
            // some exporters quote numbers
            serde_json::Value::String(s) => s.parse::<f64>().ok(),
            serde_json::Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            _ => None,
        };
        if let Some(n) = n {
            out.insert(k.replace("\\/", "/"), n);
        }
    }
    if out.is_empty() {
        return Err(ProbeError::Garbage {
            url,
            reason: "no numeric metrics in the snapshot".into(),
            body: String::new(),
        });
    }
    Ok(Metrics(out))
}

/// `host:port`, bracketing IPv6 literals.
pub fn host_port(addr: &str, port: u16) -> String {
    if addr.contains(':') && !addr.starts_with('[') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

/// What one master says about the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaderAnswer {
    /// 307 to this host.
    Leader(String),
    /// 503: no leader elected.
    NoLeader,
}

/// Asks one master who leads (`/master/redirect`: 307 `//<leader>:<port>`, or 503).
pub async fn ask_leader(
    http: &dyn Observe,
    master: &str,
    port: u16,
) -> Result<LeaderAnswer, ProbeError> {
    let url = format!("http://{}/master/redirect", host_port(master, port));
    let a = http.get(&url).await?;
    match a.status {
        307 | 302 | 301 => {
            let loc = a.location.unwrap_or_default();
            parse_location_host(&loc)
                .map(LeaderAnswer::Leader)
                .ok_or_else(|| ProbeError::Garbage {
                    url,
                    reason: format!("redirect Location {loc:?} names no host"),
                    body: String::new(),
                })
        }
        503 => Ok(LeaderAnswer::NoLeader),
        s => Err(ProbeError::Status {
            url,
            status: s,
            body: a.body.chars().take(120).collect(),
        }),
    }
}

/// The host of a `//host:port/path` or `http://host:port` Location.
pub fn parse_location_host(loc: &str) -> Option<String> {
    let rest = loc
        .strip_prefix("//")
        .or_else(|| loc.split_once("://").map(|(_, r)| r))?;
    let authority = rest.split('/').next()?;
    let host = if let Some(h) = authority.strip_prefix('[') {
        h.split(']').next()?.to_string()
    } else {
        authority
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(authority)
            .to_string()
    };
    (!host.is_empty()).then_some(host)
}

/// Finds the leader by asking masters in turn; Ok(None) when every reachable one says 503.
pub async fn find_leader(
    http: &dyn Observe,
    masters: &[String],
    port: u16,
) -> Result<Option<String>, ProbeError> {
    let mut last_err = None;
    let mut any_answer = false;
    for m in masters {
        match ask_leader(http, m, port).await {
            Ok(LeaderAnswer::Leader(l)) => return Ok(Some(l)),
            Ok(LeaderAnswer::NoLeader) => any_answer = true,
            Err(e) => last_err = Some(e),
        }
    }
    match (any_answer, last_err) {
        (true, _) | (false, None) => Ok(None),
        (false, Some(e)) => Err(e),
    }
}

/// An agent as the leading master lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Slave {
    /// Agent id.
    #[serde(default)]
    pub id: String,
    /// Hostname (the IP in DC/OS).
    pub hostname: String,
    /// Attributes; DC/OS public agents carry `public_ip: "true"`.
    #[serde(default)]
    pub attributes: HashMap<String, serde_json::Value>,
    /// Whether the agent is active.
    #[serde(default = "yes")]
    pub active: bool,
    /// Mesos version.
    #[serde(default)]
    pub version: Option<String>,
    /// Resources advertised to Mesos.
    #[serde(default)]
    pub resources: HashMap<String, serde_json::Value>,
}

fn yes() -> bool {
    true
}

impl Slave {
    /// Whether the agent is public (`public_ip` attribute "true"; attributes are strings).
    pub fn is_public(&self) -> bool {
        match self.attributes.get("public_ip") {
            Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
            Some(serde_json::Value::Bool(b)) => *b,
            _ => false,
        }
    }
}

#[derive(Deserialize)]
struct SlavesAnswer {
    slaves: Vec<Slave>,
}

/// Lists agents from the leading master (`/slaves`).
pub async fn slaves(http: &dyn Observe, leader: &str, port: u16) -> Result<Vec<Slave>, ProbeError> {
    let url = format!("http://{}/slaves", host_port(leader, port));
    let a = http.get(&url).await?;
    parse_slaves(&url, &a)
}

/// Parses a `/slaves` answer.
pub fn parse_slaves(url: &str, a: &Answer) -> Result<Vec<Slave>, ProbeError> {
    let s: SlavesAnswer = parse_json(url, a)?;
    Ok(s.slaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_locations_are_protocol_relative() {
        assert_eq!(
            parse_location_host("//10.0.0.11:5050").as_deref(),
            Some("10.0.0.11")
        );
        assert_eq!(
            parse_location_host("//10.0.0.11:5050/state").as_deref(),
            Some("10.0.0.11")
        );
        assert_eq!(parse_location_host("http://m1:5050").as_deref(), Some("m1"));
        assert_eq!(
            parse_location_host("//[fd00::1]:5050").as_deref(),
            Some("fd00::1")
        );
        assert_eq!(parse_location_host("garbage"), None);
    }

    #[test]
    fn escaped_metric_keys_are_found() {
        let raw: HashMap<String, f64> =
            serde_json::from_str(r#"{"registrar\/log\/recovered":1.0}"#).unwrap();
        let m = Metrics(raw);
        assert_eq!(m.get("registrar/log/recovered"), Some(1.0));
    }

    #[test]
    fn public_agents_are_found_by_their_string_attribute() {
        let s: Slave = serde_json::from_str(
            r#"{"id":"x","hostname":"10.0.6.233","attributes":{"public_ip":"true"},"active":true}"#,
        )
        .unwrap();
        assert!(s.is_public());
    }
}
