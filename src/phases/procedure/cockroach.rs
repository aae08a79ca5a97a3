//! The CockroachDB (IAM) gate between masters (facts §1.4 step 6, §8.2): after a master is back
//! and before the next one goes down, `ranges_underreplicated` is 0 on every CockroachDB node,
//! read on a master. On a path whose from-version had no CockroachDB (OSS 1.12 -> 1.13: the
//! first upgraded master bootstraps a one-node cluster) only `ranges_unavailable` = 0 is
//! required, once two nodes exist.

use crate::cluster::Cluster;
use crate::playbook::NodeSpec;
use crate::probe::cockroach::{self, Status};
use crate::probe::wait::Poll;
use crate::versions::RecordedVersion;

/// Whether the from-version already ran CockroachDB on the masters (OSS 1.13+; Enterprise
/// from 1.10, which this cannot tell from the version alone, so an Enterprise 1.12 -> 1.13
/// path gets the weaker gate).
pub fn from_had_cockroach(from: Option<&RecordedVersion>) -> bool {
    from.and_then(RecordedVersion::parsed)
        .map(|v| v.minor() >= (1, 13))
        .unwrap_or(true)
}

/// One poll on `node` (running `version`): `Ready(summary)` when the ranges are replicated.
pub async fn replicated(
    c: &Cluster,
    node: &NodeSpec,
    version: &RecordedVersion,
    strict: bool,
) -> Poll<String> {
    let rows = match cockroach::status(c, node, version).await {
        Ok(Status::Absent) => return Poll::Ready(format!("no CockroachDB on {}", node.address)),
        Ok(Status::Rows(r)) => r,
        Err(e) => return Poll::NotYet(e),
    };
    if rows.is_empty() {
        return Poll::NotYet(format!("CockroachDB on {} lists no node", node.address));
    }
    let unavailable: Vec<String> = rows
        .iter()
        .filter(|r| r.unavailable > 0)
        .map(|r| format!("{} ranges_unavailable = {}", r.address, r.unavailable))
        .collect();
    if !unavailable.is_empty() && rows.len() >= 2 {
        return Poll::NotYet(format!("CockroachDB: {}", unavailable.join(", ")));
    }
    if strict {
        let under: Vec<String> = rows
            .iter()
            .filter(|r| r.underreplicated > 0)
            .map(|r| {
                format!(
                    "{} ranges_underreplicated = {}",
                    r.address, r.underreplicated
                )
            })
            .collect();
        if !under.is_empty() {
            return Poll::NotYet(format!("CockroachDB (IAM): {}", under.join(", ")));
        }
    }
    Poll::Ready(format!(
        "CockroachDB: {} node(s), every range replicated",
        rows.len()
    ))
}
