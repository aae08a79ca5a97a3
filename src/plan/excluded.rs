//! Nodes the operator left out of a plan by name (`--exclude NODE`): DC/OS knows them, the
//! inventory does not list them, and the run leaves them untouched. Recorded with the plan, so a
//! resumed run and its summary still name them.

use serde::{Deserialize, Serialize};

/// One node excluded with `--exclude`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excluded {
    /// The node as the operator named it (an address or a hostname as DC/OS reports it).
    pub node: String,
    /// What DC/OS said about it when the plan was made (which list named it, its role and agent
    /// id), or why it is taken for a node DC/OS cannot name.
    pub known_as: String,
}

impl Excluded {
    /// Whether `address` or `name` is the node this exclusion names (hostnames compare without
    /// case, as DNS does).
    pub fn names(&self, address: &str, name: &str) -> bool {
        self.node == address || self.node.eq_ignore_ascii_case(name)
    }

    /// The warning shown in the plan and the run's summary.
    pub fn warning(&self) -> String {
        format!(
            "WARNING: {} is excluded (--exclude): it is not upgraded nor checked as planned ({})",
            self.node, self.known_as
        )
    }
}

/// Whether any of `excluded` names the node.
pub fn is_excluded(excluded: &[Excluded], address: &str, name: &str) -> bool {
    excluded.iter().any(|e| e.names(address, name))
}
