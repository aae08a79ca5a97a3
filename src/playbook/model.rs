//! The playbook: the upgrade procedure as data (commands, ports, timeouts), validated.

use super::bounds::key_offset_in;
use super::source::{ConfigError, SourceFile};
use crate::shell;
use serde::{Deserialize, Serialize};
use std::path::Path;

mod timeouts;

pub use timeouts::Timeouts;

/// The built-in DC/OS playbook, compiled in as the default.
pub const BUILTIN_DCOS: &str = include_str!("../../playbooks/dcos.toml");

/// A validated playbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// Name and description.
    pub playbook: Header,
    /// Absolute DC/OS paths on a node.
    pub paths: Paths,
    /// HTTP and ZooKeeper ports.
    pub ports: Ports,
    /// How one node is upgraded.
    pub node_upgrade: NodeUpgrade,
    /// How ZooKeeper is backed up.
    pub backup: Backup,
    /// Timeouts of every wait.
    pub timeouts: Timeouts,
    /// Rollout guards watched while masters and agents are upgraded (optional section).
    #[serde(default)]
    pub guards: Guards,
}

/// Rollout guards: what makes a run stop while nodes are upgraded (`[guards]`, all optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Guards {
    /// Whether the guards run at all.
    pub enabled: bool,
    /// How far (tasks per minute) the rate of TASK_FAILED, TASK_LOST or TASK_KILLED on the
    /// leading master may rise above the baseline rate taken at precheck.
    pub task_rate_above_baseline_per_min: f64,
    /// How many new failed/lost/killed tasks must be seen before the rate is judged at all
    /// (so that one task over a short window does not trip the guard).
    pub min_new_tasks: u64,
    /// Slack (seconds) when deciding that a master restarted between two probes.
    pub master_restart_slack_secs: f64,
    /// Whether an upgraded agent's Mesos attributes must equal those seen at precheck.
    pub agent_attributes_unchanged: bool,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            enabled: true,
            task_rate_above_baseline_per_min: 6.0,
            min_new_tasks: 3,
            master_restart_slack_secs: 1.0,
            agent_attributes_unchanged: true,
        }
    }
}

/// The playbook's name and what it is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Short name (`dcos`).
    pub name: String,
    /// One line on what it does.
    pub description: String,
}

/// Absolute paths on a node, resolved under the node's `root`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    /// `dcos-version.json`.
    pub version_file: String,
    /// The roles directory.
    pub roles_dir: String,
    /// dcos-upgrade's own work directory on the node.
    pub work_dir: String,
}

/// Ports of the services probed over HTTP or TCP (each 1 to 65535).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ports {
    /// Mesos master.
    pub mesos_master: u16,
    /// Mesos agent.
    pub mesos_agent: u16,
    /// Marathon on the masters.
    pub marathon: u16,
    /// Exhibitor on the masters.
    pub exhibitor: u16,
    /// ZooKeeper client port.
    pub zookeeper: u16,
}

/// The commands that upgrade one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeUpgrade {
    /// Downloads the script into the current directory (`{script_url}`).
    pub fetch: String,
    /// Runs the script (flags are appended).
    pub run: String,
    /// The verbose flag, passed when the target version has it.
    pub verbose_flag: String,
    /// First DC/OS minor whose script has the verbose flag.
    pub verbose_since: String,
    /// Commands run on agents before the script (`{root}`).
    pub agent_before: Vec<String>,
}

/// ZooKeeper backup commands (`{root}`, `{archive}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Stops Exhibitor (and so ZooKeeper) on the backup master.
    pub stop_exhibitor: String,
    /// Writes the archive.
    pub backup: String,
    /// Starts Exhibitor again.
    pub start_exhibitor: String,
    /// Restores an archive on one master (`{root}`, `{archive}`); a last resort.
    #[serde(default = "default_restore")]
    pub restore: String,
    /// The `dcos-zk` tool, checked on the master before Exhibitor is stopped (`{root}`; facts
    /// §8.3: 1.12.4+, 1.13.2+, 2.x).
    #[serde(default = "default_zk_tool")]
    pub zk_tool: String,
    /// Without `dcos-zk`: a file-level archive of the ZooKeeper data directory, Exhibitor
    /// stopped on that master only (`{root}`, `{archive}`).
    #[serde(default = "default_zk_files")]
    pub zk_files_backup: String,
    /// Restores such an archive on one master, Exhibitor stopped (`{root}`, `{archive}`).
    #[serde(default = "default_zk_files_restore")]
    pub zk_files_restore: String,
}

fn default_zk_tool() -> String {
    "{root}/opt/mesosphere/bin/dcos-zk".to_string()
}

fn default_zk_files() -> String {
    "tar -czf {archive} -C {root}/var/lib/dcos/exhibitor --exclude=./zookeeper/myid --exclude=./zookeeper/zookeeper.out ./zookeeper".to_string()
}

fn default_zk_files_restore() -> String {
    "find {root}/var/lib/dcos/exhibitor/zookeeper -mindepth 1 -maxdepth 1 ! -name myid ! -name zookeeper.out -exec rm -rf {{}} + && tar -xzf {archive} -C {root}/var/lib/dcos/exhibitor".to_string()
}

fn default_restore() -> String {
    "{root}/opt/mesosphere/bin/dcos-shell dcos-zk restore {archive} -v".to_string()
}

impl Playbook {
    /// The compiled-in DC/OS playbook.
    pub fn builtin() -> Playbook {
        Playbook::parse(&SourceFile::from_text(
            "<built-in playbooks/dcos.toml>",
            BUILTIN_DCOS,
        ))
        .expect("the built-in playbook is valid (checked by a unit test)")
    }

    /// Reads a playbook file, or the built-in one when no path is given.
    pub fn load(path: Option<&Path>) -> Result<Playbook, ConfigError> {
        match path {
            None => Ok(Playbook::builtin()),
            Some(p) => Playbook::parse(&SourceFile::read(p)?),
        }
    }

    /// Reads and validates a playbook file, returning its text too (to save with a run: one
    /// bounded read, so the saved text is exactly what was validated).
    pub fn load_with_source(path: &Path) -> Result<(Playbook, SourceFile), ConfigError> {
        let src = SourceFile::read(path)?;
        Ok((Playbook::parse(&src)?, src))
    }

    /// Parses and validates playbook text (templates are checked against their placeholders).
    pub fn parse(src: &SourceFile) -> Result<Playbook, ConfigError> {
        let pb: Playbook = src.parse()?;
        let checks: Vec<(&str, &str, &[&str])> = vec![
            (
                "node_upgrade.fetch",
                &pb.node_upgrade.fetch,
                &["script_url"],
            ),
            ("node_upgrade.run", &pb.node_upgrade.run, &[]),
            (
                "backup.stop_exhibitor",
                &pb.backup.stop_exhibitor,
                &["root"],
            ),
            ("backup.backup", &pb.backup.backup, &["root", "archive"]),
            (
                "backup.start_exhibitor",
                &pb.backup.start_exhibitor,
                &["root"],
            ),
            ("backup.restore", &pb.backup.restore, &["root", "archive"]),
            ("backup.zk_tool", &pb.backup.zk_tool, &["root"]),
            (
                "backup.zk_files_backup",
                &pb.backup.zk_files_backup,
                &["root", "archive"],
            ),
            (
                "backup.zk_files_restore",
                &pb.backup.zk_files_restore,
                &["root", "archive"],
            ),
        ];
        let agent_before: Vec<(String, &str, &[&str])> = pb
            .node_upgrade
            .agent_before
            .iter()
            .enumerate()
            .map(|(i, t)| {
                (
                    format!("node_upgrade.agent_before[{i}]"),
                    t.as_str(),
                    &["root"][..],
                )
            })
            .collect();
        for (key, template, known) in checks
            .iter()
            .map(|(k, t, n)| (k.to_string(), *t, *n))
            .chain(agent_before)
        {
            if let Err(e) = shell::check(template, known) {
                // The value as written may differ from the parsed one (escapes): then the key.
                let offset = src
                    .text
                    .find(template)
                    .or_else(|| key_offset(&src.text, &key));
                return Err(src.error_at(offset, format!("{key}: {e}")));
            }
        }
        for (key, p) in [
            ("paths.version_file", &pb.paths.version_file),
            ("paths.roles_dir", &pb.paths.roles_dir),
            ("paths.work_dir", &pb.paths.work_dir),
        ] {
            if p.chars().any(char::is_control) {
                return Err(src.error_at(
                    key_offset_in(&src.text, key),
                    format!("{key} = {p:?} contains control characters; expected an absolute path"),
                ));
            }
            if !p.starts_with('/') {
                return Err(src.error_at(
                    src.text
                        .find(p.as_str())
                        .or_else(|| key_offset(&src.text, key)),
                    format!("{key} = {p:?}: expected an absolute path"),
                ));
            }
        }
        pb.check_bounds(src)?;
        let nu = &pb.node_upgrade;
        let since_ok = crate::versions::DcosVersion::parse(&nu.verbose_since)
            .is_ok_and(|v| !v.is_prerelease() && nu.verbose_since.split('.').count() == 2);
        if !since_ok {
            return Err(src.error_at(
                key_offset_in(&src.text, "node_upgrade.verbose_since"),
                format!(
                    "node_upgrade.verbose_since = {:?}: expected a DC/OS minor such as \"1.11\"",
                    nu.verbose_since
                ),
            ));
        }
        let flag_ok = nu.verbose_flag.starts_with('-')
            && nu.verbose_flag.len() <= 64
            && nu.verbose_flag[1..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !flag_ok {
            return Err(src.error_at(
                key_offset_in(&src.text, "node_upgrade.verbose_flag"),
                format!(
                    "node_upgrade.verbose_flag = {:?}: expected one option such as \"--verbose\"",
                    nu.verbose_flag
                ),
            ));
        }
        Ok(pb)
    }

    /// Every number within its documented range ([`super::bounds`]).
    fn check_bounds(&self, src: &SourceFile) -> Result<(), ConfigError> {
        use super::bounds::{POLL_MS, PORT, REQUEST_SECS, SLACK_SECS, TASK_COUNT, TIMEOUT_SECS};
        let t = &self.timeouts;
        for (key, v) in [
            ("timeouts.node_script_secs", t.node_script_secs),
            ("timeouts.master_gate_secs", t.master_gate_secs),
            ("timeouts.agent_gate_secs", t.agent_gate_secs),
            ("timeouts.backup_secs", t.backup_secs),
            ("timeouts.deployment_secs", t.deployment_secs),
        ] {
            TIMEOUT_SECS.check(src, key, v, None)?;
        }
        POLL_MS.check(src, "timeouts.poll_ms", t.poll_ms, None)?;
        REQUEST_SECS.check(src, "timeouts.http_secs", t.http_secs, None)?;
        let p = &self.ports;
        for (key, v) in [
            ("ports.mesos_master", p.mesos_master),
            ("ports.mesos_agent", p.mesos_agent),
            ("ports.marathon", p.marathon),
            ("ports.exhibitor", p.exhibitor),
            ("ports.zookeeper", p.zookeeper),
        ] {
            PORT.check(src, key, u64::from(v), None)?;
        }
        let g = &self.guards;
        TASK_COUNT.check_f64(
            src,
            "guards.task_rate_above_baseline_per_min",
            g.task_rate_above_baseline_per_min,
        )?;
        TASK_COUNT.check(src, "guards.min_new_tasks", g.min_new_tasks, None)?;
        SLACK_SECS.check_f64(
            src,
            "guards.master_restart_slack_secs",
            g.master_restart_slack_secs,
        )?;
        Ok(())
    }

    /// A node path resolved under a node root ("" = `/`), not quoted.
    pub fn node_path(root: &str, absolute: &str) -> String {
        format!("{root}{absolute}")
    }
}

/// The offset of the line that sets `key`'s last segment (`backup.backup` -> `backup = ...`).
fn key_offset(text: &str, key: &str) -> Option<usize> {
    let name = key.rsplit('.').next()?.split('[').next()?;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(name) {
            if rest.trim_start().starts_with('=') {
                return Some(offset + (line.len() - t.len()));
            }
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests;
