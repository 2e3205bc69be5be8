//! States read from their owners at each scrape: counting them live would mean hooking every
//! place that changes them, and a scrape every few seconds costs less than that.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use socketioxide::SocketIo;

use crate::plugins::{BreakerState, Plugins};
use crate::realtime;
use crate::sessions::Sessions;
use crate::store::{self, Store};

/// Where the sampled states are read.
pub struct Sources {
    pub store: Store,
    pub io: SocketIo,
    pub plugins: Plugins,
    pub sessions: Sessions,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionStatusLabels {
    connector: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionLabels {
    tenant: String,
    session: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakerLabels {
    tenant: String,
    plugin: String,
    state: &'static str,
}

pub(super) struct Sampled {
    sources: Sources,
    sessions: Family<SessionStatusLabels, Gauge>,
    sockets: Gauge,
    outbound: Family<SessionLabels, Gauge>,
    silence: Family<SessionLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    breakers: Family<BreakerLabels, Gauge>,
}

impl Sampled {
    pub(super) fn new(registry: &mut Registry, sources: Sources) -> Self {
        let s = Self {
            sources,
            sessions: Family::default(),
            sockets: Gauge::default(),
            outbound: Family::default(),
            silence: Family::default(),
            breakers: Family::default(),
        };
        registry.register("sessions", "Sessions by connector and status", s.sessions.clone());
        registry.register("sockets", "Connected Socket.IO clients", s.sockets.clone());
        registry.register(
            "outbound_pending",
            "Outbound messages a session has accepted and not yet handed to WhatsApp",
            s.outbound.clone(),
        );
        registry.register(
            "session_silence_seconds",
            "Time since a connected session's connection last carried anything (the watchdog probes past its limit)",
            s.silence.clone(),
        );
        registry.register(
            "plugin_breaker",
            "A binding's circuit breaker: 1 for its current state",
            s.breakers.clone(),
        );
        s
    }

    /// Reads every state again. A query that fails leaves its family empty for this scrape
    /// (and says why in the log) rather than failing the other metrics.
    pub(super) async fn refresh(&self) {
        let pool = self.sources.store.pool();
        self.sessions.clear();
        match store::sessions::count_by_status(pool).await {
            Ok(rows) => {
                for (connector, status, n) in rows {
                    self.sessions.get_or_create(&SessionStatusLabels { connector, status }).set(n);
                }
            }
            Err(e) => tracing::warn!(error = %e, "metrics: sessions by status not read"),
        }
        self.outbound.clear();
        match store::messages::pending_outbound(pool).await {
            Ok(rows) => {
                for (tenant, session, n) in rows {
                    self.outbound.get_or_create(&SessionLabels { tenant, session }).set(n);
                }
            }
            Err(e) => tracing::warn!(error = %e, "metrics: pending outbound not read"),
        }
        self.silence.clear();
        for (key, liveness) in self.sources.sessions.liveness_all() {
            let labels = SessionLabels { tenant: key.tenant, session: key.session };
            self.silence.get_or_create(&labels).set(liveness.silent_for_ms as f64 / 1000.0);
        }
        self.sockets.set(realtime::connected_sockets(&self.sources.io) as i64);
        self.breakers.clear();
        for (tenant, plugin, state) in self.sources.plugins.breakers() {
            let state = match state {
                BreakerState::Closed => "closed",
                BreakerState::Open => "open",
                BreakerState::HalfOpen => "half-open",
            };
            self.breakers.get_or_create(&BreakerLabels { tenant, plugin, state }).set(1);
        }
    }
}
