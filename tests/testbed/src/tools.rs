//! Which version-bound DC/OS tools a node of a given version has (facts §8.3, §4), and where
//! the testbed keeps them per version so `pkgpanda activate` installs the new version's set.

/// `(major, minor, patch)` of a DC/OS version (`1.10.5.1` -> `(1, 10, 5)`; suffixes ignored).
fn triple(v: &str) -> (u64, u64, u64) {
    let mut it = v.split(['.', '-']).map(|p| p.parse::<u64>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// `dcos-zk` (`dcos-shell dcos-zk backup`) first ships in 1.12.4 and 1.13.2 (dcos/dcos commit
/// 6c670656c) and in every 2.x; 1.10, 1.11, 1.12.0–1.12.3 and 1.13.0–1.13.1 do not have it.
pub fn has_dcos_zk(version: &str) -> bool {
    let (a, b, c) = triple(version);
    match (a, b) {
        (1, 12) => c >= 4,
        (1, 13) => c >= 2,
        (1, _) => false,
        _ => true,
    }
}

/// etcd (`dcos-etcdctl`) runs on the masters from DC/OS 2.1.
pub fn has_etcd(version: &str) -> bool {
    triple(version) >= (2, 1, 0)
}

/// CockroachDB and IAM run on Open DC/OS masters from 1.13 (`packages/cockroach` on branches
/// 1.13+; the testbed's nodes are `dcos-variant: open`); `iam-database-backup` comes with it.
pub fn has_cockroach(version: &str) -> bool {
    triple(version) >= (1, 13, 0)
}

/// `dcos-check-runner` ships from DC/OS 1.12 (`packages/dcos-check-runner` is on dcos/dcos
/// branches 1.12+, not 1.10/1.11); before it, the checks are `dcos-diagnostics check` (facts §4,
/// "History").
pub fn has_check_runner(version: &str) -> bool {
    triple(version) >= (1, 12, 0)
}

/// Every tool name the testbed adds or removes with a version (under `opt/mesosphere/bin`).
pub const VERSIONED: &[&str] = &[
    "dcos-zk",
    "dcos-etcdctl",
    "iam-database-backup",
    "dcos-check-runner",
    "dcos-diagnostics",
];

/// The tool that runs DC/OS's own checks on a node of `version` (every role).
pub fn check_tool(version: &str) -> &'static str {
    if has_check_runner(version) {
        "dcos-check-runner"
    } else {
        "dcos-diagnostics"
    }
}

/// The versioned tools a node of `version` has: the check tool, and on masters the state tools.
pub fn node_tools(version: &str, master: bool) -> Vec<&'static str> {
    let mut v = vec![check_tool(version)];
    if master {
        v.extend(master_tools(version));
    }
    v
}

/// The versioned state tools a master of `version` has.
pub fn master_tools(version: &str) -> Vec<&'static str> {
    let mut v = Vec::new();
    if has_dcos_zk(version) {
        v.push("dcos-zk");
    }
    if has_etcd(version) {
        v.push("dcos-etcdctl");
    }
    if has_cockroach(version) {
        v.push("iam-database-backup");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dcos_zk_follows_the_releases_that_ship_it() {
        for v in ["1.10.11", "1.11.12", "1.12.0", "1.12.3", "1.13.0", "1.13.1"] {
            assert!(!has_dcos_zk(v), "{v}");
        }
        for v in [
            "1.12.4", "1.12.5", "1.13.2", "1.13.9", "2.0.0", "2.1.3", "2.2.1",
        ] {
            assert!(has_dcos_zk(v), "{v}");
        }
    }

    #[test]
    fn the_check_tool_is_dcos_diagnostics_before_1_12() {
        assert_eq!(check_tool("1.10.5.1"), "dcos-diagnostics");
        assert_eq!(check_tool("1.11.12"), "dcos-diagnostics");
        assert_eq!(check_tool("1.12.0"), "dcos-check-runner");
        assert_eq!(check_tool("2.2.1"), "dcos-check-runner");
    }

    #[test]
    fn etcd_and_cockroach_by_version() {
        assert!(!has_etcd("2.0.6") && has_etcd("2.1.0"));
        assert!(!has_cockroach("1.12.4") && has_cockroach("1.13.0"));
    }
}
