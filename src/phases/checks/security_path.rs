//! Enterprise 1.10/1.11 clusters in security mode `disabled` cannot go to 1.12+: the mode was
//! removed in 1.12, so such a cluster moves to `permissive` first (facts §8.1, docs
//! `security/ent/`).

use super::{result, CheckResult, Observed, Severity};
use crate::model::Security;
use crate::versions::DcosVersion;

const ID: &str = "cluster.security_disabled_path";

const REMEDY: &str = "Enterprise DC/OS 1.12 removed security mode `disabled`: first move the cluster to `permissive` on its current version (set `security: permissive` in config.yaml and run the documented upgrade that changes the security mode), then upgrade to 1.12 or later";

/// Blocks a 1.12+ target while an Enterprise node below 1.12 runs security `disabled`; without
/// a target (`check`) the same finding is only recorded.
pub(super) fn check_security_disabled_path(o: &Observed) -> Vec<CheckResult> {
    let first_without = DcosVersion::parse("1.12.0").ok();
    let below_1_12 =
        |v: &str| matches!((DcosVersion::parse(v), &first_without), (Ok(v), Some(f)) if v < *f);
    let mut disabled = Vec::new();
    for n in o.facts.nodes() {
        let enterprise = o
            .nodes
            .iter()
            .find(|s| s.address == n.address)
            .and_then(|s| s.shell.as_ref().ok())
            .and_then(|s| s.variant.as_deref())
            == Some("enterprise");
        let mode = o.security.get(&n.name).copied();
        if enterprise
            && mode == Some(Security::Disabled)
            && n.version.as_deref().is_some_and(below_1_12)
        {
            disabled.push(format!(
                "{} (Enterprise {})",
                n.address,
                n.version.as_deref().unwrap_or("?")
            ));
        }
    }
    if disabled.is_empty() {
        return Vec::new();
    }
    let to_1_12_plus = o.to.as_ref().map(|t| t.as_str()).map(|t| !below_1_12(t));
    let found = format!("security mode disabled on {}", disabled.join(", "));
    match to_1_12_plus {
        Some(true) => vec![result(
            ID,
            Severity::Blocker,
            false,
            format!(
                "{found}: the target {} has no such mode; move the cluster to permissive first",
                o.to.as_ref().map(|t| t.as_str()).unwrap_or("?")
            ),
            REMEDY,
        )],
        Some(false) => Vec::new(),
        None => vec![result(ID, Severity::Info, false, found, REMEDY)],
    }
}
