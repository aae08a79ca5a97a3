//! Each node's filesystem root (the DC/OS tree, its scripts and shims) and the bootstrap node's
//! served files.

use super::*;
use crate::model::{NodeDef, Role, SimDef};
use crate::scripts;
use crate::tools;
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
    let check_secs = format!("{}.{:03}", def.check_ms / 1000, def.check_ms % 1000);
    let mut cvars = vars.clone();
    cvars.push(("ADMIN_PORT", &admin));
    cvars.push(("CHECK_SECS", &check_secs));
    let bin = m.join("bin");
    write_exec(
        &bin.join("pkgpanda"),
        &scripts::render(scripts::PKGPANDA, &vars),
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
    install_versioned_tools(def, n, version, &bin, &vars, &cvars)?;
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
    // pkgpanda downloads into $TMPDIR, /tmp by default (facts §8.8).
    fs::create_dir_all(root.join("tmp"))?;
    if n.role == Role::Master && def.real_zookeeper {
        // The real server writes version-2/ and zookeeper.out itself.
        crate::zk::write_config(def, n, index)?;
    } else if n.role == Role::Master {
        let zk = root.join("var/lib/dcos/exhibitor/zookeeper");
        write(&zk.join("myid"), &format!("{}\n", index + 1))?;
        write(&zk.join("zookeeper.out"), "zookeeper log\n")?;
        write_snapshot(def, &zk.join("version-2/snapshot.100000000"), index)?;
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

/// The tools that come with a version (`dcos-zk`, `dcos-etcdctl`, `iam-database-backup`, see
/// [`crate::tools`]): this version's set goes into `bin/`, and each of the testbed's two versions'
/// sets into `nodes/<name>/tools/<version>/`, from where `pkgpanda activate` installs the new one.
/// Masters also get the data those tools back up (etcd from 2.1, the IAM database with CockroachDB).
fn install_versioned_tools(
    def: &SimDef,
    n: &NodeDef,
    version: &str,
    bin: &std::path::Path,
    vars: &[(&str, &str)],
    check_vars: &[(&str, &str)],
) -> Result<()> {
    let stash = def.dir.join("nodes").join(&n.name).join("tools");
    write(&stash.join("names"), &(tools::VERSIONED.join("\n") + "\n"))?;
    let script = |t: &str| match t {
        "dcos-zk" => scripts::render(scripts::DCOS_ZK, vars),
        "dcos-etcdctl" => scripts::render(scripts::DCOS_ETCDCTL, vars),
        // The same `check <type>` interface and JSON under both names (facts §4).
        "dcos-check-runner" | "dcos-diagnostics" => scripts::render(
            &scripts::CHECK_RUNNER.replace("dcos-check-runner", t),
            check_vars,
        ),
        _ => scripts::render(scripts::IAM_DATABASE_BACKUP, vars),
    };
    let master = n.role == Role::Master;
    for v in [&def.version, &def.upgrade_to] {
        let dir = stash.join(v);
        fs::create_dir_all(&dir)?;
        for t in tools::node_tools(v, master) {
            write_exec(&dir.join(t), &script(t))?;
        }
    }
    for t in tools::node_tools(version, master) {
        write_exec(&bin.join(t), &script(t))?;
    }
    if !master {
        return Ok(());
    }
    let lib = n.root.join("var/lib/dcos");
    write(
        &lib.join("etcd/default.etcd/member/snap/db"),
        &format!("etcd data of {}\n", n.name),
    )?;
    write(
        &lib.join("cockroach/iam-dump.sql"),
        "CREATE TABLE users (uid STRING PRIMARY KEY, description STRING);\nINSERT INTO users (uid, description) VALUES ('bootstrapuser', 'dcos-sim');\n",
    )?;
    Ok(())
}

/// A master's ZooKeeper snapshot: a few bytes, or `--zk-data-mb` of incompressible data (written
/// once for the first master and hard-linked into the others, as an ensemble's snapshots agree).
fn write_snapshot(def: &SimDef, path: &std::path::Path, index: usize) -> Result<()> {
    if def.zk_data_mb == 0 {
        return write(path, &format!("snapshot of {}\n", def.subnet));
    }
    if let Some(p) = path.parent() {
        fs::create_dir_all(p)?;
    }
    let first = def.nodes.iter().find(|m| m.role == Role::Master).map(|m| {
        m.root
            .join("var/lib/dcos/exhibitor/zookeeper/version-2/snapshot.100000000")
    });
    if index > 0 {
        if let Some(f) = first.filter(|f| f.exists()) {
            fs::hard_link(f, path)?;
            return Ok(());
        }
    }
    use std::io::Write;
    let mut w = std::io::BufWriter::new(fs::File::create(path)?);
    // xorshift64*: fast, and gzip cannot shrink it.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (def.zk_data_mb << 7);
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..def.zk_data_mb {
        for chunk in buf.chunks_mut(8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            chunk.copy_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        w.write_all(&buf)?;
    }
    w.flush()?;
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
