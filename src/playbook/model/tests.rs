//! Unit tests of the playbook model: the built-in playbook and its validation.

use super::*;

#[test]
fn the_builtin_playbook_is_valid_and_holds_the_documented_commands() {
    let pb = Playbook::builtin();
    assert_eq!(
        pb.paths.version_file,
        "/opt/mesosphere/etc/dcos-version.json"
    );
    assert_eq!(pb.ports.mesos_master, 5050);
    assert!(pb.backup.backup.contains("dcos-zk backup"));
    assert!(
        !BUILTIN_DCOS.contains("dcos-sim"),
        "nothing testbed-specific in the playbook"
    );
}

#[test]
fn an_unknown_placeholder_is_reported_with_its_line() {
    let text = BUILTIN_DCOS.replace("{archive} -v", "{archiv} -v");
    let e = Playbook::parse(&SourceFile::from_text("p.toml", &text)).unwrap_err();
    assert!(e.message.contains("archiv"), "{e}");
    assert!(e.line.unwrap() > 40);
}

#[test]
fn a_verbose_since_that_is_not_a_minor_is_refused_at_load() {
    let text = BUILTIN_DCOS.replace("\"--verbose\"", "\"--verbose; reboot\"");
    let e = Playbook::parse(&SourceFile::from_text("p.toml", &text)).unwrap_err();
    assert!(e.message.contains("node_upgrade.verbose_flag"), "{e}");
    for bad in ["1.11$(id)", "v1.11", "eleven", "1.11.0"] {
        let text = BUILTIN_DCOS.replace(
            "verbose_since = \"1.11\"",
            &format!("verbose_since = \"{bad}\""),
        );
        let e = Playbook::parse(&SourceFile::from_text("p.toml", &text)).unwrap_err();
        assert!(
            e.message.contains("node_upgrade.verbose_since"),
            "{bad}: {e}"
        );
        assert!(e.line.is_some(), "{bad}: {e}");
    }
}

#[test]
fn a_path_with_control_characters_is_refused() {
    let text = BUILTIN_DCOS.replace(
        "\"/var/lib/dcos-upgrade\"",
        "\"/var/lib/dcos-upgrade\\n/etc\"",
    );
    let e = Playbook::parse(&SourceFile::from_text("p.toml", &text)).unwrap_err();
    assert!(e.message.contains("paths.work_dir"), "{e}");
    assert!(e.message.contains("control"), "{e}");
}

#[test]
fn a_relative_path_is_refused() {
    let text = BUILTIN_DCOS.replace("\"/var/lib/dcos-upgrade\"", "\"var/lib\"");
    let e = Playbook::parse(&SourceFile::from_text("p.toml", &text)).unwrap_err();
    assert!(e.message.contains("absolute"), "{e}");
}
