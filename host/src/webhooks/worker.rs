//! One delivery worker per enabled endpoint: it tries the endpoint's due deliveries, up to its
//! concurrency (one per session when it is ordered), records every attempt, schedules the
//! retry or gives up, and disables the endpoint that has failed for too long. A slow or dead
//! endpoint holds up only its own worker.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::{Inner, signing};
use crate::egress::{Refusal, refusal_in};
use crate::events::Event;
use crate::plugins::WebhookShape;
use crate::store::webhooks::{self as rows, AttemptRecord, BodyFormat, DeliveryRow, DueRow, EndpointRow};

/// The most of a receiver's answer an attempt keeps.
pub const EXCERPT_BYTES: usize = 1024;

/// What one attempt found.
pub struct Outcome {
    pub delivery_id: String,
    pub n: i64,
    /// Attempts before the last resend, which the schedule does not count.
    pub retry_base: i64,
    pub at_ms: i64,
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub excerpt: Option<String>,
    /// A plugin gave no body: nothing was sent (`error` says which plugin).
    pub skipped: bool,
}

/// What an attempt sends.
pub enum Body {
    Send(String),
    /// Nothing, for this reason; the delivery ends `skipped`.
    Skip(String),
    /// Nothing can be sent, for this reason (the attempt fails).
    Missing(String),
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// HTTP 410: the receiver asks for nothing more, ever.
    pub fn gone(&self) -> bool {
        self.status == Some(410)
    }

    /// Whether the receiver was asked and did not take it (a skip asked nobody).
    pub fn failed(&self) -> bool {
        !self.skipped && !self.delivered()
    }
}

pub(super) async fn run(inner: Arc<Inner>, endpoint: EndpointRow, wake: Arc<Notify>) {
    let endpoint = Arc::new(endpoint);
    let concurrency = (endpoint.max_concurrency.max(1) as usize).min(inner.config.max_concurrency as usize);
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut failing_since = endpoint.failing_since_ms;
    let mut attempts: JoinSet<Outcome> = JoinSet::new();
    loop {
        let now = Utc::now().timestamp_millis();
        let mut next_due = None;
        let free = concurrency - in_flight.len();
        if free > 0 {
            let busy: Vec<String> = in_flight.iter().cloned().collect();
            let found = rows::due(inner.store.pool(), &endpoint.id, now, endpoint.ordered, &busy, free as i64).await;
            let due = match found {
                Ok(due) if inner.claims => inner.claim(due, now).await,
                other => other,
            };
            match due {
                Ok(due) => {
                    for d in due {
                        in_flight.insert(d.delivery.id.clone());
                        let (inner, endpoint) = (inner.clone(), endpoint.clone());
                        attempts.spawn(async move {
                            let body = body_of(&inner, &endpoint, &d).await;
                            attempt(inner, endpoint, d.delivery, body).await
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(webhook = %endpoint.id, error = %e, "cannot read due deliveries");
                    next_due = Some(now + 1_000);
                }
            }
            // With attempts in flight the worker wakes when one ends, and looks again then.
            if in_flight.is_empty() && next_due.is_none() {
                next_due = rows::next_due_ms(inner.store.pool(), &endpoint.id, endpoint.ordered)
                    .await
                    .unwrap_or(Some(now + 1_000));
            }
        }
        // Far enough to mean "until woken"; a new delivery wakes the worker.
        let wait = next_due.map_or(Duration::from_secs(3600), |t| Duration::from_millis((t - now).max(0) as u64));
        tokio::select! {
            _ = wake.notified() => {}
            Some(done) = attempts.join_next(), if !attempts.is_empty() => {
                let mut finished = Vec::new();
                if let Ok(o) = done { finished.push(o); }
                while let Some(done) = attempts.try_join_next() {
                    if let Ok(o) = done { finished.push(o); }
                }
                let ids: Vec<String> = finished.iter().map(|o| o.delivery_id.clone()).collect();
                let recorded = inner.record(&endpoint, finished, &mut failing_since).await;
                // Out of flight only once recorded: until then they still look due.
                for id in ids {
                    in_flight.remove(&id);
                }
                match recorded {
                    Ok(true) => {}
                    // Disabled: the worker's work is over.
                    Ok(false) => return,
                    Err(e) => {
                        tracing::error!(webhook = %endpoint.id, error = %e, "cannot record webhook attempts; they will be retried");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// What a due delivery sends: for a canonical endpoint the `{type, timestamp, data}` body
/// Standard Webhooks lays out, `data` the canonical event; for a `plugins` endpoint what the
/// tenant's webhook plugins make of the event now.
async fn body_of(inner: &Inner, endpoint: &EndpointRow, due: &DueRow) -> Body {
    let d = &due.delivery;
    if d.seq.is_none() {
        return d.body.clone().map_or_else(|| Body::Missing("the delivery has no body".to_owned()), Body::Send);
    }
    let (Some(name), Some(payload), Some(at)) = (&due.ev_name, &due.ev_payload, due.ev_created_ms) else {
        return Body::Missing("the event is no longer in the journal (pruned)".to_owned());
    };
    let canonical = || Body::Send(envelope(name, at, payload));
    if endpoint.body == BodyFormat::Canonical {
        return canonical();
    }
    let event = match Event::parse(name, payload) {
        Ok(event) => event,
        Err(e) => return Body::Missing(format!("the journaled event does not read: {e}")),
    };
    match inner.plugins.webhook(&event).await {
        WebhookShape::Canonical => canonical(),
        WebhookShape::Body { body, .. } => Body::Send(body),
        WebhookShape::Skipped { plugin } => {
            Body::Skip(format!("the plugin '{plugin}' gives this event no webhook body: nothing was sent"))
        }
    }
}

pub fn envelope(name: &str, created_ms: i64, payload: &str) -> String {
    let ts = crate::events::iso(super::views::at_ms(created_ms));
    format!(r#"{{"type":{},"timestamp":{},"data":{payload}}}"#, serde_json::Value::from(name), serde_json::Value::from(ts))
}

pub(super) async fn attempt(inner: Arc<Inner>, endpoint: Arc<EndpointRow>, d: DeliveryRow, body: Body) -> Outcome {
    let at = Utc::now();
    let n = d.attempts + 1;
    let started = Instant::now();
    let skipped = matches!(body, Body::Skip(_));
    let (status, error, excerpt) = match body {
        Body::Send(body) => post(&inner, &endpoint, &d, body, at.timestamp()).await,
        Body::Skip(why) | Body::Missing(why) => (None, Some(why), None),
    };
    Outcome {
        delivery_id: d.id,
        n,
        retry_base: d.retry_base,
        at_ms: at.timestamp_millis(),
        status,
        latency_ms: started.elapsed().as_millis() as i64,
        error,
        excerpt,
        skipped,
    }
}

async fn post(
    inner: &Inner,
    endpoint: &EndpointRow,
    d: &DeliveryRow,
    body: String,
    timestamp: i64,
) -> (Option<u16>, Option<String>, Option<String>) {
    let msg_id = super::message_id(&d.tenant_id, d.seq, &d.id);
    let now_ms = Utc::now().timestamp_millis();
    let mut secrets = vec![endpoint.secret.as_str()];
    if let (Some(old), Some(until)) = (&endpoint.previous_secret, endpoint.previous_until_ms)
        && until > now_ms
    {
        secrets.push(old);
    }
    let signature = signing::signature(&secrets, &msg_id, timestamp, &body);
    let request = inner
        .client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body);
    let timeout = Duration::from_millis(inner.config.timeout_ms);
    let exchange = async {
        let response = request.send().await.map_err(reason)?;
        let status = response.status().as_u16();
        let mut excerpt = Vec::new();
        let mut stream = response.bytes_stream();
        while excerpt.len() < EXCERPT_BYTES {
            match stream.next().await {
                Some(Ok(chunk)) => excerpt.extend_from_slice(&chunk[..chunk.len().min(EXCERPT_BYTES - excerpt.len())]),
                _ => break,
            }
        }
        Ok::<_, String>((status, String::from_utf8_lossy(&excerpt).into_owned()))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok((status, excerpt))) => {
            let error = (!(200..300).contains(&status)).then(|| format!("the endpoint answered HTTP {status}"));
            (Some(status), error, Some(excerpt).filter(|e| !e.is_empty()))
        }
        Ok(Err(e)) => (None, Some(e), None),
        Err(_) => (None, Some(format!("no answer within {} ms", inner.config.timeout_ms)), None),
    }
}

/// Why a request failed, naming the address policy when it was the reason.
fn reason(e: reqwest::Error) -> String {
    match refusal_in(&e) {
        Some(Refusal::Forbidden(ip)) => {
            return format!(
                "the URL reaches {ip}, which is not a public address (an operator can allow its network with webhooks.allow)"
            );
        }
        Some(other) => return other.to_string(),
        None => {}
    }
    // Without the URL: the tenant's URL may carry a token of its receiver.
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    message
}

/// The attempt record of an outcome.
pub fn record_of(o: &Outcome) -> AttemptRecord<'_> {
    AttemptRecord {
        delivery_id: &o.delivery_id,
        n: o.n,
        at_ms: o.at_ms,
        status: o.status.map(i64::from),
        latency_ms: o.latency_ms,
        error: o.error.as_deref(),
        response_excerpt: o.excerpt.as_deref(),
    }
}
