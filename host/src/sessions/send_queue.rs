//! The send queue as the rest of the gateway sees it: which policies are allowed, what the
//! queue is doing right now (written by the session's actor, read by REST and by a send that
//! finds the queue full), and its metrics. The pacing itself is `pacing.rs`; the actor's
//! outbox (`actor/outbox.rs`) applies it.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use thiserror::Error;

use crate::model::{QueueState, QueueWait, SendPolicy};

/// Bounds of a policy: past them a session could hold sends back for days, or keep more
/// waiting than its actor should read on each pass over the queue.
const MAX_PER_MINUTE: u32 = 6_000;
const MAX_PER_RECIPIENT_SECS: u32 = 86_400;
const MAX_JITTER_MS: u32 = 600_000;
const MAX_MS_PER_CHAR: u32 = 1_000;
const MAX_WARM_UP_DAYS: u32 = 365;
const MAX_WARM_UP_PER_DAY: u32 = 100_000;
const MAX_DEPTH: u32 = 10_000;

/// A full queue asks a caller to come back after the next message is due, and after this
/// when that is not known (the session is not connected).
const RETRY_UNKNOWN: Duration = Duration::from_secs(5);

/// Why a policy is refused: the field (as the API names it) and what it must be.
#[derive(Debug, Error)]
#[error("{field} must be {rule}")]
pub struct PolicyError {
    pub field: &'static str,
    pub rule: String,
}

pub fn check(p: &SendPolicy) -> Result<(), PolicyError> {
    let within = |field: &'static str, v: u32, lo: u32, hi: u32| {
        if (lo..=hi).contains(&v) { Ok(()) } else { Err(PolicyError { field, rule: format!("{lo} to {hi}") }) }
    };
    within("perMinute", p.per_minute, 0, MAX_PER_MINUTE)?;
    within("perRecipientSecs", p.per_recipient_secs, 0, MAX_PER_RECIPIENT_SECS)?;
    within("jitterMs", p.jitter_ms, 0, MAX_JITTER_MS)?;
    within("humanlikeMsPerChar", p.humanlike_ms_per_char, 1, MAX_MS_PER_CHAR)?;
    within("maxDepth", p.max_depth, 1, MAX_DEPTH)?;
    if let Some(w) = &p.warm_up {
        within("warmUp.days", w.days, 1, MAX_WARM_UP_DAYS)?;
        within("warmUp.perDay", w.per_day, 1, MAX_WARM_UP_PER_DAY)?;
    }
    Ok(())
}

/// Until when the warm-up cap applies to a device linked at `linked_at`, if it does at all.
pub fn warm_up_until(p: &SendPolicy, linked_at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    let days = p.warm_up?.days;
    linked_at.map(|at| at + chrono::Duration::days(i64::from(days)))
}

/// A queue with nothing in it: what a session shows before its actor's first pass.
pub(super) fn idle(max_depth: u32) -> QueueState {
    QueueState { depth: 0, max_depth, waiting_for: None, next_send_at: None, oldest_queued_at: None }
}

/// What the queue is doing, as its actor last saw it.
pub(super) struct Gauge(Mutex<QueueState>);

impl Gauge {
    pub(super) fn new(max_depth: u32) -> Self {
        Self(Mutex::new(idle(max_depth)))
    }

    pub(super) fn get(&self) -> QueueState {
        self.0.lock().expect("queue gauge").clone()
    }

    pub(super) fn set(&self, state: QueueState) {
        *self.0.lock().expect("queue gauge") = state;
    }
}

/// How long a caller refused by a full queue should wait: until the next message is due.
pub(super) fn retry_after(state: &QueueState, now: DateTime<Utc>) -> Duration {
    match (state.waiting_for, state.next_send_at) {
        (Some(QueueWait::NotConnected) | None, _) | (_, None) => RETRY_UNKNOWN,
        (_, Some(at)) => (at - now).to_std().unwrap_or_default().max(Duration::from_secs(1)),
    }
}

/// Where a refused send came from.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusedLabels {
    /// `api` (answered 429) or `plugin` (the action was dropped).
    pub source: &'static str,
    pub reason: &'static str,
}

/// Shared by every session's queue.
#[derive(Clone)]
pub struct QueueMetrics {
    refused: Family<RefusedLabels, Counter>,
    pub(super) wait: Histogram,
}

impl Default for QueueMetrics {
    fn default() -> Self {
        // From a few milliseconds (no pacing) to hours (a warm-up cap).
        Self { refused: Family::default(), wait: Histogram::new(exponential_buckets(0.005, 4.0, 12)) }
    }
}

impl QueueMetrics {
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "send_queue_refused",
            "Sends refused because the session's queue was full: REST answered 429, a plugin's send was dropped",
            self.refused.clone(),
        );
        registry.register(
            "send_queue_wait_seconds",
            "Time from a send's acceptance to its hand-over to WhatsApp",
            self.wait.clone(),
        );
    }

    /// A send from `source` (`api`, `plugin`) found the queue full.
    pub fn refused(&self, source: &'static str) {
        self.refused.get_or_create(&RefusedLabels { source, reason: "queue_full" }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::WarmUp;

    #[test]
    fn policies_past_their_bounds_are_refused_with_the_field() {
        assert!(check(&SendPolicy::default()).is_ok());
        let e = check(&SendPolicy { per_minute: 6_001, ..SendPolicy::default() }).unwrap_err();
        assert_eq!(e.to_string(), "perMinute must be 0 to 6000");
        let e = check(&SendPolicy { max_depth: 0, ..SendPolicy::default() }).unwrap_err();
        assert_eq!(e.field, "maxDepth");
        let e =
            check(&SendPolicy { warm_up: Some(WarmUp { days: 3, per_day: 0 }), ..SendPolicy::default() }).unwrap_err();
        assert_eq!(e.field, "warmUp.perDay");
    }

    #[test]
    fn a_full_queue_names_the_next_due_time_rounded_up_to_a_second() {
        let now = Utc::now();
        let mut state = idle(10);
        assert_eq!(retry_after(&state, now), RETRY_UNKNOWN);
        state.waiting_for = Some(QueueWait::Rate);
        state.next_send_at = Some(now + chrono::Duration::milliseconds(200));
        assert_eq!(retry_after(&state, now), Duration::from_secs(1));
        state.next_send_at = Some(now + chrono::Duration::seconds(90));
        assert_eq!(retry_after(&state, now), Duration::from_secs(90));
    }

    #[test]
    fn the_warm_up_runs_from_linking() {
        let linked = Utc::now();
        let p = SendPolicy { warm_up: Some(WarmUp { days: 7, per_day: 20 }), ..SendPolicy::default() };
        assert_eq!(warm_up_until(&p, Some(linked)), Some(linked + chrono::Duration::days(7)));
        assert_eq!(warm_up_until(&p, None), None);
        assert_eq!(warm_up_until(&SendPolicy::default(), Some(linked)), None);
    }
}
