//! A tenant's binding of a plugin: its config, order, error policy, breaker, and the warm
//! instance that serves it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::breaker::{Breaker, BreakerView};
use super::manifest::Hook;
use super::metrics::{HookView, Metrics};
use super::outbound::HostPattern;
use super::sandbox::Instance;
use crate::store::plugins::BindingRow;

/// What happens to an event when the plugin fails on it (or its breaker is open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Handle the event as if the plugin were not bound (canonical dialect for transforms).
    #[default]
    Passthrough,
    /// Do nothing with the event.
    Drop,
}

pub struct Warm {
    pub loaded_id: u64,
    pub instance: Instance,
}

pub struct Binding {
    pub tenant: String,
    pub plugin: String,
    pub enabled: bool,
    /// The tenant's own config; plugin.toml defaults are merged under it.
    pub config: Value,
    pub priority: i64,
    pub on_error: OnError,
    /// Where the tenant lets this binding send HTTP requests (`http:outbound`).
    pub allowed_hosts: Vec<HostPattern>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub breaker: Mutex<Breaker>,
    pub warm: tokio::sync::Mutex<Option<Warm>>,
    /// Smoothed transform time per event in ns, 0 while unknown: sizes the batches.
    transform_ns: AtomicU64,
    /// This binding's own calls (a tenant sees these, never the plugin's totals over every
    /// tenant); they start again when the binding changes.
    pub calls: Metrics,
}

/// Most events one transform call carries.
pub const MAX_BATCH: usize = 64;

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingView {
    pub plugin: String,
    pub enabled: bool,
    #[schema(value_type = Object)]
    pub config: Value,
    pub priority: i64,
    pub on_error: OnError,
    /// Hosts this binding may send HTTP requests to, within what the plugin and the operator
    /// allow (plugins granted `http:outbound`).
    #[schema(value_type = Vec<String>)]
    pub allowed_hosts: Vec<HostPattern>,
    /// Version serving this binding; null when the plugin is not loaded.
    pub version: Option<String>,
    pub breaker: BreakerView,
    /// Per hook since the binding last changed: calls, errors, p50/p99 call time.
    pub calls: std::collections::BTreeMap<Hook, HookView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Binding {
    pub fn from_row(row: BindingRow, threshold: u32, cooldown: Duration) -> Self {
        Self {
            config: serde_json::from_str(&row.config).unwrap_or_else(|_| Value::Object(Default::default())),
            on_error: if row.on_error == "drop" { OnError::Drop } else { OnError::Passthrough },
            // Written by `bind` from checked patterns; a row that no longer parses allows nothing.
            allowed_hosts: serde_json::from_str(&row.allowed_hosts).unwrap_or_default(),
            tenant: row.tenant_id,
            plugin: row.plugin,
            enabled: row.enabled,
            priority: row.priority,
            created_at: row.created_at,
            updated_at: row.updated_at,
            breaker: Mutex::new(Breaker::new(threshold, cooldown)),
            warm: tokio::sync::Mutex::new(None),
            transform_ns: AtomicU64::new(0),
            calls: Metrics::default(),
        }
    }

    /// Events per transform call: as many as the binding's measured cost per event fits into
    /// a quarter of the call deadline (a batch is one call with one deadline, so a slow plugin
    /// gets small batches), at most [`MAX_BATCH`]; one at a time until that cost is known.
    pub fn batch_limit(&self, deadline: Duration) -> usize {
        match self.transform_ns.load(Ordering::Relaxed) {
            0 => 1,
            per_event => ((deadline.as_nanos() as u64 / 4) / per_event).clamp(1, MAX_BATCH as u64) as usize,
        }
    }

    /// A transform call of `events` events took `took`; `None` when it faulted, which sends the
    /// binding back to single events until its cost is measured again.
    pub fn observe_transform(&self, took: Option<Duration>, events: usize) {
        let sample = match took {
            Some(t) => (t.as_nanos() as u64 / events.max(1) as u64).max(1),
            None => return self.transform_ns.store(0, Ordering::Relaxed),
        };
        let old = self.transform_ns.load(Ordering::Relaxed);
        let new = if old == 0 { sample } else { (old * 3 + sample) / 4 };
        self.transform_ns.store(new.max(1), Ordering::Relaxed);
    }

    pub fn view(&self, version: Option<String>) -> BindingView {
        BindingView {
            plugin: self.plugin.clone(),
            enabled: self.enabled,
            config: self.config.clone(),
            priority: self.priority,
            on_error: self.on_error,
            allowed_hosts: self.allowed_hosts.clone(),
            version,
            breaker: self.breaker.lock().expect("breaker lock").view(),
            calls: self.calls.view(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// plugin.toml defaults with the tenant's config over them (top-level keys).
pub fn merged_config(defaults: &Value, own: &Value) -> String {
    let mut merged = defaults.as_object().cloned().unwrap_or_default();
    if let Some(own) = own.as_object() {
        merged.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Value::Object(merged).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> Binding {
        let row = BindingRow {
            tenant_id: "t".into(),
            plugin: "p".into(),
            enabled: true,
            config: "{}".into(),
            priority: 100,
            on_error: "passthrough".into(),
            allowed_hosts: "[]".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        Binding::from_row(row, 5, Duration::from_secs(1))
    }

    #[test]
    fn batches_fit_a_quarter_of_the_deadline_at_the_measured_cost() {
        let deadline = Duration::from_millis(50);
        let b = binding();
        assert_eq!(b.batch_limit(deadline), 1, "unknown cost: one event per call");
        b.observe_transform(Some(Duration::from_millis(5)), 1);
        assert_eq!(b.batch_limit(deadline), 2, "5 ms per event: 12.5 ms holds two");
        b.observe_transform(Some(Duration::from_micros(30)), 10);
        assert_eq!(b.batch_limit(deadline), 3, "one quick batch moves the estimate a quarter of the way");
        for _ in 0..40 {
            b.observe_transform(Some(Duration::from_micros(64)), 16);
        }
        assert_eq!(b.batch_limit(deadline), MAX_BATCH, "4 us per event: capped");
        b.observe_transform(None, 16);
        assert_eq!(b.batch_limit(deadline), 1, "a fault: single events until measured again");
    }
}
