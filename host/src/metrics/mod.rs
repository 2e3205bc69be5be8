//! Prometheus metrics (`GET /metrics`; every metric, and example alerts, in
//! docs/operations.md). Each component owns the counters and histograms of what it does
//! (`prometheus-client` handles are shared clones) and the gateway registers them here once at
//! start; what is a state rather than a count (sessions by status, sockets, queue depths,
//! breakers) is read from its owner when scraped (`sampled.rs`).

pub mod requests;
mod sampled;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use sampled::Sources;
use sampled::Sampled;

/// The content type of what `render` returns.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets, in seconds: 0.5 ms up to about 16 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// An event's name (`message.received`, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event: String,
}

/// A plugin and one of its hooks.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HookLabels {
    pub plugin: String,
    pub hook: String,
}

/// The gateway's metrics: what its components registered, and the states read at scrape.
pub struct Metrics {
    registry: Registry,
    sampled: Sampled,
}

impl Metrics {
    /// `register` adds every component's counters and histograms under the `wagate_` prefix.
    pub fn new(register: impl FnOnce(&mut Registry), sources: Sources) -> Self {
        let mut registry = Registry::with_prefix("wagate");
        register(&mut registry);
        let sampled = Sampled::new(&mut registry, sources);
        Self { registry, sampled }
    }

    /// The OpenMetrics text of every metric, the sampled ones read now.
    pub async fn render(&self) -> String {
        self.sampled.refresh().await;
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
