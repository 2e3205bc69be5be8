//! The watchdog's view of a session's live connection: when WhatsApp was last heard from on
//! it, and whether a probe is out. The actor writes it; `GET /sessions/{id}` and the metrics
//! read it without asking the actor.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;

use crate::model::Liveness as LivenessView;

/// Written by one actor, read by anyone.
#[derive(Default)]
pub(super) struct Liveness {
    /// Milliseconds since the epoch of the last traffic; 0 while there is no connection.
    last_traffic_ms: AtomicI64,
    probing: AtomicBool,
}

impl Liveness {
    pub(super) fn heard(&self, at: DateTime<Utc>) {
        self.last_traffic_ms.store(at.timestamp_millis(), Ordering::Relaxed);
    }

    pub(super) fn probing(&self, out: bool) {
        self.probing.store(out, Ordering::Relaxed);
    }

    /// The connection is gone.
    pub(super) fn lost(&self) {
        self.last_traffic_ms.store(0, Ordering::Relaxed);
        self.probing.store(false, Ordering::Relaxed);
    }

    pub(super) fn view(&self, now: DateTime<Utc>) -> Option<LivenessView> {
        let ms = self.last_traffic_ms.load(Ordering::Relaxed);
        let last_traffic_at = DateTime::<Utc>::from_timestamp_millis(ms).filter(|_| ms > 0)?;
        Some(LivenessView {
            last_traffic_at,
            silent_for_ms: u64::try_from((now - last_traffic_at).num_milliseconds()).unwrap_or(0),
            probing: self.probing.load(Ordering::Relaxed),
        })
    }
}

/// Counts of what the watchdog did, shared by every actor.
#[derive(Clone, Default)]
pub struct WatchdogMetrics {
    pub(super) probes: Counter,
    pub(super) stale: Counter,
}

impl WatchdogMetrics {
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register("session_probes", "Probes the watchdog sent on silent connections", self.probes.clone());
        registry.register(
            "sessions_stale",
            "Connections the watchdog found dead (a probe unanswered) and reconnected",
            self.stale.clone(),
        );
    }
}
