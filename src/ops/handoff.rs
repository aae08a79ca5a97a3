//! Hand-offs: the complete, copy-pasteable command lines that messages suggest (the state
//! directory when one was given, the run id, the flags that matter).

use std::path::PathBuf;

/// Builds the commands a message suggests, so that pasting one into a shell continues exactly
/// where this one stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handoff {
    /// The state directory given on the command line (or by `DCOS_UPGRADE_STATE_DIR`); None
    /// when the default was used.
    pub state_dir: Option<PathBuf>,
}

impl Handoff {
    /// `dcos-upgrade [--state-dir DIR] <args...>`, each argument shell-quoted when it needs it.
    pub fn command(&self, args: &[&str]) -> String {
        let mut s = String::from("dcos-upgrade");
        if let Some(d) = &self.state_dir {
            s.push_str(" --state-dir ");
            s.push_str(&crate::shell::quote(&d.to_string_lossy()));
        }
        for a in args {
            s.push(' ');
            s.push_str(&crate::shell::quote(a));
        }
        s
    }

    /// `resume --run ID` plus `extra`.
    pub fn resume(&self, run: &str, extra: &[&str]) -> String {
        self.command(&[&["resume", "--run", run][..], extra].concat())
    }

    /// `rollback --run ID` plus `extra`.
    pub fn rollback(&self, run: &str, extra: &[&str]) -> String {
        self.command(&[&["rollback", "--run", run][..], extra].concat())
    }

    /// `status --run ID`.
    pub fn status(&self, run: &str) -> String {
        self.command(&["status", "--run", run])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_dir_is_included_and_quoted_when_given() {
        let h = Handoff {
            state_dir: Some("/tmp/my state".into()),
        };
        assert_eq!(
            h.resume("r1", &["--yes"]),
            "dcos-upgrade --state-dir '/tmp/my state' resume --run r1 --yes"
        );
        assert_eq!(
            Handoff::default().status("r1"),
            "dcos-upgrade status --run r1"
        );
    }
}
