//! The cluster definition (`DIR/sim.json`) and the report types.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The role of a simulated node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A DC/OS master (Mesos master, Marathon, Exhibitor/ZooKeeper, diagnostics, Admin Router).
    Master,
    /// A private agent (Mesos agent, agent Admin Router).
    Agent,
    /// A public agent (Mesos agent with the `public_ip:true` attribute).
    PublicAgent,
}

impl Role {
    /// The file name under `etc/mesosphere/roles/`.
    pub fn role_file(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "slave",
            Role::PublicAgent => "slave_public",
        }
    }
    /// The name used in reports (`master`, `agent`, `public_agent`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "agent",
            Role::PublicAgent => "public_agent",
        }
    }
}

/// How the nodes are networked (`dcos-sim up --network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// Every node's ports on the host's loopback, reachable from the operator's machine.
    Flat,
    /// Every node in its own network namespace: from the host only SSH and the masters' Admin
    /// Router answer; inside a node, its own services, the masters', the agents' :5051 (from
    /// masters), the bootstrap URL and the control API (DC/OS docs, facts §8.1).
    Firewalled,
}

impl Network {
    /// What `up` and [`crate::TestbedBuilder`] use when not told (one line to flip).
    pub const DEFAULT: Network = Network::Firewalled;

    /// `flat` or `firewalled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Flat => "flat",
            Network::Firewalled => "firewalled",
        }
    }

    /// What a `sim.json` written before `--network` existed means.
    fn legacy() -> Network {
        Network::Flat
    }
}

impl std::str::FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Network, String> {
        match s {
            "flat" => Ok(Network::Flat),
            "firewalled" => Ok(Network::Firewalled),
            _ => Err(format!(
                "unknown network {s:?}: expected flat or firewalled"
            )),
        }
    }
}

/// The Enterprise security mode every node records in `/opt/mesosphere/etc/bootstrap-config.json`
/// (`up --security`; facts §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// No authentication anywhere (DC/OS 1.10/1.11 Enterprise, and Open DC/OS).
    Disabled,
    /// HTTP and HTTPS; Admin Router enforces authentication.
    Permissive,
    /// HTTPS only, authentication everywhere.
    Strict,
}

impl Security {
    /// `disabled`, `permissive` or `strict`.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Disabled => "disabled",
            Security::Permissive => "permissive",
            Security::Strict => "strict",
        }
    }

    /// What a `sim.json` written before `--security` existed means.
    fn legacy() -> Security {
        Security::Disabled
    }
}

impl std::str::FromStr for Security {
    type Err = String;
    fn from_str(s: &str) -> Result<Security, String> {
        match s {
            "disabled" => Ok(Security::Disabled),
            "permissive" => Ok(Security::Permissive),
            "strict" => Ok(Security::Strict),
            _ => Err(format!(
                "unknown security mode {s:?}: expected disabled, permissive or strict"
            )),
        }
    }
}

/// The default lifetime of an IAM token: 5 days, as DC/OS's (facts §8.1).
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 5 * 24 * 3600;

fn default_token_ttl() -> u64 {
    DEFAULT_TOKEN_TTL_SECS
}

/// One node of the simulated cluster as recorded in `sim.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeDef {
    /// `m1`, `a1`, `p1`, ...
    pub name: String,
    /// The node's role.
    pub role: Role,
    /// Its loopback address, e.g. `127.23.7.11`.
    pub address: String,
    /// The node's filesystem root (`DIR/nodes/<name>/root`).
    pub root: PathBuf,
}

/// The whole cluster definition written by `up` to `DIR/sim.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimDef {
    /// The testbed directory.
    pub dir: PathBuf,
    /// `127.A.B`.
    pub subnet: String,
    /// The version most nodes start at.
    pub version: String,
    /// The version the upgrade script upgrades to.
    pub upgrade_to: String,
    /// Delay between a service start and the service being up.
    pub activation_ms: u64,
    /// How long an agent may be down before its tasks are lost.
    pub reregister_window_ms: u64,
    /// How long a Marathon deployment takes.
    pub deploy_ms: u64,
    /// How long `dcos-check-runner` takes to run a node's checks beyond its own reads (a real
    /// node's take longer than this testbed's reads; no source gives a figure); 0: no more
    /// than its reads.
    #[serde(default)]
    pub check_ms: u64,
    /// Nodes that started at `upgrade_to`.
    pub at_target: Vec<String>,
    /// All cluster nodes (the bootstrap node is not in this list).
    pub nodes: Vec<NodeDef>,
    /// The bootstrap node's address (`127.A.B.2`).
    pub bootstrap_address: String,
    /// The control API base URL (`http://127.A.B.2:9999`).
    pub ctl_url: String,
    /// Admin Router port on masters (80 when root, else 10080).
    pub admin_port: u16,
    /// The ssh port of every node (2222).
    pub ssh_port: u16,
    /// The upgrade script URL (from -> to).
    pub upgrade_script_url: String,
    /// The rollback script URL (to -> from).
    pub rollback_script_url: String,
    /// Whether the testbed was started as root.
    pub as_root: bool,
    /// The user the nodes' sshd accepts.
    pub user: String,
    /// Whether every master runs a real ZooKeeper server (`up --zookeeper real`) instead of the
    /// simulated four-letter words.
    #[serde(default)]
    pub real_zookeeper: bool,
    /// How the nodes are networked.
    #[serde(default = "Network::legacy")]
    pub network: Network,
    /// The security mode written to every node's `bootstrap-config.json`.
    #[serde(default = "Security::legacy")]
    pub security: Security,
    /// The security mode the upgrade script switches a node to (the rollback script switches it
    /// back to `security`).
    #[serde(default = "Security::legacy")]
    pub upgrade_security: Security,
    /// The SSH bastion (`up --bastion`, firewalled only): the one host the operator's machine
    /// reaches by SSH; the nodes' SSH ports answer only from it. Not a cluster node.
    #[serde(default)]
    pub bastion: Option<NodeDef>,
    /// How long issued tokens live.
    #[serde(default = "default_token_ttl")]
    pub token_ttl_secs: u64,
    /// Mesos fault-domain zones handed to the agents in turn (`up --zones a,b,c`: the first
    /// agent, private then public, gets `a`, the second `b`, the fourth `a` again); served as
    /// `domain.fault_domain.zone.name` in `/slaves` (Mesos 1.5+, DC/OS 1.11+). Empty: no domain.
    #[serde(default)]
    pub zones: Vec<String>,
    /// Each master's ZooKeeper snapshot size in MB (`up --zk-data-mb`; 0: a few bytes).
    #[serde(default)]
    pub zk_data_mb: u64,
    /// How long CockroachDB's ranges stay under-replicated after a master is back, in ms
    /// (`up --crdb-catch-up-ms`; the testbed's figure: a real cluster takes as long as the
    /// up-replication of its ranges).
    #[serde(default = "default_crdb_catch_up_ms")]
    pub crdb_catch_up_ms: u64,
    /// How long the services had been up when the testbed started, in seconds (`up --up-secs`;
    /// 0: just started). Counted in a unit's uptime until it restarts.
    #[serde(default)]
    pub up_secs: u64,
}

/// [`SimDef::crdb_catch_up_ms`] by default.
pub const DEFAULT_CRDB_CATCH_UP_MS: u64 = 2000;

fn default_crdb_catch_up_ms() -> u64 {
    DEFAULT_CRDB_CATCH_UP_MS
}

impl SimDef {
    /// Reads `DIR/sim.json`.
    pub fn load(dir: &Path) -> anyhow::Result<SimDef> {
        let p = dir.join("sim.json");
        let text = std::fs::read_to_string(&p).map_err(|e| {
            anyhow::anyhow!(
                "cannot read {}: {e} (is there a testbed in this directory?)",
                p.display()
            )
        })?;
        Ok(serde_json::from_str(&text)?)
    }
    /// Finds a node by name.
    pub fn node(&self, name: &str) -> Option<&NodeDef> {
        self.nodes.iter().find(|n| n.name == name)
    }
    /// The prefix of this testbed's network namespace names (`dcos-sim-127-A-B-`).
    pub fn netns_prefix(&self) -> String {
        format!("dcos-sim-{}-", self.subnet.replace('.', "-"))
    }
    /// The network namespace of a node (`None` on a flat network).
    pub fn netns(&self, node: &str) -> Option<String> {
        (self.network == Network::Firewalled).then(|| format!("{}{node}", self.netns_prefix()))
    }
    /// Where `up` keeps the CA key and the node certificate (`DIR/pki`).
    pub fn pki_dir(&self) -> PathBuf {
        self.dir.join("pki")
    }
    /// Whether any node runs (or is upgraded to) permissive or strict: then `up` makes the CA and
    /// the credentials.
    pub fn security_on(&self) -> bool {
        self.security != Security::Disabled || self.upgrade_security != Security::Disabled
    }
    /// The cluster CA certificate, `DIR/dcos-ca.crt` (`None` when security is disabled: no TLS).
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.security_on().then(|| self.dir.join("dcos-ca.crt"))
    }
    /// Admin Router's HTTPS port on masters (443 as root, else 10443; TLS only with security on).
    pub fn admin_tls_port(&self) -> u16 {
        if self.as_root {
            443
        } else {
            10443
        }
    }
    /// `host:port` of the control API.
    pub fn ctl_addr(&self) -> String {
        format!("{}:9999", self.bootstrap_address)
    }
}

/// One node in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    /// Node name.
    pub name: String,
    /// Node address.
    pub address: String,
    /// `master`, `agent` or `public_agent`.
    pub role: String,
    /// The version in the node's `dcos-version.json`.
    pub version: String,
    /// How many times the node script started on this node (past argument parsing).
    pub upgrade_attempts: u64,
    /// Whether all of the node's services are up.
    pub services_up: bool,
}

/// One start of the node upgrade script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpgradeRecord {
    /// Node name.
    pub node: String,
    /// Whether the node was the Mesos leader when the script started.
    pub was_leader: bool,
    /// The version found on the node when the script started.
    pub from: String,
    /// The version the script upgrades to.
    pub to: String,
    /// Whether the script exited 0 (false while it runs, or if it hangs).
    pub ok: bool,
}

/// One Marathon app in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppReport {
    /// App id, e.g. `/web`.
    pub id: String,
    /// The app's current version (ISO-8601 timestamp).
    pub version: String,
    /// Its docker image.
    pub image: String,
    /// Configured instances.
    pub instances: u64,
    /// Healthy tasks right now.
    pub tasks_healthy: u64,
    /// `container.type` (`DOCKER`, or `MESOS` for the Universal Container Runtime).
    #[serde(default)]
    pub container_type: String,
    /// The whole definition as Marathon keeps it (no task counters, no deployments): tests
    /// compare it before and after a change.
    #[serde(default)]
    pub definition: serde_json::Value,
}

/// What `dcos-sim report --json` prints: what really happened in the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Every cluster node.
    pub nodes: Vec<NodeReport>,
    /// How many times the masters went from having a quorum to not having one.
    pub quorum_loss_events: u64,
    /// The maximum number of agents (private and public) down at the same time.
    pub max_agents_down: u64,
    /// The maximum number of masters down at the same time.
    pub max_masters_down: u64,
    /// Every start of the node script, in order.
    pub upgrade_order: Vec<UpgradeRecord>,
    /// Marathon apps.
    pub apps: Vec<AppReport>,
    /// Tasks lost because an agent stayed down longer than the re-registration window.
    pub tasks_lost: u64,
    /// The current Mesos leader's address, if any.
    pub leader: Option<String>,
    /// Requests to a node or the bootstrap node that carried an `Authorization` header over plain
    /// HTTP (every listener is plain HTTP today): a credential sent in clear text.
    #[serde(default)]
    pub plaintext_token_requests: u64,
    /// Requests answered 401 (Admin Router without a token in permissive and strict mode).
    #[serde(default)]
    pub unauthorized_requests: u64,
    /// The Marathon leader's address, if any (elected apart from the Mesos leader).
    #[serde(default)]
    pub marathon_leader: Option<String>,
    /// The Marathon storage version recorded in ZooKeeper (migrated by a newer leader).
    #[serde(default)]
    pub marathon_storage_version: String,
    /// Masters whose Marathon is not running (e.g. an older Marathon refusing newer storage).
    #[serde(default)]
    pub marathon_down_masters: Vec<String>,
    /// Whether the Marathon leader is migrating its storage right now.
    #[serde(default)]
    pub marathon_migrating: bool,
    /// Storage migrations that stopped before they finished (the migrating leader went away).
    #[serde(default)]
    pub marathon_migrations_interrupted: u64,
    /// Times a master went down while CockroachDB's ranges were under-replicated because of
    /// another master (IAM unavailable).
    #[serde(default)]
    pub iam_unavailable_events: u64,
}

impl Report {
    /// Finds a node by name.
    pub fn node(&self, name: &str) -> Option<&NodeReport> {
        self.nodes.iter().find(|n| n.name == name)
    }
    /// Finds an app by id (`/web`).
    pub fn app(&self, id: &str) -> Option<&AppReport> {
        self.apps.iter().find(|a| a.id == id)
    }
}
