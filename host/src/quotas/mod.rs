//! Limits on everything a tenant's clients or plugins can make grow: sessions, sockets,
//! subscriptions, request and subscribe rates, plugin state and plugin logging.
//!
//! Defaults come from the `[quotas]` config section; the operator overrides any of them per
//! tenant (`PATCH /api/v1/tenants/{id}` with `quotas`). A count over its limit is refused
//! with `quota_exceeded` (403); a rate over its limit with `quota_exceeded` and the time to
//! wait (429 with `Retry-After` on REST).

mod connections;
mod rate;

pub use connections::{Connections, Slot};
pub use rate::Rates;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use utoipa::ToSchema;

/// Every limit, as the config sets its defaults (snake_case keys under `[quotas]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Sessions (WhatsApp numbers) a tenant may have.
    pub max_sessions: u32,
    /// Sockets connected at once, per tenant and per user of a tenant.
    pub max_sockets_per_tenant: u32,
    pub max_sockets_per_user: u32,
    /// Sessions one socket may be subscribed to.
    pub max_subscriptions_per_socket: u32,
    /// `session.subscribe` events one socket may send per minute.
    pub subscribes_per_minute: u32,
    /// REST requests per minute per credential (an API key, or one user of a tenant).
    pub requests_per_minute: u32,
    /// Bytes of keys and values a plugin may keep per tenant (`kv`).
    pub plugin_kv_bytes: u64,
    /// Log lines a plugin may write per tenant binding per minute; the rest are dropped.
    pub plugin_log_lines_per_minute: u32,
    /// HTTP requests the tenant's plugins may send per minute, all together (`http:outbound`).
    pub plugin_http_requests_per_minute: u32,
    /// Webhook endpoints a tenant may have.
    pub max_webhooks: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_sessions: 100,
            max_sockets_per_tenant: 10_000,
            max_sockets_per_user: 50,
            max_subscriptions_per_socket: 100,
            subscribes_per_minute: 600,
            requests_per_minute: 6_000,
            plugin_kv_bytes: 4 * 1024 * 1024,
            plugin_log_lines_per_minute: 600,
            plugin_http_requests_per_minute: 120,
            max_webhooks: 20,
        }
    }
}

/// A tenant's overrides, as the operator sets them (camelCase in the API); absent = default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sessions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sockets_per_tenant: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sockets_per_user: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_subscriptions_per_socket: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribes_per_minute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_kv_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_log_lines_per_minute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_http_requests_per_minute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_webhooks: Option<u32>,
}

impl Limits {
    /// The defaults with a tenant's overrides applied.
    pub fn with(&self, o: &LimitOverrides) -> Limits {
        Limits {
            max_sessions: o.max_sessions.unwrap_or(self.max_sessions),
            max_sockets_per_tenant: o.max_sockets_per_tenant.unwrap_or(self.max_sockets_per_tenant),
            max_sockets_per_user: o.max_sockets_per_user.unwrap_or(self.max_sockets_per_user),
            max_subscriptions_per_socket: o.max_subscriptions_per_socket.unwrap_or(self.max_subscriptions_per_socket),
            subscribes_per_minute: o.subscribes_per_minute.unwrap_or(self.subscribes_per_minute),
            requests_per_minute: o.requests_per_minute.unwrap_or(self.requests_per_minute),
            plugin_kv_bytes: o.plugin_kv_bytes.unwrap_or(self.plugin_kv_bytes),
            plugin_log_lines_per_minute: o.plugin_log_lines_per_minute.unwrap_or(self.plugin_log_lines_per_minute),
            plugin_http_requests_per_minute: o
                .plugin_http_requests_per_minute
                .unwrap_or(self.plugin_http_requests_per_minute),
            max_webhooks: o.max_webhooks.unwrap_or(self.max_webhooks),
        }
    }

    /// Zero would refuse everything, rates cannot be zero at all: both are configuration
    /// mistakes, refused where they are set.
    pub fn check(&self) -> Result<(), String> {
        let counts = [
            ("max_sessions", self.max_sessions),
            ("max_sockets_per_tenant", self.max_sockets_per_tenant),
            ("max_sockets_per_user", self.max_sockets_per_user),
            ("max_subscriptions_per_socket", self.max_subscriptions_per_socket),
            ("subscribes_per_minute", self.subscribes_per_minute),
            ("requests_per_minute", self.requests_per_minute),
            ("plugin_log_lines_per_minute", self.plugin_log_lines_per_minute),
            ("plugin_http_requests_per_minute", self.plugin_http_requests_per_minute),
            ("max_webhooks", self.max_webhooks),
        ];
        match counts.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(format!("quota {name} must be at least 1")),
            None if self.plugin_kv_bytes == 0 => Err("quota plugin_kv_bytes must be at least 1".into()),
            None => Ok(()),
        }
    }
}

/// A limit was reached.
#[derive(Debug, Clone, Error, PartialEq)]
#[error("quota exceeded: {what} (limit {limit})")]
pub struct QuotaExceeded {
    pub what: &'static str,
    pub limit: u64,
    /// Set for rates: when the next attempt can succeed.
    pub retry_after: Option<Duration>,
}

impl QuotaExceeded {
    pub fn count(what: &'static str, limit: impl Into<u64>) -> Self {
        Self { what, limit: limit.into(), retry_after: None }
    }

    /// Whole seconds to wait, at least one (what `Retry-After` carries).
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after.map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0)).map(|s| s.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_name() {
        let d = Limits::default();
        let o = LimitOverrides { max_sessions: Some(2), plugin_kv_bytes: Some(10), ..Default::default() };
        let l = d.with(&o);
        assert_eq!((l.max_sessions, l.plugin_kv_bytes), (2, 10));
        assert_eq!(l.requests_per_minute, d.requests_per_minute);
        assert!(Limits { max_sessions: 0, ..d }.check().is_err());
        assert!(d.check().is_ok());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let q = |ms| QuotaExceeded { what: "x", limit: 1, retry_after: Some(Duration::from_millis(ms)) };
        assert_eq!(q(1).retry_after_secs(), Some(1));
        assert_eq!(q(1000).retry_after_secs(), Some(1));
        assert_eq!(q(1001).retry_after_secs(), Some(2));
        assert_eq!(QuotaExceeded::count("x", 1u32).retry_after_secs(), None);
    }
}
