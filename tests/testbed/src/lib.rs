//! `dcos-sim`: a simulated DC/OS cluster reachable over real OpenSSH and real HTTP, for testing
//! `dcos-upgrade`. See `tests/testbed/README.md` for the contract.
//!
//! Tests use [`Testbed`]:
//! ```no_run
//! let tb = dcos_sim::Testbed::builder().masters(3).agents(2).version("2.1.3").upgrade_to("2.2.1").start()?;
//! let report = tb.report()?;
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod daemon;
pub mod http;
pub mod iam;
pub mod model;
pub mod netns;
pub mod record;
pub mod scripts;
pub mod setup;
pub mod tools;
pub mod zk;

mod builder;

pub use builder::TestbedBuilder;

pub use model::{
    AppReport, Network, NodeDef, NodeReport, Report, Role, Security, SimDef, UpgradeRecord,
};

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A running simulated cluster; `Drop` runs `dcos-sim down`.
pub struct Testbed {
    bin: PathBuf,
    dir: PathBuf,
    def: SimDef,
    _tmp: Option<tempfile::TempDir>,
}

/// What a test needs to know about one node.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// `m1`, `a1`, `p1`, ...
    pub name: String,
    /// The node's role.
    pub role: Role,
    /// Its loopback address.
    pub address: String,
    /// Its filesystem root.
    pub root: PathBuf,
}

impl Testbed {
    /// A builder with the defaults.
    pub fn builder() -> TestbedBuilder {
        TestbedBuilder::default()
    }
    /// The testbed directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// `DIR/inventory.toml`.
    pub fn inventory_path(&self) -> PathBuf {
        self.dir.join("inventory.toml")
    }
    /// `DIR/ssh_config`.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }
    /// The cluster definition (`sim.json`).
    pub fn def(&self) -> &SimDef {
        &self.def
    }
    /// The control API URL (`http://127.A.B.2:9999`).
    pub fn ctl_url(&self) -> &str {
        &self.def.ctl_url
    }
    /// The upgrade script URL.
    pub fn upgrade_script_url(&self) -> &str {
        &self.def.upgrade_script_url
    }
    /// The rollback script URL.
    pub fn rollback_script_url(&self) -> &str {
        &self.def.rollback_script_url
    }
    /// The path of the `dcos-sim` binary in use.
    pub fn binary(&self) -> &Path {
        &self.bin
    }
    /// Information about one node (`None` for an unknown name).
    pub fn node(&self, name: &str) -> Option<NodeInfo> {
        self.def.node(name).map(|n| NodeInfo {
            name: n.name.clone(),
            role: n.role,
            address: n.address.clone(),
            root: n.root.clone(),
        })
    }
    /// The network namespace of a node (`None` on a flat network or for an unknown name).
    pub fn netns(&self, name: &str) -> Option<String> {
        self.def.node(name).and_then(|n| self.def.netns(&n.name))
    }
    /// A valid token for the superuser, minted through the control API (a testbed shortcut; the
    /// product logs in at Admin Router). Fails when security is disabled.
    pub fn token(&self) -> Result<String> {
        let r = http::post(
            &self.def.ctl_addr(),
            &format!("/iam/token?uid={}", iam::USER_UID),
            "",
        )?;
        if r.status != 200 {
            bail!(
                "the testbed would not mint a token: {} {}",
                r.status,
                r.body
            );
        }
        Ok(r.body)
    }
    /// The SSH bastion, when there is one (`address`: where its sshd listens, port
    /// `def().ssh_port`).
    pub fn bastion(&self) -> Option<NodeInfo> {
        self.def.bastion.as_ref().map(|n| NodeInfo {
            name: n.name.clone(),
            role: n.role,
            address: n.address.clone(),
            root: n.root.clone(),
        })
    }
    /// Invalidates every token the testbed's IAM issued (as an OSS 1.12 → 1.13 upgrade does).
    pub fn revoke_tokens(&self) -> Result<()> {
        let r = http::post(&self.def.ctl_addr(), "/iam/revoke", "")?;
        if r.status != 200 {
            bail!(
                "the testbed would not revoke tokens: {} {}",
                r.status,
                r.body
            );
        }
        Ok(())
    }
    /// All nodes.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.def
            .nodes
            .iter()
            .filter_map(|n| self.node(&n.name))
            .collect()
    }
    /// The current report (from the daemon, or the one saved by `down`).
    pub fn report(&self) -> Result<Report> {
        setup::report(&self.dir)
    }
    /// Sets a fault (`dcos-sim fault --node NODE --kind KIND`).
    pub fn fault(&self, node: &str, kind: &str) -> Result<()> {
        self.run(&["fault", "--node", node, "--kind", kind])
    }
    /// Clears a fault (`dcos-sim fault --node NODE --kind KIND --clear`).
    pub fn clear_fault(&self, node: &str, kind: &str) -> Result<()> {
        self.run(&["fault", "--node", node, "--kind", kind, "--clear"])
    }
    /// Stops everything (also done on drop).
    pub fn down(&self) -> Result<()> {
        self.run(&["down"])
    }
    /// How many commands (SSH `exec` sessions) the node's sshd has started so far: its log
    /// at `LogLevel VERBOSE` says `Starting session: command for USER from ...` for each one
    /// (OpenSSH `session.c`, `do_exec`). The testbed's own record of how many round trips a
    /// tool made to a node, whatever the tool logs.
    pub fn ssh_commands(&self, node: &str) -> Result<usize> {
        let log = self.dir.join("nodes").join(node).join("sshd/sshd.log");
        let text =
            std::fs::read_to_string(&log).with_context(|| format!("reading {}", log.display()))?;
        Ok(text
            .lines()
            .filter(|l| l.contains("Starting session: command "))
            .count())
    }
    /// A `Command` for `ssh -F DIR/ssh_config <node> <command>`.
    pub fn ssh(&self, node: &str, command: &str) -> Command {
        let mut c = Command::new("ssh");
        c.arg("-F").arg(self.ssh_config()).arg(node).arg(command);
        c
    }
    fn run(&self, args: &[&str]) -> Result<()> {
        let out = Command::new(&self.bin)
            .arg(args[0])
            .arg("--dir")
            .arg(&self.dir)
            .args(&args[1..])
            .output()?;
        if !out.status.success() {
            bail!(
                "dcos-sim {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        if let Err(e) = self.down() {
            eprintln!("dcos-sim down failed: {e}");
            let _ = setup::down(&self.dir);
        }
    }
}

/// Finds (and if needed builds) the `dcos-sim` binary: `$DCOS_SIM_BIN`, `$CARGO_BIN_EXE_dcos-sim`,
/// else `cargo build -p dcos-sim --bin dcos-sim` once per process and the `dcos-sim` found
/// next to the running test executable (`target/<profile>/`).
pub fn sim_binary() -> Result<PathBuf> {
    static BIN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| locate().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

fn locate() -> Result<PathBuf> {
    for var in ["DCOS_SIM_BIN", "CARGO_BIN_EXE_dcos-sim"] {
        if let Ok(p) = std::env::var(var) {
            if Path::new(&p).exists() {
                return Ok(PathBuf::from(p));
            }
        }
    }
    if let Some(p) = option_env!("CARGO_BIN_EXE_dcos-sim") {
        if Path::new(p).exists() {
            return Ok(PathBuf::from(p));
        }
    }
    let exe = std::env::current_exe()?;
    let find = || {
        exe.ancestors()
            .skip(1)
            .map(|a| a.join("dcos-sim"))
            .find(|p| p.is_file())
    };
    // Always (re)build once: another crate's tests do not rebuild our binary.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let status = Command::new(cargo)
        .args([
            "build",
            "-q",
            "-p",
            "dcos-sim",
            "--bin",
            "dcos-sim",
            "--manifest-path",
        ])
        .arg(&manifest)
        .status();
    match (status, find()) {
        (_, Some(p)) => Ok(p),
        (Ok(s), None) => bail!(
            "cargo build -p dcos-sim exited with {s} and no dcos-sim binary was found near {}",
            exe.display()
        ),
        (Err(e), None) => bail!("cannot run cargo to build dcos-sim: {e}"),
    }
}
