//! `become = "sudo"` as production has it (issue 10): the SSH login is an unprivileged user, and
//! Debian's real `sudo` gives it root through a NOPASSWD drop-in that this test writes into
//! `/etc/sudoers.d` (and removes afterwards). Without the rule, and with `requiretty`, `check`
//! refuses and says what to change; with it, a full upgrade runs every node script as root.
//! Needs root (to create the user and the drop-in), as CI has.

mod common;

use common::{assert_upgraded, strs, text};
use dcos_sim::Testbed;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A local user and its sudoers drop-in, both removed on drop.
struct SudoUser {
    name: String,
    drop_in: PathBuf,
}

impl SudoUser {
    fn create() -> SudoUser {
        let name = format!("dcu{}", std::process::id());
        let out = Command::new("useradd")
            // `*`: no password to log in with, but not a locked account (sshd without PAM
            // refuses a locked one even with a valid key).
            .args(["-m", "-s", "/bin/bash", "-p", "*", &name])
            .output()
            .expect("useradd");
        assert!(out.status.success(), "useradd: {}", text(&out));
        SudoUser {
            drop_in: Path::new("/etc/sudoers.d").join(&name),
            name,
        }
    }

    /// Writes the drop-in (checked with `visudo -c` first, as an operator would).
    fn rule(&self, body: &str) {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), body).unwrap();
        let out = Command::new("visudo")
            .arg("-cf")
            .arg(tmp.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "visudo: {}\n{body}", text(&out));
        std::fs::write(&self.drop_in, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&self.drop_in, std::fs::Permissions::from_mode(0o440)).unwrap();
    }

    /// The rule an operator writes: root without a password. The testbed's simulated DC/OS
    /// finds its node through `DCOS_SIM_*` variables and shims on `PATH` (simulation plumbing a
    /// real node does not have), so the rule keeps those through sudo's environment reset.
    fn nopasswd(&self, extra: &str) -> String {
        let u = &self.name;
        format!(
            "Defaults:{u} env_keep += \"DCOS_SIM_ROOT DCOS_SIM_NODE DCOS_SIM_CTL DCOS_SIM_DIR\"\nDefaults:{u} !secure_path\n{extra}{u} ALL=(root) NOPASSWD: ALL\n"
        )
    }
}

impl Drop for SudoUser {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.drop_in);
        let _ = Command::new("userdel").args(["-r", &self.name]).output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn an_unprivileged_user_with_a_nopasswd_rule_upgrades_the_cluster_through_sudo() {
    assert!(
        is_root(),
        "this test creates a user and a sudoers drop-in: run the suite as root (scripts/test.sh)"
    );
    let user = SudoUser::create();
    // sshd reads authorized_keys as the login user: a testbed directory the user can traverse.
    let dir = tempfile::Builder::new()
        .prefix("dcos-sim-sudo-")
        .tempdir_in("/tmp")
        .unwrap();
    let tb = Testbed::builder()
        .masters(3)
        .agents(1)
        .public_agents(0)
        .version("2.1.3")
        .upgrade_to("2.2.1")
        .activation_ms(300)
        .ssh_user(&user.name)
        .dir(dir.path())
        .start()
        .expect("testbed up");
    let inv_text = std::fs::read_to_string(tb.inventory_path()).unwrap();
    assert!(inv_text.contains("become = \"sudo\""), "{inv_text}");
    common::append(
        &tb.inventory_path(),
        &format!("\n[timeouts]\n{}", common::FAST_TIMEOUTS),
    );
    let env = common::Env::adopt(tb);
    let inv = env.inventory();
    let inv = inv.to_str().unwrap();

    // No sudoers rule: sudo -n asks for a password; check refuses and says what to set up.
    let out = env.cmd(&["check", "--inventory", inv]).output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("password is required") && text(&out).contains("NOPASSWD"),
        "sudo's refusal and the sudoers rule are not named: {}",
        text(&out)
    );

    // requiretty: sudo refuses without a terminal (the tool never asks for one); named.
    user.rule(&user.nopasswd(&format!("Defaults:{} requiretty\n", user.name)));
    let out = env.cmd(&["check", "--inventory", inv]).output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("must have a tty") && text(&out).contains("!requiretty"),
        "sudo's refusal and requiretty are not named: {}",
        text(&out)
    );
    assert!(env.report().upgrade_order.is_empty());

    // The rule as an operator writes it: the whole upgrade, every node script run as root (the
    // testbed's script refuses any other user).
    user.rule(&user.nopasswd(""));
    let out = env.cmd(&["check", "--inventory", inv]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "check: {}", text(&out));
    let out = env.cmd(&strs(&env.run_args(&["--yes"]))).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "run: {}", text(&out));
    assert_upgraded(&env.report(), "2.2.1", &[], 1);
    drop(env);
    drop(user);
}
