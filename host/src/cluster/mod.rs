//! What the nodes of a cluster (several gateways on one PostgreSQL database) tell each other.
//! Which node runs each session is decided by leases (`sessions/ownership.rs`); this folder
//! holds the notices that keep what every node caches in memory in step with the store.

pub mod notices;
