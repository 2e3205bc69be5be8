//! What the send queue keeps: each session's pacing policy and when its device was linked,
//! when each outbound message was handed to WhatsApp, and the counts the queue is paced by.
//! The messages waiting are the `PENDING` outbound rows themselves (`waiting`).

use chrono::{DateTime, Utc};

use super::{Pool, Source, StoreError, StoreResult, WriteTx};
use crate::model::{SendPolicy, SessionKey};

/// A message waiting in the queue, as much of it as the outbox schedules by: a pass reads
/// these for the whole queue, and the full message only for the one it hands over.
#[derive(Debug, sqlx::FromRow)]
pub struct Waiting {
    pub id: String,
    pub chat_id: String,
    pub timestamp: DateTime<Utc>,
    /// Characters of its text (or caption), which humanlike typing lasts by.
    pub chars: i64,
}

/// The session's stored sends not yet handed to WhatsApp, oldest first.
pub async fn waiting(pool: &Pool, key: &SessionKey) -> StoreResult<Vec<Waiting>> {
    Ok(on_engine!(pool, |e| sqlx::query_as(
        "SELECT id, chat_id, timestamp, CAST(LENGTH(content) AS BIGINT) AS chars FROM messages
         WHERE tenant_id = $1 AND session_id = $2 AND status = 'PENDING' AND direction = 'outbound'
           AND wa_message_id IS NULL ORDER BY timestamp, rowid",
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .fetch_all(e)
    .await?))
}

/// A session's own policy (`None`: the gateway's default) and when its device was linked.
pub struct Stored {
    pub policy: Option<SendPolicy>,
    pub linked_at: Option<DateTime<Utc>>,
}

pub async fn get(pool: &Pool, key: &SessionKey) -> StoreResult<Option<Stored>> {
    let row: Option<(Option<String>, Option<i64>)> = on_engine!(pool, |e| sqlx::query_as(
        "SELECT send_policy, linked_at_ms FROM sessions WHERE tenant_id = $1 AND id = $2"
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .fetch_optional(e)
    .await?);
    let Some((policy, linked_at)) = row else { return Ok(None) };
    let policy = policy
        .map(|p| serde_json::from_str(&p).map_err(|e| StoreError::Corrupt(format!("send policy: {e}"))))
        .transpose()?;
    Ok(Some(Stored { policy, linked_at: linked_at.and_then(DateTime::from_timestamp_millis) }))
}

/// Sets the session's policy (`None`: back to the gateway's default). False when the session
/// does not exist.
pub async fn set_policy(w: &mut WriteTx, key: &SessionKey, policy: Option<&SendPolicy>) -> StoreResult<bool> {
    let json = policy.map(|p| serde_json::to_string(p).expect("a policy serialises"));
    let done =
        on_engine!(&mut *w, |e| sqlx::query("UPDATE sessions SET send_policy = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(json)
            .bind(&key.tenant)
            .bind(&key.session)
            .execute(e)
            .await?
            .rows_affected());
    Ok(done == 1)
}

/// Messages accepted and not yet handed to WhatsApp; read inside the write that would add
/// one, so the cap holds against concurrent sends.
pub async fn depth<'e>(conn: Source<'e>, key: &SessionKey) -> StoreResult<u32> {
    let n: i64 = on_engine!(&mut conn.hold().await?, |e| sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE tenant_id = $1 AND session_id = $2 AND status = 'PENDING'
         AND direction = 'outbound' AND wa_message_id IS NULL",
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .fetch_one(e)
    .await?);
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Records that a message went to WhatsApp: its WhatsApp id and when.
pub async fn set_handed(
    w: &mut WriteTx,
    key: &SessionKey,
    id: &str,
    wa_id: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    on_engine!(&mut *w, |e| {
        sqlx::query(
        "UPDATE messages SET wa_message_id = $1, handed_at_ms = $2 WHERE tenant_id = $3 AND session_id = $4 AND id = $5",
    )
    .bind(wa_id)
    .bind(at.timestamp_millis())
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(id)
    .execute(e).await?.rows_affected()
    });
    Ok(())
}

/// Messages handed to WhatsApp since `since`, and the earliest of them.
pub async fn handed_since(
    pool: &Pool,
    key: &SessionKey,
    since: DateTime<Utc>,
) -> StoreResult<(u32, Option<DateTime<Utc>>)> {
    let (n, first): (i64, Option<i64>) = on_engine!(pool, |e| sqlx::query_as(
        "SELECT COUNT(*), MIN(handed_at_ms) FROM messages
         WHERE tenant_id = $1 AND session_id = $2 AND handed_at_ms > $3",
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(since.timestamp_millis())
    .fetch_one(e)
    .await?);
    Ok((u32::try_from(n).unwrap_or(u32::MAX), first.and_then(DateTime::from_timestamp_millis)))
}

/// Messages handed to WhatsApp since `recent`, and since `earlier`, in one read.
pub async fn handed_in(
    pool: &Pool,
    key: &SessionKey,
    recent: DateTime<Utc>,
    earlier: DateTime<Utc>,
) -> StoreResult<(u32, u32)> {
    let (recent, earlier): (i64, i64) = on_engine!(pool, |e| sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN handed_at_ms > $3 THEN 1 ELSE 0 END), 0), COUNT(*) FROM messages
         WHERE tenant_id = $1 AND session_id = $2 AND handed_at_ms > $4",
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(recent.timestamp_millis())
    .bind(earlier.timestamp_millis())
    .fetch_one(e)
    .await?);
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok((count(recent), count(earlier)))
}

/// When the session last handed a message to WhatsApp, and when each chat last got one since
/// `chats_since`: where the pacing resumes after a restart.
pub async fn last_handed(
    pool: &Pool,
    key: &SessionKey,
    chats_since: DateTime<Utc>,
) -> StoreResult<(Option<DateTime<Utc>>, Vec<(String, DateTime<Utc>)>)> {
    let last: Option<i64> = on_engine!(pool, |e| sqlx::query_scalar(
        "SELECT MAX(handed_at_ms) FROM messages WHERE tenant_id = $1 AND session_id = $2"
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .fetch_one(e)
    .await?);
    let chats: Vec<(String, i64)> = on_engine!(pool, |e| sqlx::query_as(
        "SELECT chat_id, MAX(handed_at_ms) FROM messages
         WHERE tenant_id = $1 AND session_id = $2 AND handed_at_ms > $3 GROUP BY chat_id",
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(chats_since.timestamp_millis())
    .fetch_all(e)
    .await?);
    let chats = chats.into_iter().filter_map(|(c, at)| Some((c, DateTime::from_timestamp_millis(at)?))).collect();
    Ok((last.and_then(DateTime::from_timestamp_millis), chats))
}
