//! The SSH config file written for a jump host: the node's host-key policy, known_hosts and
//! identity, for the bastion too.

use super::{HostKeyPolicy, SshOptions};

/// The OpenSSH config used with a jump host. OpenSSH starts a second `ssh` for a `ProxyJump`
/// and hands it `-F FILE` but none of the `-o` options (ssh.c, `jump_host`), so the strict
/// host-key policy, the `known_hosts` file and the identity reach the bastion only through a
/// file; `~/.ssh/config` is included after them, so it still fills in what the inventory leaves
/// unset.
pub(super) fn jump_config(opts: &SshOptions) -> std::io::Result<String> {
    let mut c = String::from("Host *\n");
    c.push_str(match opts.host_keys {
        HostKeyPolicy::Strict => "  StrictHostKeyChecking yes\n",
        HostKeyPolicy::TrustNew => "  StrictHostKeyChecking accept-new\n",
    });
    if let Some(k) = &opts.known_hosts {
        c.push_str(&format!("  UserKnownHostsFile {}\n", config_path(k)?));
    }
    if let Some(k) = &opts.identity_file {
        c.push_str(&format!(
            "  IdentityFile {}\n  IdentitiesOnly yes\n",
            config_path(k)?
        ));
    }
    c.push_str("  BatchMode yes\n  Include ~/.ssh/config\n");
    Ok(c)
}

/// A path as one ssh_config value: double-quoted, `%` doubled (ssh_config expands `%` tokens in
/// these keywords); a path with a quote or a line break is refused rather than written.
fn config_path(p: &std::path::Path) -> std::io::Result<String> {
    let s = p.to_string_lossy();
    if s.contains(['"', '\n', '\r']) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{s:?}: a path with a quote or a line break cannot be given to OpenSSH"),
        ));
    }
    Ok(format!("\"{}\"", s.replace('%', "%%")))
}
