//! The DC/OS version type: one strict parser, display, ordering (one equality) and serde.
//!
//! Grammar (what DC/OS writes into `dcos-version.json`, facts §2 and §8.7):
//! `N.N[.N[.N]][-PRE]`, where each `N` is a decimal number without leading zeros and `PRE` is a
//! SemVer pre-release (dot-separated `[0-9A-Za-z-]+` identifiers). So `2.2.1`, `1.13.0-alpha`,
//! `1.10-dev` (read as 1.10.0-dev) and the four-part `1.10.5.1` parse; `v2.2.1`, `"2.2.1 "`,
//! `02.2.1`, `2.2.1+build` and anything with spaces or shell characters (`2.1.3$(…)`) do not.
//! Build metadata (`+…`) is refused everywhere rather than ignored in one place and compared in
//! another: DC/OS does not write it, and one version has one spelling.

use super::{Core, VersionError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Longest version string accepted (DC/OS's longest are about 15 characters).
const MAX_LEN: usize = 64;

/// A DC/OS version as reported by a node (`/opt/mesosphere/etc/dcos-version.json`)
/// or given by the operator.
///
/// `Display` shows the string as written (`1.10-dev`); ordering and equality compare the four
/// numbers (a missing patch or fourth part is 0) and then the pre-release with SemVer
/// precedence (`1.13.0-alpha < 1.13.0 < 1.13.0.1 < 1.13.1`).
#[derive(Debug, Clone)]
pub struct DcosVersion {
    /// `MAJOR.MINOR.PATCH[-PRE]`, with a fourth part carried as build metadata `+N` so that
    /// `semver::Version`'s ordering agrees with ours (see [`DcosVersion::semver`]).
    pub(super) version: semver::Version,
    /// The fourth number (`1` of `1.10.5.1`), 0 when absent.
    pub(super) hotfix: u64,
    /// How many numbers were written (2, 3 or 4).
    pub(super) parts: usize,
    original: String,
}

/// The cleaned-up form of a near-miss (`v2.2.1` -> `2.2.1`), when it parses.
fn suggestion(s: &str) -> Option<String> {
    let t = s.trim().trim_matches(|c| c == '"' || c == '\'');
    let t = t
        .strip_prefix('v')
        .or_else(|| t.strip_prefix('V'))
        .unwrap_or(t);
    let t = t.split('+').next().unwrap_or(t);
    let (core, pre) = match t.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (t, None),
    };
    let core: Vec<String> = core
        .split('.')
        .map(|p| {
            let z = p.trim_start_matches('0');
            if z.is_empty() && !p.is_empty() {
                "0".to_string()
            } else {
                z.to_string()
            }
        })
        .collect();
    let mut c = core.join(".");
    if let Some(p) = pre {
        c = format!("{c}-{p}");
    }
    (c != s && DcosVersion::parse_strict(&c).is_ok()).then_some(c)
}

impl DcosVersion {
    /// Parses a DC/OS version string strictly (see the module documentation for the grammar).
    ///
    /// # Errors
    /// [`VersionError::Empty`] for an empty string, [`VersionError::Invalid`] (with a "did you
    /// mean" when a clean form exists) for anything else that is not a DC/OS version.
    pub fn parse(s: &str) -> Result<DcosVersion, VersionError> {
        DcosVersion::parse_strict(s).map_err(|reason| {
            if s.trim().is_empty() {
                return VersionError::Empty;
            }
            let reason = match suggestion(s) {
                Some(c) => format!("{reason}; did you mean {c}?"),
                None => reason,
            };
            VersionError::Invalid {
                input: s.chars().take(MAX_LEN).collect(),
                reason,
            }
        })
    }

    fn parse_strict(s: &str) -> Result<DcosVersion, String> {
        const EXPECTED: &str = "expected MAJOR.MINOR.PATCH such as 2.2.1";
        if s.len() > MAX_LEN {
            return Err(format!("longer than {MAX_LEN} characters; {EXPECTED}"));
        }
        if s.trim() != s {
            return Err(format!("surrounding whitespace; {EXPECTED}"));
        }
        if s.starts_with(['v', 'V']) {
            return Err(format!(
                "a leading \"v\" is not part of a DC/OS version; {EXPECTED}"
            ));
        }
        if s.contains('+') {
            return Err(format!(
                "build metadata (\"+…\") is not part of a DC/OS version; {EXPECTED}"
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
        {
            return Err(format!(
                "{c:?} is not allowed in a DC/OS version (only digits, letters, '.' and '-'); {EXPECTED}"
            ));
        }
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut numbers = Vec::with_capacity(4);
        for part in core.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{EXPECTED} (two to four numbers)"));
            }
            if part.len() > 1 && part.starts_with('0') {
                return Err(format!("{part:?} has a leading zero; {EXPECTED}"));
            }
            numbers.push(
                part.parse::<u64>()
                    .map_err(|_| format!("{part} is out of range; {EXPECTED}"))?,
            );
        }
        if !(2..=4).contains(&numbers.len()) {
            return Err(format!("{EXPECTED} (two to four numbers)"));
        }
        let parts = numbers.len();
        numbers.resize(4, 0);
        let pre = match pre {
            None => semver::Prerelease::EMPTY,
            Some(p) => semver::Prerelease::new(p).map_err(|e| {
                format!("pre-release {p:?} is not valid ({e}); expected e.g. 1.13.0-alpha")
            })?,
        };
        if pre.is_empty() && s.ends_with('-') {
            return Err(format!("an empty pre-release; {EXPECTED}"));
        }
        let build = if parts == 4 {
            semver::BuildMetadata::new(&numbers[3].to_string()).map_err(|e| e.to_string())?
        } else {
            semver::BuildMetadata::EMPTY
        };
        Ok(DcosVersion {
            version: semver::Version {
                major: numbers[0],
                minor: numbers[1],
                patch: numbers[2],
                pre,
                build,
            },
            hotfix: numbers[3],
            parts,
            original: s.to_string(),
        })
    }

    /// The `(major, minor)` release line, e.g. `(2, 1)` for `2.1.3`.
    pub fn minor(&self) -> (u64, u64) {
        (self.version.major, self.version.minor)
    }

    /// A SemVer form for callers that need one: `MAJOR.MINOR.PATCH[-PRE]`, with a fourth number
    /// as build metadata (`1.10.5.1` -> `1.10.5+1`) so that SemVer's `Ord` and `==` agree with
    /// [`DcosVersion`]'s. Prefer comparing `DcosVersion`s directly.
    pub fn semver(&self) -> &semver::Version {
        &self.version
    }

    /// Whether it carries a pre-release suffix (`1.13.0-alpha`, `1.10-dev`).
    pub fn is_prerelease(&self) -> bool {
        !self.version.pre.is_empty()
    }

    /// Whether it names a release (three or four numbers, no pre-release), as a target must.
    pub fn is_release(&self) -> bool {
        self.parts >= 3 && !self.is_prerelease()
    }

    /// The canonical spelling: `MAJOR.MINOR.PATCH[.N][-PRE]` (`1.10-dev` -> `1.10.0-dev`).
    pub fn canonical(&self) -> String {
        let mut s = super::core_str(self.core());
        if self.is_prerelease() {
            s.push('-');
            s.push_str(self.version.pre.as_str());
        }
        s
    }

    /// `(major, minor, patch, fourth)`, ignoring the pre-release.
    pub(super) fn core(&self) -> Core {
        (
            self.version.major,
            self.version.minor,
            self.version.patch,
            self.hotfix,
        )
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
        self.core()
            .cmp(&other.core())
            .then_with(|| self.version.pre.cmp(&other.version.pre))
    }
}

impl Hash for DcosVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with `Eq`: the numbers and the pre-release, not the spelling.
        self.core().hash(state);
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
