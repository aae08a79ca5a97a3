//! DC/OS version strings and upgrade-path validation.
//!
//! Pure logic, no I/O: everything here works on strings handed in by the caller
//! and on two data files compiled into the binary:
//!
//! * `playbooks/supported-paths.toml`: the supported-upgrade-path matrices from
//!   the DC/OS 1.11–2.2 "Upgrading" doc pages, plus the patch rules (`paths`).
//! * `playbooks/tested-os.toml`: the operating systems each DC/OS minor was
//!   tested on, from the DC/OS "Version Policy" page (`os`).
//!
//! Matrix lookups compare versions on their numbers only, so pre-release
//! suffixes seen on real nodes (`1.13.0-alpha`, `1.10-dev`) do not hide a node
//! from the matrix; a four-part hotfix release (`1.10.5.1`) without a row of its
//! own is looked up on its three-part release.
//!
//! One parser ([`DcosVersion::parse`]) reads every version; operator targets go
//! through [`parse_target`] (a release named in the data, not a pre-release, not
//! refused by its release notes) and [`check_upgrade`] before anything changes.

mod os;
mod paths;
mod recorded;
mod route;
mod target;
mod version;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_paths;

pub use os::{tested_os, TestedOs};
pub use paths::{PathKind, PathVerdict, SupportedPaths};
pub use recorded::RecordedVersion;
pub use target::{check_upgrade, parse_target, Upgrade};
pub use version::DcosVersion;

use std::collections::BTreeMap;

/// The shipped supported-path data.
const SUPPORTED_PATHS_TOML: &str = include_str!("../../playbooks/supported-paths.toml");
/// The shipped tested-OS data.
const TESTED_OS_TOML: &str = include_str!("../../playbooks/tested-os.toml");
/// The only data schema version this module understands.
const SCHEMA: u32 = 1;

/// `(major, minor, patch, fourth)`, the part of a version used for matrix lookups (the fourth
/// number is 0 for the usual three-part versions).
type Core = (u64, u64, u64, u64);
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
    /// A target that is not a release (a pre-release such as `2.2.1-rc1`, or a minor line
    /// such as `2.2`).
    #[error("{input} is not a DC/OS release: {reason}")]
    NotARelease {
        /// The version as given.
        input: String,
        /// Why, and what to give instead.
        reason: String,
    },
    /// A version the supported-path data does not name, so no documented path leads to it.
    #[error("DC/OS {version} is not a release in the supported-upgrade-path data{}", known_note(.known))]
    UnknownRelease {
        /// The version as given.
        version: String,
        /// The releases of the same minor that the data names, ascending.
        known: Vec<String>,
    },
    /// A release its own release notes tell users not to install (DC/OS 1.13.8).
    #[error("DC/OS {version} is refused: {warning}")]
    Refused {
        /// The release.
        version: String,
        /// The release-note warning, with its source.
        warning: String,
    },
    /// The move is not a documented upgrade (downgrade, unsupported path).
    #[error("{reason}")]
    Path {
        /// The cluster's version.
        from: String,
        /// The target.
        to: String,
        /// Why, naming both and a documented route when one exists.
        reason: String,
        /// Every target the matrices allow directly from `from`.
        allowed_targets: Vec<String>,
    },
    /// The supported-path or tested-OS TOML is malformed or inconsistent.
    #[error("invalid version data: {0}")]
    Data(String),
}

/// `; known 2.2 releases: 2.2.1 (did you mean 2.2.1?)` for [`VersionError::UnknownRelease`].
fn known_note(known: &[String]) -> String {
    match known {
        [] => String::new(),
        [one] => format!(" (did you mean {one}?)"),
        many => format!(
            "; the data names {} in that minor",
            join(many.iter().cloned())
        ),
    }
}

/// Formats a core version as `X.Y.Z` (or `X.Y.Z.W` when it has a fourth number).
fn core_str(c: Core) -> String {
    if c.3 == 0 {
        format!("{}.{}.{}", c.0, c.1, c.2)
    } else {
        format!("{}.{}.{}.{}", c.0, c.1, c.2, c.3)
    }
}

/// Formats a minor as `X.Y`.
fn minor_str(m: Minor) -> String {
    format!("{}.{}", m.0, m.1)
}

/// Joins items with `", "`.
fn join<I: IntoIterator<Item = String>>(items: I) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

/// Parses a plain `X.Y.Z` (or four-part `X.Y.Z.W`) release from the data files: no ranges, no
/// suffixes.
fn data_core(s: &str) -> Result<Core, VersionError> {
    if s.contains("..") {
        return Err(VersionError::Data(format!(
            "{s:?}: list every release explicitly (ranges hide releases that do not exist, such as 1.13.8)"
        )));
    }
    let v = DcosVersion::parse(s).map_err(|e| VersionError::Data(e.to_string()))?;
    if !v.is_release() {
        return Err(VersionError::Data(format!(
            "{s:?}: data versions must be plain MAJOR.MINOR.PATCH releases"
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
