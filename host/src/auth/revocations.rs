//! Rights that end while sockets hold them. REST checks every request afresh; a socket is
//! admitted once, so whoever ends a right (deleting a tenant or a session, rotating a key,
//! changing who may use which session) announces it here, and `realtime::guard` acts on it.

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::model::SessionKey;

#[derive(Debug, Clone, PartialEq)]
pub enum Revocation {
    /// The tenant is gone: every socket of it is disconnected.
    TenantDeleted(String),
    /// The tenant's keys or settings changed: its sockets are checked again now and, when
    /// the change has a grace period, once more at `recheck_at`.
    TenantChanged { tenant: String, recheck_at: Option<DateTime<Utc>> },
    /// The session is gone: sockets subscribed to it are unsubscribed.
    SessionDeleted(SessionKey),
}

/// Announcements are rare; a listener that falls this far behind checks everything instead.
const CAPACITY: usize = 1024;

#[derive(Clone)]
pub struct Revocations(broadcast::Sender<Revocation>);

impl Default for Revocations {
    fn default() -> Self {
        Self(broadcast::channel(CAPACITY).0)
    }
}

impl Revocations {
    pub fn announce(&self, r: Revocation) {
        // No listener (a gateway without sockets, a test) means nobody holds the right.
        let _ = self.0.send(r);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Revocation> {
        self.0.subscribe()
    }
}
