//! The durable journal: committed events under their tenant's `seq`, read back by webhook
//! delivery and by clients that resume, pruned by age and by count.

use super::{Pool, StoreError, StoreResult, WriteTx};
use crate::events::Event;

/// One journaled event as stored: its name and canonical payload.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JournalRow {
    pub seq: i64,
    pub session_id: Option<String>,
    pub name: String,
    pub payload: String,
    pub created_ms: i64,
}

impl JournalRow {
    pub fn event(&self) -> StoreResult<Event> {
        Event::parse(&self.name, &self.payload).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// Rows per INSERT: well under SQLite's limit on bound parameters (six each).
const APPEND_CHUNK: usize = 256;

/// Stores the events of one write, a few hundred rows per statement.
pub async fn append(w: &mut WriteTx, events: &[std::sync::Arc<Event>]) -> StoreResult<()> {
    for chunk in events.chunks(APPEND_CHUNK) {
        let rows: Vec<String> = (0..chunk.len()).map(|i| format!("({})", super::placeholders(i * 6 + 1, 6))).collect();
        let rows = rows.join(", ");
        let sql = format!("INSERT INTO events (tenant_id, seq, session_id, name, payload, created_ms) VALUES {rows}");
        on_engine!(&mut *w, |e| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for event in chunk {
                let payload = serde_json::to_string(&**event).expect("an event serialises");
                q = q
                    .bind(&event.tenant_id)
                    .bind(event.seq as i64)
                    .bind(&event.session_id)
                    .bind(event.name())
                    .bind(payload)
                    .bind(event.timestamp.timestamp_millis());
            }
            q.execute(e).await?;
        });
    }
    Ok(())
}

/// Tells the nodes listening on `channel` what the write committed (`cluster/feed.rs`). Sent
/// inside the write, so PostgreSQL delivers it if and only if the write commits, after it, and
/// in commit order. SQLite has no other node to tell.
pub async fn announce(w: &mut WriteTx, channel: &str, payload: &str) -> StoreResult<()> {
    if w.dialect() == super::Dialect::Postgres {
        on_engine!(&mut *w, |e| {
            sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(e).await?;
        });
    }
    Ok(())
}

pub async fn get(pool: &Pool, tenant: &str, seq: i64) -> StoreResult<Option<JournalRow>> {
    Ok(on_engine!(pool, |e| sqlx::query_as(
        "SELECT seq, session_id, name, payload, created_ms FROM events WHERE tenant_id = $1 AND seq = $2",
    )
    .bind(tenant)
    .bind(seq)
    .fetch_optional(e)
    .await?))
}

/// Up to `limit` events of the tenant after `after_seq`, oldest first.
pub async fn after(pool: &Pool, tenant: &str, after_seq: i64, limit: i64) -> StoreResult<Vec<JournalRow>> {
    Ok(on_engine!(pool, |e| {
        sqlx::query_as(
        "SELECT seq, session_id, name, payload, created_ms FROM events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(tenant)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(e).await?
    }))
}

/// The newest `seq` handed out to the tenant's events (0 before its first).
pub async fn committed_seq(pool: &Pool, tenant: &str) -> StoreResult<i64> {
    Ok(on_engine!(pool, |e| sqlx::query_scalar("SELECT seq FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_optional(e)
        .await?)
    .unwrap_or(0))
}

/// The oldest `seq` the journal still holds for the tenant.
pub async fn first_seq(pool: &Pool, tenant: &str) -> StoreResult<Option<i64>> {
    Ok(on_engine!(pool, |e| sqlx::query_scalar("SELECT MIN(seq) FROM events WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(e)
        .await?))
}

/// The first `seq` written at or after `since_ms`.
pub async fn seq_at(pool: &Pool, tenant: &str, since_ms: i64) -> StoreResult<Option<i64>> {
    Ok(on_engine!(pool, |e| sqlx::query_scalar(
        "SELECT MIN(seq) FROM events WHERE tenant_id = $1 AND created_ms >= $2"
    )
    .bind(tenant)
    .bind(since_ms)
    .fetch_one(e)
    .await?))
}

/// Deletes events written before `before_ms` and, per tenant, all but the newest
/// `keep_per_tenant` (0: no count limit). An event a webhook delivery still waits for stays.
pub async fn prune(w: &mut WriteTx, before_ms: Option<i64>, keep_per_tenant: u64) -> StoreResult<u64> {
    const STILL_AWAITED: &str = "NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
        WHERE d.tenant_id = events.tenant_id AND d.seq = events.seq AND d.state = 'pending')";
    let mut removed = 0;
    if let Some(before) = before_ms {
        removed += on_engine!(&mut *w, |e| sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM events WHERE created_ms < $1 AND {STILL_AWAITED}"
        )))
        .bind(before)
        .execute(e)
        .await?
        .rows_affected());
    }
    if keep_per_tenant > 0 {
        removed += on_engine!(&mut *w, |e| sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM events WHERE seq <= (SELECT t.seq FROM tenants t WHERE t.id = events.tenant_id) - $1 \
             AND {STILL_AWAITED}"
        )))
        .bind(keep_per_tenant as i64)
        .execute(e)
        .await?
        .rows_affected());
    }
    Ok(removed)
}
