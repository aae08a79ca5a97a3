//! The inventory: which cluster, which nodes, how to reach them (DESIGN.md "Inventory").

use super::source::{ConfigError, SourceFile};
use crate::model::Role;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod fields;
pub use fields::is_host_address;
mod numbers;
mod raw;
mod strings;
#[cfg(test)]
mod tests;

use fields::{check_address, check_url, expand_path, normalize_root};
use raw::{RawInventory, RawNode};

/// The cluster-side lock (`[lock]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockSettings {
    /// Seconds without a heartbeat after which another run's lock is stale (default 600; 30 to
    /// 604800).
    pub stale_secs: Option<u64>,
}

/// HTTP settings (`[http]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpSettings {
    /// A CA bundle (PEM) to verify the cluster's TLS with, e.g. the DC/OS CA.
    pub ca_file: Option<PathBuf>,
}

/// How to log in at Admin Router (`[auth]`): a service account (`uid` + `private_key_file`, an
/// RS256-signed login JWT) or a user (`uid` + the password in the environment variable
/// `password_env`). Without it the token comes from `DCOS_ACS_TOKEN` or the DC/OS CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSettings {
    /// The user or service account id.
    pub uid: String,
    /// The service account's private key (PEM), for a service-account login.
    pub private_key_file: Option<PathBuf>,
    /// The environment variable holding the user's password, for a user login.
    pub password_env: Option<String>,
}

/// How commands get root on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Become {
    /// `sudo -n` (never prompts for a password).
    #[default]
    Sudo,
    /// The SSH user is root already.
    None,
}

/// Optional per-cluster overrides of the playbook's timeouts (seconds unless named `_ms`):
/// every `*_secs` 1 to 604800, `poll_ms` 50 to 60000 ([`super::bounds`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutOverrides {
    /// How long a node's upgrade script may run.
    pub node_script_secs: Option<u64>,
    /// How long the health gates after a master may take.
    pub master_gate_secs: Option<u64>,
    /// How long an upgraded agent may take to re-register.
    pub agent_gate_secs: Option<u64>,
    /// How long the ZooKeeper backup may take.
    pub backup_secs: Option<u64>,
    /// How long a framework deployment may take.
    pub deployment_secs: Option<u64>,
    /// Polling interval of every wait.
    pub poll_ms: Option<u64>,
}

/// A framework or app change to make after the nodes (the `frameworks` phase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameworkUpgrade {
    /// The Marathon app id, e.g. `/web`.
    pub app: String,
    /// The new docker image (`container.docker.image`), if it changes.
    pub image: Option<String>,
}

/// SSH settings shared by every node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshSettings {
    /// Login user; `None` leaves it to `~/.ssh/config` (else OpenSSH's default, the local user).
    pub user: Option<String>,
    /// Default SSH port (1 to 65535); `None` leaves it to `~/.ssh/config` (else 22).
    pub port: Option<u16>,
    /// Private key, if not from the agent or ~/.ssh/config.
    pub identity_file: Option<PathBuf>,
    /// The known_hosts file host keys are checked against, strictly.
    pub known_hosts: Option<PathBuf>,
    /// `user@host:port` of a bastion.
    pub jump_host: Option<String>,
    /// How commands get root.
    pub become_: Become,
    /// SSH connect timeout (1 to 3600 seconds).
    pub connect_timeout_secs: u64,
}

/// Where the node upgrade scripts are served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// `<bootstrap_url>/upgrade/<32 hex>/dcos_node_upgrade.sh` for from → to.
    pub upgrade_script_url: String,
    /// The script generated the other way round (to → from), used by rollback.
    pub rollback_script_url: Option<String>,
}

/// One node as the inventory names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// IP address or host name; in DC/OS the Mesos hostname is the IP.
    pub address: String,
    /// Display name (defaults to the address).
    pub name: String,
    /// SSH port for this node (`None`: `~/.ssh/config`'s, else 22).
    pub ssh_port: Option<u16>,
    /// Filesystem prefix of the node's DC/OS tree: "" for `/` (production).
    pub root: String,
    /// Role as listed (masters), or from the `public` flag for agents.
    pub role: Role,
    /// Whether the inventory said explicitly if the agent is public.
    pub public_listed: bool,
}

/// A validated inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// The cluster's name (prompts, locks, reports).
    pub cluster_name: String,
    /// SSH settings.
    pub ssh: SshSettings,
    /// Node upgrade script URLs.
    pub bootstrap: Bootstrap,
    /// The masters.
    pub masters: Vec<NodeSpec>,
    /// The agents, or None to discover them from the leading master.
    pub agents: Option<Vec<NodeSpec>>,
    /// Timeout overrides.
    pub timeouts: TimeoutOverrides,
    /// Framework upgrades for the frameworks phase.
    pub frameworks: Vec<FrameworkUpgrade>,
    /// `[release_notes] file`: the release notes to show (relative to the inventory's directory).
    #[serde(default)]
    pub release_notes_file: Option<PathBuf>,
    /// `[lock]`: the cluster-side lock.
    #[serde(default)]
    pub lock: LockSettings,
    /// `[http]`: TLS settings for the cluster's HTTP endpoints.
    #[serde(default)]
    pub http: HttpSettings,
    /// How to log in at Admin Router (`[auth]`), if the inventory says.
    pub auth: Option<AuthSettings>,
    /// `[[gates]]`: the operator's own gates between nodes.
    #[serde(default)]
    pub gates: Vec<crate::playbook::gates::OperatorGate>,
    /// `pause_after`: the addresses of the nodes after which the run waits for an approval.
    #[serde(default)]
    pub pause_after: Vec<String>,
    /// Nodes named in `[[gates]]` or `pause_after` that wait for the agents' discovery (an
    /// inventory without `[[agents]]`); `plan` resolves them, or refuses them with file and line.
    #[serde(default)]
    pub awaiting_discovery: Vec<crate::playbook::gates::AwaitsDiscovery>,
    /// The file it was read from.
    pub path: PathBuf,
}

impl Inventory {
    /// Reads and validates an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, ConfigError> {
        let src = SourceFile::read(path)?;
        Inventory::parse(&src)
    }

    /// Reads and validates an inventory file, returning the text it was parsed from too (to
    /// save with a run: one bounded read, so the saved text is exactly what was validated).
    pub fn load_with_source(path: &Path) -> Result<(Inventory, SourceFile), ConfigError> {
        let src = SourceFile::read(path)?;
        Ok((Inventory::parse(&src)?, src))
    }

    /// Parses and validates inventory text.
    pub fn parse(src: &SourceFile) -> Result<Inventory, ConfigError> {
        let raw: RawInventory = src.parse()?;
        let base = src.path.parent().map(Path::to_path_buf).unwrap_or_default();
        if raw.cluster.name.get_ref().trim().is_empty() {
            return Err(src.error_at(
                Some(raw.cluster.name.span().start),
                "cluster.name is empty; expected the cluster's name",
            ));
        }
        strings::check_name(src, "cluster.name", &raw.cluster.name)?;
        if let Some(u) = &raw.ssh.user {
            strings::check_user(src, "ssh.user", u)?;
        }
        if let Some(j) = &raw.ssh.jump_host {
            strings::check_jump_host(src, j)?;
        }
        for f in &raw.frameworks {
            strings::check_framework(src, &f.app, f.image.as_deref())?;
        }
        let ssh = SshSettings {
            user: raw.ssh.user.as_ref().map(|u| u.get_ref().clone()),
            port: numbers::port(src, "ssh.port", raw.ssh.port.as_ref())?,
            identity_file: raw
                .ssh
                .identity_file
                .as_deref()
                .map(|p| expand_path(p, &base)),
            known_hosts: raw
                .ssh
                .known_hosts
                .as_deref()
                .map(|p| expand_path(p, &base)),
            jump_host: raw.ssh.jump_host.as_ref().map(|j| j.get_ref().clone()),
            become_: raw.ssh.become_.unwrap_or_default(),
            connect_timeout_secs: numbers::checked(
                src,
                "ssh.connect_timeout_secs",
                raw.ssh.connect_timeout_secs.as_ref(),
                super::bounds::REQUEST_SECS,
            )?
            .unwrap_or(10),
        };
        check_url(src, &raw.bootstrap.upgrade_script_url)?;
        if let Some(u) = &raw.bootstrap.rollback_script_url {
            check_url(src, u)?;
        }
        if raw.masters.get_ref().is_empty() {
            return Err(src.error_at(
                Some(raw.masters.span().start),
                "no masters listed; expected at least one [[masters]] entry with an address",
            ));
        }
        let mut seen: HashMap<String, ()> = HashMap::new();
        let mut convert = |n: &RawNode, role: Role| -> Result<NodeSpec, ConfigError> {
            let addr = n.address.get_ref().trim().to_string();
            check_address(src, &n.address)?;
            if seen.insert(addr.to_ascii_lowercase(), ()).is_some() {
                return Err(src.error_at(
                    Some(n.address.span().start),
                    format!("node {addr} is listed twice; every node must appear once"),
                ));
            }
            if let Some(name) = &n.name {
                strings::check_name(src, "name", name)?;
            }
            if let Some(root) = &n.root {
                strings::check_root(src, root)?;
            }
            let role = match (role, n.public) {
                (Role::Master, Some(_)) => {
                    return Err(src.error_at(
                        Some(n.address.span().start),
                        "`public` is only meaningful for agents",
                    ))
                }
                (Role::Master, None) => Role::Master,
                (_, Some(true)) => Role::PublicAgent,
                _ => Role::Agent,
            };
            Ok(NodeSpec {
                name: n
                    .name
                    .as_ref()
                    .map(|x| x.get_ref().clone())
                    .unwrap_or_else(|| addr.clone()),
                address: addr,
                ssh_port: numbers::port(src, "ssh_port", n.ssh_port.as_ref())?.or(ssh.port),
                root: normalize_root(n.root.as_ref().map(|r| r.get_ref().as_str())),
                role,
                public_listed: n.public.is_some(),
            })
        };
        let masters = raw
            .masters
            .get_ref()
            .iter()
            .map(|n| convert(n, Role::Master))
            .collect::<Result<Vec<_>, _>>()?;
        let agents = match &raw.agents {
            Some(list) => Some(
                list.iter()
                    .map(|n| convert(n, Role::Agent))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let known = crate::playbook::gates::Known {
            nodes: masters.iter().chain(agents.iter().flatten()).collect(),
            discovering: agents.is_none(),
        };
        let mut awaiting_discovery = Vec::new();
        let gates =
            crate::playbook::gates::gates(src, &raw.gates, &known, &mut awaiting_discovery)?;
        let pause_after = crate::playbook::gates::pause_after(
            src,
            raw.pause_after.as_ref(),
            &known,
            &mut awaiting_discovery,
        )?;
        Ok(Inventory {
            cluster_name: raw.cluster.name.into_inner(),
            ssh,
            bootstrap: Bootstrap {
                upgrade_script_url: raw.bootstrap.upgrade_script_url.into_inner(),
                rollback_script_url: raw.bootstrap.rollback_script_url.map(|u| u.into_inner()),
            },
            masters,
            agents,
            timeouts: numbers::timeouts(src, &raw.timeouts)?,
            frameworks: raw.frameworks,
            release_notes_file: raw.release_notes.map(|r| {
                let p = PathBuf::from(r.file);
                match src.path.parent() {
                    Some(dir) if p.is_relative() => dir.join(p),
                    _ => p,
                }
            }),
            lock: numbers::lock(src, &raw.lock)?,
            http: HttpSettings {
                ca_file: raw.http.ca_file.as_deref().map(|p| expand_path(p, &base)),
            },
            auth: match raw.auth {
                None => None,
                Some(a) => {
                    let start = a.span().start;
                    let a = a.into_inner();
                    let ok_uid = !a.uid.trim().is_empty()
                        && !a.uid.chars().any(|c| c.is_whitespace() || c.is_control());
                    if !ok_uid {
                        return Err(src.error_at(
                            Some(start),
                            "[auth] uid must be a user or service account id without spaces",
                        ));
                    }
                    match (&a.private_key_file, &a.password_env) {
                        (Some(_), None) | (None, Some(_)) => {}
                        _ => {
                            return Err(src.error_at(
                                Some(start),
                                "[auth] needs exactly one of private_key_file (a service account) or password_env (the name of an environment variable holding a user's password)",
                            ))
                        }
                    }
                    Some(AuthSettings {
                        uid: a.uid,
                        private_key_file: a
                            .private_key_file
                            .as_deref()
                            .map(|p| expand_path(p, &base)),
                        password_env: a.password_env,
                    })
                }
            },
            gates,
            pause_after,
            awaiting_discovery,
            path: src.path.clone(),
        })
    }
}
