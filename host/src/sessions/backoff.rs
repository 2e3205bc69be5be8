use std::time::Duration;

use rand::Rng;

/// Capped exponential backoff with "equal jitter": half the step is fixed, half random, so
/// many sessions dropped by one outage do not come back in lockstep.
pub fn delay(attempt: u32, initial_ms: u64, max_ms: u64) -> Duration {
    let step = initial_ms.saturating_mul(1u64 << attempt.min(20)).min(max_ms);
    let half = step / 2;
    let jitter = if half > 0 { rand::rng().random_range(0..=half) } else { 0 };
    Duration::from_millis(half + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        for attempt in 0..30 {
            let d = delay(attempt, 100, 5_000).as_millis() as u64;
            let step = (100u64 << attempt.min(20)).min(5_000);
            assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d}");
        }
    }
}
