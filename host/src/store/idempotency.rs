//! `Idempotency-Key`s of sends: which message a key made, and a digest of the request that
//! made it, so a retry answers with the same message and a different request under the same
//! key is refused.

use chrono::{DateTime, Utc};

use super::{Source, StoreResult, WriteTx};
use crate::model::SessionKey;

pub struct Remembered {
    pub request_sha256: String,
    pub message_id: String,
}

/// Reads from the pool (a cheap look before any work) or inside the write that would add it.
pub async fn find<'c>(conn: Source<'c>, key: &SessionKey, idempotency_key: &str) -> StoreResult<Option<Remembered>> {
    let row: Option<(String, String)> = on_engine!(&mut conn.hold().await?, |e| {
        sqlx::query_as(
        "SELECT request_sha256, message_id FROM idempotency_keys WHERE tenant_id = $1 AND session_id = $2 AND key = $3",
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(idempotency_key)
    .fetch_optional(e).await?
    });
    Ok(row.map(|(request_sha256, message_id)| Remembered { request_sha256, message_id }))
}

pub async fn remember(
    w: &mut WriteTx,
    key: &SessionKey,
    idempotency_key: &str,
    request_sha256: &str,
    message_id: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, session_id, key, request_sha256, message_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(idempotency_key)
    .bind(request_sha256)
    .bind(message_id)
    .bind(at)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

/// Keys are kept for a retry window, not forever.
pub async fn forget_before(w: &mut WriteTx, before: DateTime<Utc>) -> StoreResult<u64> {
    let done = on_engine!(&mut *w, |e| sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(before)
        .execute(e)
        .await?
        .rows_affected());
    Ok(done)
}
