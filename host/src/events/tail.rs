//! How far each tenant's journal is committed, for readers that follow the stored journal
//! (the Server-Sent Events stream): such a reader holds one page of events at a time and waits
//! here for more, so a slow reader costs a page of memory, never a queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

#[derive(Clone, Default)]
pub struct Tail {
    /// Only tenants someone follows; an entry whose followers are all gone is dropped at the
    /// next `follow`.
    followed: Arc<Mutex<HashMap<String, watch::Sender<u64>>>>,
}

impl Tail {
    /// The tenant's events up to `seq` are committed.
    pub fn advanced(&self, tenant: &str, seq: u64) {
        if let Some(tx) = self.followed.lock().expect("tail lock").get(tenant) {
            tx.send_replace(seq);
        }
    }

    /// Marked changed whenever the tenant commits an event.
    pub fn follow(&self, tenant: &str) -> watch::Receiver<u64> {
        let mut followed = self.followed.lock().expect("tail lock");
        followed.retain(|_, tx| tx.receiver_count() > 0);
        followed.entry(tenant.to_owned()).or_insert_with(|| watch::channel(0).0).subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_follower_wakes_for_its_own_tenant_only() {
        let tail = Tail::default();
        let mut acme = tail.follow("acme");
        tail.advanced("other", 7);
        assert!(!acme.has_changed().unwrap());
        tail.advanced("acme", 3);
        acme.changed().await.unwrap();
        assert_eq!(*acme.borrow_and_update(), 3);
    }

    #[test]
    fn tenants_nobody_follows_any_more_are_forgotten() {
        let tail = Tail::default();
        drop(tail.follow("gone"));
        let _kept = tail.follow("acme");
        assert_eq!(tail.followed.lock().unwrap().keys().collect::<Vec<_>>(), ["acme"]);
    }
}
