//! Checks of ZooKeeper: the Exhibitor view, the four-letter words and foreign top-level znodes.

use super::{result, CheckResult, Observed, Severity};

/// Top-level znodes that DC/OS itself creates (anything else is someone else's state):
/// `cluster-id` (every version, `bootstrap.py`), `cockroach` (1.13+), `etcd` and `cluster`
/// (2.1+, Calico) beside Mesos, Marathon and the rest (facts §8.6).
pub const KNOWN_ZNODES: [&str; 15] = [
    "cluster-id",
    "cockroach",
    "etcd",
    "cluster",
    "zookeeper",
    "mesos",
    "marathon",
    "dcos",
    "cosmos",
    "exhibitor",
    "navstar",
    "dcos-net",
    "lashup",
    "metronome",
    "dcos-service-*",
];

pub(super) fn check_exhibitor(o: &Observed) -> Vec<CheckResult> {
    let (ok, found) = match &o.exhibitor {
        Ok(s) => match crate::probe::exhibitor::judge(s, o.facts.masters.len()) {
            Ok(()) => (
                true,
                format!("Exhibitor: {} servers serving, one leader", s.len()),
            ),
            Err(e) => (false, e),
        },
        Err(e) => (false, e.clone()),
    };
    vec![result(
        "zookeeper.exhibitor",
        Severity::Blocker,
        ok,
        found,
        "every master must be in the ZooKeeper quorum (Exhibitor \"serving\", one leader) before an upgrade",
    )]
}

pub(super) fn check_zk_words(o: &Observed) -> Vec<CheckResult> {
    let (ok, found) = match crate::probe::zk::judge(&o.zk, o.facts.masters.len()) {
        Ok(s) => (true, s),
        Err(e) => (false, e),
    };
    let mut r = result(
        "zookeeper.four_letter_words",
        Severity::Blocker,
        ok,
        found,
        "ruok/srvr/mntr on :2181 must show every server up, one leader and masters - 1 synced followers; restart the failed server (systemctl restart dcos-exhibitor) and wait",
    );
    r.data = serde_json::to_value(&o.zk).ok();
    vec![r]
}

fn znode_known(name: &str) -> bool {
    KNOWN_ZNODES.iter().any(|k| match k.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *k,
    })
}

pub(super) fn check_znodes(o: &Observed) -> Vec<CheckResult> {
    match &o.znodes {
        Ok(list) => {
            let unknown: Vec<&str> = list
                .iter()
                .map(String::as_str)
                .filter(|n| !znode_known(n))
                .collect();
            vec![result(
                "zookeeper.unknown_znodes",
                Severity::Warning,
                unknown.is_empty(),
                if unknown.is_empty() {
                    format!("top-level znodes all DC/OS's own: {}", list.join(", "))
                } else {
                    format!("top-level znodes not created by DC/OS: /{}", unknown.join(", /"))
                },
                "keep other applications' state out of the ZooKeeper that Mesos and Marathon share; move it to its own ensemble",
            )]
        }
        Err(e) => vec![result(
            "zookeeper.unknown_znodes",
            Severity::Info,
            false,
            format!("could not list the top-level znodes: {e}"),
            "list them by hand (zkCli.sh ls /) and look for state that is not DC/OS's own",
        )],
    }
}
