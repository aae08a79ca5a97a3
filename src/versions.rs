//! DC/OS version strings and upgrade-path validation.
//!
//! Pure logic, no I/O: everything here works on strings handed in by the caller
//! and on two data files compiled into the binary:
//!
//! * `playbooks/supported-paths.toml`: the supported-upgrade-path matrices from
//!   the DC/OS 1.11–2.2 "Upgrading" doc pages, plus the patch rules.
//! * `playbooks/tested-os.toml`: the operating systems each DC/OS minor was
//!   tested on, from the DC/OS "Version Policy" page.
//!
//! Matrix lookups compare versions on `MAJOR.MINOR.PATCH` only, so pre-release
//! suffixes seen on real nodes (`1.13.0-alpha`, `1.10-dev`) do not hide a node
//! from the matrix.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Bound;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The shipped supported-path data.
const SUPPORTED_PATHS_TOML: &str = include_str!("../playbooks/supported-paths.toml");
/// The shipped tested-OS data.
const TESTED_OS_TOML: &str = include_str!("../playbooks/tested-os.toml");
/// The only data schema version this module understands.
const SCHEMA: u32 = 1;

/// `(major, minor, patch)`, the part of a version used for matrix lookups.
type Core = (u64, u64, u64);
/// `(major, minor)`, a DC/OS minor release line such as 2.1.
type Minor = (u64, u64);

/// Errors from parsing version strings or the upgrade-path / tested-OS data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The version string was empty (or only whitespace).
    #[error("empty DC/OS version string")]
    Empty,
    /// The version string is not a DC/OS version.
    #[error("invalid DC/OS version {input:?}: {reason}")]
    Invalid {
        /// The string as given.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The supported-path or tested-OS TOML is malformed or inconsistent.
    #[error("invalid version data: {0}")]
    Data(String),
}

/// A DC/OS version as reported by a node (`/opt/mesosphere/etc/dcos-version.json`)
/// or given by the operator.
///
/// Parsing is tolerant of the forms DC/OS actually uses: `2.2.1`, `1.13.0-alpha`,
/// `1.10-dev` (read as `1.10.0-dev`), a leading `v`, surrounding whitespace.
/// `Display` shows the original (trimmed) string; ordering and equality follow
/// SemVer precedence (build metadata is ignored, `1.13.0-alpha < 1.13.0`).
#[derive(Debug, Clone)]
pub struct DcosVersion {
    version: semver::Version,
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
    fn core(&self) -> Core {
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
struct Matrix {
    /// from-version → allowed target versions (all in the target minor).
    rows: BTreeMap<Core, BTreeSet<Core>>,
}

/// The documented supported-upgrade-path matrices and patch rules.
#[derive(Debug, Clone)]
pub struct SupportedPaths {
    /// Whether a later release of the same minor counts as a supported patch.
    patch_allowed: bool,
    /// Keyed by target minor.
    matrices: BTreeMap<Minor, Matrix>,
    /// Every minor that appears in the data, ascending (defines "next minor").
    minors: Vec<Minor>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPaths {
    schema: u32,
    patch_rules: RawPatchRules,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    from: String,
    to: Vec<String>,
}

/// Formats a core version as `X.Y.Z`.
fn core_str(c: Core) -> String {
    format!("{}.{}.{}", c.0, c.1, c.2)
}

/// Formats a minor as `X.Y`.
fn minor_str(m: Minor) -> String {
    format!("{}.{}", m.0, m.1)
}

/// Joins items with `", "`.
fn join<I: IntoIterator<Item = String>>(items: I) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

/// Parses a plain `X.Y.Z` from the data files (no suffixes allowed).
fn data_core(s: &str) -> Result<Core, VersionError> {
    let v = DcosVersion::parse(s).map_err(|e| VersionError::Data(e.to_string()))?;
    if !v.version.pre.is_empty() || !v.version.build.is_empty() || s.trim().split('.').count() != 3
    {
        return Err(VersionError::Data(format!(
            "{s:?}: data versions must be plain MAJOR.MINOR.PATCH"
        )));
    }
    Ok(v.core())
}

/// Parses an `X.Y` minor from the data files.
fn data_minor(s: &str) -> Result<Minor, VersionError> {
    let bad = || VersionError::Data(format!("{s:?}: expected a DC/OS minor such as \"2.1\""));
    let (a, b) = s.trim().split_once('.').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

/// Expands a target entry: `X.Y.Z` or an inclusive same-minor range `X.Y.Z..=X.Y.W`.
fn expand_targets(s: &str) -> Result<Vec<Core>, VersionError> {
    let Some((lo, hi)) = s.split_once("..=") else {
        return Ok(vec![data_core(s)?]);
    };
    let (lo, hi) = (data_core(lo)?, data_core(hi)?);
    if (lo.0, lo.1) != (hi.0, hi.1) || lo.2 > hi.2 {
        return Err(VersionError::Data(format!(
            "{s:?}: a range must stay within one minor and go upwards"
        )));
    }
    Ok((lo.2..=hi.2).map(|p| (lo.0, lo.1, p)).collect())
}

impl SupportedPaths {
    /// The matrices shipped in `playbooks/supported-paths.toml`.
    ///
    /// # Panics
    /// Only if the shipped data is invalid (covered by a unit test).
    pub fn builtin() -> SupportedPaths {
        match SupportedPaths::from_toml(SUPPORTED_PATHS_TOML) {
            Ok(paths) => paths,
            Err(e) => panic!("shipped playbooks/supported-paths.toml is invalid: {e}"),
        }
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
                    for c in expand_targets(t)? {
                        if (c.0, c.1) != target {
                            return Err(VersionError::Data(format!(
                                "matrix {}: target {t} is outside DC/OS {}",
                                m.target, m.target
                            )));
                        }
                        targets.insert(c);
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
        if let Some(targets) = matrix.rows.get(&fc) {
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

    /// Number of minor steps from `from` to `to` along the minors in the data.
    fn hops(&self, from: Minor, to: Minor) -> Option<usize> {
        let a = self.minors.iter().position(|m| *m == from)?;
        let b = self.minors.iter().position(|m| *m == to)?;
        b.checked_sub(a)
    }

    /// Targets any matrix allows directly from `from`.
    fn direct_targets(&self, from: Core) -> BTreeSet<Core> {
        self.matrices
            .values()
            .filter_map(|m| m.rows.get(&from))
            .flatten()
            .copied()
            .collect()
    }

    /// Every version named anywhere in the matrices.
    fn known_versions(&self) -> BTreeSet<Core> {
        let mut known = BTreeSet::new();
        for m in self.matrices.values() {
            for (from, targets) in &m.rows {
                known.insert(*from);
                known.extend(targets.iter().copied());
            }
        }
        known
    }

    /// `"; a documented route is A -> B -> C"` when a multi-step route exists.
    fn route_note(&self, from: Core, to: Core) -> String {
        match self.find_route(from, to) {
            Some(route) if route.len() > 2 => format!(
                "; a documented route is {}",
                route
                    .into_iter()
                    .map(core_str)
                    .collect::<Vec<_>>()
                    .join(" -> ")
            ),
            _ => String::new(),
        }
    }

    /// Shortest route (fewest steps) from `from` to `to` using matrix entries
    /// and, if the patch rule is on, patches to later known releases of the
    /// same minor. Ties prefer the newest intermediate versions.
    fn find_route(&self, from: Core, to: Core) -> Option<Vec<Core>> {
        let known = self.known_versions();
        let mut prev: HashMap<Core, Core> = HashMap::new();
        let mut seen = BTreeSet::from([from]);
        let mut queue = VecDeque::from([from]);
        while let Some(v) = queue.pop_front() {
            if v == to {
                let mut route = vec![v];
                let mut cur = v;
                while let Some(p) = prev.get(&cur) {
                    route.push(*p);
                    cur = *p;
                }
                route.reverse();
                return Some(route);
            }
            let mut next = self.direct_targets(v);
            if self.patch_allowed {
                next.extend(
                    known
                        .range((Bound::Excluded(v), Bound::Included((v.0, v.1, u64::MAX))))
                        .copied(),
                );
                if (to.0, to.1) == (v.0, v.1) && to > v {
                    next.insert(to);
                }
            }
            for n in next.into_iter().rev() {
                if n <= to && seen.insert(n) {
                    prev.insert(n, v);
                    queue.push_back(n);
                }
            }
        }
        None
    }
}

/// Reports a cluster running more than one DC/OS version.
///
/// Returns `None` when all nodes report the same version (or there are no
/// nodes); otherwise a message naming every node, grouped by version in
/// ascending order, e.g.
/// `nodes run 2 different DC/OS versions: 2.1.3 on m1, a1; 2.2.1 on m2`.
pub fn mixed_versions<'a>(
    nodes: impl IntoIterator<Item = (&'a str, &'a DcosVersion)>,
) -> Option<String> {
    let mut groups: BTreeMap<&DcosVersion, Vec<&str>> = BTreeMap::new();
    for (node, version) in nodes {
        groups.entry(version).or_default().push(node);
    }
    if groups.len() < 2 {
        return None;
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(v, ns)| format!("{v} on {}", ns.join(", ")))
        .collect();
    Some(format!(
        "nodes run {} different DC/OS versions: {}",
        groups.len(),
        parts.join("; ")
    ))
}

/// One tested operating system and its tested versions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct OsEntry {
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
    by_minor: BTreeMap<Minor, Vec<OsEntry>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DcosVersion {
        DcosVersion::parse(s).unwrap()
    }

    fn check(from: &str, to: &str) -> PathVerdict {
        SupportedPaths::builtin().check(&v(from), &v(to))
    }

    fn unsupported(verdict: PathVerdict) -> (String, Vec<String>) {
        match verdict {
            PathVerdict::Unsupported {
                reason,
                allowed_targets,
            } => (reason, allowed_targets),
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn the_builtin_supported_paths_data_parses() {
        let paths = SupportedPaths::from_toml(SUPPORTED_PATHS_TOML).unwrap();
        let targets: Vec<String> = paths.matrices.keys().map(|m| minor_str(*m)).collect();
        assert_eq!(targets, ["1.11", "1.12", "1.13", "2.0", "2.1", "2.2"]);
    }

    #[test]
    fn the_builtin_tested_os_data_parses() {
        let t = TestedOs::from_toml(TESTED_OS_TOML).unwrap();
        assert!(t.by_minor.contains_key(&(1, 10)));
        assert!(t.by_minor.contains_key(&(2, 1)));
    }

    #[test]
    fn a_1_13_0_alpha_version_string_parses_as_a_prerelease() {
        let ver = v("1.13.0-alpha");
        assert_eq!(
            ver.semver(),
            &semver::Version::parse("1.13.0-alpha").unwrap()
        );
        assert_eq!(ver.minor(), (1, 13));
        assert_eq!(ver.to_string(), "1.13.0-alpha");
        assert!(ver < v("1.13.0"));
    }

    #[test]
    fn a_dev_suffix_without_a_patch_is_read_as_patch_zero() {
        let ver = v("1.10-dev");
        assert_eq!(ver.semver().to_string(), "1.10.0-dev");
        assert_eq!(ver.to_string(), "1.10-dev");
    }

    #[test]
    fn a_leading_v_and_whitespace_are_tolerated_and_display_keeps_the_original() {
        let ver = v("  v2.2.1\n");
        assert_eq!(ver, v("2.2.1"));
        assert_eq!(ver.to_string(), "v2.2.1");
        assert_eq!("2.1.3".parse::<DcosVersion>().unwrap().minor(), (2, 1));
    }

    #[test]
    fn malformed_version_strings_are_rejected() {
        assert_eq!(DcosVersion::parse("  "), Err(VersionError::Empty));
        for bad in [
            "2", "2.x.1", "1.2.3.4", "abc", "v", "1..2", "1.2.3-", "-1.2",
        ] {
            assert!(
                matches!(DcosVersion::parse(bad), Err(VersionError::Invalid { .. })),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn versions_serialize_as_their_original_string_and_round_trip() {
        let json = serde_json::to_string(&v("1.10-dev")).unwrap();
        assert_eq!(json, "\"1.10-dev\"");
        let back: DcosVersion = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v("1.10.0-dev"));
    }

    #[test]
    fn upgrading_2_1_3_to_2_2_1_is_supported_as_its_release_notes_recommend() {
        assert_eq!(
            check("2.1.3", "2.2.1"),
            PathVerdict::Supported {
                kind: PathKind::Upgrade
            }
        );
    }

    #[test]
    fn upgrading_2_1_3_to_2_2_0_is_unsupported() {
        let (reason, _) = unsupported(check("2.1.3", "2.2.0"));
        assert!(
            reason.contains("2.1.3") && reason.contains("2.2.0"),
            "{reason}"
        );
    }

    #[test]
    fn upgrading_2_1_1_to_2_2_1_is_a_supported_upgrade() {
        assert_eq!(
            check("2.1.1", "2.2.1"),
            PathVerdict::Supported {
                kind: PathKind::Upgrade
            }
        );
    }

    #[test]
    fn upgrading_1_10_0_to_1_11_9_is_unsupported_and_suggests_patching_first() {
        let (reason, allowed) = unsupported(check("1.10.0", "1.11.9"));
        assert!(reason.starts_with("DC/OS 1.10.0 cannot be upgraded to 1.11.9: "));
        assert!(reason.contains("lists no supported 1.11 target for 1.10.0"));
        assert!(reason.ends_with("a documented route is 1.10.0 -> 1.10.11 -> 1.11.9"));
        assert!(allowed.is_empty());
    }

    #[test]
    fn upgrading_2_0_6_to_2_2_0_is_unsupported_and_points_at_2_2_1() {
        let (reason, allowed) = unsupported(check("2.0.6", "2.2.0"));
        assert_eq!(
            reason,
            "DC/OS 2.0.6 cannot be upgraded to 2.2.0: the DC/OS 2.2 upgrade matrix allows 2.0.6 -> 2.2.1 only"
        );
        assert_eq!(allowed, ["2.1.0", "2.1.1", "2.2.1"]);
    }

    #[test]
    fn upgrading_2_0_6_to_2_2_1_is_a_supported_skip_one_minor() {
        assert_eq!(
            check("2.0.6", "2.2.1"),
            PathVerdict::Supported {
                kind: PathKind::SkipOneMinor
            }
        );
    }

    #[test]
    fn upgrading_1_13_7_to_2_0_6_crosses_a_major_but_is_one_minor_step() {
        assert_eq!(
            check("1.13.7", "2.0.6"),
            PathVerdict::Supported {
                kind: PathKind::Upgrade
            }
        );
    }

    #[test]
    fn going_from_2_2_1_to_2_1_3_is_a_downgrade() {
        assert_eq!(check("2.2.1", "2.1.3"), PathVerdict::Downgrade);
        assert_eq!(check("2.2.1", "2.2.1-rc1"), PathVerdict::Downgrade);
    }

    #[test]
    fn going_from_2_1_0_to_2_1_1_is_a_patch() {
        assert_eq!(
            check("2.1.0", "2.1.1"),
            PathVerdict::Supported {
                kind: PathKind::Patch
            }
        );
        // Any later release of the same minor, even one not in any matrix.
        assert_eq!(
            check("2.1.1", "2.1.3"),
            PathVerdict::Supported {
                kind: PathKind::Patch
            }
        );
    }

    #[test]
    fn identical_versions_are_nothing_to_do() {
        assert_eq!(check("2.2.1", "v2.2.1"), PathVerdict::SameVersion);
    }

    #[test]
    fn jumping_from_1_10_to_1_13_requires_an_intermediate_version() {
        let (reason, _) = unsupported(check("1.10.9", "1.13.5"));
        assert!(reason.starts_with("DC/OS 1.10.9 cannot be upgraded directly to 1.13.5"));
        assert!(reason.contains("only covers upgrades from DC/OS 1.11, 1.12"));
        assert!(reason.contains("upgrade through an intermediate version first"));
        assert!(reason.ends_with("a documented route is 1.10.9 -> 1.12.3 -> 1.13.5"));
    }

    #[test]
    fn a_target_outside_the_allowed_set_gets_a_patch_then_upgrade_route() {
        let (reason, _) = unsupported(check("2.0.6", "2.1.3"));
        assert!(reason.contains("allows 2.0.6 -> 2.1.0, 2.1.1 only"));
        assert!(reason.ends_with("a documented route is 2.0.6 -> 2.1.1 -> 2.1.3"));
    }

    #[test]
    fn prerelease_sources_are_looked_up_on_major_minor_patch() {
        assert_eq!(
            check("1.13.0-alpha", "2.0.1"),
            PathVerdict::Supported {
                kind: PathKind::Upgrade
            }
        );
        assert_eq!(
            check("1.13.0-alpha", "1.13.0"),
            PathVerdict::Supported {
                kind: PathKind::Patch
            }
        );
    }

    #[test]
    fn a_target_minor_without_a_documented_matrix_is_unsupported() {
        let (reason, _) = unsupported(check("2.2.1", "2.3.0"));
        assert!(reason.contains("no documented upgrade matrix for DC/OS 2.3"));
    }

    #[test]
    fn verdicts_serialize_in_snake_case() {
        let json = serde_json::to_string(&PathVerdict::Supported {
            kind: PathKind::SkipOneMinor,
        })
        .unwrap();
        assert_eq!(json, r#"{"verdict":"supported","kind":"skip_one_minor"}"#);
        let json = serde_json::to_string(&PathVerdict::SameVersion).unwrap();
        assert_eq!(json, r#"{"verdict":"same_version"}"#);
    }

    #[test]
    fn inconsistent_supported_path_data_is_rejected() {
        let base = "schema = 1\n[patch_rules]\nsame_minor_later_release = true\n\
                    identical_release = \"nothing_to_do\"\ndoc = \"x\"\n";
        let wrong_minor = format!(
            "{base}[[matrix]]\ntarget = \"2.2\"\ndoc = \"x\"\npaths = [{{ from = \"2.1.0\", to = [\"2.3.0\"] }}]\n"
        );
        assert!(matches!(
            SupportedPaths::from_toml(&wrong_minor),
            Err(VersionError::Data(_))
        ));
        let bad_range = format!(
            "{base}[[matrix]]\ntarget = \"2.2\"\ndoc = \"x\"\npaths = [{{ from = \"2.1.0\", to = [\"2.2.3..=2.2.1\"] }}]\n"
        );
        assert!(SupportedPaths::from_toml(&bad_range).is_err());
        assert!(SupportedPaths::from_toml("schema = 2").is_err());
        let ok = format!(
            "{base}[[matrix]]\ntarget = \"2.2\"\ndoc = \"x\"\npaths = [{{ from = \"2.1.0\", to = [\"2.2.0..=2.2.1\"] }}]\n"
        );
        let paths = SupportedPaths::from_toml(&ok).unwrap();
        assert_eq!(
            paths.check(&v("2.1.0"), &v("2.2.0")),
            PathVerdict::Supported {
                kind: PathKind::Upgrade
            }
        );
    }

    #[test]
    fn mixed_versions_message_names_every_node_grouped_by_version() {
        let (a, b) = (v("2.1.3"), v("2.2.1"));
        let nodes = [("master-1", &b), ("master-2", &a), ("agent-1", &a)];
        let msg = mixed_versions(nodes).unwrap();
        assert_eq!(
            msg,
            "nodes run 2 different DC/OS versions: 2.1.3 on master-2, agent-1; 2.2.1 on master-1"
        );
    }

    #[test]
    fn mixed_versions_is_none_when_all_nodes_agree() {
        let a = v("2.1.3");
        assert_eq!(mixed_versions([("m1", &a), ("m2", &a)]), None);
        assert_eq!(mixed_versions(std::iter::empty()), None);
    }

    #[test]
    fn tested_os_matches_os_release_version_prefixes() {
        let t = tested_os();
        assert_eq!(t.is_tested(&v("2.1.3"), "centos", "7"), Some(true));
        assert_eq!(t.is_tested(&v("2.1.3"), "\"rhel\"", "\"8.2\""), Some(true));
        assert_eq!(t.is_tested(&v("2.1.3"), "flatcar", "2345.3.1"), Some(true));
        assert_eq!(t.is_tested(&v("1.13.10"), "ubuntu", "16.04"), Some(true));
        assert_eq!(t.is_tested(&v("2.1.3"), "ubuntu", "18.04"), Some(false));
        assert_eq!(t.is_tested(&v("2.1.3"), "debian", "12"), Some(false));
        assert_eq!(t.is_tested(&v("1.10.9"), "centos", "7.9"), Some(false));
        assert_eq!(t.is_tested(&v("1.11.4"), "centos", "7"), Some(true));
    }

    #[test]
    fn tested_os_has_no_answer_for_a_minor_without_data() {
        assert_eq!(tested_os().is_tested(&v("2.2.1"), "centos", "7"), None);
        assert_eq!(tested_os().is_tested(&v("1.9.0"), "centos", "7"), None);
    }
}
