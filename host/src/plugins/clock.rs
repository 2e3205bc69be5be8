//! The time plugins read (the `clock` capability). The simulator can move it
//! (`POST /api/v1/sim/clock`), so a test decides what time a bot sees (business hours,
//! cooldowns) without waiting for it; the rest of the gateway keeps real time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// How far from real time the plugins' clock may be moved, either way: ten years.
pub const MAX_OFFSET_MS: i64 = 10 * 366 * 24 * 3_600_000;

#[derive(Clone, Default)]
pub struct PluginClock(Arc<AtomicI64>);

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("the plugins' clock may be at most {MAX_OFFSET_MS} ms from real time (it would be {0} ms)")]
pub struct TooFar(pub i64);

impl PluginClock {
    /// Milliseconds since the epoch, as plugins see them.
    pub fn now_ms(&self) -> u64 {
        (chrono::Utc::now().timestamp_millis().saturating_add(self.offset_ms())).max(0) as u64
    }

    /// How far the clock is from real time.
    pub fn offset_ms(&self) -> i64 {
        self.0.load(Ordering::Acquire)
    }

    /// Moves the clock by `by_ms` (back when negative); returns the new offset.
    pub fn advance(&self, by_ms: i64) -> Result<i64, TooFar> {
        let mut current = self.offset_ms();
        loop {
            let next = current.saturating_add(by_ms);
            if next.abs() > MAX_OFFSET_MS {
                return Err(TooFar(next));
            }
            match self.0.compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(next),
                Err(seen) => current = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_both_ways_within_its_bounds() {
        let clock = PluginClock::default();
        let real = chrono::Utc::now().timestamp_millis() as u64;
        assert!(clock.now_ms().abs_diff(real) < 1_000);
        assert_eq!(clock.advance(3_600_000), Ok(3_600_000));
        assert!(clock.now_ms().abs_diff(real + 3_600_000) < 1_000);
        assert_eq!(clock.advance(-7_200_000), Ok(-3_600_000));
        assert_eq!(clock.advance(MAX_OFFSET_MS), Ok(MAX_OFFSET_MS - 3_600_000));
        assert_eq!(clock.advance(7_200_000), Err(TooFar(MAX_OFFSET_MS + 3_600_000)));
        assert!(clock.advance(i64::MAX).is_err(), "refused, not wrapped");
        assert_eq!(clock.offset_ms(), MAX_OFFSET_MS - 3_600_000);
    }
}
