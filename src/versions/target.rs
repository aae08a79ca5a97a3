//! The operator's target version (`--to`) and the move to it, validated before anything changes.
//!
//! `plan`, `run` (and anything else taking `--to`) call [`parse_target`] on the argument before
//! contacting the cluster, then [`check_upgrade`] from every node version still to upgrade
//! before the first change (backup, lock, node script).
//!
//! Target rules: the strict grammar of [`DcosVersion::parse`]; three or four numbers (`2.2` names
//! a release line, not a release, and is refused with the releases of that line rather than
//! guessed); no pre-release (`2.2.1-rc1`); a release the supported-path data names (`2.1.4`
//! does not exist); not a release its notes refuse (1.13.8).

use super::{DcosVersion, PathKind, PathVerdict, SupportedPaths, VersionError};
use serde::Serialize;

/// A documented move, as [`check_upgrade`] accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "kind", rename_all = "snake_case")]
pub enum Upgrade {
    /// A documented patch, upgrade or skip-one-minor upgrade.
    Supported(PathKind),
    /// The node is at the target already: nothing to do for it.
    SameVersion,
}

/// Parses and validates an operator-given target version against the shipped data.
///
/// # Errors
/// [`VersionError::Empty`]/[`VersionError::Invalid`] for a malformed string (with a "did you
/// mean" for near misses such as `v2.2.1`, `02.2.1`, `2.2.1+build`, `"2.2.1 "`),
/// [`VersionError::NotARelease`] for `2.2` or `2.2.1-rc1`, [`VersionError::Refused`] for
/// 1.13.8, [`VersionError::UnknownRelease`] for a version the data does not name.
pub fn parse_target(s: &str) -> Result<DcosVersion, VersionError> {
    SupportedPaths::shipped().parse_target(s)
}

/// Whether moving a node from `from` to `to` is documented (shipped data).
///
/// # Errors
/// [`VersionError::Path`] for a downgrade or a move no matrix documents (its reason names both
/// versions and a documented route when one exists).
pub fn check_upgrade(from: &DcosVersion, to: &DcosVersion) -> Result<Upgrade, VersionError> {
    SupportedPaths::shipped().check_upgrade(from, to)
}

impl SupportedPaths {
    /// [`parse_target`] against this data.
    ///
    /// # Errors
    /// As [`parse_target`].
    pub fn parse_target(&self, s: &str) -> Result<DcosVersion, VersionError> {
        let v = DcosVersion::parse(s)?;
        let known = self.known_in_minor(v.minor());
        if v.is_prerelease() {
            return Err(VersionError::NotARelease {
                input: s.to_string(),
                reason: format!(
                    "pre-releases are not upgrade targets; give a release{}",
                    examples(&known)
                ),
            });
        }
        if !v.is_release() {
            return Err(VersionError::NotARelease {
                input: s.to_string(),
                reason: format!(
                    "{s} names a release line, not a release; give the full version{}",
                    examples(&known)
                ),
            });
        }
        if let Some(warning) = self.refused_warning(&v) {
            return Err(VersionError::Refused {
                version: s.to_string(),
                warning: warning.to_string(),
            });
        }
        if !self.is_known(&v) {
            return Err(VersionError::UnknownRelease {
                version: s.to_string(),
                known,
            });
        }
        Ok(v)
    }

    /// [`check_upgrade`] against this data.
    ///
    /// # Errors
    /// As [`check_upgrade`].
    pub fn check_upgrade(
        &self,
        from: &DcosVersion,
        to: &DcosVersion,
    ) -> Result<Upgrade, VersionError> {
        let path = |reason: String, allowed_targets: Vec<String>| VersionError::Path {
            from: from.to_string(),
            to: to.to_string(),
            reason,
            allowed_targets,
        };
        match self.check(from, to) {
            PathVerdict::Supported { kind } => Ok(Upgrade::Supported(kind)),
            PathVerdict::SameVersion => Ok(Upgrade::SameVersion),
            PathVerdict::Downgrade => Err(path(
                format!(
                    "DC/OS {from} cannot be upgraded to {to}: {to} is older, and DC/OS documents no downgrade"
                ),
                Vec::new(),
            )),
            PathVerdict::Unsupported {
                reason,
                allowed_targets,
            } => Err(path(reason, allowed_targets)),
        }
    }
}

/// `, e.g. 2.2.1` / ` (the data names 2.1.0, 2.1.1 in that line)` for an error message.
fn examples(known: &[String]) -> String {
    match known {
        [] => String::new(),
        [one] => format!(" such as {one}"),
        many => format!(" (the data names {})", many.join(", ")),
    }
}
