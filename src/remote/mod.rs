//! Running commands on nodes over SSH. Knows nothing about DC/OS, plans or the journal.

mod ssh;

pub use ssh::{HostKeyPolicy, NodeTarget, Output, RemoteError, Ssh, SshOptions};
