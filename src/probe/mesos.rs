//! Mesos master and agent: leader, metrics, registered agents.

use crate::door::{parse_json, Answer, ProbeError};
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

/// What a `/master/redirect` answer says: 307 to the leader, or 503 (no leader elected).
pub fn leader_from(url: String, a: Answer) -> Result<LeaderAnswer, ProbeError> {
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

/// An agent as the leading master lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Slave {
    /// Agent id.
    #[serde(default)]
    pub id: String,
    /// Hostname (the IP in DC/OS, because DC/OS sets `MESOS_HOSTNAME_LOOKUP=false`; operators
    /// may set `MESOS_HOSTNAME`).
    pub hostname: String,
    /// `slave(1)@<ip>:5051`: the address the master really uses (facts §8.6).
    #[serde(default)]
    pub pid: Option<String>,
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
    /// The agent's domain (Mesos 1.5+, DC/OS 1.11+): `{"fault_domain": {"region": {"name"},
    /// "zone": {"name"}}}` (apache/mesos `docs/fault-domains.md`; facts §5 lists `domain`).
    #[serde(default)]
    pub domain: Option<serde_json::Value>,
}

fn yes() -> bool {
    true
}

impl Slave {
    /// The agent's address: the IP of its `pid` when it has one, else its hostname.
    pub fn address(&self) -> String {
        self.pid
            .as_deref()
            .and_then(|p| p.split_once('@'))
            .map(|(_, hp)| hp.rsplit_once(':').map(|(h, _)| h).unwrap_or(hp))
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| self.hostname.clone())
    }

    /// The fault-domain zone's name (`domain.fault_domain.zone.name`), if the agent has one.
    pub fn zone(&self) -> Option<&str> {
        self.domain
            .as_ref()?
            .pointer("/fault_domain/zone/name")?
            .as_str()
            .filter(|z| !z.is_empty())
    }

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

/// Lists agents from the leading master (`/mesos/slaves` through Admin Router).
pub async fn slaves(c: &crate::cluster::Cluster) -> Result<Vec<Slave>, ProbeError> {
    let (url, a) = super::admin::get(c, "/mesos/slaves").await?;
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
