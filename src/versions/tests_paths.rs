//! Unit tests of the upgrade-path verdicts on the shipped matrices.

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
    assert_eq!(check("2.2.1", "2.2.1"), PathVerdict::SameVersion);
    assert_eq!(check("1.10-dev", "1.10.0-dev"), PathVerdict::SameVersion);
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
    match SupportedPaths::from_toml(&bad_range) {
        Err(VersionError::Data(m)) => assert!(m.contains("list every release explicitly"), "{m}"),
        other => panic!("a range must be refused: {other:?}"),
    }
    assert!(SupportedPaths::from_toml("schema = 2").is_err());
    let ok = format!(
        "{base}[[matrix]]\ntarget = \"2.2\"\ndoc = \"x\"\npaths = [{{ from = \"2.1.0\", to = [\"2.2.0\", \"2.2.1\"] }}]\n"
    );
    let paths = SupportedPaths::from_toml(&ok).unwrap();
    assert_eq!(
        paths.check(&v("2.1.0"), &v("2.2.0")),
        PathVerdict::Supported {
            kind: PathKind::Upgrade
        }
    );
}
