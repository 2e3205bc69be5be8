//! A tenant's binding of a plugin: its config, order, error policy, breaker, and the warm
//! instance that serves it.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::breaker::{Breaker, BreakerView};
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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub breaker: Mutex<Breaker>,
    pub warm: tokio::sync::Mutex<Option<Warm>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingView {
    pub plugin: String,
    pub enabled: bool,
    #[schema(value_type = Object)]
    pub config: Value,
    pub priority: i64,
    pub on_error: OnError,
    /// Version serving this binding; null when the plugin is not loaded.
    pub version: Option<String>,
    pub breaker: BreakerView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Binding {
    pub fn from_row(row: BindingRow, threshold: u32, cooldown: Duration) -> Self {
        Self {
            config: serde_json::from_str(&row.config).unwrap_or_else(|_| Value::Object(Default::default())),
            on_error: if row.on_error == "drop" { OnError::Drop } else { OnError::Passthrough },
            tenant: row.tenant_id,
            plugin: row.plugin,
            enabled: row.enabled,
            priority: row.priority,
            created_at: row.created_at,
            updated_at: row.updated_at,
            breaker: Mutex::new(Breaker::new(threshold, cooldown)),
            warm: tokio::sync::Mutex::new(None),
        }
    }

    pub fn view(&self, version: Option<String>) -> BindingView {
        BindingView {
            plugin: self.plugin.clone(),
            enabled: self.enabled,
            config: self.config.clone(),
            priority: self.priority,
            on_error: self.on_error,
            version,
            breaker: self.breaker.lock().expect("breaker lock").view(),
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
