//! Marathon through the upgrade (facts §8.2): the deprecated features Marathon 1.11 (DC/OS 2.2)
//! refuses to start with, the gate after each master (its Marathon runs the target's version;
//! a leader answers `/v2/leader`, so no storage migration is in progress), and the end state
//! (the leader runs the target's Marathon).

use crate::cluster::Cluster;
use crate::phases::checks::{CheckResult, Severity};
use crate::plan::doors::{marathon_of, version_key};
use crate::playbook::NodeSpec;
use crate::probe::node::{self, Read};
use crate::probe::wait::Poll;
use crate::versions::RecordedVersion;
use serde::Deserialize;

/// Where DC/OS's Marathon unit reads operator overrides; the 2.1 release notes name it for
/// `MARATHON_DEPRECATED_FEATURES` (facts §8.2).
pub const ENV_FILE: &str = "/var/lib/dcos/marathon/environment";

/// The deprecated features Marathon 1.11 refuses to start with (mesosphere/marathon
/// `DeprecatedFeatures.scala`, `DeprecatedFeaturesSet.isValid`; facts §8.2).
pub const REMOVED_IN_1_11: [&str; 2] = ["sanitize_accepted_resource_roles", "text_plain_tasks"];

/// The remedy of the DC/OS 2.1 release notes (facts §8.2).
pub const REMEDY: &str = "remove the feature from MARATHON_DEPRECATED_FEATURES in /var/lib/dcos/marathon/environment on every master (the DC/OS 2.1 release notes: remove `MARATHON_DEPRECATED_FEATURES=sanitize_accepted_resource_roles` before the next upgrade), restart dcos-marathon there, and check the apps still deploy; Marathon 1.11 (DC/OS 2.2) refuses to start with it";

/// The removed features an environment file's text enables.
pub fn removed_features(env: &str) -> Vec<String> {
    env.lines()
        .filter_map(|l| {
            let l = l.trim().trim_start_matches("export ");
            l.strip_prefix("MARATHON_DEPRECATED_FEATURES=")
        })
        .flat_map(|v| {
            v.trim_matches(|c| c == '"' || c == '\'')
                .split(',')
                .map(|f| f.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|f| REMOVED_IN_1_11.contains(&f.as_str()))
        .collect()
}

/// Whether `to` runs Marathon 1.11 or newer (DC/OS 2.2+).
fn refuses_removed(to: &RecordedVersion) -> bool {
    match marathon_of(to.as_str()) {
        Some(m) => version_key(m) >= version_key("1.11"),
        None => to.parsed().is_some_and(|v| v.minor() >= (2, 2)),
    }
}

/// Precheck: every master's Marathon environment file, read on the master. A removed feature
/// blocks a 2.2+ target (a warning when the target is unknown, as in `check`).
pub async fn deprecated_features(c: &Cluster, to: Option<&RecordedVersion>) -> CheckResult {
    let path = |m: &NodeSpec| Cluster::path(m, ENV_FILE);
    let reads = futures::future::join_all(c.inventory.masters.iter().map(|m| {
        let script = format!("cat {} 2>/dev/null || true", path(m));
        async move { (m.address.clone(), c.query(m, &script).await) }
    }))
    .await;
    let mut bad = Vec::new();
    let mut unread = Vec::new();
    for (m, r) in reads {
        match r {
            Ok(out) => {
                let f = removed_features(&out.stdout);
                if !f.is_empty() {
                    bad.push(format!("{m}: {}", f.join(", ")));
                }
            }
            Err(e) => unread.push(format!("{m}: {e}")),
        }
    }
    let blocks = to.map(refuses_removed);
    let (passed, severity) = match (bad.is_empty(), unread.is_empty(), blocks) {
        (false, _, Some(true)) => (false, Severity::Blocker),
        (false, _, Some(false)) => (true, Severity::Info),
        (false, _, None) | (true, false, _) => (false, Severity::Warning),
        (true, true, _) => (true, Severity::Blocker),
    };
    let found = if !bad.is_empty() {
        format!(
            "MARATHON_DEPRECATED_FEATURES in {ENV_FILE} enables a feature Marathon 1.11 removed: {}",
            bad.join("; ")
        )
    } else if !unread.is_empty() {
        format!("cannot read {ENV_FILE}: {}", unread.join("; "))
    } else {
        format!("no master enables a deprecated Marathon feature removed in 1.11 ({ENV_FILE})")
    };
    CheckResult {
        id: "marathon.deprecated_features".into(),
        severity,
        passed,
        found,
        remedy: if passed { String::new() } else { REMEDY.into() },
        data: None,
    }
}

/// The parts of `GET /v2/info` read here and by the doors (facts §5,
/// `payloads/marathon-v2-info.json`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Info {
    /// Marathon's version.
    #[serde(default)]
    pub(crate) version: String,
    /// Whether this Marathon is the leader.
    #[serde(default)]
    pub(crate) elected: bool,
    /// The leader it knows of (`host:port`).
    #[serde(default)]
    pub(crate) leader: Option<String>,
}

/// `GET /v2/leader` (facts §5, `payloads/marathon-v2-leader-transcript.txt`).
#[derive(Debug, Clone, Deserialize)]
struct Leader {
    leader: String,
}

/// Whether a Marathon version is the one `dcos` ships (same major.minor: DC/OS patch releases
/// may ship another Marathon patch release than the table's).
fn ships(dcos: &RecordedVersion, marathon: &str) -> Result<(), String> {
    let Some(want) = marathon_of(dcos.as_str()) else {
        return Ok(());
    };
    let k = |v: &str| version_key(v).into_iter().take(2).collect::<Vec<_>>();
    if k(want) == k(marathon) {
        Ok(())
    } else {
        Err(format!(
            "Marathon {marathon}, expected {want} (DC/OS {dcos})"
        ))
    }
}

/// One master's Marathon `/v2/info`, read on the master (its own port, TLS in strict mode).
pub(crate) async fn info(c: &Cluster, m: &NodeSpec) -> Result<Info, String> {
    Ok(read_of(c, m, &[Read::MarathonInfo]).await?.0)
}

/// One master's `/v2/info` and `/v2/leader`, read on the master.
async fn read(c: &Cluster, m: &NodeSpec) -> Result<(Info, Option<String>), String> {
    read_of(c, m, &MARATHON).await
}

/// `/v2/info` and, when `reads` has it, the leader `/v2/leader` names.
async fn read_of(
    c: &Cluster,
    m: &NodeSpec,
    reads: &[Read],
) -> Result<(Info, Option<String>), String> {
    from_reads(&node::read(c, m, reads).await.map_err(|e| e.to_string())?)
}

/// [`Read::MarathonInfo`] and, when the round read it, the leader [`Read::MarathonLeader`]
/// names, from one master's round.
fn from_reads(reads: &node::NodeReads) -> Result<(Info, Option<String>), String> {
    let (url, a) = reads
        .answer(Read::MarathonInfo)
        .map_err(|e| e.to_string())?;
    let info: Info = crate::door::parse_json(&url, &a).map_err(|e| e.to_string())?;
    let leader = reads
        .answer(Read::MarathonLeader)
        .ok()
        .filter(|(_, a)| a.status == 200)
        .and_then(|(url, a)| crate::door::parse_json::<Leader>(&url, &a).ok())
        .map(|l| l.leader);
    Ok((info, leader))
}

/// After upgrading master `node` to `to`: its Marathon runs `to`'s Marathon, and a Marathon
/// leader answers `/v2/leader` (none answers while the leader migrates its storage). With
/// `last` (every master at `to`), the leader itself runs `to`'s Marathon.
pub async fn after_master(
    c: &Cluster,
    node: &NodeSpec,
    to: &RecordedVersion,
    last: bool,
) -> Poll<String> {
    // Every master's Marathon at once, this one's among them: one round, not two.
    let all = futures::future::join_all(c.inventory.masters.iter().map(|m| read(c, m))).await;
    let mine = match c.master_position(node) {
        Some(i) => all[i].clone(),
        None => read(c, node).await,
    };
    judged(c, node, to, last, mine, &all)
}

/// [`after_master`] judged from a round of every master (inventory order) that read
/// [`MARATHON`] besides: the health gate's round after the master's script (issue 14), so that
/// a Marathon already there costs no round of its own. Not yet when `node` is not one of the
/// inventory's masters (its own Marathon was not read); the gate then reads on its own.
pub fn after_master_from(
    c: &Cluster,
    node: &NodeSpec,
    to: &RecordedVersion,
    last: bool,
    rounds: &[Result<node::NodeReads, crate::door::RemoteError>],
) -> Poll<String> {
    let all: Vec<_> = (rounds.iter())
        .map(|r| match r {
            Ok(r) => from_reads(r),
            Err(e) => Err(e.to_string()),
        })
        .collect();
    let Some(mine) = c.master_position(node).and_then(|i| all.get(i)).cloned() else {
        return Poll::NotYet(format!("Marathon on {} was not read", node.address));
    };
    judged(c, node, to, last, mine, &all)
}

/// What a master's round reads of its Marathon for [`after_master_from`].
pub const MARATHON: [Read; 2] = [Read::MarathonInfo, Read::MarathonLeader];

/// [`after_master`]'s judgement: `mine` is `node`'s Marathon, `all` every master's.
fn judged(
    c: &Cluster,
    node: &NodeSpec,
    to: &RecordedVersion,
    last: bool,
    mine: Result<(Info, Option<String>), String>,
    all: &[Result<(Info, Option<String>), String>],
) -> Poll<String> {
    let mine = match mine {
        Ok((info, _)) => info,
        Err(e) => return Poll::NotYet(format!("Marathon on {} is not running: {e}", node.address)),
    };
    if let Err(e) = ships(to, &mine.version) {
        return Poll::NotYet(format!("Marathon on {}: {e}", node.address));
    }
    leader_from(c, to, last, all)
}

/// A Marathon leader answers `/v2/leader` on some master; with `final_state`, it runs `to`'s
/// Marathon and says it is elected.
pub async fn leader_state(c: &Cluster, to: &RecordedVersion, final_state: bool) -> Poll<String> {
    let all = futures::future::join_all(c.inventory.masters.iter().map(|m| read(c, m))).await;
    leader_from(c, to, final_state, &all)
}

/// [`leader_state`] judged from a read of every master's Marathon (in inventory order).
fn leader_from(
    c: &Cluster,
    to: &RecordedVersion,
    final_state: bool,
    all: &[Result<(Info, Option<String>), String>],
) -> Poll<String> {
    let leader = all
        .iter()
        .find_map(|r| r.as_ref().ok().and_then(|(_, l)| l.clone()));
    let Some(leader) = leader else {
        return Poll::NotYet(
            "no master's Marathon answers /v2/leader (no leader elected, or the leader is still migrating its storage)"
                .into(),
        );
    };
    if !final_state {
        return Poll::Ready(leader);
    }
    let host = leader.rsplit_once(':').map(|(h, _)| h).unwrap_or(&leader);
    let at = c
        .inventory
        .masters
        .iter()
        .zip(all)
        .find(|(m, _)| m.address == host);
    match at {
        Some((m, Ok((info, _)))) if info.elected => match ships(to, &info.version) {
            Ok(()) => Poll::Ready(format!("{leader} (Marathon {})", info.version)),
            Err(e) => Poll::NotYet(format!("the Marathon leader on {}: {e}", m.address)),
        },
        Some((m, Ok(_))) => Poll::NotYet(format!(
            "the Marathon on {} does not say it is elected yet",
            m.address
        )),
        Some((m, Err(e))) => Poll::NotYet(format!("the Marathon leader on {}: {e}", m.address)),
        None => Poll::NotYet(format!(
            "the Marathon leader {leader} is not a master of the inventory"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_features_are_found_in_the_environment_file() {
        let env = "# overrides\nMARATHON_DEPRECATED_FEATURES=sanitize_accepted_resource_roles\n";
        assert_eq!(
            removed_features(env),
            vec!["sanitize_accepted_resource_roles"]
        );
        assert_eq!(
            removed_features("MARATHON_DEPRECATED_FEATURES=\"foo,text_plain_tasks\""),
            vec!["text_plain_tasks"]
        );
        assert!(removed_features("MARATHON_DEPRECATED_FEATURES=foo\n").is_empty());
        assert!(removed_features("").is_empty());
    }

    /// A round on master `m` whose replies are `(key, status, body)`.
    fn round(m: &str, replies: &[(&str, u16, &str)]) -> node::NodeReads {
        let mut out = format!("@@dcu-node {m} disabled\n");
        for (key, status, body) in replies {
            out.push_str(&format!(
                "@@dcu-reply {key} {status} {} -\n{body}\n",
                body.len()
            ));
        }
        node::parse(m, &out).expect("a round")
    }

    fn info(version: &str, elected: bool) -> String {
        format!(r#"{{"version":"{version}","elected":{elected},"leader":"10.9.0.11:8080"}}"#)
    }

    #[test]
    fn the_gate_after_a_master_is_judged_from_the_health_round_only_when_it_read_marathon() {
        let c = crate::testkit::cluster(
            0,
            std::sync::Arc::new(crate::door::fake::FakeCluster::new()),
        );
        let (m1, m2) = (&c.inventory.masters[0], &c.inventory.masters[1]);
        let to = RecordedVersion::from("2.2.1");
        let leader = r#"{"leader":"10.9.0.11:8080"}"#;
        let rounds = |mine: &str,
                      leader_status: u16|
         -> Vec<Result<node::NodeReads, crate::door::RemoteError>> {
            (c.inventory.masters.iter())
                .map(|m| {
                    let i = if m.address == m2.address {
                        mine.to_string()
                    } else {
                        info("1.11.24", m.address == m1.address)
                    };
                    Ok(round(
                        &m.address,
                        &[
                            ("marathon-info", 200, &i),
                            (
                                "marathon-leader",
                                leader_status,
                                if leader_status == 200 { leader } else { "" },
                            ),
                        ],
                    ))
                })
                .collect()
        };
        // m2's Marathon runs the target's and a leader answers: ready, nothing more to read.
        assert_eq!(
            after_master_from(&c, m2, &to, false, &rounds(&info("1.11.24", false), 200)),
            Poll::Ready("10.9.0.11:8080".into())
        );
        // The last master: the leader runs the target's Marathon and says it is elected.
        assert!(matches!(
            after_master_from(&c, m2, &to, true, &rounds(&info("1.11.24", false), 200)),
            Poll::Ready(l) if l.contains("1.11.24")
        ));
        // m2 still runs the old Marathon: not yet, naming it.
        match after_master_from(&c, m2, &to, false, &rounds(&info("1.10.36", false), 200)) {
            Poll::NotYet(why) => assert!(
                why.contains("10.9.0.12") && why.contains("1.10.36"),
                "{why}"
            ),
            p => panic!("{p:?}"),
        }
        // No Marathon answers /v2/leader (a leader migrating its storage): not yet.
        assert!(matches!(
            after_master_from(&c, m2, &to, false, &rounds(&info("1.11.24", false), 503)),
            Poll::NotYet(_)
        ));
        // A round that read only the health (a rollback's, or another gate's): never ready.
        let health_only: Vec<_> = (c.inventory.masters.iter())
            .map(|m| Ok(round(&m.address, &[("master-metrics", 200, "{}")])))
            .collect();
        assert!(matches!(
            after_master_from(&c, m2, &to, false, &health_only),
            Poll::NotYet(_)
        ));
        // A node not among the inventory's masters was not read: not yet.
        let mut other = m2.clone();
        other.address = "10.9.0.99".into();
        assert!(matches!(
            after_master_from(
                &c,
                &other,
                &to,
                false,
                &rounds(&info("1.11.24", false), 200)
            ),
            Poll::NotYet(_)
        ));
    }

    #[test]
    fn a_refused_marathon_read_is_not_the_health_gates_to_judge() {
        let r = round(
            "10.9.0.11",
            &[("master-metrics", 200, "{}"), ("marathon-info", 401, "")],
        );
        assert!(r.unauthorized());
        assert!(!r.unauthorized_in(&crate::phases::gates::MASTER_HEALTH));
        assert!(r.unauthorized_in(&MARATHON));
    }

    #[test]
    fn a_target_marathon_is_judged_by_major_minor() {
        let v = |s: &str| RecordedVersion::from(s);
        assert!(ships(&v("2.2.1"), "1.11.24").is_ok());
        assert!(ships(&v("2.2.0"), "1.11.13").is_ok());
        assert!(ships(&v("2.2.1"), "1.10.36").is_err());
        assert!(refuses_removed(&v("2.2.1")));
        assert!(!refuses_removed(&v("2.1.3")));
    }
}
