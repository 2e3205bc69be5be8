//! Call counts, error counts and latency percentiles per plugin and hook.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde::Serialize;
use utoipa::ToSchema;

use super::manifest::Hook;
use crate::metrics::{HookLabels, latency_histogram};

/// Percentiles come from the most recent calls only, so they follow the current version.
const WINDOW: usize = 1024;

#[derive(Default)]
struct HookStats {
    calls: u64,
    errors: u64,
    recent_us: VecDeque<u32>,
}

#[derive(Default)]
pub struct Metrics {
    hooks: Mutex<BTreeMap<Hook, HookStats>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookView {
    /// Events the hook handled (each event of a transform batch counts once).
    pub calls: u64,
    /// Of those, the ones the plugin failed on.
    pub errors: u64,
    /// Time per event over the recent calls (a batch's time is shared by its events).
    pub p50_us: u32,
    pub p99_us: u32,
}

impl Metrics {
    /// A call that handled `events` events (several for a transform batch): each counts as a
    /// call taking its share of the time, and as an error when the call failed, so the numbers
    /// read the same whether or not events were batched.
    pub fn record(&self, hook: Hook, took: Duration, events: usize, failed: bool) {
        let events = events.max(1);
        let per_event_us = (took.as_micros() / events as u128).min(u32::MAX as u128) as u32;
        let mut hooks = self.hooks.lock().expect("metrics lock");
        let h = hooks.entry(hook).or_default();
        h.calls += events as u64;
        if failed {
            h.errors += events as u64;
        }
        for _ in 0..events.min(WINDOW) {
            if h.recent_us.len() == WINDOW {
                h.recent_us.pop_front();
            }
            h.recent_us.push_back(per_event_us);
        }
    }

    pub fn view(&self) -> BTreeMap<Hook, HookView> {
        let hooks = self.hooks.lock().expect("metrics lock");
        hooks
            .iter()
            .map(|(hook, h)| {
                let mut sorted: Vec<u32> = h.recent_us.iter().copied().collect();
                sorted.sort_unstable();
                let pct = |p: f64| sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0);
                (*hook, HookView { calls: h.calls, errors: h.errors, p50_us: pct(0.5), p99_us: pct(0.99) })
            })
            .collect()
    }
}

/// The same calls as Prometheus series, by plugin and hook, and the outcome of every load.
#[derive(Clone)]
pub struct Exported {
    calls: Family<HookLabels, Counter>,
    errors: Family<HookLabels, Counter>,
    latency: Family<HookLabels, Histogram, fn() -> Histogram>,
    loads: Family<LoadLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    request_latency: Family<PluginLabels, Histogram, fn() -> Histogram>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    plugin: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoadLabels {
    plugin: String,
    outcome: &'static str,
}

impl Default for Exported {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            errors: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            loads: Family::default(),
            requests: Family::default(),
            request_latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl Exported {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("plugin_calls", "Events plugin hooks handled, by plugin and hook", self.calls.clone());
        registry.register("plugin_errors", "Of those, the ones the plugin failed on", self.errors.clone());
        registry.register(
            "plugin_call_duration_seconds",
            "Duration of one hook call (a transform batch is one call)",
            self.latency.clone(),
        );
        registry.register(
            "plugin_loads",
            "Plugin folder (re)loads by outcome: loaded, refused, unchanged, unloaded",
            self.loads.clone(),
        );
        registry.register(
            "plugin_http_requests",
            "HTTP requests plugins sent (http:outbound), by outcome: answered (any status), invalid, denied, quota_exceeded, timeout, too_large, failed",
            self.requests.clone(),
        );
        registry.register(
            "plugin_http_request_duration_seconds",
            "Time a plugin's HTTP request took, refused ones included",
            self.request_latency.clone(),
        );
    }

    /// A plugin's HTTP request ended with `outcome` after `took`.
    pub fn request(&self, plugin: &str, outcome: &'static str, took: Duration) {
        self.requests.get_or_create(&RequestLabels { plugin: plugin.to_owned(), outcome }).inc();
        self.request_latency.get_or_create(&PluginLabels { plugin: plugin.to_owned() }).observe(took.as_secs_f64());
    }

    pub fn call(&self, plugin: &str, hook: Hook, took: Duration, events: usize, failed: bool) {
        let labels = HookLabels { plugin: plugin.to_owned(), hook: hook.name().to_owned() };
        let events = events.max(1) as u64;
        self.calls.get_or_create(&labels).inc_by(events);
        if failed {
            self.errors.get_or_create(&labels).inc_by(events);
        }
        self.latency.get_or_create(&labels).observe(took.as_secs_f64());
    }

    pub fn load(&self, plugin: &str, outcome: &'static str) {
        self.loads.get_or_create(&LoadLabels { plugin: plugin.to_owned(), outcome }).inc();
    }
}
