use chrono::{DateTime, Utc};

use super::{Pool, StoreResult, WriteTx};
use crate::model::{Chat, Jid, SessionKey, new_id};

#[derive(sqlx::FromRow)]
struct ChatRow {
    id: String,
    session_id: String,
    jid: String,
    number: Option<String>,
    name: Option<String>,
    last_message: Option<String>,
    last_message_at: Option<DateTime<Utc>>,
    unread_count: i64,
    is_group: bool,
    pinned: bool,
    archived: bool,
}

impl From<ChatRow> for Chat {
    fn from(r: ChatRow) -> Self {
        Chat {
            id: r.id,
            session_id: r.session_id,
            jid: r.jid,
            number: r.number,
            name: r.name,
            last_message: r.last_message,
            last_message_at: r.last_message_at,
            unread_count: r.unread_count,
            is_group: r.is_group,
            pinned: r.pinned,
            archived: r.archived,
        }
    }
}

const COLUMNS: &str =
    "id, session_id, jid, number, name, last_message, last_message_at, unread_count, is_group, pinned, archived";

/// What a new message does to its chat.
pub struct ChatTouch<'a> {
    pub jid: &'a Jid,
    /// Contact name, when the message carried one (inbound push name).
    pub name: Option<&'a str>,
    pub preview: &'a str,
    pub at: DateTime<Utc>,
    /// Messages this adds to the unread count.
    pub unread: i64,
}

/// Finds or creates the chat with `jid` and moves its last message forward.
pub async fn touch(w: &mut WriteTx, key: &SessionKey, t: ChatTouch<'_>) -> StoreResult<Chat> {
    let sql = format!(
        "INSERT INTO chats (id, tenant_id, session_id, jid, number, name, last_message, last_message_at, unread_count, is_group)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT(tenant_id, session_id, jid) DO UPDATE SET
            name = COALESCE(excluded.name, chats.name),
            last_message = excluded.last_message,
            last_message_at = excluded.last_message_at,
            unread_count = chats.unread_count + excluded.unread_count
         RETURNING {COLUMNS}"
    );
    let row: ChatRow = on_engine!(&mut *w, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(new_id())
        .bind(&key.tenant)
        .bind(&key.session)
        .bind(t.jid.as_str())
        .bind(t.jid.phone_number())
        .bind(t.name)
        .bind(t.preview)
        .bind(t.at)
        .bind(t.unread)
        .bind(t.jid.is_group())
        .fetch_one(e)
        .await?);
    Ok(row.into())
}

/// Finds or creates the chat with `jid` without touching its last message; a `name` renames
/// it (a group's subject).
pub async fn ensure(w: &mut WriteTx, key: &SessionKey, jid: &Jid, name: Option<&str>) -> StoreResult<Chat> {
    let sql = format!(
        "INSERT INTO chats (id, tenant_id, session_id, jid, number, name, unread_count, is_group)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7)
         ON CONFLICT(tenant_id, session_id, jid) DO UPDATE SET name = COALESCE(excluded.name, chats.name)
         RETURNING {COLUMNS}"
    );
    let row: ChatRow = on_engine!(&mut *w, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(new_id())
        .bind(&key.tenant)
        .bind(&key.session)
        .bind(jid.as_str())
        .bind(jid.phone_number())
        .bind(name)
        .bind(jid.is_group())
        .fetch_one(e)
        .await?);
    Ok(row.into())
}

pub async fn list(pool: &Pool, key: &SessionKey, limit: i64, offset: i64) -> StoreResult<Vec<Chat>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM chats WHERE tenant_id = $1 AND session_id = $2 ORDER BY pinned DESC, last_message_at DESC, id LIMIT $3 OFFSET $4"
    );
    let rows: Vec<ChatRow> = on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&key.tenant)
        .bind(&key.session)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await?);
    Ok(rows.into_iter().map(Chat::from).collect())
}

pub async fn get(pool: &Pool, key: &SessionKey, chat_id: &str) -> StoreResult<Option<Chat>> {
    let sql = format!("SELECT {COLUMNS} FROM chats WHERE tenant_id = $1 AND session_id = $2 AND id = $3");
    let row: Option<ChatRow> = on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&key.tenant)
        .bind(&key.session)
        .bind(chat_id)
        .fetch_optional(e)
        .await?);
    Ok(row.map(Chat::from))
}

/// The session's chat with a jid.
pub async fn by_jid(pool: &Pool, key: &SessionKey, jid: &Jid) -> StoreResult<Option<Chat>> {
    let sql = format!("SELECT {COLUMNS} FROM chats WHERE tenant_id = $1 AND session_id = $2 AND jid = $3");
    let row: Option<ChatRow> = on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&key.tenant)
        .bind(&key.session)
        .bind(jid.as_str())
        .fetch_optional(e)
        .await?);
    Ok(row.map(Chat::from))
}

/// A chat of any of the tenant's sessions, by its id.
pub async fn find(pool: &Pool, tenant: &str, chat_id: &str) -> StoreResult<Option<Chat>> {
    let sql = format!("SELECT {COLUMNS} FROM chats WHERE tenant_id = $1 AND id = $2");
    let row: Option<ChatRow> = on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(chat_id)
        .fetch_optional(e)
        .await?);
    Ok(row.map(Chat::from))
}

/// Zeroes the unread counter; returns the chat as it is now.
pub async fn mark_read(w: &mut WriteTx, key: &SessionKey, chat_id: &str) -> StoreResult<Option<Chat>> {
    let sql = format!(
        "UPDATE chats SET unread_count = 0 WHERE tenant_id = $1 AND session_id = $2 AND id = $3 RETURNING {COLUMNS}"
    );
    let row: Option<ChatRow> = on_engine!(&mut *w, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&key.tenant)
        .bind(&key.session)
        .bind(chat_id)
        .fetch_optional(e)
        .await?);
    Ok(row.map(Chat::from))
}
