//! Shell scripts installed on the simulated nodes and served by the bootstrap node.
//!
//! Placeholders `@NAME@` are replaced when the testbed is created.

mod checks;
mod state_tools;
mod system;
mod upgrade;

pub use checks::CHECK_RUNNER;
pub use state_tools::{COCKROACH, DCOS_ETCDCTL, DCOS_SHELL, DCOS_ZK, IAM_DATABASE_BACKUP};
pub use system::{DETECT_IP, DF, MESOS_BIN, SYSTEMCTL};
pub use upgrade::{NODE_UPGRADE, PKGPANDA};

/// Common prologue of the node-side helper scripts.
const PROLOGUE: &str = r#"R="${DCOS_SIM_ROOT:-@ROOT@}"
SIM_CTL="${DCOS_SIM_CTL:-@CTL@}"
SIM_NODE="${DCOS_SIM_NODE:-@NODE@}"
sim_fault() { [ "$(curl -fsS --max-time 5 "$SIM_CTL/node/$SIM_NODE/fault/$1" 2>/dev/null || echo 0)" = "1" ]; }
"#;

/// Replaces `@PROLOGUE@` and the common placeholders.
pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut s = template.replace("@PROLOGUE@", PROLOGUE);
    for (k, v) in vars {
        s = s.replace(&format!("@{k}@"), v);
    }
    s
}
