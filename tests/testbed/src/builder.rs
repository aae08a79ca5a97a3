//! Configuring a testbed before it starts: [`TestbedBuilder`], its defaults and `start`.

use super::*;

/// Builder for a [`Testbed`] (defaults: 3 masters, 4 agents, 1 public agent, 2.1.3 → 2.2.1,
/// activation 1000 ms, re-registration window 20000 ms, deployments 1000 ms).
#[derive(Debug, Clone)]
pub struct TestbedBuilder {
    masters: usize,
    agents: usize,
    public_agents: usize,
    version: String,
    upgrade_to: String,
    at_target: Vec<String>,
    activation_ms: u64,
    reregister_window_ms: u64,
    deploy_ms: u64,
    check_ms: u64,
    real_zookeeper: bool,
    network: Network,
    security: Security,
    upgrade_security: Option<Security>,
    bastion: bool,
    token_ttl_secs: u64,
    ssh_user: Option<String>,
    zones: Vec<String>,
    zk_data_mb: u64,
    crdb_catch_up_ms: u64,
    up_secs: u64,
    dir: Option<PathBuf>,
}

impl Default for TestbedBuilder {
    fn default() -> Self {
        TestbedBuilder {
            masters: 3,
            agents: 4,
            public_agents: 1,
            version: "2.1.3".into(),
            upgrade_to: "2.2.1".into(),
            at_target: Vec::new(),
            activation_ms: 1000,
            reregister_window_ms: 20000,
            deploy_ms: 1000,
            check_ms: 0,
            real_zookeeper: false,
            network: default_network(),
            security: Security::Disabled,
            upgrade_security: None,
            bastion: false,
            token_ttl_secs: model::DEFAULT_TOKEN_TTL_SECS,
            ssh_user: None,
            zones: Vec::new(),
            zk_data_mb: 0,
            crdb_catch_up_ms: model::DEFAULT_CRDB_CATCH_UP_MS,
            up_secs: 0,
            dir: None,
        }
    }
}

impl TestbedBuilder {
    /// Number of masters.
    pub fn masters(mut self, n: usize) -> Self {
        self.masters = n;
        self
    }
    /// Number of private agents.
    pub fn agents(mut self, n: usize) -> Self {
        self.agents = n;
        self
    }
    /// Number of public agents.
    pub fn public_agents(mut self, n: usize) -> Self {
        self.public_agents = n;
        self
    }
    /// The version the nodes start at.
    pub fn version(mut self, v: &str) -> Self {
        self.version = v.into();
        self
    }
    /// The version the served upgrade script upgrades to.
    pub fn upgrade_to(mut self, v: &str) -> Self {
        self.upgrade_to = v.into();
        self
    }
    /// Nodes that already run the `upgrade_to` version.
    pub fn at_target(mut self, names: &[&str]) -> Self {
        self.at_target = names.iter().map(|s| s.to_string()).collect();
        self
    }
    /// Delay between a service start and the service being up.
    pub fn activation_ms(mut self, ms: u64) -> Self {
        self.activation_ms = ms;
        self
    }
    /// How long an agent may be down before its tasks are lost.
    pub fn reregister_window_ms(mut self, ms: u64) -> Self {
        self.reregister_window_ms = ms;
        self
    }
    /// How long a Marathon deployment takes.
    pub fn deploy_ms(mut self, ms: u64) -> Self {
        self.deploy_ms = ms;
        self
    }
    /// How long `dcos-check-runner` takes beyond its reads (`up --check-ms`; default 0).
    pub fn check_ms(mut self, ms: u64) -> Self {
        self.check_ms = ms;
        self
    }
    /// Run a real ZooKeeper server on every master (`up --zookeeper real`; needs Debian's
    /// `zookeeper` package) instead of the simulated four-letter words (the default).
    pub fn real_zookeeper(mut self, real: bool) -> Self {
        self.real_zookeeper = real;
        self
    }
    /// How the nodes are networked (`up --network`; default [`Network::DEFAULT`], or
    /// `$DCOS_SIM_NETWORK` = `flat` | `firewalled` when set).
    pub fn network(mut self, network: Network) -> Self {
        self.network = network;
        self
    }
    /// The security mode written to every node's `bootstrap-config.json` (`up --security`;
    /// default `disabled`).
    pub fn security(mut self, security: Security) -> Self {
        self.security = security;
        self
    }
    /// The security mode the served upgrade script switches each node to (`up
    /// --upgrade-security`; default: the same as [`TestbedBuilder::security`]).
    pub fn upgrade_security(mut self, security: Security) -> Self {
        self.upgrade_security = Some(security);
        self
    }
    /// Add an SSH bastion (`up --bastion`; needs [`Network::Firewalled`]): the nodes' SSH ports
    /// then answer only from it, and `ssh_config` reaches them with `ProxyJump bastion`.
    pub fn bastion(mut self, on: bool) -> Self {
        self.bastion = on;
        self
    }
    /// The nodes' SSH login user (`up --ssh-user`); not root, on a testbed run as root, means
    /// `become = "sudo"` (the caller creates the user and its sudoers rule).
    pub fn ssh_user(mut self, user: &str) -> Self {
        self.ssh_user = Some(user.to_string());
        self
    }
    /// How long tokens issued by the testbed's IAM live (`up --token-ttl-secs`; default 5 days).
    pub fn token_ttl_secs(mut self, secs: u64) -> Self {
        self.token_ttl_secs = secs;
        self
    }
    /// Mesos fault-domain zones handed to the agents in turn (`up --zones`; default none).
    pub fn zones(mut self, zones: &[&str]) -> Self {
        self.zones = zones.iter().map(|z| z.to_string()).collect();
        self
    }
    /// How long CockroachDB's ranges stay under-replicated after a master is back
    /// (`up --crdb-catch-up-ms`).
    pub fn crdb_catch_up_ms(mut self, ms: u64) -> Self {
        self.crdb_catch_up_ms = ms;
        self
    }
    /// The services have been up this long when the testbed starts (`up --up-secs`).
    pub fn up_secs(mut self, secs: u64) -> Self {
        self.up_secs = secs;
        self
    }
    /// Each master's ZooKeeper snapshot is this many MB of incompressible data (`up --zk-data-mb`).
    pub fn zk_data_mb(mut self, mb: u64) -> Self {
        self.zk_data_mb = mb;
        self
    }
    /// Use this directory instead of a fresh temporary one (it is not deleted on drop).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }
    /// Runs `dcos-sim up` and returns once the cluster is healthy.
    pub fn start(self) -> Result<Testbed> {
        let bin = sim_binary()?;
        let (dir, tmp) = match &self.dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                (std::fs::canonicalize(d)?, None)
            }
            None => {
                let t = tempfile::Builder::new().prefix("dcos-sim-").tempdir()?;
                (std::fs::canonicalize(t.path())?, Some(t))
            }
        };
        let mut cmd = Command::new(&bin);
        cmd.arg("up")
            .arg("--dir")
            .arg(&dir)
            .args(["--masters", &self.masters.to_string()])
            .args(["--agents", &self.agents.to_string()])
            .args(["--public-agents", &self.public_agents.to_string()])
            .args(["--version", &self.version, "--upgrade-to", &self.upgrade_to])
            .args(["--activation-ms", &self.activation_ms.to_string()])
            .args([
                "--reregister-window-ms",
                &self.reregister_window_ms.to_string(),
            ])
            .args(["--deploy-ms", &self.deploy_ms.to_string()])
            .args(["--check-ms", &self.check_ms.to_string()]);
        cmd.args(["--network", self.network.as_str()]);
        cmd.args(["--security", self.security.as_str()]);
        if self.bastion {
            cmd.arg("--bastion");
        }
        if let Some(s) = self.upgrade_security {
            cmd.args(["--upgrade-security", s.as_str()]);
        }
        cmd.args(["--token-ttl-secs", &self.token_ttl_secs.to_string()]);
        if let Some(u) = &self.ssh_user {
            cmd.args(["--ssh-user", u]);
        }
        if !self.zones.is_empty() {
            cmd.args(["--zones", &self.zones.join(",")]);
        }
        cmd.args(["--crdb-catch-up-ms", &self.crdb_catch_up_ms.to_string()]);
        if self.up_secs > 0 {
            cmd.args(["--up-secs", &self.up_secs.to_string()]);
        }
        if self.zk_data_mb > 0 {
            cmd.args(["--zk-data-mb", &self.zk_data_mb.to_string()]);
        }
        if self.real_zookeeper {
            cmd.args(["--zookeeper", "real"]);
        }
        if !self.at_target.is_empty() {
            cmd.args(["--at-target", &self.at_target.join(",")]);
        }
        let out = cmd
            .output()
            .with_context(|| format!("running {}", bin.display()))?;
        if !out.status.success() {
            bail!(
                "dcos-sim up failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let def = SimDef::load(&dir)?;
        Ok(Testbed {
            bin,
            dir,
            def,
            _tmp: tmp,
        })
    }
}

/// [`Network::DEFAULT`], unless `$DCOS_SIM_NETWORK` names another (so a whole suite can run
/// firewalled without a code change).
fn default_network() -> Network {
    std::env::var("DCOS_SIM_NETWORK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(Network::DEFAULT)
}
