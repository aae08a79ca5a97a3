//! The read-only shell probe of one node: the script that runs there and the parser of its
//! output.

/// The directories whose free space is checked (those that exist, under the node root), besides
/// the node's `$TMPDIR` (`/tmp` when unset), where pkgpanda downloads the packages.
pub const DISK_PATHS: [&str; 4] = [
    "/var/lib/docker",
    "/var/log",
    "/var/lib/mesos",
    "/opt/mesosphere",
];

/// What one node's read-only shell probe found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct NodeShell {
    /// `id -u` after privilege escalation.
    pub uid: Option<u32>,
    /// The node's clock minus this machine's clock, in seconds.
    pub clock_offset_s: Option<f64>,
    /// (path, size bytes, available bytes) of each existing disk path.
    pub disks: Vec<(String, u64, u64)>,
    /// `ID` and `VERSION_ID` of os-release.
    pub os: Option<(String, String)>,
    /// Lines saying automatic updates are on.
    pub auto_updates: Vec<String>,
    /// Round-trip (TCP connect) times to the other masters in ms; None = not reachable.
    pub rtt_ms: Vec<(String, Option<f64>)>,
    /// `dcos-variant` of `dcos-version.json` (`open` or `enterprise`); on 1.10, which has no
    /// variant, `enterprise` when `expanded.config.full.json` has a `security` key (facts §2).
    pub variant: Option<String>,
}

const SECTION: &str = "@@dcos-upgrade@@";

/// The read-only shell probe of one node (run through `bash`, every value quoted).
pub fn node_script(
    node: &crate::playbook::NodeSpec,
    other_masters: &[String],
    mesos_port: u16,
) -> String {
    use crate::cluster::Cluster;
    let q = crate::shell::quote;
    let mut s = String::new();
    s.push_str(&format!("echo {SECTION}uid; id -u\n"));
    s.push_str(&format!("echo {SECTION}time; date +%s.%N\n"));
    s.push_str(&format!("echo {SECTION}df\n"));
    for p in DISK_PATHS {
        let path = Cluster::path(node, p);
        s.push_str(&format!(
            "if [ -d {path} ]; then echo \"@path \"{pq}; df -Pk {path}; fi\n",
            pq = q(p)
        ));
    }
    // pkgpanda downloads into `$TMPDIR` (facts §8.8, `pkgpanda/__init__.py`): the directory the
    // node's shell has (the upgrade runs the same way), `/tmp` when unset, under the node root
    // like every other path.
    s.push_str(&format!(
        "t=\"${{TMPDIR:-/tmp}}\"; p={root}\"$t\"; if [ -d \"$p\" ]; then echo \"@path $t\"; df -Pk \"$p\"; fi\n",
        root = q(&node.root)
    ));
    s.push_str(&format!(
        "echo {SECTION}os; cat {} 2>/dev/null || cat /etc/os-release 2>/dev/null || true\n",
        Cluster::path(node, "/etc/os-release")
    ));
    s.push_str(&format!("echo {SECTION}auto\n"));
    for f in ["/etc/yum/yum-cron.conf", "/etc/dnf/automatic.conf"] {
        let path = Cluster::path(node, f);
        s.push_str(&format!(
            "[ -f {path} ] && grep -E '^[[:space:]]*apply_updates[[:space:]]*=[[:space:]]*(yes|true|1)' {path} >/dev/null && echo {}\n",
            q(&format!("{f}: apply_updates = yes"))
        ));
    }
    let apt = Cluster::path(node, "/etc/apt/apt.conf.d/20auto-upgrades");
    s.push_str(&format!(
        "[ -f {apt} ] && grep -q 'Unattended-Upgrade \"1\"' {apt} && echo {}\n",
        q("/etc/apt/apt.conf.d/20auto-upgrades: Unattended-Upgrade \"1\"")
    ));
    for t in [
        "dnf-automatic.timer",
        "dnf-automatic-install.timer",
        "yum-cron.service",
    ] {
        for dir in [
            "/etc/systemd/system/timers.target.wants",
            "/etc/systemd/system/multi-user.target.wants",
        ] {
            let path = Cluster::path(node, &format!("{dir}/{t}"));
            s.push_str(&format!(
                "[ -e {path} ] && echo {}\n",
                q(&format!("{t} enabled"))
            ));
        }
    }
    s.push_str(&format!(
        "echo {SECTION}variant; {}; true\n",
        variant_script(node)
    ));
    // The time in microseconds, in `$REPLY`: bash 5's `$EPOCHREALTIME` (no process), else
    // `date` (bash 4, CentOS 7).
    s.push_str(
        "us() { local t=${EPOCHREALTIME:-}; if [ -n \"$t\" ]; then t=${t/[.,]/}; REPLY=$((10#$t)); else REPLY=$(( $(date +%s%N) / 1000 )); fi; }\n",
    );
    s.push_str(&format!("echo {SECTION}rtt\n"));
    for m in other_masters {
        let hp = format!("/dev/tcp/{m}/{mesos_port}");
        s.push_str(&format!(
            "us; st=$REPLY; if (exec 3<>{hp}) 2>/dev/null; then us; echo {m} $(( REPLY - st )); else echo {m} x; fi\n",
            hp = q(&hp),
            m = q(m)
        ));
    }
    s.push_str(&format!("echo {SECTION}end\n"));
    format!("bash -c {}", q(&s))
}

/// Prints the node's DC/OS variant as its first line: `dcos-variant` of `dcos-version.json`
/// (`open` or `enterprise`); on 1.10, which has no variant, `enterprise` when
/// `expanded.config.full.json` has a `security` key (Enterprise only, facts §2). Read-only.
pub fn variant_script(node: &crate::playbook::NodeSpec) -> String {
    use crate::cluster::Cluster;
    format!(
        "sed -n 's/.*\"dcos-variant\"[[:space:]]*:[[:space:]]*\"\\([a-z]*\\)\".*/\\1/p' {v} 2>/dev/null | head -n 1; [ -f {v} ] && grep -q dcos-variant {v} || {{ grep -q '\"security\"' {x} 2>/dev/null && echo enterprise; }}",
        v = Cluster::path(node, "/opt/mesosphere/etc/dcos-version.json"),
        x = Cluster::path(node, "/opt/mesosphere/etc/expanded.config.full.json"),
    )
}

/// Parses the node probe's output; `local_mid` is this machine's clock (Unix seconds) halfway
/// through the query.
pub fn parse_node_output(out: &str, local_mid: Option<f64>) -> NodeShell {
    let mut shell = NodeShell::default();
    let mut section = "";
    let mut path: Option<String> = None;
    let mut os_id = None;
    let mut os_ver = None;
    for line in out.lines() {
        if let Some(s) = line.strip_prefix(SECTION) {
            section = match s.trim() {
                "uid" => "uid",
                "time" => "time",
                "df" => "df",
                "os" => "os",
                "auto" => "auto",
                "rtt" => "rtt",
                "variant" => "variant",
                _ => "",
            };
            continue;
        }
        let line = line.trim();
        match section {
            "uid" => shell.uid = line.parse().ok(),
            "time" => {
                if let (Ok(t), Some(mid)) = (line.parse::<f64>(), local_mid) {
                    shell.clock_offset_s = Some(t - mid);
                }
            }
            "df" => {
                if let Some(p) = line.strip_prefix("@path ") {
                    path = Some(p.to_string());
                } else if line.starts_with("Filesystem") {
                    // `df -Pk`'s header line (POSIX: "Filesystem 1024-blocks Used Available
                    // Capacity Mounted on"); the path's line follows.
                } else if let Some(p) = path.take() {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    if let (Some(size), Some(avail)) = (
                        f.get(1).and_then(|x| x.parse::<u64>().ok()),
                        f.get(3).and_then(|x| x.parse::<u64>().ok()),
                    ) {
                        shell.disks.push((p, size * 1024, avail * 1024));
                    }
                }
            }
            "os" => {
                if let Some(v) = line.strip_prefix("ID=") {
                    os_id = Some(v.trim_matches('"').to_string());
                } else if let Some(v) = line.strip_prefix("VERSION_ID=") {
                    os_ver = Some(v.trim_matches('"').to_string());
                }
            }
            "auto" if !line.is_empty() => shell.auto_updates.push(line.to_string()),
            "variant" if !line.is_empty() && shell.variant.is_none() => {
                shell.variant = Some(line.to_string())
            }
            "rtt" => {
                if let Some((h, us)) = line.split_once(' ') {
                    shell
                        .rtt_ms
                        .push((h.to_string(), us.parse::<f64>().ok().map(|u| u / 1000.0)));
                }
            }
            _ => {}
        }
    }
    if let Some(id) = os_id {
        shell.os = Some((id, os_ver.unwrap_or_default()));
    }
    shell
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;
    use crate::playbook::NodeSpec;

    #[test]
    fn the_probe_runs_in_a_real_shell_and_reads_each_disk_and_each_master_s_round_trip() {
        let root = tempfile::tempdir().unwrap();
        for p in ["/var/log", "/opt/mesosphere"] {
            std::fs::create_dir_all(root.path().join(p.trim_start_matches('/'))).unwrap();
        }
        std::fs::create_dir_all(root.path().join("tmp")).unwrap();
        let node = NodeSpec {
            address: "127.0.0.1".into(),
            name: "n1".into(),
            ssh_port: None,
            root: root.path().to_string_lossy().into_owned(),
            role: Role::Agent,
            public_listed: false,
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // 127.0.0.2 listens on nothing at that port: not reachable.
        let masters = ["127.0.0.1".to_string(), "127.0.0.2".to_string()];
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(node_script(&node, &masters, port))
            .env("TMPDIR", "/tmp")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let shell = parse_node_output(&text, None);
        let paths: Vec<&str> = shell.disks.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(paths, ["/var/log", "/opt/mesosphere", "/tmp"], "{text}");
        for (p, size, avail) in &shell.disks {
            assert!(*size > 0 && avail <= size, "{p}: {size} {avail}\n{text}");
        }
        assert_eq!(shell.rtt_ms.len(), 2, "{text}");
        let (m, rtt) = &shell.rtt_ms[0];
        assert_eq!(m, "127.0.0.1");
        assert!(
            rtt.is_some_and(|ms| (0.0..1000.0).contains(&ms)),
            "{rtt:?}\n{text}"
        );
        assert_eq!(shell.rtt_ms[1], ("127.0.0.2".to_string(), None), "{text}");
        assert_eq!(shell.uid, Some(unsafe { libc::geteuid() }), "{text}");
    }
}
