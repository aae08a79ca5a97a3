//! DC/OS version strings and upgrade-path validation.
//!
//! Pure logic, no I/O: everything here works on strings handed in by the caller
//! and on two data files compiled into the binary:
//!
//! * `playbooks/supported-paths.toml`: the supported-upgrade-path matrices from
//!   the DC/OS 1.11–2.2 "Upgrading" doc pages, plus the patch rules ([`paths`]).
//! * `playbooks/tested-os.toml`: the operating systems each DC/OS minor was
//!   tested on, from the DC/OS "Version Policy" page ([`os`]).
//!
//! Matrix lookups compare versions on `MAJOR.MINOR.PATCH` only, so pre-release
//! suffixes seen on real nodes (`1.13.0-alpha`, `1.10-dev`) do not hide a node
//! from the matrix.

mod os;
mod paths;
mod version;

#[cfg(test)]
mod tests;

pub use os::{tested_os, TestedOs};
pub use paths::{PathKind, PathVerdict, SupportedPaths};
pub use version::DcosVersion;

use std::collections::BTreeMap;

/// The shipped supported-path data.
const SUPPORTED_PATHS_TOML: &str = include_str!("../../playbooks/supported-paths.toml");
/// The shipped tested-OS data.
const TESTED_OS_TOML: &str = include_str!("../../playbooks/tested-os.toml");
/// The only data schema version this module understands.
const SCHEMA: u32 = 1;

/// `(major, minor, patch)`, the part of a version used for matrix lookups.
type Core = (u64, u64, u64);
/// `(major, minor)`, a DC/OS minor release line such as 2.1.
type Minor = (u64, u64);

/// Errors from parsing version strings or the upgrade-path / tested-OS data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The version string was empty (or only whitespace).
    #[error("empty DC/OS version string")]
    Empty,
    /// The version string is not a DC/OS version.
    #[error("invalid DC/OS version {input:?}: {reason}")]
    Invalid {
        /// The string as given.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The supported-path or tested-OS TOML is malformed or inconsistent.
    #[error("invalid version data: {0}")]
    Data(String),
}

/// Formats a core version as `X.Y.Z`.
fn core_str(c: Core) -> String {
    format!("{}.{}.{}", c.0, c.1, c.2)
}

/// Formats a minor as `X.Y`.
fn minor_str(m: Minor) -> String {
    format!("{}.{}", m.0, m.1)
}

/// Joins items with `", "`.
fn join<I: IntoIterator<Item = String>>(items: I) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

/// Parses a plain `X.Y.Z` from the data files (no suffixes allowed).
fn data_core(s: &str) -> Result<Core, VersionError> {
    let v = DcosVersion::parse(s).map_err(|e| VersionError::Data(e.to_string()))?;
    if !v.version.pre.is_empty() || !v.version.build.is_empty() || s.trim().split('.').count() != 3
    {
        return Err(VersionError::Data(format!(
            "{s:?}: data versions must be plain MAJOR.MINOR.PATCH"
        )));
    }
    Ok(v.core())
}

/// Parses an `X.Y` minor from the data files.
fn data_minor(s: &str) -> Result<Minor, VersionError> {
    let bad = || VersionError::Data(format!("{s:?}: expected a DC/OS minor such as \"2.1\""));
    let (a, b) = s.trim().split_once('.').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

/// Reports a cluster running more than one DC/OS version.
///
/// Returns `None` when all nodes report the same version (or there are no
/// nodes); otherwise a message naming every node, grouped by version in
/// ascending order, e.g.
/// `nodes run 2 different DC/OS versions: 2.1.3 on m1, a1; 2.2.1 on m2`.
pub fn mixed_versions<'a>(
    nodes: impl IntoIterator<Item = (&'a str, &'a DcosVersion)>,
) -> Option<String> {
    let mut groups: BTreeMap<&DcosVersion, Vec<&str>> = BTreeMap::new();
    for (node, version) in nodes {
        groups.entry(version).or_default().push(node);
    }
    if groups.len() < 2 {
        return None;
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(v, ns)| format!("{v} on {}", ns.join(", ")))
        .collect();
    Some(format!(
        "nodes run {} different DC/OS versions: {}",
        groups.len(),
        parts.join("; ")
    ))
}
