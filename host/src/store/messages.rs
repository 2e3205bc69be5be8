use chrono::{DateTime, Utc};

use super::{Pool, Source, StoreError, StoreResult, WriteTx, parse_enum};
use serde::{Deserialize, Serialize};

use crate::model::{
    ContactCard, LinkPreview, Location, Message, MessageOrigin, MessageStatus, Poll, Quoted, Reaction, SessionKey,
};

/// The `details` column: a message's kind-specific blocks, one JSON document.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Details {
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    contact: Option<ContactCard>,
    #[serde(default)]
    poll: Option<Poll>,
    #[serde(default)]
    quoted: Option<Quoted>,
    #[serde(default)]
    mentions: Vec<String>,
    #[serde(default)]
    link_preview: Option<LinkPreview>,
    #[serde(default)]
    origin: Option<MessageOrigin>,
}

/// The same document written from a message's own fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DetailsOf<'m> {
    #[serde(skip_serializing_if = "Option::is_none")]
    location: &'m Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: &'m Option<ContactCard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    poll: &'m Option<Poll>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted: &'m Option<Quoted>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mentions: &'m Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    link_preview: &'m Option<LinkPreview>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: &'m Option<MessageOrigin>,
}

impl Details {
    fn of(m: &Message) -> Option<String> {
        let empty = m.location.is_none()
            && m.contact.is_none()
            && m.poll.is_none()
            && m.quoted.is_none()
            && m.mentions.is_empty()
            && m.link_preview.is_none()
            && m.origin.is_none();
        let d = DetailsOf {
            location: &m.location,
            contact: &m.contact,
            poll: &m.poll,
            quoted: &m.quoted,
            mentions: &m.mentions,
            link_preview: &m.link_preview,
            origin: &m.origin,
        };
        (!empty).then(|| serde_json::to_string(&d).expect("details serialise"))
    }
}

fn reactions_text(m: &Message) -> Option<String> {
    (!m.reactions.is_empty()).then(|| serde_json::to_string(&m.reactions).expect("reactions serialise"))
}

/// Written by us from typed values; a column that no longer reads is a corrupt row.
fn read_json<T: serde::de::DeserializeOwned + Default>(column: Option<String>) -> StoreResult<T> {
    match column {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("message column: {e}"))),
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: String,
    wa_message_id: Option<String>,
    session_id: String,
    chat_id: String,
    direction: String,
    from_me: bool,
    from_jid: String,
    from_number: Option<String>,
    from_lid: Option<String>,
    from_name: Option<String>,
    kind: String,
    content: String,
    media_url: Option<String>,
    media: Option<String>,
    details: Option<String>,
    reactions: Option<String>,
    edited_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    media_expired_at: Option<DateTime<Utc>>,
    status: String,
    error: Option<String>,
    timestamp: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    read_at: Option<DateTime<Utc>>,
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;
    fn try_from(r: MessageRow) -> StoreResult<Self> {
        let details: Details = read_json(r.details)?;
        let reactions: Vec<Reaction> = read_json(r.reactions)?;
        Ok(Message {
            id: r.id,
            wa_message_id: r.wa_message_id,
            session_id: r.session_id,
            chat_id: r.chat_id,
            direction: parse_enum(&r.direction)?,
            from_me: r.from_me,
            from_jid: r.from_jid,
            from_number: r.from_number,
            from_lid: r.from_lid,
            from_name: r.from_name,
            kind: parse_enum(&r.kind)?,
            content: r.content,
            media_url: r.media_url,
            // Rows from before media was typed may hold other shapes; those read as unknown.
            media: r.media.and_then(|m| serde_json::from_str(&m).ok()),
            location: details.location,
            contact: details.contact,
            poll: details.poll,
            quoted: details.quoted,
            mentions: details.mentions,
            link_preview: details.link_preview,
            origin: details.origin,
            reactions,
            edited_at: r.edited_at,
            revoked_at: r.revoked_at,
            media_expired_at: r.media_expired_at,
            status: parse_enum(&r.status)?,
            error: r.error,
            timestamp: r.timestamp,
            sent_at: r.sent_at,
            delivered_at: r.delivered_at,
            read_at: r.read_at,
        })
    }
}

const COLUMNS: &str = "id, wa_message_id, session_id, chat_id, direction, from_me, from_jid, from_number, from_lid,
    from_name, kind, content, media_url, media, details, reactions, edited_at, revoked_at, media_expired_at, status,
    error, timestamp, sent_at, delivered_at, read_at";

fn convert(rows: Vec<MessageRow>) -> StoreResult<Vec<Message>> {
    rows.into_iter().map(Message::try_from).collect()
}

pub async fn insert(w: &mut WriteTx, tenant: &str, m: &Message) -> StoreResult<()> {
    insert_many(w, tenant, std::slice::from_ref(m)).await
}

/// Rows per INSERT: 26 parameters each, well under SQLite's limit.
const INSERT_CHUNK: usize = 128;

/// Stores messages of one write, many rows per statement.
pub async fn insert_many(w: &mut WriteTx, tenant: &str, messages: &[Message]) -> StoreResult<()> {
    for chunk in messages.chunks(INSERT_CHUNK) {
        let rows: Vec<String> =
            (0..chunk.len()).map(|i| format!("({})", super::placeholders(i * 26 + 1, 26))).collect();
        let rows = rows.join(", ");
        let sql = format!("INSERT INTO messages (tenant_id, {COLUMNS}) VALUES {rows}");
        on_engine!(&mut *w, |e| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for m in chunk {
                q = q
                    .bind(tenant)
                    .bind(&m.id)
                    .bind(&m.wa_message_id)
                    .bind(&m.session_id)
                    .bind(&m.chat_id)
                    .bind(m.direction.as_str())
                    .bind(m.from_me)
                    .bind(&m.from_jid)
                    .bind(&m.from_number)
                    .bind(&m.from_lid)
                    .bind(&m.from_name)
                    .bind(m.kind.as_str())
                    .bind(&m.content)
                    .bind(&m.media_url)
                    .bind(m.media.as_ref().map(|v| serde_json::to_string(v).expect("media serialises")))
                    .bind(Details::of(m))
                    .bind(reactions_text(m))
                    .bind(m.edited_at)
                    .bind(m.revoked_at)
                    .bind(m.media_expired_at)
                    .bind(m.status.as_str())
                    .bind(&m.error)
                    .bind(m.timestamp)
                    .bind(m.sent_at)
                    .bind(m.delivered_at)
                    .bind(m.read_at);
            }
            q.execute(e).await?;
        });
    }
    Ok(())
}

pub async fn get(pool: &Pool, key: &SessionKey, id: &str) -> StoreResult<Option<Message>> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE tenant_id = $1 AND session_id = $2 AND id = $3");
    let row: Option<MessageRow> = on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&key.tenant)
        .bind(&key.session)
        .bind(id)
        .fetch_optional(e)
        .await?);
    row.map(Message::try_from).transpose()
}

/// Read from the pool, or inside a write to see what it wrote so far.
pub async fn by_wa_ids<'e>(db: Source<'e>, key: &SessionKey, wa_ids: &[String]) -> StoreResult<Vec<Message>> {
    if wa_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = super::placeholders(3, wa_ids.len());
    let sql = format!(
        "SELECT {COLUMNS} FROM messages WHERE tenant_id = $1 AND session_id = $2 AND wa_message_id IN ({marks})"
    );
    convert(on_engine!(&mut db.hold().await?, |e| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&key.tenant).bind(&key.session);
        for id in wa_ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await?
    }))
}

/// Newest first, like every chat UI's paging.
pub async fn list_for_chat(
    pool: &Pool,
    key: &SessionKey,
    chat_id: &str,
    limit: i64,
    offset: i64,
) -> StoreResult<Vec<Message>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM messages WHERE tenant_id = $1 AND session_id = $2 AND chat_id = $3
         ORDER BY timestamp DESC, rowid DESC LIMIT $4 OFFSET $5"
    );
    convert(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&key.tenant)
        .bind(&key.session)
        .bind(chat_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(e)
        .await?))
}

/// Which of these WhatsApp ids are messages a bot of this gateway sent, from any session of
/// the tenant, with the bot's plugin where it was recorded: an inbound message with one of
/// them is another session's bot talking.
pub async fn sent_by_bots<'e>(
    conn: Source<'e>,
    tenant: &str,
    wa_ids: &[String],
) -> StoreResult<Vec<(String, Option<String>)>> {
    if wa_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = super::placeholders(2, wa_ids.len());
    // The origin is read here, not in SQL: the two engines spell JSON paths differently, and
    // these are a handful of rows found by index.
    let sql = format!(
        "SELECT wa_message_id, details FROM messages
         WHERE tenant_id = $1 AND direction = 'outbound' AND wa_message_id IN ({marks}) AND details IS NOT NULL"
    );
    let rows: Vec<(String, Option<String>)> = on_engine!(&mut conn.hold().await?, |e| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant);
        for id in wa_ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await?
    });
    let mut bots = Vec::new();
    for (wa_id, details) in rows {
        if let Some(MessageOrigin::Bot { plugin }) = read_json::<Details>(details)?.origin {
            bots.push((wa_id, plugin));
        }
    }
    Ok(bots)
}

/// Inbound messages of a chat not yet read, for read receipts.
pub async fn unread_inbound(pool: &Pool, key: &SessionKey, chat_id: &str) -> StoreResult<Vec<Message>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM messages WHERE tenant_id = $1 AND session_id = $2 AND chat_id = $3
         AND direction = 'inbound' AND status != 'READ' ORDER BY timestamp, rowid"
    );
    convert(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&key.tenant)
        .bind(&key.session)
        .bind(chat_id)
        .fetch_all(e)
        .await?))
}

/// The statement that sets one column of one message.
macro_rules! set_one {
    ($column:literal) => {
        concat!("UPDATE messages SET ", $column, " = $1 WHERE tenant_id = $2 AND session_id = $3 AND id = $4")
    };
}

/// One column of one message, by a statement of `set_one!`.
async fn set_column<'q, T>(
    w: &mut WriteTx,
    sql: &'static str,
    key: &'q SessionKey,
    id: &'q str,
    value: T,
) -> StoreResult<()>
where
    T: sqlx::Encode<'q, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + sqlx::Encode<'q, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + Send
        + 'q,
{
    on_engine!(&mut *w, |e| sqlx::query(sql)
        .bind(value)
        .bind(&key.tenant)
        .bind(&key.session)
        .bind(id)
        .execute(e)
        .await?
        .rows_affected());
    Ok(())
}

/// Records a status step and the time column that goes with it.
pub async fn set_status(
    w: &mut WriteTx,
    key: &SessionKey,
    id: &str,
    status: MessageStatus,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let column = match status {
        MessageStatus::Sent => "sent_at",
        MessageStatus::Delivered => "delivered_at",
        MessageStatus::Read => "read_at",
        MessageStatus::Pending | MessageStatus::Failed => "timestamp",
    };
    // `timestamp` is rewritten to itself for statuses without a time column of their own.
    let value = if column == "timestamp" { None } else { Some(at) };
    let sql = format!(
        "UPDATE messages SET status = $1, error = COALESCE($2, error), {column} = COALESCE($3, {column})
         WHERE tenant_id = $4 AND session_id = $5 AND id = $6"
    );
    on_engine!(&mut *w, |e| sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(status.as_str())
        .bind(error)
        .bind(value)
        .bind(&key.tenant)
        .bind(&key.session)
        .bind(id)
        .execute(e)
        .await?
        .rows_affected());
    Ok(())
}

/// Marks every unread inbound message of a chat READ (the user opened the chat).
pub async fn mark_inbound_read(
    w: &mut WriteTx,
    key: &SessionKey,
    chat_id: &str,
    at: DateTime<Utc>,
) -> StoreResult<u64> {
    let done = on_engine!(&mut *w, |e| {
        sqlx::query(
        "UPDATE messages SET status = 'READ', read_at = $1 WHERE tenant_id = $2 AND session_id = $3 AND chat_id = $4
         AND direction = 'inbound' AND status != 'READ'",
    )
    .bind(at)
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(chat_id)
    .execute(e).await?.rows_affected()
    });
    Ok(done)
}

/// Writes what can change on a stored message after the fact: its text (an edit), its
/// kind-specific blocks (poll votes), reactions, and the edit and revoke times.
pub async fn save_changes(w: &mut WriteTx, key: &SessionKey, m: &Message) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query(
        "UPDATE messages SET content = $1, media_url = $2, media = $3, details = $4, reactions = $5, edited_at = $6,
         revoked_at = $7 WHERE tenant_id = $8 AND session_id = $9 AND id = $10",
    )
    .bind(&m.content)
    .bind(&m.media_url)
    .bind(m.media.as_ref().map(|i| serde_json::to_string(i).expect("media info serialises")))
    .bind(Details::of(m))
    .bind(reactions_text(m))
    .bind(m.edited_at)
    .bind(m.revoked_at)
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(&m.id)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

/// Sets (or, once the file is had, clears) the URL an outbound message's file is to be
/// fetched from.
pub async fn set_media_source(w: &mut WriteTx, key: &SessionKey, id: &str, url: Option<&str>) -> StoreResult<()> {
    set_column(w, set_one!("media_source"), key, id, url).await
}

/// Keeps the secret a poll was sent with, which the votes on it are sealed with.
pub async fn set_poll_secret(w: &mut WriteTx, key: &SessionKey, id: &str, secret: &[u8]) -> StoreResult<()> {
    set_column(w, set_one!("poll_secret"), key, id, secret).await
}

/// The secret a poll was sent with; `None` before it first went out.
pub async fn poll_secret(pool: &Pool, key: &SessionKey, id: &str) -> StoreResult<Option<Vec<u8>>> {
    let secret: Option<Option<Vec<u8>>> = on_engine!(pool, |e| sqlx::query_scalar(
        "SELECT poll_secret FROM messages WHERE tenant_id = $1 AND session_id = $2 AND id = $3"
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(id)
    .fetch_optional(e)
    .await?);
    Ok(secret.flatten())
}

/// Outbound messages whose file is still to be fetched, with its URL, oldest first.
pub async fn awaiting_fetch(pool: &Pool, key: &SessionKey) -> StoreResult<Vec<(Message, String)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        message: MessageRow,
        media_source: String,
    }
    let sql = format!(
        "SELECT {COLUMNS}, media_source FROM messages WHERE tenant_id = $1 AND session_id = $2 AND status = 'PENDING'
         AND media_source IS NOT NULL ORDER BY timestamp, rowid"
    );
    let rows: Vec<Row> = on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&key.tenant)
        .bind(&key.session)
        .fetch_all(e)
        .await?);
    rows.into_iter().map(|r| Ok((Message::try_from(r.message)?, r.media_source))).collect()
}

/// Files older than `before` still kept, oldest first: (session, message id).
pub async fn media_older_than(
    pool: &Pool,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<(SessionKey, String)>> {
    let rows: Vec<(String, String, String)> = on_engine!(pool, |e| sqlx::query_as(
        "SELECT tenant_id, session_id, id FROM messages WHERE media_url IS NOT NULL AND timestamp < $1
         ORDER BY timestamp LIMIT $2",
    )
    .bind(before)
    .bind(i64::from(limit))
    .fetch_all(e)
    .await?);
    Ok(rows.into_iter().map(|(tenant, session, id)| (SessionKey::new(&tenant, &session), id)).collect())
}

/// The file of a message was deleted for its age.
pub async fn expire_media(w: &mut WriteTx, key: &SessionKey, id: &str, at: DateTime<Utc>) -> StoreResult<()> {
    on_engine!(&mut *w, |e| {
        sqlx::query(
        "UPDATE messages SET media_url = NULL, media_expired_at = $1 WHERE tenant_id = $2 AND session_id = $3 AND id = $4",
    )
    .bind(at)
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(id)
    .execute(e).await?.rows_affected()
    });
    Ok(())
}

/// Outbound messages each session has not yet handed to WhatsApp, its send queue (metrics;
/// from the rows of the partial index `messages_pending`, less those handed over and not yet
/// acknowledged, which already carry their WhatsApp id).
pub async fn pending_outbound(pool: &Pool) -> StoreResult<Vec<(String, String, i64)>> {
    Ok(on_engine!(pool, |e| sqlx::query_as(
        "SELECT tenant_id, session_id, COUNT(*) FROM messages WHERE status = 'PENDING' AND direction = 'outbound'
         AND wa_message_id IS NULL GROUP BY tenant_id, session_id",
    )
    .fetch_all(e)
    .await?))
}
