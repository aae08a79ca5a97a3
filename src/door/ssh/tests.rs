//! Unit tests of the OpenSSH door: its generated SSH config and output helpers.

use super::*;

fn opts() -> SshOptions {
    SshOptions {
        user: Some("core".into()),
        identity_file: Some("/keys/id 50%".into()),
        known_hosts: Some("/etc/kh".into()),
        jump_host: Some("core@bastion:22".into()),
        connect_timeout: Duration::from_secs(5),
        sudo: true,
        host_keys: HostKeyPolicy::Strict,
        max_parallel_connects: 4,
    }
}

#[test]
fn the_jump_config_gives_the_bastion_the_nodes_host_key_policy_and_identity() {
    let c = jump_config(&opts()).unwrap();
    assert!(c.contains("StrictHostKeyChecking yes\n"), "{c}");
    assert!(c.contains("UserKnownHostsFile \"/etc/kh\"\n"), "{c}");
    assert!(c.contains("IdentityFile \"/keys/id 50%%\"\n"), "{c}");
    assert!(c.contains("IdentitiesOnly yes"), "{c}");
    // ~/.ssh/config comes last: it fills in only what is not set above.
    assert!(c.trim_end().ends_with("Include ~/.ssh/config"), "{c}");
}

#[test]
fn a_path_that_would_break_the_config_is_refused() {
    let mut o = opts();
    o.known_hosts = Some("/x\nProxyCommand evil".into());
    assert!(jump_config(&o).is_err());
}
