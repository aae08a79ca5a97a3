//! Checks of every node's host, from its shell probe: SSH and sudo, free disk space, automatic
//! updates, clock skew and the operating system.

use super::{result, CheckResult, Observed, Severity};

/// Free space below this share of a filesystem blocks the upgrade.
pub const DISK_BLOCK_PCT: f64 = 5.0;
/// Free space below this share of a filesystem is a warning.
pub const DISK_WARN_PCT: f64 = 15.0;
/// Free space below this many bytes blocks the upgrade (packages are unpacked there).
pub const DISK_BLOCK_BYTES: u64 = 1 << 30;

/// Clock difference between nodes above this is a warning.
pub const CLOCK_SKEW_WARN_S: f64 = 2.0;

const UNREACHABLE_REMEDY: &str =
    "fix SSH access (user, key, known_hosts) and non-interactive sudo on every node: `sudo -n` must give root without a password or a terminal (a NOPASSWD sudoers rule for the SSH user, and `Defaults:<user> !requiretty` where sudoers sets requiretty)";

pub(super) fn check_ssh(o: &Observed) -> Vec<CheckResult> {
    let mut bad = Vec::new();
    for n in &o.nodes {
        match &n.shell {
            Err(e) => bad.push(format!("{}: {e}", n.address)),
            Ok(s) if o.sudo && s.uid != Some(0) => bad.push(format!(
                "{}: sudo -n did not give root (uid {:?})",
                n.address, s.uid
            )),
            Ok(_) => {}
        }
    }
    vec![result(
        "nodes.ssh",
        Severity::Blocker,
        bad.is_empty(),
        if bad.is_empty() {
            format!(
                "SSH and privilege escalation work non-interactively on all {} nodes",
                o.nodes.len()
            )
        } else {
            bad.join("; ")
        },
        UNREACHABLE_REMEDY,
    )]
}

pub(super) fn check_disks(o: &Observed) -> Vec<CheckResult> {
    let mut block = Vec::new();
    let mut warn = Vec::new();
    let mut seen = 0;
    for n in &o.nodes {
        let Ok(s) = &n.shell else { continue };
        for (path, size, avail) in &s.disks {
            seen += 1;
            let pct = if *size > 0 {
                *avail as f64 * 100.0 / *size as f64
            } else {
                0.0
            };
            let line = format!(
                "{} {path}: {:.0}% free ({} MiB)",
                n.address,
                pct,
                avail / (1024 * 1024)
            );
            if pct < DISK_BLOCK_PCT || *avail < DISK_BLOCK_BYTES {
                block.push(line);
            } else if pct < DISK_WARN_PCT {
                warn.push(line);
            }
        }
    }
    let remedy = "free space (docker system prune, rotate /var/log, clean /var/lib/mesos sandboxes and $TMPDIR) before upgrading: the upgrade downloads packages into $TMPDIR (/tmp when unset) and unpacks them under /opt/mesosphere";
    vec![
        result(
            "nodes.disk_free",
            Severity::Blocker,
            block.is_empty(),
            if block.is_empty() {
                format!("{seen} filesystems checked, none below {DISK_BLOCK_PCT}% or 1 GiB free")
            } else {
                block.join("; ")
            },
            remedy,
        ),
        result(
            "nodes.disk_low",
            Severity::Warning,
            warn.is_empty(),
            if warn.is_empty() {
                format!("none below {DISK_WARN_PCT}% free")
            } else {
                warn.join("; ")
            },
            remedy,
        ),
    ]
}

pub(super) fn check_auto_updates(o: &Observed) -> Vec<CheckResult> {
    let mut on = Vec::new();
    for n in &o.nodes {
        if let Ok(s) = &n.shell {
            for l in &s.auto_updates {
                on.push(format!("{}: {l}", n.address));
            }
        }
    }
    vec![result(
        "nodes.auto_updates",
        Severity::Warning,
        on.is_empty(),
        if on.is_empty() {
            "no automatic OS or Docker updates configured".to_string()
        } else {
            format!("automatic updates enabled: {}", on.join("; "))
        },
        "turn off automatic updates of the OS and Docker (yum-cron, dnf-automatic, unattended-upgrades): versions must change only under your control",
    )]
}

pub(super) fn check_clock(o: &Observed) -> Vec<CheckResult> {
    let offs: Vec<(&str, f64)> = o
        .nodes
        .iter()
        .filter_map(|n| Some((n.address.as_str(), n.shell.as_ref().ok()?.clock_offset_s?)))
        .collect();
    let min = offs.iter().min_by(|a, b| a.1.total_cmp(&b.1));
    let max = offs.iter().max_by(|a, b| a.1.total_cmp(&b.1));
    let (ok, found) = match (min, max) {
        (Some(lo), Some(hi)) => {
            let skew = hi.1 - lo.1;
            (
                skew <= CLOCK_SKEW_WARN_S,
                format!(
                    "largest clock difference {skew:.2} s ({} vs {})",
                    hi.0, lo.0
                ),
            )
        }
        _ => (false, "no node's clock could be read".to_string()),
    };
    vec![result(
        "nodes.clock_skew",
        Severity::Warning,
        ok,
        found,
        "synchronise clocks (chrony/ntpd) on every node; DC/OS checks time sync and ZooKeeper sessions depend on it",
    )]
}

pub(super) fn check_os(o: &Observed) -> Vec<CheckResult> {
    let version = match &o.to {
        Some(to) => to.parsed().cloned(),
        None => (o.facts.nodes())
            .find_map(|n| n.version.as_deref())
            .and_then(|v| crate::versions::DcosVersion::parse(v).ok()),
    };
    let Some(v) = version else { return Vec::new() };
    let tested = crate::versions::tested_os();
    let mut untested = Vec::new();
    let mut unknown = Vec::new();
    let mut no_data = false;
    for n in &o.nodes {
        let Ok(s) = &n.shell else { continue };
        match &s.os {
            Some((id, ver)) => match tested.is_tested(&v, id, ver) {
                Some(true) => {}
                Some(false) => untested.push(format!("{} runs {id} {ver}", n.address)),
                None => no_data = true,
            },
            None => unknown.push(n.address.clone()),
        }
    }
    if !unknown.is_empty() {
        untested.push(format!("no /etc/os-release on {}", unknown.join(", ")));
    }
    if no_data && untested.is_empty() {
        return vec![result(
            "nodes.os_tested",
            Severity::Info,
            false,
            format!("no tested-OS data for DC/OS {v}"),
            "check the DC/OS version policy for the operating systems this version was tested on",
        )];
    }
    vec![result(
        "nodes.os_tested",
        Severity::Warning,
        untested.is_empty(),
        if untested.is_empty() {
            format!("every node's OS is among those DC/OS {v} was tested on")
        } else {
            format!("not tested with DC/OS {v}: {}", untested.join("; "))
        },
        "move the nodes to an operating system version DC/OS was tested on (DC/OS version policy) or accept the risk",
    )]
}
