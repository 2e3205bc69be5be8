//! When a delivery is tried: the operator's schedule of delays (`webhooks.retry_schedule_secs`),
//! each stretched by up to a tenth at random, so endpoints that failed together are not all
//! tried again in the same instant.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Schedule {
    delays: Vec<Duration>,
}

impl Schedule {
    pub fn new(secs: &[u64]) -> Self {
        Self { delays: secs.iter().map(|s| Duration::from_secs(*s)).collect() }
    }

    /// The wait before attempt `n + 1` once `n` attempts failed; `None` when there is none left.
    pub fn after_failures(&self, n: usize) -> Option<Duration> {
        let base = *self.delays.get(n)?;
        let jitter = rand::rng().random_range(0.0..=0.1);
        Some(base.mul_f64(1.0 + jitter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_follow_the_schedule_with_at_most_a_tenth_more() {
        let s = Schedule::new(&[0, 5, 300]);
        for _ in 0..100 {
            let d = s.after_failures(1).unwrap();
            assert!(d >= Duration::from_secs(5) && d <= Duration::from_millis(5_500), "{d:?}");
            let d = s.after_failures(2).unwrap();
            assert!(d >= Duration::from_secs(300) && d <= Duration::from_secs(330), "{d:?}");
        }
        assert_eq!(s.after_failures(3), None);
    }
}
