//! Webhook endpoints, their outbox (one delivery per event and endpoint) and every attempt.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Pool, StoreResult, WriteTx};

/// What an endpoint's bodies are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "TEXT", rename_all = "lowercase")]
pub enum BodyFormat {
    /// The canonical event in the Standard Webhooks envelope `{type, timestamp, data}`.
    #[default]
    Canonical,
    /// What the tenant's `webhook` plugins make of the event, when the delivery is made (the
    /// canonical body when none has an opinion).
    Plugins,
}

/// An endpoint as stored, secrets included. Never serialised.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    pub description: Option<String>,
    /// JSON array of patterns.
    pub events: String,
    /// JSON array of session ids, or NULL.
    pub sessions: Option<String>,
    pub enabled: bool,
    pub ordered: bool,
    pub max_concurrency: i64,
    pub body: BodyFormat,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until_ms: Option<i64>,
    pub failing_since_ms: Option<i64>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EndpointRow {
    pub fn patterns(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }

    pub fn session_list(&self) -> Option<Vec<String>> {
        self.sessions.as_deref().and_then(|s| serde_json::from_str(s).ok())
    }
}

/// A list as the JSON array these tables keep (and `json_each` reads).
pub fn json_list<T: AsRef<str>>(list: &[T]) -> String {
    serde_json::to_string(&list.iter().map(AsRef::as_ref).collect::<Vec<&str>>()).expect("strings serialise")
}

const ENDPOINT_COLUMNS: &str = "id, tenant_id, url, description, events, sessions, enabled, ordered, max_concurrency, \
    body, secret, previous_secret, previous_until_ms, failing_since_ms, disabled_reason, created_at, updated_at";

/// Binds the fields an insert and an update both write, in that order (a macro: the query's
/// type is each engine's own).
macro_rules! bind_fields {
    ($q:expr, $e:expr) => {{
        let e: &EndpointRow = $e;
        $q.bind(&e.url)
            .bind(&e.description)
            .bind(&e.events)
            .bind(&e.sessions)
            .bind(e.enabled)
            .bind(e.ordered)
            .bind(e.max_concurrency)
            .bind(e.body)
            .bind(&e.secret)
            .bind(&e.previous_secret)
            .bind(e.previous_until_ms)
            .bind(e.failing_since_ms)
            .bind(&e.disabled_reason)
            .bind(&e.updated_at)
    }};
}

pub async fn insert_endpoint(w: &mut WriteTx, e: &EndpointRow) -> StoreResult<()> {
    on_engine!(&mut *w, |c| {
        let q = sqlx::query(
            "INSERT INTO webhook_endpoints (url, description, events, sessions, enabled, ordered, max_concurrency, \
         body, secret, previous_secret, previous_until_ms, failing_since_ms, disabled_reason, updated_at, id, \
         tenant_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        );
        bind_fields!(q, e).bind(&e.id).bind(&e.tenant_id).bind(&e.created_at).execute(c).await?.rows_affected()
    });
    Ok(())
}

/// Writes every field of the endpoint but its id, tenant and creation time.
pub async fn save_endpoint(w: &mut WriteTx, e: &EndpointRow) -> StoreResult<()> {
    on_engine!(&mut *w, |c| {
        let q = sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, description = $2, events = $3, sessions = $4, enabled = $5, ordered = $6, \
         max_concurrency = $7, body = $8, secret = $9, previous_secret = $10, previous_until_ms = $11, failing_since_ms = $12, \
         disabled_reason = $13, updated_at = $14 WHERE id = $15 AND tenant_id = $16",
        );
        bind_fields!(q, e).bind(&e.id).bind(&e.tenant_id).execute(c).await?.rows_affected()
    });
    Ok(())
}

/// Since when the endpoint has failed without a success (`None`: it is not failing).
pub async fn set_failing_since(w: &mut WriteTx, id: &str, since_ms: Option<i64>) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query("UPDATE webhook_endpoints SET failing_since_ms = $1 WHERE id = $2")
        .bind(since_ms)
        .bind(id)
        .execute(e)
        .await?
        .rows_affected());
    Ok(())
}

/// Disables the endpoint, saying why.
pub async fn disable(w: &mut WriteTx, id: &str, reason: &str, at: DateTime<Utc>) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query(
        "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $1, updated_at = $2 WHERE id = $3"
    )
    .bind(reason)
    .bind(at)
    .bind(id)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

pub async fn endpoint(pool: &Pool, tenant: &str, id: &str) -> StoreResult<Option<EndpointRow>> {
    Ok(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2"
    )))
    .bind(tenant)
    .bind(id)
    .fetch_optional(e)
    .await?))
}

pub async fn endpoints_of(pool: &Pool, tenant: &str) -> StoreResult<Vec<EndpointRow>> {
    Ok(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id"
    )))
    .bind(tenant)
    .fetch_all(e)
    .await?))
}

pub async fn all_endpoints(pool: &Pool) -> StoreResult<Vec<EndpointRow>> {
    Ok(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints"
    )))
    .fetch_all(e)
    .await?))
}

pub async fn count_endpoints(w: &mut WriteTx, tenant: &str) -> StoreResult<i64> {
    Ok(on_engine!(&mut *w, |e| sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(e)
        .await?))
}

pub async fn delete_endpoint(w: &mut WriteTx, tenant: &str, id: &str) -> StoreResult<bool> {
    let done = on_engine!(&mut *w, |e| sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .execute(e)
        .await?
        .rows_affected());
    Ok(done > 0)
}

/// A delivery as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub endpoint_id: String,
    pub tenant_id: String,
    pub seq: Option<i64>,
    pub session_id: Option<String>,
    pub event: String,
    pub body: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub retry_base: i64,
    pub next_attempt_ms: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id, tenant_id, seq, session_id, event, body, state, attempts, \
    retry_base, next_attempt_ms, last_status, last_error, created_ms, finished_ms";

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const DEAD: &str = "dead";
pub const SKIPPED: &str = "skipped";

/// A new pending delivery, due at `due_ms`.
pub struct NewDelivery<'a> {
    pub id: &'a str,
    pub endpoint_id: &'a str,
    pub tenant_id: &'a str,
    pub seq: Option<i64>,
    pub session_id: Option<&'a str>,
    pub event: &'a str,
    pub body: Option<&'a str>,
    pub due_ms: i64,
}

pub async fn insert_delivery(w: &mut WriteTx, d: NewDelivery<'_>) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query(
        "INSERT INTO webhook_deliveries (id, endpoint_id, tenant_id, seq, session_id, event, body, state, \
         next_attempt_ms, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9)",
    )
    .bind(d.id)
    .bind(d.endpoint_id)
    .bind(d.tenant_id)
    .bind(d.seq)
    .bind(d.session_id)
    .bind(d.event)
    .bind(d.body)
    .bind(d.due_ms)
    .bind(d.due_ms)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

/// Only the first pending delivery of each session of an ordered endpoint may be tried.
fn head_only(ordered: bool) -> &'static str {
    if ordered {
        " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id \
          AND p.state = 'pending' AND p.session_id IS NOT DISTINCT FROM d.session_id AND p.seq < d.seq)"
    } else {
        ""
    }
}

/// A due delivery with its journaled event, when it has one and the journal still holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueRow {
    #[sqlx(flatten)]
    pub delivery: DeliveryRow,
    pub ev_name: Option<String>,
    pub ev_payload: Option<String>,
    pub ev_created_ms: Option<i64>,
}

/// Pending deliveries of an endpoint that are due and not `in_flight`, oldest event first,
/// each with its event. With `ordered`, only the first pending delivery of each session: the
/// rest wait behind it.
pub async fn due(
    pool: &Pool,
    endpoint: &str,
    now_ms: i64,
    ordered: bool,
    in_flight: &[String],
    limit: i64,
) -> StoreResult<Vec<DueRow>> {
    let head_only = head_only(ordered);
    let not_in_flight = pool.dialect().in_json_list("d.id", 3);
    Ok(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT dd.*, e.name AS ev_name, e.payload AS ev_payload, e.created_ms AS ev_created_ms \
         FROM (SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.endpoint_id = $1 AND d.state = 'pending' \
         AND d.next_attempt_ms <= $2{head_only} AND NOT {not_in_flight} ORDER BY d.seq LIMIT $4) dd \
         LEFT JOIN events e ON e.tenant_id = dd.tenant_id AND e.seq = dd.seq ORDER BY dd.seq"
    )))
    .bind(endpoint)
    .bind(now_ms)
    .bind(json_list(in_flight))
    .bind(limit)
    .fetch_all(e)
    .await?))
}

/// Takes due deliveries for one attempt by this node (several nodes run a worker for each
/// endpoint): each is hidden from every worker until `until_ms`, when it is due again unless
/// the attempt was recorded first. The ids taken; one another node took first is not among them.
pub async fn claim(w: &mut WriteTx, ids: &[String], now_ms: i64, until_ms: i64) -> StoreResult<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let listed = w.dialect().in_json_list("id", 3);
    Ok(on_engine!(&mut *w, |e| sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_deliveries SET next_attempt_ms = $1 \
         WHERE state = 'pending' AND next_attempt_ms <= $2 AND {listed} RETURNING id"
    )))
    .bind(until_ms)
    .bind(now_ms)
    .bind(json_list(ids))
    .fetch_all(e)
    .await?))
}

/// When the endpoint's next delivery that `due` could give falls due, nothing being in flight.
pub async fn next_due_ms(pool: &Pool, endpoint: &str, ordered: bool) -> StoreResult<Option<i64>> {
    let head_only = head_only(ordered);
    let pending_index = pool.dialect().indexed_by("webhook_deliveries_pending");
    Ok(on_engine!(pool, |e| sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        // The pending index, not the endpoint's whole history (the planner prefers that one).
        "SELECT MIN(d.next_attempt_ms) FROM webhook_deliveries d{pending_index} \
         WHERE d.endpoint_id = $1 AND d.state = 'pending'{head_only}"
    )))
    .bind(endpoint)
    .fetch_one(e)
    .await?))
}

/// What one attempt found.
pub struct AttemptRecord<'a> {
    pub delivery_id: &'a str,
    pub n: i64,
    pub at_ms: i64,
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
    pub response_excerpt: Option<&'a str>,
}

/// Where an attempt leaves its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    /// Due again then.
    RetryAt(i64),
    /// No retry is left.
    Dead,
    /// A plugin gave no body: nothing was sent, nothing will be.
    Skipped,
}

/// Records an attempt and moves its delivery on.
pub async fn record_attempt(w: &mut WriteTx, a: &AttemptRecord<'_>, after: AfterAttempt) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, n, at_ms, status, latency_ms, error, response_excerpt) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(a.delivery_id)
    .bind(a.n)
    .bind(a.at_ms)
    .bind(a.status)
    .bind(a.latency_ms)
    .bind(a.error)
    .bind(a.response_excerpt)
    .execute(e)
    .await?
    .rows_affected());
    let end = Some(a.at_ms + a.latency_ms);
    let (state, next, finished) = match after {
        AfterAttempt::Delivered => (DELIVERED, None, end),
        AfterAttempt::RetryAt(at) => (PENDING, Some(at), None),
        AfterAttempt::Dead => (DEAD, None, end),
        AfterAttempt::Skipped => (SKIPPED, None, end),
    };
    on_engine!(&mut *w, |e| sqlx::query(
        "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_ms = COALESCE($3, next_attempt_ms), \
         last_status = $4, last_error = $5, finished_ms = $6 WHERE id = $7",
    )
    .bind(state)
    .bind(a.n)
    .bind(next)
    .bind(a.status)
    .bind(a.error)
    .bind(finished)
    .bind(a.delivery_id)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

/// Gives up every pending delivery of an endpoint (it was disabled).
pub async fn kill_pending(w: &mut WriteTx, endpoint: &str, why: &str, now_ms: i64) -> StoreResult<u64> {
    let done = on_engine!(&mut *w, |e| sqlx::query(
        "UPDATE webhook_deliveries SET state = 'dead', last_error = $1, finished_ms = $2 \
         WHERE endpoint_id = $3 AND state = 'pending'",
    )
    .bind(why)
    .bind(now_ms)
    .bind(endpoint)
    .execute(e)
    .await?
    .rows_affected());
    Ok(done)
}

/// Puts a delivery back in the queue, due now; the retry schedule starts over (its attempts
/// so far stay recorded).
pub async fn requeue(w: &mut WriteTx, endpoint: &str, id: &str, now_ms: i64) -> StoreResult<bool> {
    let done = on_engine!(&mut *w, |e| {
        sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', retry_base = attempts, next_attempt_ms = $1, finished_ms = NULL \
         WHERE endpoint_id = $2 AND id = $3",
    )
    .bind(now_ms)
    .bind(endpoint)
    .bind(id)
    .execute(e).await?.rows_affected()
    });
    Ok(done > 0)
}

pub async fn delivery(pool: &Pool, endpoint: &str, id: &str) -> StoreResult<Option<DeliveryRow>> {
    Ok(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 AND id = $2"
    )))
    .bind(endpoint)
    .bind(id)
    .fetch_optional(e)
    .await?))
}

/// The endpoint's deliveries, newest first, optionally in one state, before a cursor (`created_ms`, `id`).
pub async fn deliveries(
    pool: &Pool,
    endpoint: &str,
    state: Option<&str>,
    before: Option<(i64, &str)>,
    limit: i64,
) -> StoreResult<Vec<DeliveryRow>> {
    let (before_ms, before_id) = before.unwrap_or((i64::MAX, ""));
    Ok(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 AND ($2 IS NULL OR state = $3) \
         AND (created_ms < $4 OR (created_ms = $5 AND id < $6) OR $7 = '') \
         ORDER BY created_ms DESC, id DESC LIMIT $8"
    )))
    .bind(endpoint)
    .bind(state)
    .bind(state)
    .bind(before_ms)
    .bind(before_ms)
    .bind(before_id)
    .bind(before_id)
    .bind(limit)
    .fetch_all(e)
    .await?))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub n: i64,
    pub at_ms: i64,
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

pub async fn attempts(pool: &Pool, delivery: &str) -> StoreResult<Vec<AttemptRow>> {
    Ok(on_engine!(pool, |e| {
        sqlx::query_as(
        "SELECT n, at_ms, status, latency_ms, error, response_excerpt FROM webhook_attempts WHERE delivery_id = $1 ORDER BY n",
    )
    .bind(delivery)
    .fetch_all(e).await?
    }))
}

/// What a replay queues: for one endpoint, at most `limit` journaled events of its tenant from
/// `from_seq` on whose name is one of `names` (and, when given, of one of `sessions`).
pub struct Replay<'a> {
    pub endpoint: &'a str,
    pub tenant: &'a str,
    pub from_seq: i64,
    pub names: &'a [&'a str],
    pub sessions: Option<&'a [String]>,
    pub now_ms: i64,
    pub limit: i64,
}

/// Queues a replay's deliveries, due at once; how many.
pub async fn replay(w: &mut WriteTx, r: Replay<'_>) -> StoreResult<u64> {
    let Replay { endpoint, tenant, from_seq, names, sessions, now_ms, limit } = r;
    let names_json = json_list(names);
    let sessions_json = sessions.map(json_list);
    let d = w.dialect();
    let (new_id, named, of_sessions) = (d.random_hex(), d.in_json_list("e.name", 6), d.in_json_list("e.session_id", 8));
    let done = on_engine!(&mut *w, |e| {
        sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO webhook_deliveries (id, endpoint_id, tenant_id, seq, session_id, event, state, next_attempt_ms, created_ms) \
         SELECT 'dlv_' || {new_id}, $1, e.tenant_id, e.seq, e.session_id, e.name, 'pending', $2, $3 \
         FROM events e WHERE e.tenant_id = $4 AND e.seq >= $5 \
         AND {named} AND ($7 IS NULL OR {of_sessions}) \
         ORDER BY e.seq LIMIT $9",
    )))
    .bind(endpoint)
    .bind(now_ms)
    .bind(now_ms)
    .bind(tenant)
    .bind(from_seq)
    .bind(&names_json)
    .bind(&sessions_json)
    .bind(&sessions_json)
    .bind(limit)
    .execute(e).await?.rows_affected()
    });
    Ok(done)
}

/// Forgets finished deliveries (and their attempts) older than `before_ms`.
pub async fn prune_finished(w: &mut WriteTx, before_ms: i64) -> StoreResult<u64> {
    let done = on_engine!(&mut *w, |e| sqlx::query(
        "DELETE FROM webhook_deliveries WHERE state != 'pending' AND created_ms < $1"
    )
    .bind(before_ms)
    .execute(e)
    .await?
    .rows_affected());
    Ok(done)
}
