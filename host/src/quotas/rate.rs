//! Rates, by key, with `governor` (GCRA): each key may burst its whole per-minute budget and
//! then earns it back evenly.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::QuotaExceeded;

/// One keyed limiter per distinct rate in use (a tenant's override is its own rate), so a
/// changed override starts from a fresh budget and every key is tracked only while it is busy.
#[derive(Clone, Default)]
pub struct Rates {
    by_rate: Arc<Mutex<HashMap<NonZeroU32, Arc<DefaultKeyedRateLimiter<String>>>>>,
}

impl Rates {
    /// Counts one event of `key` against `per_minute`.
    pub fn check(&self, what: &'static str, key: &str, per_minute: u32) -> Result<(), QuotaExceeded> {
        let rate = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let limiter = {
            let mut by_rate = self.by_rate.lock().expect("rates lock");
            by_rate.entry(rate).or_insert_with(|| Arc::new(RateLimiter::keyed(Quota::per_minute(rate)))).clone()
        };
        // Allocates the key only when it is new to the limiter.
        limiter.check_key(&key.to_owned()).map_err(|not_until| QuotaExceeded {
            what,
            limit: u64::from(per_minute),
            retry_after: Some(not_until.wait_time_from(DefaultClock::default().now())),
        })
    }

    /// Drops the state of keys whose budget is full again: what a finished client or socket
    /// leaves behind does not stay.
    pub fn forget_idle(&self) {
        let limiters: Vec<_> = self.by_rate.lock().expect("rates lock").values().cloned().collect();
        for l in limiters {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Keys tracked now (for tests of `forget_idle`).
    pub fn tracked(&self) -> usize {
        self.by_rate.lock().expect("rates lock").values().map(|l| l.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_budget_then_a_wait_and_other_keys_are_untouched() {
        let rates = Rates::default();
        for _ in 0..3 {
            rates.check("requests", "a", 3).unwrap();
        }
        let over = rates.check("requests", "a", 3).unwrap_err();
        assert_eq!(over.what, "requests");
        let wait = over.retry_after.unwrap();
        assert!(wait > std::time::Duration::from_secs(10) && wait <= std::time::Duration::from_secs(20), "{wait:?}");
        rates.check("requests", "b", 3).unwrap();
        // A different rate (a changed override) is a fresh budget.
        rates.check("requests", "a", 4).unwrap();
        assert_eq!(rates.tracked(), 3);
    }
}
