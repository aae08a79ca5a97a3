//! Checks of the DC/OS versions: no mix left by an interrupted upgrade, and a documented path
//! to the target.

use super::{result, CheckResult, Observed, Severity};

pub(super) fn check_mixed_versions(o: &Observed) -> Vec<CheckResult> {
    let target = o.to.as_ref();
    let mut invalid = Vec::new();
    let parsed: Vec<(String, crate::versions::DcosVersion)> = o
        .facts
        .nodes()
        .filter_map(|n| {
            let v = n.version.as_deref()?;
            if target.is_some_and(|t| t.is(v)) {
                return None;
            }
            match crate::versions::DcosVersion::parse(v) {
                Ok(p) => Some((n.name.clone(), p)),
                // A version no parser accepts is never skipped silently: it blocks, named.
                Err(e) => {
                    invalid.push(format!(
                        "{} ({}) reports version {v}: {e}",
                        n.name, n.address
                    ));
                    None
                }
            }
        })
        .collect();
    let msg = if invalid.is_empty() {
        crate::versions::mixed_versions(parsed.iter().map(|(n, v)| (n.as_str(), v)))
    } else {
        Some(format!("not a DC/OS version: {}", invalid.join("; ")))
    };
    vec![result(
        "versions.mixed",
        Severity::Blocker,
        msg.is_none(),
        msg.clone().unwrap_or_else(|| "every node still to upgrade runs the same version".into()),
        "bring every node to one version before upgrading (finish or roll back the interrupted upgrade)",
    )]
}

pub(super) fn check_path(o: &Observed) -> Vec<CheckResult> {
    use crate::versions::{DcosVersion, PathVerdict, SupportedPaths};
    let Some(to) = &o.to else {
        return Vec::new();
    };
    let Some(target) = to.parsed() else {
        return vec![result(
            "versions.path",
            Severity::Blocker,
            false,
            format!("target version {to:?} is not a DC/OS version"),
            "give --to as X.Y.Z",
        )];
    };
    let from = o
        .facts
        .nodes()
        .filter_map(|n| n.version.as_deref())
        .filter(|v| !to.is(v))
        .find_map(|v| DcosVersion::parse(v).ok());
    let Some(from) = from else {
        return vec![result(
            "versions.path",
            Severity::Blocker,
            true,
            format!("every node is at {to}"),
            "",
        )];
    };
    let (ok, found) = match SupportedPaths::shipped().check(&from, target) {
        PathVerdict::Supported { kind } => (
            true,
            format!("{from} -> {target} is a documented {kind:?} path"),
        ),
        PathVerdict::SameVersion => (true, format!("already at {target}")),
        PathVerdict::Downgrade => (
            false,
            format!("{from} -> {target} is a downgrade; DC/OS documents no downgrade procedure"),
        ),
        PathVerdict::Unsupported { reason, .. } => (false, reason),
    };
    vec![result(
        "versions.path",
        Severity::Blocker,
        ok,
        found,
        "upgrade along a documented path (one minor at a time, or a documented skip); see playbooks/supported-paths.toml",
    )]
}
