//! CockroachDB (IAM's database) on a master: `cockroach node status --ranges --format tsv`
//! run on the master itself with the version's certificates directory (facts §1.4 step 6,
//! §8.2: `/run/dcos/pki/cockroach` up to 1.13, `/run/dcos/pki/bouncer` in 2.x), and the
//! `ranges_unavailable` / `ranges_underreplicated` columns read by name (the table of
//! `payloads/cockroach-node-status-ranges.txt`; dcos-ansible reads the tsv form).

use crate::cluster::Cluster;
use crate::playbook::NodeSpec;
use crate::versions::RecordedVersion;

/// One CockroachDB node's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeRow {
    /// `address` (`ip:26257`).
    pub address: String,
    /// `ranges_unavailable`.
    pub unavailable: u64,
    /// `ranges_underreplicated`.
    pub underreplicated: u64,
}

/// What a master said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The master has no `cockroach` binary (a version without CockroachDB).
    Absent,
    /// The table's rows.
    Rows(Vec<RangeRow>),
}

const MARK: &str = "@@dcu-crdb";

/// The certificates directory of a DC/OS version (facts §1.4 step 6).
pub fn certs_dir(version: &RecordedVersion) -> &'static str {
    match version.parsed() {
        Some(v) if v.minor() >= (2, 0) => "/run/dcos/pki/bouncer",
        _ => "/run/dcos/pki/cockroach",
    }
}

/// The script run on `node`, which runs `version` (read-only).
pub fn script(node: &NodeSpec, version: &RecordedVersion) -> String {
    let bin = Cluster::path(node, "/opt/mesosphere/bin/cockroach");
    format!(
        "ip=$({ip} 2>/dev/null | head -n1); [ -n \"$ip\" ] || ip={addr}; \
         if [ ! -x {bin} ]; then echo \"{MARK} none\"; exit 0; fi; \
         {bin} node status --ranges --format tsv --certs-dir={certs} --host=\"$ip\" 2>&1; echo \"{MARK} $?\"",
        ip = Cluster::path(node, "/opt/mesosphere/bin/detect_ip"),
        addr = crate::shell::quote(&node.address),
        certs = Cluster::path(node, certs_dir(version)),
    )
}

/// Parses the script's output (tsv, or the pretty table).
pub fn parse(out: &str) -> Result<Status, String> {
    let (body, rc) = out.rsplit_once(MARK).ok_or_else(|| {
        format!(
            "no exit status from the cockroach script: {}",
            crate::door::tail(out.trim(), 200)
        )
    })?;
    match rc.trim() {
        "none" => return Ok(Status::Absent),
        "0" => {}
        rc => {
            return Err(format!(
                "cockroach node status exited {rc}: {}",
                crate::door::tail(body.trim(), 300)
            ))
        }
    }
    let split = |l: &str| -> Vec<String> {
        if l.contains('\t') {
            l.split('\t').map(|c| c.trim().to_string()).collect()
        } else {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        }
    };
    let mut lines = body
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('+'));
    let header = lines
        .by_ref()
        .map(split)
        .find(|h| h.iter().any(|c| c == "ranges_underreplicated"))
        .ok_or_else(|| {
            format!(
                "no ranges_underreplicated column in: {}",
                crate::door::tail(body.trim(), 300)
            )
        })?;
    let col = |name: &str| header.iter().position(|c| c == name);
    let (Some(a), Some(u), Some(r)) = (
        col("address"),
        col("ranges_unavailable"),
        col("ranges_underreplicated"),
    ) else {
        return Err("the table lacks address, ranges_unavailable or ranges_underreplicated".into());
    };
    let mut rows = Vec::new();
    for l in lines {
        let cells = split(l);
        if cells.len() != header.len() {
            continue;
        }
        let num = |k: usize| {
            cells[k]
                .parse::<u64>()
                .map_err(|e| format!("{:?} in {l:?}: {e}", cells[k]))
        };
        rows.push(RangeRow {
            address: cells[a].clone(),
            unavailable: num(u)?,
            underreplicated: num(r)?,
        });
    }
    Ok(Status::Rows(rows))
}

/// Runs the status on master `node` at `version`.
pub async fn status(
    c: &Cluster,
    node: &NodeSpec,
    version: &RecordedVersion,
) -> Result<Status, String> {
    let out = c
        .query(node, &script(node, version))
        .await
        .map_err(|e| format!("{}: {e}", node.address))?;
    parse(&out.stdout).map_err(|e| format!("CockroachDB on {}: {e}", node.address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tsv_and_the_docs_table_are_read() {
        let tsv = "2 rows\nid\taddress\tbuild\tupdated_at\tstarted_at\treplicas_leaders\treplicas_leaseholders\tranges\tranges_unavailable\tranges_underreplicated\n1\t10.0.0.1:26257\tv19.1.11\tx\ty\t63\t63\t190\t0\t63\n@@dcu-crdb 0\n";
        assert_eq!(
            parse(tsv).unwrap(),
            Status::Rows(vec![RangeRow {
                address: "10.0.0.1:26257".into(),
                unavailable: 0,
                underreplicated: 63
            }])
        );
        let docs = include_str!("../../tests/data/cockroach-node-status-ranges.txt");
        match parse(&format!("{docs}\n@@dcu-crdb 0\n")).unwrap() {
            Status::Rows(r) => {
                assert_eq!(r.len(), 3);
                assert!(r
                    .iter()
                    .all(|r| r.underreplicated == 0 && r.unavailable == 0));
            }
            s => panic!("{s:?}"),
        }
        assert_eq!(parse("@@dcu-crdb none\n").unwrap(), Status::Absent);
        assert!(parse("Error: unable to connect\n@@dcu-crdb 1\n").is_err());
        assert_eq!(certs_dir(&"1.13.2".into()), "/run/dcos/pki/cockroach");
        assert_eq!(certs_dir(&"2.2.1".into()), "/run/dcos/pki/bouncer");
    }
}
