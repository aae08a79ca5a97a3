//! The DC/OS version type: parsing, display, ordering and serde.

use super::{Core, VersionError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// or given by the operator.
///
/// Parsing is tolerant of the forms DC/OS actually uses: `2.2.1`, `1.13.0-alpha`,
/// `1.10-dev` (read as `1.10.0-dev`), a leading `v`, surrounding whitespace.
/// `Display` shows the original (trimmed) string; ordering and equality follow
/// SemVer precedence (build metadata is ignored, `1.13.0-alpha < 1.13.0`).
#[derive(Debug, Clone)]
pub struct DcosVersion {
    pub(super) version: semver::Version,
    original: String,
}

impl DcosVersion {
    /// Parses a DC/OS version string.
    ///
    /// Accepts two or three dot-separated numeric components (a missing patch
    /// is `0`), optionally prefixed by `v`/`V` and followed by a SemVer
    /// pre-release (`-alpha`, `-dev`) and/or build (`+abc`) suffix.
    ///
    /// # Errors
    /// [`VersionError::Empty`] for a blank string, [`VersionError::Invalid`]
    /// for anything else that is not a DC/OS version.
    pub fn parse(s: &str) -> Result<DcosVersion, VersionError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(VersionError::Empty);
        }
        let invalid = |reason: &str| VersionError::Invalid {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let body = trimmed
            .strip_prefix('v')
            .or_else(|| trimmed.strip_prefix('V'))
            .unwrap_or(trimmed);
        let split_at = body.find(['-', '+']).unwrap_or(body.len());
        let (core, suffix) = body.split_at(split_at);
        let mut numbers = Vec::with_capacity(3);
        for part in core.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("expected MAJOR.MINOR[.PATCH] made of digits"));
            }
            let n: u64 = part
                .parse()
                .map_err(|_| invalid("version component out of range"))?;
            numbers.push(n);
        }
        if !(2..=3).contains(&numbers.len()) {
            return Err(invalid("expected MAJOR.MINOR[.PATCH] made of digits"));
        }
        numbers.resize(3, 0);
        let normalized = format!("{}.{}.{}{}", numbers[0], numbers[1], numbers[2], suffix);
        let version = semver::Version::parse(&normalized).map_err(|e| invalid(&e.to_string()))?;
        Ok(DcosVersion {
            version,
            original: trimmed.to_string(),
        })
    }

    /// The `(major, minor)` release line, e.g. `(2, 1)` for `2.1.3`.
    pub fn minor(&self) -> (u64, u64) {
        (self.version.major, self.version.minor)
    }

    /// The normalized SemVer form (`1.10-dev` → `1.10.0-dev`).
    pub fn semver(&self) -> &semver::Version {
        &self.version
    }

    /// `(major, minor, patch)`, ignoring pre-release and build suffixes.
    pub(super) fn core(&self) -> Core {
        (self.version.major, self.version.minor, self.version.patch)
    }
}

impl fmt::Display for DcosVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl FromStr for DcosVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DcosVersion::parse(s)
    }
}

impl PartialEq for DcosVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DcosVersion {}

impl PartialOrd for DcosVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DcosVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.version.cmp_precedence(&other.version)
    }
}

impl Hash for DcosVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with `Eq`: build metadata does not take part.
        self.version.major.hash(state);
        self.version.minor.hash(state);
        self.version.patch.hash(state);
        self.version.pre.hash(state);
    }
}

impl Serialize for DcosVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.original)
    }
}

impl<'de> Deserialize<'de> for DcosVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        DcosVersion::parse(&s).map_err(serde::de::Error::custom)
    }
}
