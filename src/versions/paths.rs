//! The supported-upgrade-path matrices and the verdict on a move between two versions.

use super::{core_str, data_core, data_minor, join, minor_str, Core, Minor, VersionError};
use super::{DcosVersion, SCHEMA, SUPPORTED_PATHS_TOML};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// How a supported move between two versions is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// A later release of the same minor (the documented patch procedure).
    Patch,
    /// To the next minor, as listed in the target's upgrade matrix.
    Upgrade,
    /// Over one minor (1.10 → 1.12, 1.11 → 1.13, 1.13 → 2.1, 2.0 → 2.2), as
    /// listed in the target's upgrade matrix.
    SkipOneMinor,
}

/// The result of [`SupportedPaths::check`].
///
/// Serializes internally tagged, e.g. `{"verdict":"supported","kind":"skip_one_minor"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum PathVerdict {
    /// The documentation supports this move.
    Supported {
        /// Patch, upgrade or skip-one-minor upgrade.
        kind: PathKind,
    },
    /// Source and target are the same version: nothing to do.
    SameVersion,
    /// The target is older than the source; DC/OS documents no downgrade.
    Downgrade,
    /// The documentation does not support this move.
    Unsupported {
        /// Human-readable explanation naming both versions.
        reason: String,
        /// Every target the matrices allow directly from the source's
        /// `MAJOR.MINOR.PATCH` (any target minor), ascending; empty if none.
        /// Patch moves within the source's minor are not listed.
        allowed_targets: Vec<String>,
    },
}

/// One target minor's upgrade matrix.
#[derive(Debug, Clone)]
pub(super) struct Matrix {
    /// from-version → allowed target versions (all in the target minor).
    pub(super) rows: BTreeMap<Core, BTreeSet<Core>>,
}

/// The documented supported-upgrade-path matrices and patch rules.
#[derive(Debug, Clone)]
pub struct SupportedPaths {
    /// Whether a later release of the same minor counts as a supported patch.
    pub(super) patch_allowed: bool,
    /// Keyed by target minor.
    pub(super) matrices: BTreeMap<Minor, Matrix>,
    /// Every minor that appears in the data, ascending (defines "next minor").
    pub(super) minors: Vec<Minor>,
    /// Releases refused as source and target, with the release-note warning and its source.
    pub(super) refused: BTreeMap<Core, String>,
    /// Releases that exist but that no matrix names (`other_releases`).
    pub(super) other: BTreeSet<Core>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPaths {
    schema: u32,
    patch_rules: RawPatchRules,
    #[serde(default)]
    other_releases: Vec<String>,
    #[serde(default)]
    refused: Vec<RawRefused>,
    #[serde(default)]
    matrix: Vec<RawMatrix>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPatchRules {
    same_minor_later_release: bool,
    identical_release: String,
    #[serde(rename = "doc")]
    _doc: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatrix {
    target: String,
    #[serde(rename = "doc")]
    _doc: String,
    paths: Vec<RawPath>,
}

/// A release its release notes tell users not to install.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRefused {
    version: String,
    warning: String,
    doc: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    from: String,
    to: Vec<String>,
}

/// A matrix row for `from`; a four-part hotfix release without a row of its own uses the row
/// of its three-part release (inference: a hotfix build such as 1.10.5.1 replaces 1.10.5 and
/// the docs' tables never list four-part versions, facts §8.7).
pub(super) fn row(matrix: &Matrix, from: Core) -> Option<&BTreeSet<Core>> {
    matrix
        .rows
        .get(&from)
        .or_else(|| matrix.rows.get(&(from.0, from.1, from.2, 0)))
}

impl SupportedPaths {
    /// The release-note warning when `v` is a refused release (DC/OS 1.13.8).
    pub fn refused_warning(&self, v: &DcosVersion) -> Option<&str> {
        self.refused.get(&v.core()).map(String::as_str)
    }

    /// Whether the data names `v` (as a source or a target of some matrix, or refused).
    pub fn is_known(&self, v: &DcosVersion) -> bool {
        let c = v.core();
        self.known_versions().contains(&c)
            || self.other.contains(&c)
            || self.refused.contains_key(&c)
    }

    /// The releases of one minor that the data names, ascending (refused ones left out).
    pub fn known_in_minor(&self, minor: (u64, u64)) -> Vec<String> {
        let mut all = self.known_versions();
        all.extend(self.other.iter().copied());
        all.into_iter()
            .filter(|c| (c.0, c.1) == minor && !self.refused.contains_key(c))
            .map(core_str)
            .collect()
    }

    /// The matrices shipped in `playbooks/supported-paths.toml`.
    ///
    /// # Panics
    /// Only if the shipped data is invalid (covered by a unit test).
    pub fn builtin() -> SupportedPaths {
        SupportedPaths::shipped().clone()
    }

    /// The shipped matrices, parsed once per process (a plan of 10,000 agents checks every
    /// node's path: parsing the TOML for each cost seconds).
    ///
    /// # Panics
    /// As [`SupportedPaths::builtin`].
    pub fn shipped() -> &'static SupportedPaths {
        static SHIPPED: std::sync::OnceLock<SupportedPaths> = std::sync::OnceLock::new();
        SHIPPED.get_or_init(|| match SupportedPaths::from_toml(SUPPORTED_PATHS_TOML) {
            Ok(paths) => paths,
            Err(e) => panic!("shipped playbooks/supported-paths.toml is invalid: {e}"),
        })
    }

    /// Loads and validates supported-path data in the `supported-paths.toml` format.
    ///
    /// # Errors
    /// [`VersionError::Data`] if the TOML is malformed or inconsistent (bad
    /// versions, targets outside the matrix's minor, duplicate rows, paths
    /// more than two minors long).
    pub fn from_toml(text: &str) -> Result<SupportedPaths, VersionError> {
        let raw: RawPaths = toml::from_str(text).map_err(|e| VersionError::Data(e.to_string()))?;
        if raw.schema != SCHEMA {
            return Err(VersionError::Data(format!(
                "unsupported schema {} (expected {SCHEMA})",
                raw.schema
            )));
        }
        if raw.patch_rules.identical_release != "nothing_to_do" {
            return Err(VersionError::Data(format!(
                "patch_rules.identical_release = {:?}: only \"nothing_to_do\" is supported",
                raw.patch_rules.identical_release
            )));
        }
        let mut matrices = BTreeMap::new();
        let mut minors = BTreeSet::new();
        for m in raw.matrix {
            let target = data_minor(&m.target)?;
            minors.insert(target);
            let mut rows = BTreeMap::new();
            for p in m.paths {
                let from = data_core(&p.from)?;
                if (from.0, from.1) >= target {
                    return Err(VersionError::Data(format!(
                        "matrix {}: from {} is not older than the target minor",
                        m.target, p.from
                    )));
                }
                minors.insert((from.0, from.1));
                let mut targets = BTreeSet::new();
                for t in &p.to {
                    let c = data_core(t)?;
                    if (c.0, c.1) != target {
                        return Err(VersionError::Data(format!(
                            "matrix {}: target {t} is outside DC/OS {}",
                            m.target, m.target
                        )));
                    }
                    if !targets.insert(c) {
                        return Err(VersionError::Data(format!(
                            "matrix {}: target {t} is listed twice for {}",
                            m.target, p.from
                        )));
                    }
                }
                if rows.insert(from, targets).is_some() {
                    return Err(VersionError::Data(format!(
                        "matrix {}: duplicate row for {}",
                        m.target, p.from
                    )));
                }
            }
            if matrices.insert(target, Matrix { rows }).is_some() {
                return Err(VersionError::Data(format!(
                    "duplicate matrix for target {}",
                    m.target
                )));
            }
        }
        let paths = SupportedPaths {
            patch_allowed: raw.patch_rules.same_minor_later_release,
            other: raw
                .other_releases
                .iter()
                .map(|v| data_core(v))
                .collect::<Result<_, VersionError>>()?,
            refused: raw
                .refused
                .iter()
                .map(|r| Ok((data_core(&r.version)?, format!("{} ({})", r.warning, r.doc))))
                .collect::<Result<_, VersionError>>()?,
            matrices,
            minors: minors.into_iter().collect(),
        };
        // Every documented path must be one or two minor steps.
        for (target, matrix) in &paths.matrices {
            for from in matrix.rows.keys() {
                let hops = paths.hops((from.0, from.1), *target);
                if !matches!(hops, Some(1 | 2)) {
                    return Err(VersionError::Data(format!(
                        "matrix {}: {} is more than two minors back",
                        minor_str(*target),
                        core_str(*from)
                    )));
                }
            }
        }
        Ok(paths)
    }

    /// Decides whether moving a cluster from `from` to `to` is documented.
    ///
    /// Rules, in order: an older target is a [`PathVerdict::Downgrade`]; an equal
    /// one is [`PathVerdict::SameVersion`]; a later release of the same minor is a
    /// [`PathKind::Patch`]; otherwise the target minor's matrix must list the
    /// source's `MAJOR.MINOR.PATCH` with the target's among its allowed targets.
    /// Unsupported verdicts explain why and, when the matrices and the patch
    /// rule allow it, suggest a documented route through intermediate versions.
    pub fn check(&self, from: &DcosVersion, to: &DcosVersion) -> PathVerdict {
        match to.cmp(from) {
            Ordering::Less => return PathVerdict::Downgrade,
            Ordering::Equal => return PathVerdict::SameVersion,
            Ordering::Greater => {}
        }
        let (fc, tc) = (from.core(), to.core());
        for (v, which) in [(fc, "from"), (tc, "to")] {
            if let Some(warning) = self.refused.get(&v) {
                return PathVerdict::Unsupported {
                    reason: format!(
                        "DC/OS {from} cannot be upgraded to {to}: {} is refused {}: {warning}",
                        core_str(v),
                        if which == "from" {
                            "as a source"
                        } else {
                            "as a target"
                        },
                    ),
                    allowed_targets: Vec::new(),
                };
            }
        }
        let allowed_targets: Vec<String> =
            self.direct_targets(fc).into_iter().map(core_str).collect();
        let unsupported = |reason: String| PathVerdict::Unsupported {
            reason,
            allowed_targets: allowed_targets.clone(),
        };
        if from.minor() == to.minor() {
            if self.patch_allowed {
                return PathVerdict::Supported {
                    kind: PathKind::Patch,
                };
            }
            return unsupported(format!(
                "DC/OS {from} cannot be patched to {to}: the loaded data disables the same-minor patch rule"
            ));
        }
        let target_minor = to.minor();
        let Some(matrix) = self.matrices.get(&target_minor) else {
            return unsupported(format!(
                "DC/OS {from} cannot be upgraded to {to}: there is no documented upgrade matrix for DC/OS {} (documented target minors: {})",
                minor_str(target_minor),
                join(self.matrices.keys().map(|m| minor_str(*m)))
            ));
        };
        let tm = minor_str(target_minor);
        let route = self.route_note(fc, tc);
        if let Some(targets) = row(matrix, fc) {
            if targets.contains(&tc) {
                let kind = match self.hops(from.minor(), target_minor) {
                    Some(1) => PathKind::Upgrade,
                    _ => PathKind::SkipOneMinor,
                };
                return PathVerdict::Supported { kind };
            }
            let what = if targets.is_empty() {
                format!(
                    "the DC/OS {tm} upgrade matrix lists no supported {tm} target for {}",
                    core_str(fc)
                )
            } else {
                format!(
                    "the DC/OS {tm} upgrade matrix allows {} -> {} only",
                    core_str(fc),
                    join(targets.iter().map(|c| core_str(*c)))
                )
            };
            return unsupported(format!(
                "DC/OS {from} cannot be upgraded to {to}: {what}{route}"
            ));
        }
        let source_minors: BTreeSet<Minor> = matrix.rows.keys().map(|c| (c.0, c.1)).collect();
        if source_minors.contains(&from.minor()) {
            let listed = matrix
                .rows
                .keys()
                .filter(|c| (c.0, c.1) == from.minor())
                .map(|c| core_str(*c));
            return unsupported(format!(
                "DC/OS {from} cannot be upgraded to {to}: the DC/OS {tm} upgrade matrix does not list {} as a source version (from DC/OS {} it lists {} only){route}",
                core_str(fc),
                minor_str(from.minor()),
                join(listed)
            ));
        }
        unsupported(format!(
            "DC/OS {from} cannot be upgraded directly to {to}: the DC/OS {tm} upgrade matrix only covers upgrades from DC/OS {}; upgrade through an intermediate version first{}",
            join(source_minors.iter().map(|m| minor_str(*m))),
            if route.is_empty() {
                " (no route through the documented matrices reaches it)".to_string()
            } else {
                route
            }
        ))
    }
}
