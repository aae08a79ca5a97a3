//! Unit tests of the version parser, the path matrices and the tested-OS data.

use super::*;
use super::{SUPPORTED_PATHS_TOML, TESTED_OS_TOML};

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
fn near_misses_are_refused_with_a_did_you_mean() {
    for (bad, fix) in [
        ("v2.2.1", "2.2.1"),
        ("2.2.1 ", "2.2.1"),
        ("  v2.2.1\n", "2.2.1"),
        ("02.2.1", "2.2.1"),
        ("2.02.1", "2.2.1"),
        ("2.2.1+build", "2.2.1"),
        ("2.2.1+", "2.2.1"),
    ] {
        match DcosVersion::parse(bad) {
            Err(VersionError::Invalid { reason, .. }) => assert!(
                reason.ends_with(&format!("did you mean {fix}?")),
                "{bad:?}: {reason}"
            ),
            other => panic!("{bad:?} should be refused, got {other:?}"),
        }
    }
    assert_eq!("2.1.3".parse::<DcosVersion>().unwrap().minor(), (2, 1));
}

#[test]
fn shell_characters_and_spaces_in_a_node_version_are_refused() {
    for bad in [
        "2.1.3$(touch /tmp/pwned)",
        "2.1.3`id`",
        "2.1.3;reboot",
        "2.1.3 2.2.1",
        "2.1.3\u{1b}[2J",
        "2.1.3-rc1'",
        "2.1.3-a b",
    ] {
        assert!(
            matches!(DcosVersion::parse(bad), Err(VersionError::Invalid { .. })),
            "{bad:?} should be refused"
        );
    }
    assert!(DcosVersion::parse(&"1.".repeat(40)).is_err());
}

#[test]
fn what_dc_os_really_writes_parses() {
    for (s, canonical) in [
        ("1.13.0-alpha", "1.13.0-alpha"),
        ("1.10-dev", "1.10.0-dev"),
        ("1.10.5.1", "1.10.5.1"),
        ("2.2.1", "2.2.1"),
        ("1.10", "1.10.0"),
    ] {
        let ver = v(s);
        assert_eq!(ver.canonical(), canonical);
        assert_eq!(ver.to_string(), s);
    }
}

#[test]
fn a_four_part_release_sorts_between_its_release_and_the_next() {
    assert!(v("1.10.5") < v("1.10.5.1"));
    assert!(v("1.10.5.1") < v("1.10.6"));
    assert_eq!(v("1.10.5.1"), v("1.10.5.1"));
    assert_ne!(v("1.10.5.1"), v("1.10.5"));
    // The SemVer form agrees with the DC/OS order.
    assert!(v("1.10.5").semver() < v("1.10.5.1").semver());
    assert!(v("1.10.5.1").semver() < v("1.10.6").semver());
}

#[test]
fn one_equality_for_every_spelling_of_a_version() {
    use std::collections::HashSet;
    assert_eq!(v("1.10-dev"), v("1.10.0-dev"));
    let set: HashSet<DcosVersion> = [v("1.10-dev"), v("1.10.0-dev")].into_iter().collect();
    assert_eq!(set.len(), 1);
    // Build metadata never gets in: no "+build" equal in one place and different in another.
    assert!(DcosVersion::parse("2.2.1+build").is_err());
}

#[test]
fn operator_targets_must_be_known_releases() {
    assert_eq!(parse_target("2.2.1").unwrap(), v("2.2.1"));
    assert_eq!(parse_target("1.10.5.1").unwrap(), v("1.10.5.1"));
    for bad in ["v2.2.1", "2.2.1 ", "02.2.1", "2.2.1+build"] {
        let e = parse_target(bad).unwrap_err();
        assert!(
            e.to_string().contains("did you mean 2.2.1?"),
            "{bad:?}: {e}"
        );
    }
    match parse_target("2.2") {
        Err(VersionError::NotARelease { reason, .. }) => {
            assert!(
                reason.contains("release line") && reason.contains("2.2.1"),
                "{reason}"
            )
        }
        other => panic!("2.2: {other:?}"),
    }
    match parse_target("2.2.1-rc1") {
        Err(e @ VersionError::NotARelease { .. }) => {
            assert!(
                e.to_string()
                    .contains("pre-releases are not upgrade targets"),
                "{e}"
            )
        }
        other => panic!("2.2.1-rc1: {other:?}"),
    }
    match parse_target("2.1.4") {
        Err(e @ VersionError::UnknownRelease { .. }) => {
            let shown = e.to_string();
            assert!(
                shown.contains("2.1.4") && shown.contains("2.1.3"),
                "{shown}"
            );
        }
        other => panic!("2.1.4: {other:?}"),
    }
    match parse_target("1.13.8") {
        Err(e @ VersionError::Refused { .. }) => {
            let shown = e.to_string();
            assert!(
                shown.contains("networking stack") && shown.contains("do NOT upgrade"),
                "{shown}"
            );
            assert!(shown.contains("release-notes/1.13.8"), "{shown}");
        }
        other => panic!("1.13.8: {other:?}"),
    }
    assert!(matches!(parse_target(""), Err(VersionError::Empty)));
}

#[test]
fn release_1_13_8_is_refused_as_a_source_with_its_warning() {
    let (reason, allowed) = unsupported(check("1.13.8", "2.0.6"));
    assert!(reason.contains("1.13.8 is refused as a source"), "{reason}");
    assert!(reason.contains("networking stack"), "{reason}");
    assert!(allowed.is_empty());
    let (reason, _) = unsupported(check("1.13.7", "1.13.8"));
    assert!(reason.contains("1.13.8 is refused as a target"), "{reason}");
    // No route goes through it either.
    let (reason, _) = unsupported(check("1.12.5", "2.0.6"));
    assert!(!reason.contains("1.13.8"), "{reason}");
}

#[test]
fn no_matrix_lists_1_13_8() {
    let paths = SupportedPaths::builtin();
    assert!(!paths.known_versions().contains(&(1, 13, 8, 0)));
    assert_eq!(
        check("1.12.3", "1.13.9"),
        PathVerdict::Supported {
            kind: PathKind::Upgrade
        }
    );
}

#[test]
fn a_four_part_source_uses_its_release_row_and_can_be_a_patch_target() {
    assert_eq!(
        check("1.10.5.1", "1.11.6"),
        PathVerdict::Supported {
            kind: PathKind::Upgrade
        }
    );
    assert_eq!(
        check("1.10.5", "1.10.5.1"),
        PathVerdict::Supported {
            kind: PathKind::Patch
        }
    );
}

#[test]
fn check_upgrade_returns_typed_refusals() {
    assert_eq!(
        check_upgrade(&v("2.1.3"), &v("2.2.1")),
        Ok(Upgrade::Supported(PathKind::Upgrade))
    );
    assert_eq!(
        check_upgrade(&v("2.2.1"), &v("2.2.1")),
        Ok(Upgrade::SameVersion)
    );
    match check_upgrade(&v("2.2.1"), &v("2.1.3")) {
        Err(VersionError::Path { reason, .. }) => assert!(reason.contains("older"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match check_upgrade(&v("2.0.6"), &v("2.2.0")) {
        Err(VersionError::Path {
            reason,
            allowed_targets,
            ..
        }) => {
            assert!(reason.contains("2.2.1"), "{reason}");
            assert!(!allowed_targets.is_empty());
        }
        other => panic!("{other:?}"),
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
