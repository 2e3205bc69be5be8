//! What the REST API takes and shows of webhooks (docs/webhooks.md).

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use wagate_model::time::{millis, millis_opt};

pub use crate::store::webhooks::BodyFormat;
use crate::store::webhooks::{AttemptRow, DeliveryRow, EndpointRow};

/// A webhook endpoint. Its secret is shown only when made (create, rotate).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    /// `wh_...`.
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    /// Event names and globs (`message.*`, `*`).
    pub events: Vec<String>,
    /// Only these sessions' events; null: every session's and the tenant's own.
    pub sessions: Option<Vec<String>>,
    pub enabled: bool,
    /// Deliveries of one session go out one at a time, in `seq` order.
    pub ordered: bool,
    pub max_concurrency: u32,
    /// `canonical`, or `plugins`: what the tenant's `webhook` plugins make of each event.
    pub body: BodyFormat,
    /// Why the gateway disabled the endpoint, when it did.
    pub disabled_reason: Option<String>,
    /// Since when deliveries have failed without a success in between.
    #[serde(serialize_with = "millis_opt")]
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation still signs beside the current one.
    #[serde(serialize_with = "millis_opt")]
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: String,
    pub updated_at: String,
}

pub fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl From<&EndpointRow> for WebhookView {
    fn from(r: &EndpointRow) -> Self {
        WebhookView {
            id: r.id.clone(),
            url: r.url.clone(),
            description: r.description.clone(),
            events: r.patterns(),
            sessions: r.session_list(),
            enabled: r.enabled,
            ordered: r.ordered,
            max_concurrency: r.max_concurrency as u32,
            body: r.body,
            disabled_reason: r.disabled_reason.clone(),
            failing_since: r.failing_since_ms.map(at_ms),
            previous_secret_until: r.previous_until_ms.filter(|t| *t > Utc::now().timestamp_millis()).map(at_ms),
            created_at: crate::events::iso(r.created_at),
            updated_at: crate::events::iso(r.updated_at),
        }
    }
}

/// An endpoint with its new secret: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_<base64>`: verify signatures with it (Standard Webhooks).
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhook {
    /// `https://...` (or `http://`); must reach a public address unless the operator allows its network.
    pub url: String,
    /// Event names and globs; default `["*"]`.
    pub events: Option<Vec<String>>,
    pub sessions: Option<Vec<String>>,
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Default false.
    pub ordered: Option<bool>,
    /// Default 4, at most the operator's `webhooks.max_concurrency`.
    pub max_concurrency: Option<u32>,
    /// Default `canonical`.
    pub body: Option<BodyFormat>,
}

/// A partial update: absent fields stay; `sessions` and `description` may be set to null.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchWebhook {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::api::present_or_null")]
    #[schema(value_type = Option<Vec<String>>)]
    pub sessions: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "crate::api::present_or_null")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Enabling a disabled endpoint clears why it was disabled; it gets events from now on
    /// (replay the ones it missed).
    pub enabled: Option<bool>,
    pub ordered: Option<bool>,
    pub max_concurrency: Option<u32>,
    pub body: Option<BodyFormat>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret keeps signing beside the new one: 0 to 604800 s, default 86400.
    pub overlap_secs: Option<u64>,
}

/// One delivery of one event to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// `dlv_...`.
    pub id: String,
    pub webhook_id: String,
    /// The `webhook-id` header it is sent with: the same for every attempt and every replay
    /// of the event, so receivers can drop duplicates.
    pub message_id: String,
    /// The journal's event; null for a test event.
    pub seq: Option<u64>,
    pub session_id: Option<String>,
    pub event: String,
    /// `pending`, `delivered`, `dead`, or `skipped` (a plugin gave the event no body).
    pub state: String,
    pub attempts: u32,
    /// When a pending delivery is tried next.
    #[serde(serialize_with = "millis_opt")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    #[serde(serialize_with = "millis")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "millis_opt")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first (in a single delivery's view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<AttemptView>>,
}

impl DeliveryView {
    pub fn new(r: &DeliveryRow, attempts: Option<Vec<AttemptRow>>) -> Self {
        DeliveryView {
            id: r.id.clone(),
            webhook_id: r.endpoint_id.clone(),
            message_id: super::message_id(&r.tenant_id, r.seq, &r.id),
            seq: r.seq.map(|s| s as u64),
            session_id: r.session_id.clone(),
            event: r.event.clone(),
            state: r.state.clone(),
            attempts: r.attempts as u32,
            next_attempt_at: (r.state == crate::store::webhooks::PENDING).then(|| at_ms(r.next_attempt_ms)),
            last_status: r.last_status.map(|s| s as u16),
            last_error: r.last_error.clone(),
            created_at: at_ms(r.created_ms),
            finished_at: r.finished_ms.map(at_ms),
            attempt_log: attempts.map(|list| list.iter().map(AttemptView::from).collect()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub n: u32,
    #[serde(serialize_with = "millis")]
    pub at: DateTime<Utc>,
    /// The HTTP status, when the receiver answered.
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// Why it failed, or why nothing was sent.
    pub error: Option<String>,
    /// The start of the receiver's answer (at most 1 KiB).
    pub response_excerpt: Option<String>,
}

impl From<&AttemptRow> for AttemptView {
    fn from(a: &AttemptRow) -> Self {
        AttemptView {
            n: a.n as u32,
            at: at_ms(a.at_ms),
            status: a.status.map(|s| s as u16),
            latency_ms: a.latency_ms.max(0) as u64,
            error: a.error.clone(),
            response_excerpt: a.response_excerpt.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// `pending`, `delivered`, `dead` or `skipped`.
    pub state: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<u32>,
    /// A delivery id: the page of older ones.
    pub before: Option<String>,
}

/// Exactly one of `fromSeq` and `since`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayRequest {
    /// Every journaled event from this `seq` on.
    pub from_seq: Option<u64>,
    /// Every journaled event written at or after this time.
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Replayed {
    /// Deliveries queued: the journaled events from `fromSeq` on that the endpoint's filters take.
    pub queued: u64,
    pub from_seq: Option<u64>,
}
