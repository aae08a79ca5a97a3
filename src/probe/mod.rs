//! Read-only, typed observation of the cluster over HTTP (and SSH queries for facts).

pub mod admin;
pub mod checks;
pub mod cockroach;
pub mod exhibitor;
pub mod facts;
pub mod marathon;
pub mod mesos;
pub mod node;
pub mod wait;
pub mod zk;

pub use crate::door::{Answer, ProbeError};
