//! A version as a plan records it: parsed once when it parses, and always kept as written, so
//! that a plan saved by an older, more lenient release still loads and its refusal names it.

use super::{DcosVersion, VersionError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A DC/OS version as written in a saved plan (`Plan.to`).
///
/// It serializes as the string it was made from, unchanged. Loading never fails on the text: a
/// plan saved before the strict parser (a `v2.2.1` the old parser accepted) still loads, and
/// [`RecordedVersion::version`] then refuses it with the strict parser's own message, as the
/// checks before a run always did. Equality, `Display` and `Debug` are those of the text (two
/// spellings of one version are two different records, as with the `String` this replaces).
#[derive(Clone)]
pub struct RecordedVersion {
    text: String,
    parsed: Option<DcosVersion>,
}

impl RecordedVersion {
    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The version, parsed strictly ([`DcosVersion::parse`]).
    ///
    /// # Errors
    /// The parser's error for a text that is not a DC/OS version.
    pub fn version(&self) -> Result<DcosVersion, VersionError> {
        match &self.parsed {
            Some(v) => Ok(v.clone()),
            None => DcosVersion::parse(&self.text),
        }
    }

    /// The version when the text parses.
    pub fn parsed(&self) -> Option<&DcosVersion> {
        self.parsed.as_ref()
    }

    /// Whether `reported` (as a node reports its version) is this version: the same DC/OS
    /// version when both parse, else the same text, trimmed (`1.10` is `1.10.0`).
    pub fn is(&self, reported: &str) -> bool {
        match (&self.parsed, DcosVersion::parse(reported)) {
            (Some(x), Ok(y)) => *x == y,
            _ => self.text.trim() == reported.trim(),
        }
    }
}

impl From<String> for RecordedVersion {
    fn from(text: String) -> RecordedVersion {
        let parsed = DcosVersion::parse(&text).ok();
        RecordedVersion { text, parsed }
    }
}

impl From<&str> for RecordedVersion {
    fn from(text: &str) -> RecordedVersion {
        RecordedVersion::from(text.to_string())
    }
}

impl From<DcosVersion> for RecordedVersion {
    fn from(v: DcosVersion) -> RecordedVersion {
        RecordedVersion {
            text: v.to_string(),
            parsed: Some(v),
        }
    }
}

impl From<RecordedVersion> for String {
    fn from(v: RecordedVersion) -> String {
        v.text
    }
}

impl fmt::Display for RecordedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for RecordedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl PartialEq for RecordedVersion {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for RecordedVersion {}

impl PartialEq<str> for RecordedVersion {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for RecordedVersion {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialEq<String> for RecordedVersion {
    fn eq(&self, other: &String) -> bool {
        &self.text == other
    }
}

impl Serialize for RecordedVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for RecordedVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(RecordedVersion::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_version_round_trips_as_the_same_string() {
        for text in ["2.2.1", "1.10-dev", "v2.2.1", "2.2.1+build"] {
            let v: RecordedVersion = serde_json::from_str(&format!("{text:?}")).unwrap();
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("{text:?}"));
            assert_eq!(v.as_str(), text);
            assert_eq!(v.to_string(), text);
            assert_eq!(format!("{v:?}"), format!("{text:?}"));
        }
    }

    #[test]
    fn a_text_the_strict_parser_refuses_loads_and_is_refused_with_its_message() {
        let v = RecordedVersion::from("v2.2.1");
        assert!(v.parsed().is_none());
        let e = v.version().unwrap_err().to_string();
        assert_eq!(e, DcosVersion::parse("v2.2.1").unwrap_err().to_string());
        assert!(e.contains("did you mean 2.2.1?"), "{e}");
        let ok = RecordedVersion::from("2.2.1");
        assert_eq!(ok.version().unwrap(), DcosVersion::parse("2.2.1").unwrap());
    }

    #[test]
    fn a_plan_saved_with_a_target_the_strict_parser_refuses_loads_and_saves_unchanged() {
        let saved = serde_json::json!({
            "cluster": "c", "to": "v2.2.1", "from": "2.1.3", "max_unavailable": 1,
            "phases": [], "doors": []
        });
        let plan: crate::plan::Plan = serde_json::from_value(saved.clone()).unwrap();
        assert_eq!(plan.to, "v2.2.1");
        assert_eq!(serde_json::to_value(&plan).unwrap(), saved);
    }

    #[test]
    fn a_reported_version_is_the_recorded_one_by_version_else_by_text() {
        assert!(RecordedVersion::from("1.10").is("1.10.0"));
        assert!(RecordedVersion::from("2.2.1").is(" 2.2.1\n"));
        assert!(!RecordedVersion::from("2.2.1").is("2.2.0"));
        assert!(RecordedVersion::from("v2.2.1").is("v2.2.1"));
        assert!(!RecordedVersion::from("v2.2.1").is("2.2.1"));
    }

    #[test]
    fn equality_is_the_text_s() {
        assert_ne!(
            RecordedVersion::from("1.10"),
            RecordedVersion::from("1.10.0")
        );
        assert_eq!(RecordedVersion::from("2.2.1"), "2.2.1");
    }
}
