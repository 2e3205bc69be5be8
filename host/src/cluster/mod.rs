//! What the nodes of a cluster (several gateways on one PostgreSQL database) tell each other.
//! Which node runs each session is decided by leases (`sessions/ownership.rs`); this folder
//! holds the notices that keep what every node caches in memory in step with the store, the
//! feed that brings every node's sockets the events committed on the others, and the relay of
//! plugins' room messages.

pub mod feed;
pub mod notices;
pub mod rooms;

use std::sync::Arc;

use crate::store::{Pool, Store};

/// One `NOTIFY` channel of this node's cluster.
pub struct Channel {
    /// This node, named in what it sends so it can ignore its own.
    pub node: String,
    pub name: String,
    pub pool: sqlx::PgPool,
}

impl Channel {
    /// The channel for `purpose`; `None` outside a cluster (no node, or not on PostgreSQL).
    pub fn open(node: Option<&str>, store: &Store, schema: Option<&str>, purpose: &str) -> Option<Arc<Channel>> {
        match (node, store.pool()) {
            (Some(node), Pool::Postgres(pool)) => Some(Arc::new(Channel {
                node: node.to_owned(),
                name: channel_name(schema, purpose),
                pool: pool.clone(),
            })),
            _ => None,
        }
    }
}

/// PostgreSQL's longest identifier, which a `LISTEN` channel is.
const MAX_CHANNEL: usize = 63;

/// The `NOTIFY` channel for `purpose` of the deployment on `schema`: one per schema, so
/// deployments sharing a database do not hear each other. A name that would be too long for
/// PostgreSQL (which would cut it short on `LISTEN` and refuse it on `pg_notify`) ends in a
/// digest of the schema instead.
pub fn channel_name(schema: Option<&str>, purpose: &str) -> String {
    let schema = schema.unwrap_or("public");
    let name = format!("wagate_{purpose}_{schema}");
    if name.len() <= MAX_CHANNEL {
        return name;
    }
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(schema.as_bytes()));
    format!("wagate_{purpose}_{}", &digest[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_named_per_schema_and_fit_postgres() {
        assert_eq!(channel_name(None, "events"), "wagate_events_public");
        assert_eq!(channel_name(Some("acme"), "notices"), "wagate_notices_acme");
        let long = "s".repeat(63);
        let name = channel_name(Some(&long), "notices");
        assert!(name.len() <= MAX_CHANNEL, "{name}");
        assert_ne!(name, channel_name(Some(&"t".repeat(63)), "notices"), "a digest, not a cut");
    }
}
