//! The `dcos-sim` command line.

use anyhow::Result;
use clap::{Parser, Subcommand};
use dcos_sim::{setup, Network, Security};
use std::path::PathBuf;

/// A simulated DC/OS cluster (real sshd per node, real HTTP endpoints) for testing dcos-upgrade.
#[derive(Parser)]
#[command(name = "dcos-sim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// How the masters' ZooKeeper is provided.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ZkMode {
    /// Simulated by the daemon.
    Sim,
    /// Real servers.
    Real,
}

/// How the nodes are networked (see `dcos_sim::Network`).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum NetMode {
    /// Every node port on the host's loopback.
    Flat,
    /// One network namespace per node; from the host only SSH and Admin Router :80.
    Firewalled,
}

impl NetMode {
    fn from_network(n: Network) -> NetMode {
        match n {
            Network::Flat => NetMode::Flat,
            Network::Firewalled => NetMode::Firewalled,
        }
    }
    fn network(self) -> Network {
        match self {
            NetMode::Flat => Network::Flat,
            NetMode::Firewalled => Network::Firewalled,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a testbed in DIR and start it; returns once the cluster is healthy (leader elected,
    /// all agents registered) and DIR/inventory.toml and DIR/ssh_config are written.
    Up {
        /// Testbed directory.
        #[arg(long)]
        dir: PathBuf,
        /// Number of masters (m1..mN).
        #[arg(long, default_value_t = 3)]
        masters: usize,
        /// Number of private agents (a1..aN).
        #[arg(long, default_value_t = 4)]
        agents: usize,
        /// Number of public agents (p1..pN).
        #[arg(long, default_value_t = 0)]
        public_agents: usize,
        /// The DC/OS version the nodes run.
        #[arg(long)]
        version: String,
        /// The version the bootstrap node's upgrade script upgrades to.
        #[arg(long)]
        upgrade_to: String,
        /// Delay between a service start and the service being up.
        #[arg(long, default_value_t = 1000)]
        activation_ms: u64,
        /// An agent down longer than this loses its tasks (TASK_LOST).
        #[arg(long, default_value_t = 20000)]
        reregister_window_ms: u64,
        /// How long a Marathon deployment takes.
        #[arg(long, default_value_t = 1000)]
        deploy_ms: u64,
        /// How long `dcos-check-runner` takes to run a node's checks beyond its own reads (a
        /// real node's checks take longer than this testbed's reads; no source gives a figure).
        #[arg(long, default_value_t = 0)]
        check_ms: u64,
        /// Loopback subnet 127.A.B (random free one by default).
        #[arg(long)]
        subnet: Option<String>,
        /// Nodes already at the --upgrade-to version (comma-separated names, e.g. m2,a3).
        #[arg(long, value_delimiter = ',')]
        at_target: Vec<String>,
        /// ZooKeeper on the masters: `sim` (four-letter words answered by the daemon) or `real`
        /// (one real server per master, Debian's `zookeeper` package, seeded with a few znodes).
        #[arg(long, value_enum, default_value_t = ZkMode::Sim)]
        zookeeper: ZkMode,
        /// `flat` (every node port reachable from the host) or `firewalled` (one network
        /// namespace per node: from the host only SSH and the masters' Admin Router; needs root).
        #[arg(long, value_enum, default_value_t = NetMode::from_network(Network::DEFAULT))]
        network: NetMode,
        /// The security mode in every node's bootstrap-config.json: disabled, permissive (Admin
        /// Router requires a token) or strict.
        #[arg(long, default_value = "disabled")]
        security: Security,
        /// The mode the upgrade script switches every node to (the rollback script switches it
        /// back); default: the same as --security.
        #[arg(long)]
        upgrade_security: Option<Security>,
        /// Add an SSH bastion at 127.A.B.3 (its own sshd and namespace); the nodes' SSH ports then
        /// answer only from it (ssh_config uses ProxyJump). Needs --network firewalled.
        #[arg(long)]
        bastion: bool,
        /// Lifetime of the tokens the testbed's IAM issues (permissive and strict).
        #[arg(long, default_value_t = dcos_sim::model::DEFAULT_TOKEN_TTL_SECS)]
        token_ttl_secs: u64,
        /// The SSH login user of every node (default: the user running `up`). When it is not
        /// root and `up` runs as root, node scripts need `sudo` (the inventory says
        /// `become = "sudo"`); the caller sets up the user and its sudoers rule.
        #[arg(long)]
        ssh_user: Option<String>,
        /// Mesos fault-domain zones handed to the agents in turn (comma-separated, e.g.
        /// `z1,z2`), served in `/slaves` as `domain.fault_domain.zone.name`.
        #[arg(long, value_delimiter = ',')]
        zones: Vec<String>,
        /// Size of each master's ZooKeeper snapshot in MB (incompressible data; 0: a few bytes),
        /// for a backup of realistic size.
        #[arg(long, default_value_t = 0)]
        zk_data_mb: u64,
        /// How long CockroachDB's ranges stay under-replicated after a master is back (ms).
        #[arg(long, default_value_t = dcos_sim::model::DEFAULT_CRDB_CATCH_UP_MS)]
        crdb_catch_up_ms: u64,
        /// How long the nodes' services have been up when the testbed starts, in seconds
        /// (their `master/uptime_secs`, `slave/uptime_secs`; 0: just started). A cluster that is
        /// upgraded has usually been running for a while; a restart resets it.
        #[arg(long, default_value_t = 0)]
        up_secs: u64,
    },
    /// Stop everything the testbed in DIR started (daemon, every sshd, leftover node scripts);
    /// saves the final report to DIR/report.json. Idempotent.
    Down {
        /// Testbed directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Set (or with --clear remove) a fault on a node: upgrade-fails, hang, never-healthy,
    /// slow-healthy, ssh-down, http-garbage, disk-full, tasks-failing, flapping, stale-redirect, deployment-hangs.
    Fault {
        /// Testbed directory.
        #[arg(long)]
        dir: PathBuf,
        /// Node name (m1, a2, p1, ...).
        #[arg(long)]
        node: String,
        /// Fault kind.
        #[arg(long)]
        kind: String,
        /// Remove the fault instead of setting it.
        #[arg(long)]
        clear: bool,
    },
    /// Print what really happened: node versions, upgrade attempts and order, quorum losses,
    /// agents down, apps, lost tasks (a table, or JSON with --json).
    Report {
        /// Testbed directory.
        #[arg(long)]
        dir: PathBuf,
        /// Print JSON (the contract in README.md).
        #[arg(long)]
        json: bool,
    },
    /// Internal: the daemon that `up` starts (simulated HTTP services and the control API).
    #[command(hide = true)]
    Serve {
        /// Testbed directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Up {
            dir,
            masters,
            agents,
            public_agents,
            version,
            upgrade_to,
            activation_ms,
            reregister_window_ms,
            deploy_ms,
            check_ms,
            subnet,
            at_target,
            zookeeper,
            network,
            security,
            upgrade_security,
            bastion,
            token_ttl_secs,
            ssh_user,
            zones,
            zk_data_mb,
            crdb_catch_up_ms,
            up_secs,
        } => {
            let def = setup::up(&setup::UpOptions {
                dir,
                masters,
                agents,
                public_agents,
                version,
                upgrade_to,
                activation_ms,
                reregister_window_ms,
                deploy_ms,
                check_ms,
                subnet,
                at_target,
                real_zookeeper: zookeeper == ZkMode::Real,
                network: network.network(),
                security,
                upgrade_security: upgrade_security.unwrap_or(security),
                token_ttl_secs,
                bastion,
                ssh_user,
                zones,
                zk_data_mb,
                crdb_catch_up_ms,
                up_secs,
            })?;
            println!(
                "dcos-sim: cluster up in {} (subnet {}, network {})",
                def.dir.display(),
                def.subnet,
                def.network.as_str()
            );
            println!("inventory: {}", def.dir.join("inventory.toml").display());
            println!(
                "ssh:       ssh -F {} m1",
                def.dir.join("ssh_config").display()
            );
        }
        Cmd::Down { dir } => setup::down(&dir)?,
        Cmd::Fault {
            dir,
            node,
            kind,
            clear,
        } => setup::fault(&dir, &node, &kind, clear)?,
        Cmd::Report { dir, json } => {
            let r = setup::report(&dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", setup::report_table(&r));
            }
        }
        Cmd::Serve { dir } => dcos_sim::daemon::serve(&dir)?,
    }
    Ok(())
}
