//! Which node runs each session when several gateway nodes share one database: a lease per
//! session, renewed by its node, whose fencing token grows with every new holder; and the
//! nodes alive (their heartbeats), among which orphaned sessions are shared.

use super::{Pool, StoreError, StoreResult, WriteTx};
use crate::model::SessionKey;

/// Who holds a lease that could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBy(pub String);

/// Takes the session's lease for `node` when it is free, expired, or this node's already;
/// its fencing token (a new one unless this node held it still), or the node that holds it.
pub async fn acquire(
    w: &mut WriteTx,
    key: &SessionKey,
    node: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> StoreResult<Result<i64, HeldBy>> {
    let token: Option<i64> = on_engine!(&mut *w, |e| sqlx::query_scalar(
        "INSERT INTO session_leases (tenant_id, session_id, node, token, expires_ms) VALUES ($1, $2, $3, 1, $4)
         ON CONFLICT (tenant_id, session_id) DO UPDATE SET node = excluded.node,
           token = CASE WHEN session_leases.node = excluded.node AND session_leases.expires_ms >= $5
                   THEN session_leases.token ELSE session_leases.token + 1 END,
           expires_ms = excluded.expires_ms
         WHERE session_leases.node = excluded.node OR session_leases.expires_ms < $5
         RETURNING token"
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(node)
    .bind(now_ms + ttl_ms)
    .bind(now_ms)
    .fetch_optional(e)
    .await?);
    if let Some(token) = token {
        return Ok(Ok(token));
    }
    let holder: Option<String> = on_engine!(&mut *w, |e| sqlx::query_scalar(
        "SELECT node FROM session_leases WHERE tenant_id = $1 AND session_id = $2"
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .fetch_optional(e)
    .await?);
    Ok(Err(HeldBy(holder.unwrap_or_default())))
}

/// Whether `node` still holds the session's lease under `token`, read inside the write that
/// depends on it. On PostgreSQL the lease row stays locked until that write commits, so a
/// takeover waits for it: a write either lands before the lease moves or not at all.
pub async fn holds(w: &mut WriteTx, key: &SessionKey, node: &str, token: i64, now_ms: i64) -> StoreResult<bool> {
    let lock = w.dialect().lock_rows_shared();
    let row: Option<(i64, i64)> = on_engine!(&mut *w, |e| sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT token, expires_ms FROM session_leases WHERE tenant_id = $1 AND session_id = $2 AND node = $3{lock}"
    )))
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(node)
    .fetch_optional(e)
    .await?);
    Ok(row.is_some_and(|(t, expires)| t == token && expires >= now_ms))
}

/// Extends every lease `node` still holds; the sessions whose lease it holds, with their
/// tokens (one it had and is not among them was lost: it expired and may be another's).
pub async fn renew(pool: &Pool, node: &str, now_ms: i64, ttl_ms: i64) -> StoreResult<Vec<(SessionKey, i64)>> {
    let rows: Vec<(String, String, i64)> = on_engine!(pool, |e| sqlx::query_as(
        "UPDATE session_leases SET expires_ms = $1 WHERE node = $2 AND expires_ms >= $3
         RETURNING tenant_id, session_id, token"
    )
    .bind(now_ms + ttl_ms)
    .bind(node)
    .bind(now_ms)
    .fetch_all(e)
    .await?);
    Ok(rows.into_iter().map(|(t, s, token)| (SessionKey::new(&t, &s), token)).collect())
}

/// Gives up one lease (its session stopped here), so another node may take it at once.
pub async fn release(pool: &Pool, key: &SessionKey, node: &str) -> StoreResult<()> {
    on_engine!(pool, |e| sqlx::query(
        "UPDATE session_leases SET expires_ms = 0 WHERE tenant_id = $1 AND session_id = $2 AND node = $3"
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(node)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

/// Gives up every lease of `node` (a graceful shutdown): the others take its sessions over
/// without waiting for the leases to expire.
pub async fn release_all(pool: &Pool, node: &str) -> StoreResult<u64> {
    Ok(on_engine!(pool, |e| sqlx::query("UPDATE session_leases SET expires_ms = 0 WHERE node = $1")
        .bind(node)
        .execute(e)
        .await?
        .rows_affected()))
}

/// The node holding the session's lease now, if any.
pub async fn holder(pool: &Pool, key: &SessionKey, now_ms: i64) -> StoreResult<Option<String>> {
    Ok(on_engine!(pool, |e| sqlx::query_scalar(
        "SELECT node FROM session_leases WHERE tenant_id = $1 AND session_id = $2 AND expires_ms >= $3"
    )
    .bind(&key.tenant)
    .bind(&key.session)
    .bind(now_ms)
    .fetch_optional(e)
    .await?))
}

/// Sessions that should be running (connected, coming back, or in a login) and that no node
/// holds: their node died, shut down, or never took them. At most `limit`.
pub async fn orphans(pool: &Pool, now_ms: i64, limit: i64) -> StoreResult<Vec<SessionKey>> {
    let rows: Vec<(String, String)> = on_engine!(pool, |e| sqlx::query_as(
        "SELECT s.tenant_id, s.id FROM sessions s LEFT JOIN session_leases l
           ON l.tenant_id = s.tenant_id AND l.session_id = s.id
         WHERE s.status IN ('CONNECTED', 'RECONNECTING', 'QR_REQUIRED', 'PAIRING')
           AND (l.node IS NULL OR l.expires_ms < $1)
         ORDER BY s.tenant_id, s.id LIMIT $2"
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(e)
    .await?);
    Ok(rows.into_iter().map(|(t, s)| SessionKey::new(&t, &s)).collect())
}

/// Says `node` is alive now.
pub async fn heartbeat(
    pool: &Pool,
    node: &str,
    started_ms: i64,
    now_ms: i64,
    profile: &NodeProfile,
) -> StoreResult<()> {
    let plugins = serde_json::to_string(&profile.plugins).expect("a plugin list serialises");
    on_engine!(pool, |e| sqlx::query(
        "INSERT INTO cluster_nodes (id, started_ms, heartbeat_ms, url, plugins) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET started_ms = excluded.started_ms, heartbeat_ms = excluded.heartbeat_ms,
             url = excluded.url, plugins = excluded.plugins"
    )
    .bind(node)
    .bind(started_ms)
    .bind(now_ms)
    .bind(&profile.url)
    .bind(plugins)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

/// What a node says of itself with each heartbeat.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeProfile {
    /// Where it takes requests the other nodes forward to it; `None` when it cannot be reached.
    pub url: Option<String>,
    pub plugins: Vec<ServedPlugin>,
}

/// A plugin a node serves, and which build.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServedPlugin {
    pub name: String,
    pub version: Option<String>,
    /// Of the component: nodes serving the same build show the same digest.
    pub sha256: Option<String>,
}

/// A node alive, as the store knows it.
#[derive(Debug, Clone)]
pub struct LiveNode {
    pub id: String,
    pub started_ms: i64,
    /// Leases it holds.
    pub sessions: i64,
    pub profile: NodeProfile,
}

/// Where the node takes forwarded requests, if it said.
pub async fn node_url(pool: &Pool, node: &str) -> StoreResult<Option<String>> {
    let url: Option<Option<String>> =
        on_engine!(pool, |e| sqlx::query_scalar("SELECT url FROM cluster_nodes WHERE id = $1")
            .bind(node)
            .fetch_optional(e)
            .await?);
    Ok(url.flatten())
}

/// A node that stopped on purpose leaves the count at once.
pub async fn leave(pool: &Pool, node: &str) -> StoreResult<()> {
    on_engine!(pool, |e| sqlx::query("DELETE FROM cluster_nodes WHERE id = $1")
        .bind(node)
        .execute(e)
        .await?
        .rows_affected());
    Ok(())
}

/// Nodes whose heartbeat is not older than `since_ms`, by id, with how many leases each holds.
pub async fn live_nodes(pool: &Pool, since_ms: i64, now_ms: i64) -> StoreResult<Vec<LiveNode>> {
    let rows: Vec<(String, i64, i64, Option<String>, String)> =
        on_engine!(pool, |e| {
            sqlx::query_as(
        "SELECT n.id, n.started_ms, (SELECT COUNT(*) FROM session_leases l WHERE l.node = n.id AND l.expires_ms >= $2),
                n.url, n.plugins
         FROM cluster_nodes n WHERE n.heartbeat_ms >= $1 ORDER BY n.id"
    )
    .bind(since_ms)
    .bind(now_ms)
    .fetch_all(e)
    .await?
        });
    rows.into_iter()
        .map(|(id, started_ms, sessions, url, plugins)| {
            let plugins =
                serde_json::from_str(&plugins).map_err(|e| StoreError::Corrupt(format!("node {id}'s plugins: {e}")))?;
            Ok(LiveNode { id, started_ms, sessions, profile: NodeProfile { url, plugins } })
        })
        .collect()
}
