//! The operating systems each DC/OS minor was tested on (`playbooks/tested-os.toml`).

use super::{data_minor, DcosVersion, Minor, VersionError, SCHEMA, TESTED_OS_TOML};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One tested operating system and its tested versions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OsEntry {
    id: String,
    versions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTested {
    schema: u32,
    #[serde(default)]
    dcos: Vec<RawTestedMinor>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTestedMinor {
    minor: String,
    #[serde(rename = "source")]
    _source: String,
    os: Vec<OsEntry>,
}

/// The operating systems each DC/OS minor was tested on (DC/OS Version Policy).
#[derive(Debug, Clone)]
pub struct TestedOs {
    pub(super) by_minor: BTreeMap<Minor, Vec<OsEntry>>,
}

/// The tested-OS data shipped in `playbooks/tested-os.toml`.
///
/// # Panics
/// Only if the shipped data is invalid (covered by a unit test).
pub fn tested_os() -> TestedOs {
    match TestedOs::from_toml(TESTED_OS_TOML) {
        Ok(t) => t,
        Err(e) => panic!("shipped playbooks/tested-os.toml is invalid: {e}"),
    }
}

/// Whether an os-release `VERSION_ID` matches a tested-version pattern:
/// dot components are compared over the shorter of the two (`"7"` matches
/// `"7.9"` and vice versa), and a `*`/`x` pattern component matches anything.
fn os_version_matches(pattern: &str, actual: &str) -> bool {
    !actual.is_empty()
        && pattern
            .split('.')
            .zip(actual.split('.'))
            .all(|(p, a)| p == "*" || p.eq_ignore_ascii_case("x") || p == a)
}

impl TestedOs {
    /// Loads and validates tested-OS data in the `tested-os.toml` format.
    ///
    /// # Errors
    /// [`VersionError::Data`] if the TOML is malformed, has an unknown schema,
    /// a duplicate DC/OS minor or a non-lower-case OS id.
    pub fn from_toml(text: &str) -> Result<TestedOs, VersionError> {
        let raw: RawTested = toml::from_str(text).map_err(|e| VersionError::Data(e.to_string()))?;
        if raw.schema != SCHEMA {
            return Err(VersionError::Data(format!(
                "unsupported schema {} (expected {SCHEMA})",
                raw.schema
            )));
        }
        let mut by_minor = BTreeMap::new();
        for entry in raw.dcos {
            let minor = data_minor(&entry.minor)?;
            if entry
                .os
                .iter()
                .any(|o| o.id.is_empty() || o.id != o.id.to_ascii_lowercase())
            {
                return Err(VersionError::Data(format!(
                    "DC/OS {}: os ids must be lower-case os-release IDs",
                    entry.minor
                )));
            }
            if by_minor.insert(minor, entry.os).is_some() {
                return Err(VersionError::Data(format!(
                    "duplicate tested-OS entry for DC/OS {}",
                    entry.minor
                )));
            }
        }
        Ok(TestedOs { by_minor })
    }

    /// Whether DC/OS `dcos`'s minor was tested on the OS given by the `ID` and
    /// `VERSION_ID` fields of `/etc/os-release` (quotes and case tolerated).
    ///
    /// `None` when there is no data for that DC/OS minor; `Some(false)` when
    /// there is data but this OS/version is not in it.
    pub fn is_tested(&self, dcos: &DcosVersion, os_id: &str, os_version: &str) -> Option<bool> {
        let entries = self.by_minor.get(&dcos.minor())?;
        let id = os_id.trim().trim_matches('"').to_ascii_lowercase();
        let version = os_version.trim().trim_matches('"');
        Some(
            entries
                .iter()
                .filter(|e| e.id == id)
                .flat_map(|e| e.versions.iter())
                .any(|p| os_version_matches(p, version)),
        )
    }
}
