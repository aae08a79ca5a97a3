//! The `inventory.toml` that `dcos-upgrade` consumes, written from the cluster definition.

use crate::model::{NodeDef, Role, SimDef};
use anyhow::Result;

#[derive(serde::Serialize)]
pub(super) struct InvNode {
    name: String,
    address: String,
    root: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    public: Option<bool>,
}

pub(super) fn inventory(def: &SimDef) -> Result<String> {
    let mut v = toml::Table::new();
    let mut cluster = toml::Table::new();
    cluster.insert(
        "name".into(),
        format!("dcos-sim-{}", def.subnet.replace('.', "-")).into(),
    );
    v.insert("cluster".into(), cluster.into());
    let mut ssh = toml::Table::new();
    ssh.insert("user".into(), def.user.clone().into());
    ssh.insert("port".into(), (def.ssh_port as i64).into());
    ssh.insert(
        "identity_file".into(),
        def.dir
            .join("keys/client_ed25519")
            .to_string_lossy()
            .to_string()
            .into(),
    );
    ssh.insert(
        "known_hosts".into(),
        def.dir
            .join("known_hosts")
            .to_string_lossy()
            .to_string()
            .into(),
    );
    // An unprivileged login on a testbed run as root needs sudo (the node script insists on
    // root); otherwise the login is root, or the testbed fakes root (`DCOS_SIM_FAKE_ROOT`).
    let sudo = def.as_root && def.user != "root";
    ssh.insert("become".into(), if sudo { "sudo" } else { "none" }.into());
    if let Some(b) = &def.bastion {
        // The nodes answer SSH only from the bastion: the inventory names it as the jump host.
        ssh.insert(
            "jump_host".into(),
            format!("{}@{}:{}", def.user, b.address, def.ssh_port).into(),
        );
    }
    v.insert("ssh".into(), ssh.into());
    let mut b = toml::Table::new();
    b.insert(
        "upgrade_script_url".into(),
        def.upgrade_script_url.clone().into(),
    );
    b.insert(
        "rollback_script_url".into(),
        def.rollback_script_url.clone().into(),
    );
    v.insert("bootstrap".into(), b.into());
    let conv = |n: &NodeDef| InvNode {
        name: n.name.clone(),
        address: n.address.clone(),
        root: n.root.to_string_lossy().to_string(),
        public: match n.role {
            Role::Master => None,
            Role::Agent => Some(false),
            Role::PublicAgent => Some(true),
        },
    };
    let masters: Vec<InvNode> = def
        .nodes
        .iter()
        .filter(|n| n.role == Role::Master)
        .map(conv)
        .collect();
    let agents: Vec<InvNode> = def
        .nodes
        .iter()
        .filter(|n| n.role != Role::Master)
        .map(conv)
        .collect();
    v.insert("masters".into(), toml::Value::try_from(masters)?);
    if def.security_on() {
        // Admin Router enforces authentication in every Enterprise mode: the inventory logs in
        // with the service account `up` wrote under `DIR/credentials/`.
        let mut auth = toml::Table::new();
        auth.insert("uid".into(), crate::iam::SERVICE_ACCOUNT_UID.into());
        auth.insert(
            "private_key_file".into(),
            crate::iam::service_key_file(&def.dir)
                .to_string_lossy()
                .to_string()
                .into(),
        );
        v.insert("auth".into(), auth.into());
    }
    if !agents.is_empty() {
        v.insert("agents".into(), toml::Value::try_from(agents)?);
    }
    Ok(format!(
        "# written by dcos-sim up\n{}",
        toml::to_string(&v)?
    ))
}
