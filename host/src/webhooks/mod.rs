//! Webhooks: a tenant's HTTP endpoints get its committed events, at least once, signed as
//! Standard Webhooks says. The journal writes each event's outbox rows in the event's own
//! transaction (`routes.rs`); one worker per endpoint delivers them (`worker.rs`) with retries
//! on the operator's schedule (`schedule.rs`); every attempt is recorded (docs/webhooks.md).

mod filter;
mod routes;
mod schedule;
mod signing;
pub mod views;
mod worker;

pub use filter::EventFilter;
pub use routes::Routes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use chrono::Utc;
use thiserror::Error;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use url::Url;

use self::views::{
    CreateWebhook, DeliveriesQuery, DeliveryView, PatchWebhook, ReplayRequest, Replayed, RotateSecret, WebhookView,
    WebhookWithSecret,
};
use self::worker::Outcome;
use crate::auth::TenantDirectory;
use crate::config::WebhooksConfig;
use crate::events::{EventBody, EventDraft, Journal, WebhookDisabled};
use crate::egress::{Policy, Refusal, guarded_client};
use crate::media::fetch::FetchError;
use crate::quotas::QuotaExceeded;
use crate::plugins::Plugins;
use crate::store::webhooks::{self as rows, AfterAttempt, EndpointRow, NewDelivery};
use crate::store::{Store, StoreError, journal};

/// Sessions one endpoint's filter may name, and the longest description.
const MAX_SESSIONS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 500;
const MAX_URL_CHARS: usize = 2048;
const DEFAULT_CONCURRENCY: u32 = 4;
const MAX_OVERLAP_SECS: u64 = 7 * 24 * 3600;
/// Events one replay queues at most; replay again from where it stopped for more.
pub const MAX_REPLAY: i64 = 100_000;

#[derive(Debug, Error)]
pub enum WebhookError {
    #[error("no webhook '{0}'")]
    NotFound(String),
    #[error("no delivery '{0}' of this webhook")]
    DeliveryNotFound(String),
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("{0}")]
    Gone(String),
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WebhookError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        WebhookError::Invalid { code, message: message.into() }
    }

    /// The HTTP status and code the API renders it with.
    pub fn status(&self) -> (StatusCode, &'static str) {
        match self {
            WebhookError::NotFound(_) => (StatusCode::NOT_FOUND, "webhook_not_found"),
            WebhookError::DeliveryNotFound(_) => (StatusCode::NOT_FOUND, "delivery_not_found"),
            WebhookError::Invalid { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            WebhookError::Gone(_) => (StatusCode::GONE, "event_pruned"),
            WebhookError::Quota(_) => (StatusCode::FORBIDDEN, "quota_exceeded"),
            WebhookError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

pub type WebhookResult<T> = Result<T, WebhookError>;

/// The `webhook-id` of a delivery: one per journaled event, whatever the endpoint, attempt or
/// replay, so receivers can drop duplicates; a test event's is its delivery's.
pub fn message_id(tenant: &str, seq: Option<i64>, delivery_id: &str) -> String {
    match seq {
        Some(seq) => format!("evt_{tenant}_{seq}"),
        None => delivery_id.to_owned(),
    }
}

/// A running delivery worker and what wakes it.
struct Worker {
    task: JoinHandle<()>,
    wake: Arc<Notify>,
}

pub(crate) struct Inner {
    store: Store,
    journal: Journal,
    /// The tenant's `webhook` plugins shape the bodies of endpoints that ask for it.
    plugins: Plugins,
    directory: TenantDirectory,
    config: WebhooksConfig,
    policy: Arc<Policy>,
    client: reqwest::Client,
    schedule: schedule::Schedule,
    workers: Mutex<HashMap<String, Worker>>,
    /// Cluster mode: every node runs a worker per endpoint, so a due delivery is claimed in
    /// the store before it is attempted.
    claims: bool,
}

/// The webhook service: endpoints' CRUD for the API and their delivery workers.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

/// How much longer than an attempt's timeout a claimed delivery stays hidden from the other
/// nodes (recording the attempt takes a write too).
const CLAIM_MARGIN_MS: i64 = 10_000;

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// The routing table the journal writes outbox rows from; built before the journal.
pub fn routes(config: &WebhooksConfig) -> Routes {
    let first = config.retry_schedule_secs.first().copied().unwrap_or(0);
    Routes::new((first * 1000) as i64)
}

impl Webhooks {
    /// Loads every endpoint and starts the workers of the enabled ones: what was pending when
    /// the gateway stopped is delivered now.
    pub async fn start(
        store: Store,
        journal: Journal,
        plugins: Plugins,
        directory: TenantDirectory,
        config: WebhooksConfig,
        claims: bool,
    ) -> Result<Self, crate::app::StartError> {
        let policy = Arc::new(Policy::new(config.allow.clone()));
        let client = guarded_client(policy.clone())
            .map_err(|e| FetchError::Failed(e.to_string()))?
            // A receiver answers; it does not send the event elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(config.timeout_ms))
            .pool_max_idle_per_host(config.max_concurrency as usize)
            .build()
            .map_err(|e| FetchError::Failed(e.to_string()))?;
        let schedule = schedule::Schedule::new(&config.retry_schedule_secs);
        let inner = Arc::new(Inner {
            store,
            journal,
            plugins,
            directory,
            config,
            policy,
            client,
            schedule,
            workers: Mutex::new(HashMap::new()),
            claims,
        });
        let webhooks = Webhooks { inner };
        for row in rows::all_endpoints(webhooks.inner.store.pool()).await? {
            webhooks.inner.install(&row);
        }
        Ok(webhooks)
    }

    /// Stops every worker; deliveries in flight stay pending and go out after the next start.
    pub fn shutdown(&self) {
        for (_, w) in self.inner.workers.lock().expect("workers lock").drain() {
            w.task.abort();
        }
    }

    pub async fn list(&self, tenant: &str) -> WebhookResult<Vec<WebhookView>> {
        Ok(rows::endpoints_of(self.inner.store.pool(), tenant).await?.iter().map(WebhookView::from).collect())
    }

    pub async fn get(&self, tenant: &str, id: &str) -> WebhookResult<WebhookView> {
        Ok(WebhookView::from(&self.inner.endpoint(tenant, id).await?))
    }

    pub async fn create(&self, tenant: &str, req: CreateWebhook) -> WebhookResult<WebhookWithSecret> {
        let inner = &self.inner;
        let url = inner.check_url(&req.url).await?;
        let filter = EventFilter::new(req.events.unwrap_or_else(|| vec!["*".into()]))?;
        let sessions = req.sessions.map(check_sessions).transpose()?;
        let description = req.description.map(check_description).transpose()?;
        let max_concurrency = inner.check_concurrency(req.max_concurrency.unwrap_or(DEFAULT_CONCURRENCY))?;
        let now = Utc::now();
        let secret = signing::new_secret();
        let row = EndpointRow {
            id: format!("wh_{}", uuid::Uuid::new_v4().simple()),
            tenant_id: tenant.to_owned(),
            url,
            description,
            events: rows::json_list(filter.patterns()),
            sessions: sessions.map(|s| rows::json_list(&s)),
            enabled: req.enabled.unwrap_or(true),
            ordered: req.ordered.unwrap_or(false),
            max_concurrency: i64::from(max_concurrency),
            body: req.body.unwrap_or_default(),
            secret: secret.clone(),
            previous_secret: None,
            previous_until_ms: None,
            failing_since_ms: None,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        };
        let limit = inner.directory.limits(tenant).max_webhooks;
        let mut w = inner.store.begin_write().await?;
        if rows::count_endpoints(&mut w, tenant).await? >= i64::from(limit) {
            return Err(QuotaExceeded::count("webhooks", limit).into());
        }
        rows::insert_endpoint(&mut w, &row).await?;
        let committed = w.commit().await?;
        // Under the writer lock still: the next commit already writes this endpoint's rows.
        inner.install(&row);
        drop(committed);
        Ok(WebhookWithSecret { webhook: WebhookView::from(&row), secret })
    }

    pub async fn update(&self, tenant: &str, id: &str, patch: PatchWebhook) -> WebhookResult<WebhookView> {
        let inner = &self.inner;
        let url = match &patch.url {
            Some(u) => Some(inner.check_url(u).await?),
            None => None,
        };
        let events = patch.events.map(EventFilter::new).transpose()?;
        let sessions = match patch.sessions {
            Some(Some(list)) => Some(Some(check_sessions(list)?)),
            Some(None) => Some(None),
            None => None,
        };
        let description = match patch.description {
            Some(Some(d)) => Some(Some(check_description(d)?)),
            Some(None) => Some(None),
            None => None,
        };
        let concurrency = patch.max_concurrency.map(|c| inner.check_concurrency(c)).transpose()?;
        let mut w = inner.store.begin_write().await?;
        let mut row = inner.endpoint(tenant, id).await?;
        if let Some(url) = url {
            row.url = url;
        }
        if let Some(f) = events {
            row.events = rows::json_list(f.patterns());
        }
        if let Some(s) = sessions {
            row.sessions = s.map(|s| rows::json_list(&s));
        }
        if let Some(d) = description {
            row.description = d;
        }
        if let Some(c) = concurrency {
            row.max_concurrency = i64::from(c);
        }
        if let Some(o) = patch.ordered {
            row.ordered = o;
        }
        if let Some(b) = patch.body {
            row.body = b;
        }
        if let Some(enabled) = patch.enabled {
            if enabled && !row.enabled {
                row.disabled_reason = None;
                row.failing_since_ms = None;
            }
            row.enabled = enabled;
        }
        row.updated_at = Utc::now();
        rows::save_endpoint(&mut w, &row).await?;
        let committed = w.commit().await?;
        inner.install(&row);
        drop(committed);
        Ok(WebhookView::from(&row))
    }

    pub async fn delete(&self, tenant: &str, id: &str) -> WebhookResult<()> {
        let inner = &self.inner;
        let mut w = inner.store.begin_write().await?;
        if !rows::delete_endpoint(&mut w, tenant, id).await? {
            return Err(WebhookError::NotFound(id.to_owned()));
        }
        let committed = w.commit().await?;
        inner.uninstall(tenant, id);
        drop(committed);
        Ok(())
    }

    /// Another node changed the tenant's endpoints: what this node routes and delivers
    /// follows the store. Under the writer lock, as every change of the routes is.
    pub async fn reload_tenant(&self, tenant: &str) -> WebhookResult<()> {
        let inner = &self.inner;
        let lock = inner.store.hold_writers().await;
        let rows = rows::endpoints_of(inner.store.pool(), tenant).await?;
        for id in inner.journal.routes().forget_tenant(tenant) {
            inner.uninstall(tenant, &id);
        }
        for row in &rows {
            inner.install(row);
        }
        drop(lock);
        Ok(())
    }

    /// A deleted tenant's endpoints went with it (the store cascades); their workers stop.
    pub fn forget_tenant(&self, tenant: &str) {
        for id in self.inner.journal.routes().forget_tenant(tenant) {
            self.inner.uninstall(tenant, &id);
        }
    }

    pub async fn rotate(&self, tenant: &str, id: &str, req: RotateSecret) -> WebhookResult<WebhookWithSecret> {
        let overlap = req.overlap_secs.unwrap_or(86_400);
        if overlap > MAX_OVERLAP_SECS {
            return Err(WebhookError::invalid("invalid_overlap", format!("overlapSecs must be 0 to {MAX_OVERLAP_SECS}")));
        }
        let inner = &self.inner;
        let mut w = inner.store.begin_write().await?;
        let mut row = inner.endpoint(tenant, id).await?;
        let secret = signing::new_secret();
        let old = std::mem::replace(&mut row.secret, secret.clone());
        (row.previous_secret, row.previous_until_ms) = match overlap {
            0 => (None, None),
            secs => (Some(old), Some(now_ms() + (secs * 1000) as i64)),
        };
        row.updated_at = Utc::now();
        rows::save_endpoint(&mut w, &row).await?;
        let committed = w.commit().await?;
        inner.install(&row);
        drop(committed);
        Ok(WebhookWithSecret { webhook: WebhookView::from(&row), secret })
    }

    /// Sends a `webhook.test` event to the endpoint now and answers with what happened; the
    /// delivery and its attempt are recorded like any other (and not retried).
    pub async fn test(&self, tenant: &str, id: &str) -> WebhookResult<DeliveryView> {
        let inner = &self.inner;
        let row = inner.endpoint(tenant, id).await?;
        let delivery_id = routes::new_delivery_id();
        let now = now_ms();
        let payload = serde_json::json!({
            "tenantId": tenant,
            "timestamp": crate::events::iso(views::at_ms(now)),
            "webhookId": row.id,
            "message": "a test event sent from the gateway",
        })
        .to_string();
        let body = worker::envelope("webhook.test", now, &payload);
        let mut w = inner.store.begin_write().await?;
        rows::insert_delivery(
            &mut w,
            NewDelivery {
                id: &delivery_id,
                endpoint_id: &row.id,
                tenant_id: tenant,
                seq: None,
                session_id: None,
                event: "webhook.test",
                body: Some(&body),
                // Not for the worker: it is tried right here.
                due_ms: i64::MAX,
            },
        )
        .await?;
        w.commit().await?;
        let d = inner.delivery(&row.id, &delivery_id).await?;
        let outcome = worker::attempt(inner.clone(), Arc::new(row), d, worker::Body::Send(body)).await;
        let after = if outcome.delivered() { AfterAttempt::Delivered } else { AfterAttempt::Dead };
        let mut w = inner.store.begin_write().await?;
        rows::record_attempt(&mut w, &worker::record_of(&outcome), after).await?;
        w.commit().await?;
        self.delivery(tenant, id, &delivery_id).await
    }

    pub async fn deliveries(&self, tenant: &str, id: &str, q: DeliveriesQuery) -> WebhookResult<Vec<DeliveryView>> {
        let inner = &self.inner;
        let row = inner.endpoint(tenant, id).await?;
        if let Some(s) = q.state.as_deref()
            && ![rows::PENDING, rows::DELIVERED, rows::DEAD, rows::SKIPPED].contains(&s)
        {
            return Err(WebhookError::invalid("invalid_state", "state must be pending, delivered, dead or skipped"));
        }
        let limit = q.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(WebhookError::invalid("invalid_limit", "limit must be 1 to 200"));
        }
        let before = match &q.before {
            Some(b) => Some((inner.delivery(&row.id, b).await?.created_ms, b.as_str())),
            None => None,
        };
        let list = rows::deliveries(inner.store.pool(), &row.id, q.state.as_deref(), before, i64::from(limit)).await?;
        Ok(list.iter().map(|d| DeliveryView::new(d, None)).collect())
    }

    pub async fn delivery(&self, tenant: &str, id: &str, delivery: &str) -> WebhookResult<DeliveryView> {
        let inner = &self.inner;
        let row = inner.endpoint(tenant, id).await?;
        let d = inner.delivery(&row.id, delivery).await?;
        let attempts = rows::attempts(inner.store.pool(), &d.id).await?;
        Ok(DeliveryView::new(&d, Some(attempts)))
    }

    /// Sends a delivery again now, whatever became of it; its attempts start over.
    pub async fn resend(&self, tenant: &str, id: &str, delivery: &str) -> WebhookResult<DeliveryView> {
        let inner = &self.inner;
        let row = inner.endpoint(tenant, id).await?;
        let Some(seq) = inner.delivery(&row.id, delivery).await?.seq else {
            return Err(WebhookError::invalid("not_resendable", "a test event is not resent: send another test"));
        };
        if journal::get(inner.store.pool(), tenant, seq).await?.is_none() {
            return Err(WebhookError::Gone(format!("event {seq} is no longer in the journal")));
        }
        if !row.enabled {
            return Err(WebhookError::invalid("webhook_disabled", "the webhook is disabled: enable it first"));
        }
        let mut w = inner.store.begin_write().await?;
        rows::requeue(&mut w, &row.id, delivery, now_ms()).await?;
        w.commit().await?;
        inner.wake(&row.id);
        self.delivery(tenant, id, delivery).await
    }

    /// Queues every journaled event from a `seq` or a time on that the endpoint's filters
    /// take, each as a new delivery (with the event's usual `webhook-id`).
    pub async fn replay(&self, tenant: &str, id: &str, req: ReplayRequest) -> WebhookResult<Replayed> {
        let inner = &self.inner;
        let row = inner.endpoint(tenant, id).await?;
        if !row.enabled {
            return Err(WebhookError::invalid("webhook_disabled", "the webhook is disabled: enable it first"));
        }
        let pool = inner.store.pool();
        let from_seq = match (req.from_seq, req.since) {
            (Some(seq), None) => Some(seq as i64),
            (None, Some(since)) => journal::seq_at(pool, tenant, since.timestamp_millis()).await?,
            _ => return Err(WebhookError::invalid("invalid_replay", "give exactly one of fromSeq and since")),
        };
        let Some(from_seq) = from_seq else { return Ok(Replayed { queued: 0, from_seq: None }) };
        let first = journal::first_seq(pool, tenant).await?;
        if first.is_some_and(|f| from_seq < f) && req.from_seq.is_some() {
            return Err(WebhookError::Gone(format!(
                "the journal starts at seq {}: events before it were pruned",
                first.unwrap_or_default()
            )));
        }
        let filter = EventFilter::from_stored(row.patterns());
        let sessions = row.session_list();
        let mut w = inner.store.begin_write().await?;
        let names = filter.names();
        let replay = rows::Replay {
            endpoint: &row.id,
            tenant,
            from_seq,
            names: &names,
            sessions: sessions.as_deref(),
            now_ms: now_ms(),
            limit: MAX_REPLAY,
        };
        let queued = rows::replay(&mut w, replay).await?;
        w.commit().await?;
        inner.wake(&row.id);
        Ok(Replayed { queued, from_seq: Some(from_seq as u64) })
    }
}

impl Inner {
    async fn endpoint(&self, tenant: &str, id: &str) -> WebhookResult<EndpointRow> {
        rows::endpoint(self.store.pool(), tenant, id).await?.ok_or_else(|| WebhookError::NotFound(id.to_owned()))
    }

    async fn delivery(&self, endpoint: &str, id: &str) -> WebhookResult<rows::DeliveryRow> {
        rows::delivery(self.store.pool(), endpoint, id)
            .await?
            .ok_or_else(|| WebhookError::DeliveryNotFound(id.to_owned()))
    }

    /// (Re)starts an endpoint's worker with its current settings, and routes events to it
    /// while it is enabled. Called with the writer lock held.
    /// The due deliveries no other node took first; hidden from the others for as long as an
    /// attempt may take, and a while more.
    async fn claim(&self, due: Vec<rows::DueRow>, now: i64) -> Result<Vec<rows::DueRow>, StoreError> {
        if due.is_empty() {
            return Ok(due);
        }
        let ids: Vec<String> = due.iter().map(|d| d.delivery.id.clone()).collect();
        let until = now + self.config.timeout_ms as i64 + CLAIM_MARGIN_MS;
        let mut w = self.store.begin_write().await?;
        let taken = rows::claim(&mut w, &ids, now, until).await?;
        w.commit().await?;
        Ok(due.into_iter().filter(|d| taken.contains(&d.delivery.id)).collect())
    }

    fn install(self: &Arc<Self>, row: &EndpointRow) {
        let wake = Arc::new(Notify::new());
        let mut workers = self.workers.lock().expect("workers lock");
        if let Some(old) = workers.remove(&row.id) {
            old.task.abort();
        }
        self.journal.routes().set(&row.tenant_id, &row.id, routes::route_of(row, wake.clone()));
        if row.enabled {
            let task = tokio::spawn(worker::run(self.clone(), row.clone(), wake.clone()));
            workers.insert(row.id.clone(), Worker { task, wake });
        }
    }

    fn uninstall(&self, tenant: &str, id: &str) {
        self.journal.routes().set(tenant, id, None);
        if let Some(old) = self.workers.lock().expect("workers lock").remove(id) {
            old.task.abort();
        }
    }

    fn wake(&self, endpoint: &str) {
        if let Some(w) = self.workers.lock().expect("workers lock").get(endpoint) {
            w.wake.notify_one();
        }
    }

    async fn check_url(&self, text: &str) -> WebhookResult<String> {
        let bad = |m: String| WebhookError::invalid("invalid_url", m);
        if text.len() > MAX_URL_CHARS {
            return Err(bad(format!("url must be at most {MAX_URL_CHARS} characters")));
        }
        let url = Url::parse(text).map_err(|e| bad(format!("url is not a URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("url must not carry credentials; the signature proves the sender".into()));
        }
        self.policy.check_resolved(&url).await.map_err(|e| match e {
            Refusal::Forbidden(ip) => WebhookError::invalid(
                "forbidden_url",
                format!("url reaches {ip}, which is not a public address (an operator can allow its network with webhooks.allow)"),
            ),
            Refusal::NoAddress { host } => bad(format!("url: {host} has no address")),
            Refusal::BadUrl => bad("url must be an http or https URL".into()),
        })?;
        Ok(url.to_string())
    }

    fn check_concurrency(&self, c: u32) -> WebhookResult<u32> {
        let max = self.config.max_concurrency;
        if (1..=max).contains(&c) {
            Ok(c)
        } else {
            Err(WebhookError::invalid("invalid_concurrency", format!("maxConcurrency must be 1 to {max}")))
        }
    }

    /// Records finished attempts in one write and schedules what failed; false when the
    /// endpoint got disabled by them. `failing_since` is the worker's own account of since
    /// when the endpoint has failed without a success.
    async fn record(
        self: &Arc<Self>,
        endpoint: &EndpointRow,
        outcomes: Vec<Outcome>,
        failing_since: &mut Option<i64>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut w = self.store.begin_write().await?;
        let (mut succeeded, mut failed, mut gone) = (false, false, false);
        for o in &outcomes {
            let after = if o.skipped {
                AfterAttempt::Skipped
            } else if o.delivered() {
                AfterAttempt::Delivered
            } else if o.gone() {
                AfterAttempt::Dead
            } else {
                self.schedule
                    .after_failures((o.n - o.retry_base) as usize)
                    .map_or(AfterAttempt::Dead, |d| AfterAttempt::RetryAt(o.at_ms + o.latency_ms + d.as_millis() as i64))
            };
            rows::record_attempt(&mut w, &worker::record_of(o), after).await?;
            succeeded |= o.delivered();
            failed |= o.failed();
            gone |= o.gone();
        }
        let before = *failing_since;
        let since = match (succeeded, failed, before) {
            (true, _, _) => None,
            (false, true, None) => Some(now),
            (_, _, kept) => kept,
        };
        let failing_too_long = since.is_some_and(|s| now - s >= (self.config.disable_after_secs * 1000) as i64);
        let reason = if gone {
            Some("the endpoint answered 410 Gone".to_owned())
        } else if failing_too_long {
            Some(format!("deliveries failed for {} s without a success", self.config.disable_after_secs))
        } else {
            None
        };
        if since != before {
            rows::set_failing_since(&mut w, &endpoint.id, since).await?;
        }
        let Some(reason) = reason else {
            w.commit().await?;
            *failing_since = since;
            return Ok(true);
        };
        rows::disable(&mut w, &endpoint.id, &reason, Utc::now()).await?;
        rows::kill_pending(&mut w, &endpoint.id, &format!("the webhook was disabled: {reason}"), now).await?;
        let notice = EventDraft::tenant(
            &endpoint.tenant_id,
            EventBody::WebhookDisabled(WebhookDisabled {
                webhook_id: endpoint.id.clone(),
                url: endpoint.url.clone(),
                reason: reason.clone(),
            }),
        );
        tracing::warn!(tenant = %endpoint.tenant_id, webhook = %endpoint.id, %reason, "webhook disabled");
        // No route any more, so the endpoint gets no outbox row for its own notice.
        self.journal.routes().set(&endpoint.tenant_id, &endpoint.id, None);
        self.journal.commit(w, vec![notice]).await?;
        self.workers.lock().expect("workers lock").remove(&endpoint.id);
        Ok(false)
    }
}

fn check_sessions(list: Vec<String>) -> WebhookResult<Vec<String>> {
    if list.is_empty() || list.len() > MAX_SESSIONS {
        return Err(WebhookError::invalid(
            "invalid_sessions",
            format!("sessions must list 1 to {MAX_SESSIONS} session ids (or be null for every session)"),
        ));
    }
    for s in &list {
        crate::model::validate_id(s).map_err(|e| WebhookError::invalid("invalid_sessions", format!("sessions: {e}")))?;
    }
    Ok(list)
}

fn check_description(d: String) -> WebhookResult<String> {
    if d.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(WebhookError::invalid(
            "invalid_description",
            format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(d)
}
