//! Sockets connected at once, per tenant and per user. A socket holds a `Slot` from its
//! handshake on; dropping the slot (the socket disconnected) gives the place back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Limits, QuotaExceeded};

#[derive(Clone, Default)]
pub struct Connections {
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

/// A place taken by one socket; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    counts: Arc<Mutex<HashMap<String, u32>>>,
    keys: Vec<String>,
}

impl Connections {
    /// Takes a place for a socket of `tenant` (and `user`), or says which limit is reached.
    pub fn reserve(&self, tenant: &str, user: Option<&str>, limits: &Limits) -> Result<Slot, QuotaExceeded> {
        let mut keys = vec![format!("t/{tenant}")];
        let mut checks = vec![("sockets per tenant", limits.max_sockets_per_tenant)];
        if let Some(u) = user {
            keys.push(format!("u/{tenant}/{u}"));
            checks.push(("sockets per user", limits.max_sockets_per_user));
        }
        let mut counts = self.counts.lock().expect("connections lock");
        for (key, (what, max)) in keys.iter().zip(&checks) {
            if counts.get(key).copied().unwrap_or(0) >= *max {
                return Err(QuotaExceeded::count(what, *max));
            }
        }
        for key in &keys {
            *counts.entry(key.clone()).or_insert(0) += 1;
        }
        Ok(Slot { counts: self.counts.clone(), keys })
    }

    pub fn of_tenant(&self, tenant: &str) -> u32 {
        self.counts.lock().expect("connections lock").get(&format!("t/{tenant}")).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().expect("connections lock");
        for key in &self.keys {
            if let Some(n) = counts.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_tenant_and_user_and_given_back() {
        let c = Connections::default();
        let limits = Limits { max_sockets_per_tenant: 3, max_sockets_per_user: 2, ..Limits::default() };
        let a1 = c.reserve("acme", Some("ana"), &limits).unwrap();
        let _a2 = c.reserve("acme", Some("ana"), &limits).unwrap();
        assert_eq!(c.reserve("acme", Some("ana"), &limits).unwrap_err().what, "sockets per user");
        let _b = c.reserve("acme", Some("bob"), &limits).unwrap();
        assert_eq!(c.reserve("acme", Some("carl"), &limits).unwrap_err().what, "sockets per tenant");
        assert!(c.reserve("other", Some("ana"), &limits).is_ok(), "another tenant has its own count");
        drop(a1);
        assert_eq!(c.of_tenant("acme"), 2);
        assert!(c.reserve("acme", Some("ana"), &limits).is_ok());
    }
}
