//! Inputs the operator writes: the inventory (the cluster) and the playbook (the procedure).

pub mod bounds;
pub mod gates;
pub mod inventory;
pub mod model;
pub mod source;

pub use inventory::{is_host_address, Become, Inventory, NodeSpec};
pub use model::Playbook;
pub use source::{read_bounded, ConfigError, SourceFile, MAX_FILE_BYTES};
