//! Per-binding circuit breaker: after `threshold` consecutive faults the plugin is skipped
//! for `cooldown`, then one trial call decides whether it closes again.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    consecutive: u32,
    total: u64,
    open_until: Option<Instant>,
    opened_at: Option<DateTime<Utc>>,
    trial_running: bool,
    last_fault: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakerView {
    pub state: BreakerState,
    pub consecutive_faults: u32,
    pub total_faults: u64,
    pub opened_at: Option<DateTime<Utc>>,
    pub last_fault: Option<String>,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            consecutive: 0,
            total: 0,
            open_until: None,
            opened_at: None,
            trial_running: false,
            last_fault: None,
        }
    }

    fn state(&self) -> BreakerState {
        match self.open_until {
            None => BreakerState::Closed,
            Some(t) if Instant::now() < t => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// Whether a call may go to the plugin now. In half-open state only one trial runs.
    pub fn allow(&mut self) -> bool {
        match self.state() {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen if self.trial_running => false,
            BreakerState::HalfOpen => {
                self.trial_running = true;
                true
            }
        }
    }

    pub fn success(&mut self) {
        self.consecutive = 0;
        self.open_until = None;
        self.opened_at = None;
        self.trial_running = false;
    }

    pub fn fault(&mut self, what: String) {
        self.consecutive += 1;
        self.total += 1;
        self.last_fault = Some(what);
        let trial_failed = self.trial_running;
        self.trial_running = false;
        if trial_failed || self.consecutive >= self.threshold {
            self.open_until = Some(Instant::now() + self.cooldown);
            self.opened_at = Some(Utc::now());
        }
    }

    pub fn view(&self) -> BreakerView {
        BreakerView {
            state: self.state(),
            consecutive_faults: self.consecutive,
            total_faults: self.total,
            opened_at: self.opened_at,
            last_fault: self.last_fault.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_recovers_after_a_good_trial() {
        let mut b = Breaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            assert!(b.allow());
            b.fault("x".into());
        }
        assert_eq!(b.view().state, BreakerState::Closed);
        b.fault("x".into());
        assert_eq!(b.view().state, BreakerState::Open);
        assert!(!b.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allow(), "one trial after the cool-down");
        assert!(!b.allow(), "only one trial at a time");
        b.fault("again".into());
        assert_eq!(b.view().state, BreakerState::Open, "a failed trial reopens at once");
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allow());
        b.success();
        assert_eq!(b.view().state, BreakerState::Closed);
        assert_eq!(b.view().total_faults, 4);
    }
}
