//! Validation: the installed versions and the from -> to path, and the script at the bootstrap
//! URL upgrading exactly that path.

use super::StepCtx;
use crate::versions::{mixed_versions, DcosVersion, PathVerdict, SupportedPaths, VersionError};

/// Why validation refused the run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidateError {
    /// A node's version could not be read (the cluster's message names the node).
    #[error("{0}")]
    Unread(String),
    /// A node reports a version that is not a DC/OS version.
    #[error("{node}: installed version {version:?}: {error}")]
    InstalledVersion {
        /// The node's address.
        node: String,
        /// What it reports.
        version: String,
        /// The parser's refusal.
        error: VersionError,
    },
    /// The plan's target is not a DC/OS version (a plan saved by a more lenient release).
    #[error("target version {target:?}: {error}")]
    Target {
        /// The target as recorded.
        target: String,
        /// The parser's refusal.
        error: VersionError,
    },
    /// The nodes still to upgrade run different versions.
    #[error("not every node that still needs the upgrade runs the same version: {detail}; bring them to one version first")]
    Mixed {
        /// Which node runs what.
        detail: String,
    },
    /// The target is older than the installed version.
    #[error("{from} -> {to} is a downgrade; DC/OS documents no downgrade procedure (use `rollback` for a run that upgraded)")]
    Downgrade {
        /// The installed version.
        from: String,
        /// The target.
        to: String,
    },
    /// The path is not a documented one.
    #[error("{reason}")]
    Unsupported {
        /// Why, naming the documented paths.
        reason: String,
    },
    /// No master could fetch the node script.
    #[error("upgrade script {url}: {last}")]
    ScriptUnreachable {
        /// The script's URL.
        url: String,
        /// The last master's answer.
        last: String,
    },
    /// What the URL serves is not a node upgrade script.
    #[error("{url} does not look like a dcos_node_upgrade.sh (no \"Expecting to upgrade DC/OS from X to Y\" guard)")]
    NotAScript {
        /// The script's URL.
        url: String,
    },
    /// The script upgrades to another version.
    #[error("the script at {url} upgrades to {found}, not to the requested {wanted}")]
    WrongTarget {
        /// The script's URL.
        url: String,
        /// The version its guard names.
        found: String,
        /// The plan's target.
        wanted: String,
    },
    /// The script upgrades from another version than the cluster runs.
    #[error("the script at {url} upgrades from {found}, but the cluster runs {runs}; generate it with --generate-node-upgrade-script {runs}")]
    WrongFrom {
        /// The script's URL.
        url: String,
        /// The version its guard names.
        found: String,
        /// The plan's from-version.
        runs: String,
    },
}

/// Checks installed versions (read afresh) and the documented upgrade path.
pub async fn versions(ctx: &StepCtx<'_>) -> Result<serde_json::Value, ValidateError> {
    let c = ctx.cluster;
    let mut pending: Vec<(String, DcosVersion)> = Vec::new();
    for (n, id) in c.identities().await {
        let id = id.map_err(ValidateError::Unread)?;
        let v =
            DcosVersion::parse(&id.version).map_err(|error| ValidateError::InstalledVersion {
                node: n.address.clone(),
                version: id.version.clone(),
                error,
            })?;
        if !ctx.to.is(&id.version) {
            pending.push((n.name.clone(), v));
        }
    }
    let to = ctx.to.version().map_err(|error| ValidateError::Target {
        target: ctx.to.to_string(),
        error,
    })?;
    if let Some(detail) = mixed_versions(pending.iter().map(|(n, v)| (n.as_str(), v))) {
        return Err(ValidateError::Mixed { detail });
    }
    let Some((_, from)) = pending.first() else {
        return Ok(serde_json::json!({"from": null, "to": ctx.to, "verdict": "nothing to do"}));
    };
    match SupportedPaths::shipped().check(from, &to) {
        PathVerdict::Supported { kind } => {
            ctx.progress(format!("{from} -> {to} is a documented {kind:?} path"));
            Ok(serde_json::json!({"from": from.to_string(), "to": ctx.to, "kind": kind}))
        }
        PathVerdict::SameVersion => Ok(serde_json::json!({"from": from.to_string(), "to": ctx.to})),
        PathVerdict::Downgrade => Err(ValidateError::Downgrade {
            from: from.to_string(),
            to: to.to_string(),
        }),
        PathVerdict::Unsupported { reason, .. } => Err(ValidateError::Unsupported { reason }),
    }
}

/// Fetches the node upgrade script and checks the versions it was generated for.
pub async fn upgrade_script(ctx: &StepCtx<'_>) -> Result<serde_json::Value, ValidateError> {
    let c = ctx.cluster;
    let url = &c.inventory.bootstrap.upgrade_script_url;
    // Fetched on a master, as the nodes will fetch it: the bootstrap node serves the cluster
    // network, which the operator's machine may not reach. No token goes to it.
    let script = format!(
        "curl -fsS --max-time 20 --retry 2 {} 2>&1",
        crate::shell::quote(url)
    );
    let mut last = String::from("the inventory lists no master");
    let mut body = None;
    for m in &c.inventory.masters {
        match c.query(m, &script).await {
            Ok(out) if out.ok() => {
                body = Some(out.stdout);
                break;
            }
            Ok(out) => {
                last = format!(
                    "fetched on master {}: {} (is the bootstrap node serving genconf/serve?)",
                    m.address,
                    out.tail(300)
                )
            }
            Err(e) => last = e.to_string(),
        }
    }
    let body = body.ok_or_else(|| ValidateError::ScriptUnreachable {
        url: url.clone(),
        last,
    })?;
    let (from, to) =
        script_versions(&body).ok_or_else(|| ValidateError::NotAScript { url: url.clone() })?;
    if !ctx.to.is(&to) {
        return Err(ValidateError::WrongTarget {
            url: url.clone(),
            found: to,
            wanted: ctx.to.to_string(),
        });
    }
    if let Some(f) = ctx.from {
        if !f.is(&from) {
            return Err(ValidateError::WrongFrom {
                url: url.clone(),
                found: from,
                runs: f.to_string(),
            });
        }
    }
    Ok(serde_json::json!({"url": url, "from": from, "to": to}))
}

/// The (from, to) versions in a node script's version guard.
pub fn script_versions(body: &str) -> Option<(String, String)> {
    let i = body.find("Expecting to upgrade DC/OS from ")?;
    let rest = &body[i + "Expecting to upgrade DC/OS from ".len()..];
    let mut words = rest.split_whitespace();
    let from = words.next()?.to_string();
    if words.next()? != "to" {
        return None;
    }
    let to = words.next()?.trim_end_matches('.').to_string();
    Some((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_guard_line_names_both_versions() {
        let body = "echo \"ERROR: Expecting to upgrade DC/OS from 2.1.3 to 2.2.1. Version found on node: $v\"";
        assert_eq!(
            script_versions(body),
            Some(("2.1.3".into(), "2.2.1".into()))
        );
        assert_eq!(script_versions("#!/bin/bash\necho hi"), None);
    }
}
