use chrono::{DateTime, Utc};

use super::{Pool, StoreError, StoreResult, WriteTx, parse_enum, parse_opt_enum};
use crate::model::{Session, SessionKey, SessionStatus};

#[derive(sqlx::FromRow)]
struct SessionRow {
    tenant_id: String,
    id: String,
    name: Option<String>,
    owner: Option<String>,
    connector: String,
    status: String,
    phone: Option<String>,
    display_name: Option<String>,
    last_connected_at: Option<DateTime<Utc>>,
    disconnect_reason: Option<String>,
    last_error: Option<String>,
    linked: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> StoreResult<Self> {
        Ok(Session {
            id: r.id,
            tenant_id: r.tenant_id,
            name: r.name,
            owner: r.owner,
            connector: r.connector,
            status: parse_enum(&r.status)?,
            phone: r.phone,
            display_name: r.display_name,
            last_connected_at: r.last_connected_at,
            disconnect_reason: parse_opt_enum(r.disconnect_reason)?,
            last_error: r.last_error,
            linked: r.linked,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const SELECT: &str = "SELECT tenant_id, id, name, owner, connector, status, phone, display_name, last_connected_at,
    disconnect_reason, last_error, credentials IS NOT NULL AS linked, created_at, updated_at FROM sessions";

fn rows_to_sessions(rows: Vec<SessionRow>) -> StoreResult<Vec<Session>> {
    rows.into_iter().map(Session::try_from).collect()
}

pub async fn insert(w: &mut WriteTx, s: &Session) -> StoreResult<()> {
    let done = on_engine!(&mut *w, |e| sqlx::query(
        "INSERT INTO sessions (tenant_id, id, name, owner, connector, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT(tenant_id, id) DO NOTHING",
    )
    .bind(&s.tenant_id)
    .bind(&s.id)
    .bind(&s.name)
    .bind(&s.owner)
    .bind(&s.connector)
    .bind(s.status.as_str())
    .bind(s.created_at)
    .bind(s.updated_at)
    .execute(e)
    .await?
    .rows_affected());
    if done == 0 {
        return Err(StoreError::Conflict(format!("session '{}'", s.id)));
    }
    Ok(())
}

/// Sessions of a tenant, read inside a write so a limit checked on it holds.
pub async fn count(w: &mut WriteTx, tenant: &str) -> StoreResult<i64> {
    Ok(on_engine!(&mut *w, |e| sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(e)
        .await?))
}

pub async fn get(pool: &Pool, key: &SessionKey) -> StoreResult<Option<Session>> {
    let sql = format!("{SELECT} WHERE tenant_id = $1 AND id = $2");
    let row: Option<SessionRow> = on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&key.tenant)
        .bind(&key.session)
        .fetch_optional(e)
        .await?);
    row.map(Session::try_from).transpose()
}

pub async fn list(pool: &Pool, tenant: &str) -> StoreResult<Vec<Session>> {
    let sql = format!("{SELECT} WHERE tenant_id = $1 ORDER BY created_at, id");
    rows_to_sessions(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).fetch_all(e).await?))
}

/// Sessions in the given states across all tenants (start-up recovery).
pub async fn in_status(pool: &Pool, statuses: &[SessionStatus]) -> StoreResult<Vec<Session>> {
    let marks = super::placeholders(1, statuses.len());
    let sql = format!("{SELECT} WHERE status IN ({marks}) ORDER BY last_connected_at DESC, tenant_id, id");
    rows_to_sessions(on_engine!(pool, |e| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for s in statuses {
            q = q.bind(s.as_str());
        }
        q.fetch_all(e).await?
    }))
}

/// How many sessions each connector has in each status, across all tenants (metrics).
pub async fn count_by_status(pool: &Pool) -> StoreResult<Vec<(String, String, i64)>> {
    Ok(on_engine!(pool, |e| sqlx::query_as(
        "SELECT connector, status, COUNT(*) FROM sessions GROUP BY connector, status"
    )
    .fetch_all(e)
    .await?))
}

/// Writes the mutable state fields of a session (everything the state machine owns).
pub async fn save_state(w: &mut WriteTx, s: &Session) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query(
        "UPDATE sessions SET status = $1, phone = $2, display_name = $3, last_connected_at = $4,
            disconnect_reason = $5, last_error = $6, updated_at = $7 WHERE tenant_id = $8 AND id = $9",
    )
    .bind(s.status.as_str())
    .bind(&s.phone)
    .bind(&s.display_name)
    .bind(s.last_connected_at)
    .bind(s.disconnect_reason.map(|r| r.as_str()))
    .bind(&s.last_error)
    .bind(s.updated_at)
    .bind(&s.tenant_id)
    .bind(&s.id)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

pub async fn credentials(pool: &Pool, key: &SessionKey) -> StoreResult<Option<String>> {
    Ok(on_engine!(pool, |e| sqlx::query_scalar("SELECT credentials FROM sessions WHERE tenant_id = $1 AND id = $2")
        .bind(&key.tenant)
        .bind(&key.session)
        .fetch_optional(e)
        .await?)
    .flatten())
}

/// Stores (or with `None` erases) the device credentials; the first credentials of a link
/// also mark when the device was linked, which the send queue's warm-up counts from.
pub async fn set_credentials(w: &mut WriteTx, key: &SessionKey, creds: Option<&str>) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query(
        "UPDATE sessions SET credentials = $1,
            linked_at_ms = CASE WHEN $1 IS NULL THEN NULL ELSE COALESCE(linked_at_ms, $2) END
         WHERE tenant_id = $3 AND id = $4",
    )
    .bind(creds)
    .bind(Utc::now().timestamp_millis())
    .bind(&key.tenant)
    .bind(&key.session)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

/// Deletes the session; chats and messages go with it (foreign keys cascade).
pub async fn delete(w: &mut WriteTx, key: &SessionKey) -> StoreResult<bool> {
    let done = on_engine!(&mut *w, |e| sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND id = $2")
        .bind(&key.tenant)
        .bind(&key.session)
        .execute(e)
        .await?
        .rows_affected());
    Ok(done > 0)
}
