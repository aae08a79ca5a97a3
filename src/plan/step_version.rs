//! What a step goes from and to ([`StepVersion`]): a node's DC/OS version, or a framework's
//! docker image; saved as the plain string it always was.

use super::{Step, StepKind};
use crate::versions::RecordedVersion;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A step's `from` or `to`.
///
/// It serializes as the bare string (the node's version as the node reported it, or the image),
/// exactly as the `String` it replaces, so plans saved before it load unchanged. The string
/// alone does not say which of the two it is: it loads as [`StepVersion::Dcos`], and
/// [`Phase`](super::Phase) loading retypes the steps of kind [`StepKind::AppUpgrade`] as images
/// (`retype`); steps are only ever loaded inside a phase.
#[derive(Clone, PartialEq, Eq)]
pub enum StepVersion {
    /// A DC/OS version (node steps), as the node reported it (parsed when it parses).
    Dcos(RecordedVersion),
    /// A docker image (framework steps), e.g. `nginx:1.20.0`.
    Image(String),
}

impl StepVersion {
    /// The text as recorded.
    pub fn as_str(&self) -> &str {
        match self {
            StepVersion::Dcos(v) => v.as_str(),
            StepVersion::Image(i) => i,
        }
    }

    /// The DC/OS version, for node steps.
    pub fn dcos(&self) -> Option<&RecordedVersion> {
        match self {
            StepVersion::Dcos(v) => Some(v),
            StepVersion::Image(_) => None,
        }
    }

    /// The docker image, for framework steps.
    pub fn image(&self) -> Option<&str> {
        match self {
            StepVersion::Image(i) => Some(i),
            StepVersion::Dcos(_) => None,
        }
    }

    /// The same text as a version of `kind`'s steps: an image for framework steps, else a
    /// DC/OS version.
    fn of_kind(self, kind: StepKind) -> StepVersion {
        match (kind, self) {
            (StepKind::AppUpgrade, StepVersion::Dcos(v)) => StepVersion::Image(v.into()),
            (StepKind::AppUpgrade, image) => image,
            (_, StepVersion::Image(i)) => StepVersion::Dcos(i.into()),
            (_, v) => v,
        }
    }
}

impl From<RecordedVersion> for StepVersion {
    fn from(v: RecordedVersion) -> StepVersion {
        StepVersion::Dcos(v)
    }
}

impl fmt::Display for StepVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for StepVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepVersion::Dcos(v) => write!(f, "Dcos({v:?})"),
            StepVersion::Image(i) => write!(f, "Image({i:?})"),
        }
    }
}

impl Serialize for StepVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StepVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RecordedVersion::deserialize(deserializer).map(StepVersion::Dcos)
    }
}

/// Loads a phase's steps and types each one's `from` and `to` by its kind (see [`StepVersion`]).
pub(super) fn retype<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Step>, D::Error> {
    let mut steps = Vec::<Step>::deserialize(deserializer)?;
    for s in &mut steps {
        s.from = s.from.take().map(|v| v.of_kind(s.kind));
        s.to = s.to.take().map(|v| v.of_kind(s.kind));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;

    /// A plan as a release before typed step versions saved it (node and framework steps).
    const SAVED: &str = r#"{"cluster":"c","to":"2.2.1","from":"2.1.3","max_unavailable":1,
      "phases":[
        {"id":"masters","steps":[{"id":"masters/10.0.0.11/upgrade","action":"upgrade",
          "kind":"node_upgrade","description":"d","node":"10.0.0.11","from":"2.1.3","to":"2.2.1"}]},
        {"id":"frameworks","steps":[{"id":"frameworks/web/upgrade","action":"upgrade",
          "kind":"app_upgrade","description":"d","app":"/web","from":"nginx:1.19.0","to":"nginx:1.20.0"}]}
      ],"doors":[]}"#;

    #[test]
    fn a_plan_saved_with_string_versions_loads_typed_and_saves_the_same_json() {
        let saved: serde_json::Value = serde_json::from_str(SAVED).unwrap();
        let plan: Plan = serde_json::from_value(saved.clone()).unwrap();
        let node = plan.step("masters/10.0.0.11/upgrade").unwrap();
        assert_eq!(
            node.from,
            Some(StepVersion::Dcos(RecordedVersion::from("2.1.3")))
        );
        assert_eq!(
            node.from
                .as_ref()
                .and_then(StepVersion::dcos)
                .unwrap()
                .parsed(),
            Some(&crate::versions::DcosVersion::parse("2.1.3").unwrap())
        );
        let app = plan.step("frameworks/web/upgrade").unwrap();
        assert_eq!(app.from, Some(StepVersion::Image("nginx:1.19.0".into())));
        assert_eq!(app.to, Some(StepVersion::Image("nginx:1.20.0".into())));
        assert_eq!(serde_json::to_value(&plan).unwrap(), saved);
    }

    #[test]
    fn a_version_the_strict_parser_refuses_loads_as_written() {
        let v: StepVersion = serde_json::from_str(r#""1.10-dev""#).unwrap();
        assert_eq!(v.as_str(), "1.10-dev");
        assert_eq!(serde_json::to_string(&v).unwrap(), r#""1.10-dev""#);
    }
}
