//! Each node's filesystem root (the DC/OS tree, its scripts and shims) and the bootstrap node's
//! served files.

use super::*;
use crate::model::{NodeDef, Role, SimDef};
use crate::scripts;
use anyhow::Result;
use std::fs;

pub(super) fn node_vars<'a>(
    def: &'a SimDef,
    n: &'a NodeDef,
    root: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("ROOT", root),
        ("CTL", def.ctl_url.as_str()),
        ("NODE", n.name.as_str()),
        ("ADDRESS", n.address.as_str()),
    ]
}

pub(super) fn build_node_fs(def: &SimDef, n: &NodeDef, index: usize) -> Result<()> {
    let root = &n.root;
    let rs = root.to_string_lossy().to_string();
    let version = if def.at_target.contains(&n.name) {
        &def.upgrade_to
    } else {
        &def.version
    };
    let m = root.join("opt/mesosphere");
    write(&m.join("etc/dcos-version.json"), &version_json(version))?;
    write(
        &m.join("active/dcos-metadata/etc/dcos-version.json"),
        &version_json(version),
    )?;
    write(
        &m.join("active/.packages"),
        &(package_ids(version).join("\n") + "\n"),
    )?;
    write(
        &m.join("environment.export"),
        &format!(
            "export DCOS_VERSION={version}\nexport MESOS_IP_DISCOVERY_COMMAND=/opt/mesosphere/bin/detect_ip\nexport MESOS_HOSTNAME_LOOKUP=false\n"
        ),
    )?;
    // The node's security mode, where DC/OS keeps it (facts §8.1).
    write(
        &m.join("etc/bootstrap-config.json"),
        &format!("{{\"security\": \"{}\"}}\n", def.security.as_str()),
    )?;
    fs::create_dir_all(m.join("packages"))?;
    fs::create_dir_all(m.join("lib"))?;
    write(&m.join("lib/README"), "dcos-sim library directory\n")?;
    let vars = node_vars(def, n, &rs);
    let admin = def.admin_port.to_string();
    let mut cvars = vars.clone();
    cvars.push(("ADMIN_PORT", &admin));
    let bin = m.join("bin");
    write_exec(
        &bin.join("pkgpanda"),
        &scripts::render(scripts::PKGPANDA, &vars),
    )?;
    write_exec(
        &bin.join("dcos-check-runner"),
        &scripts::render(scripts::CHECK_RUNNER, &cvars),
    )?;
    write_exec(
        &bin.join("dcos-shell"),
        &scripts::render(scripts::DCOS_SHELL, &vars),
    )?;
    write_exec(
        &bin.join("detect_ip"),
        &scripts::render(scripts::DETECT_IP, &vars),
    )?;
    let mv = mesos_version(version);
    let mesos_bin = if n.role == Role::Master {
        "mesos-master"
    } else {
        "mesos-slave"
    };
    write_exec(
        &bin.join(mesos_bin),
        &scripts::render(scripts::MESOS_BIN, &[("MESOS_VERSION", mv)]),
    )?;
    if n.role == Role::Master {
        write_exec(
            &bin.join("cockroach"),
            &scripts::render(scripts::COCKROACH, &vars),
        )?;
    }
    write_exec(
        &bin.join("dcos-zk"),
        &scripts::render(scripts::DCOS_ZK, &vars),
    )?;
    write(
        &root.join("etc/mesosphere/roles").join(n.role.role_file()),
        "",
    )?;
    write(
        &root.join("var/lib/dcos/cluster-id"),
        &format!("{}\n", uuid_like(&def.subnet)),
    )?;
    fs::create_dir_all(root.join("var/lib/mesos"))?;
    fs::create_dir_all(root.join("var/lib/docker"))?;
    fs::create_dir_all(root.join("var/log"))?;
    if n.role == Role::Master && def.real_zookeeper {
        // The real server writes version-2/ and zookeeper.out itself.
        crate::zk::write_config(def, n, index)?;
    } else if n.role == Role::Master {
        let zk = root.join("var/lib/dcos/exhibitor/zookeeper");
        write(&zk.join("myid"), &format!("{}\n", index + 1))?;
        write(&zk.join("zookeeper.out"), "zookeeper log\n")?;
        write(
            &zk.join("version-2/snapshot.100000000"),
            &format!("snapshot of {}\n", def.subnet),
        )?;
        write(&zk.join("version-2/log.100000001"), "transaction log\n")?;
        write(&zk.join("version-2/acceptedEpoch"), "1\n")?;
        write(&zk.join("version-2/currentEpoch"), "1\n")?;
    } else {
        write(&m.join("lib/libltdl.so.7"), "not really a library\n")?;
    }
    let shim = def.dir.join("nodes").join(&n.name).join("shim");
    write_exec(
        &shim.join("systemctl"),
        &scripts::render(scripts::SYSTEMCTL, &vars),
    )?;
    write_exec(&shim.join("df"), &scripts::render(scripts::DF, &vars))?;
    Ok(())
}

pub(super) fn build_bootstrap(def: &SimDef) -> Result<()> {
    let serve = def.dir.join("bootstrap/serve");
    for v in [&def.version, &def.upgrade_to] {
        for id in package_ids(v) {
            let name = id.split("--").next().unwrap_or("pkg").to_string();
            let content = if name == "dcos-metadata" {
                version_json(v)
            } else {
                format!("{id}: not really a tarball\n")
            };
            write(
                &serve
                    .join("packages")
                    .join(&name)
                    .join(format!("{id}.tar.xz")),
                &content,
            )?;
        }
    }
    let bootstrap_url = format!("http://{}:8080", def.bootstrap_address);
    // The upgrade script also moves the node to `upgrade_security`; the rollback script back.
    for (from, to, url, security) in [
        (
            &def.version,
            &def.upgrade_to,
            &def.upgrade_script_url,
            def.upgrade_security,
        ),
        (
            &def.upgrade_to,
            &def.version,
            &def.rollback_script_url,
            def.security,
        ),
    ] {
        let rel = url
            .strip_prefix(&format!("{bootstrap_url}/"))
            .unwrap_or(url);
        let pk = package_ids(to).join(" ");
        let commit = hex_id(&format!("commit-{to}"), 40);
        let script = scripts::render(
            scripts::NODE_UPGRADE,
            &[
                ("FROM", from.as_str()),
                ("TO", to.as_str()),
                ("CTL", def.ctl_url.as_str()),
                ("BOOTSTRAP_URL", bootstrap_url.as_str()),
                ("PACKAGES", pk.as_str()),
                ("COMMIT", commit.as_str()),
                ("SECURITY", security.as_str()),
            ],
        );
        write_exec(&serve.join(rel), &script)?;
    }
    Ok(())
}
