//! Checks of the workloads: Marathon deployments, image tags and health checks, and the task
//! counters recorded as a baseline.

use super::{result, CheckResult, Observed, Severity, FLAP_PROBE_INTERVAL};

pub(super) fn check_deployments(o: &Observed) -> Vec<CheckResult> {
    let (ok, found) = match &o.deployments {
        Ok(0) => (true, "no Marathon deployment in progress".to_string()),
        Ok(n) => (false, format!("{n} Marathon deployment(s) in progress")),
        Err(e) => (false, format!("Marathon: {e}")),
    };
    vec![result(
        "marathon.no_deployment",
        Severity::Blocker,
        ok,
        found,
        "wait for Marathon deployments to finish (GET /v2/deployments is empty)",
    )]
}

/// Whether a docker image reference names an explicit tag other than `latest` (or a digest).
pub fn image_is_pinned(image: &str) -> bool {
    if image.contains('@') {
        return true;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => !tag.is_empty() && tag != "latest",
        None => false,
    }
}

pub(super) fn check_image_tags(o: &Observed) -> Vec<CheckResult> {
    let Ok(apps) = &o.apps else { return Vec::new() };
    let bad: Vec<String> = apps
        .iter()
        .filter_map(|a| {
            a.image()
                .filter(|i| !image_is_pinned(i))
                .map(|i| format!("{} uses {i}", a.id))
        })
        .collect();
    vec![result(
        "marathon.image_tags",
        Severity::Warning,
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} apps, every docker image pinned to a tag", apps.len())
        } else {
            bad.join("; ")
        },
        "use tagged, immutable images (not :latest or untagged): a task restarted during the upgrade must get the same image",
    )]
}

pub(super) fn check_health_checks(o: &Observed) -> Vec<CheckResult> {
    let Ok(apps) = &o.apps else { return Vec::new() };
    let bad: Vec<&str> = apps
        .iter()
        .filter(|a| a.health_checks.is_empty())
        .map(|a| a.id.as_str())
        .collect();
    vec![result(
        "marathon.health_checks",
        Severity::Warning,
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} apps, all with health checks", apps.len())
        } else {
            format!("apps without health checks: {}", bad.join(", "))
        },
        "add health checks so that a task broken by the upgrade is noticed and replaced",
    )]
}

pub(super) fn check_task_baseline(o: &Observed) -> Vec<CheckResult> {
    let leader = o.facts.leader.as_deref();
    let Some(m) = o
        .masters
        .iter()
        .find(|m| Some(m.address.as_str()) == leader)
    else {
        return vec![result(
            "tasks.baseline",
            Severity::Info,
            false,
            "no leading master to read the task counters from",
            "record TASK_FAILED/LOST/KILLED counts by hand before upgrading",
        )];
    };
    let Ok(a) = &m.first else {
        return Vec::new();
    };
    // The rate between the two probes; without a second one (every master up for a minute or
    // more), the rate since the leader's election, when Mesos started counting (facts §5:
    // metrics reset when a new leader is elected), as the rollout guards' baseline has it.
    let (b, secs, since_election) = match &m.second {
        Some(Ok(b)) => (b, FLAP_PROBE_INTERVAL.as_secs_f64(), false),
        Some(Err(_)) => return Vec::new(),
        None => (a, a.get("master/uptime_secs").unwrap_or(0.0), true),
    };
    let mut data = serde_json::Map::new();
    let mut parts = Vec::new();
    for k in ["failed", "lost", "killed", "running"] {
        let key = format!("master/tasks_{k}");
        let (x, y) = (a.get(&key).unwrap_or(0.0), b.get(&key).unwrap_or(0.0));
        let per_min = match (since_election, secs > 0.0) {
            (_, false) => 0.0,
            (true, true) => y * 60.0 / secs,
            (false, true) => ((y - x).max(0.0)) * 60.0 / secs,
        };
        data.insert(
            k.into(),
            serde_json::json!({"count": y, "per_minute": per_min}),
        );
        parts.push(format!("{k} {y:.0} ({per_min:.1}/min)"));
    }
    let mut r = result(
        "tasks.baseline",
        Severity::Info,
        true,
        format!("tasks: {}", parts.join(", ")),
        "",
    );
    r.data = Some(serde_json::Value::Object(data));
    vec![r]
}
