//! Plugin bindings and plugin key/value state.

use chrono::{DateTime, Utc};

use super::{Pool, StoreResult, WriteTx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BindingRow {
    pub tenant_id: String,
    pub plugin: String,
    pub enabled: bool,
    pub config: String,
    pub priority: i64,
    pub on_error: String,
    /// A JSON array of host patterns.
    pub allowed_hosts: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "tenant_id, plugin, enabled, config, priority, on_error, allowed_hosts, created_at, updated_at";

pub async fn all(pool: &Pool) -> StoreResult<Vec<BindingRow>> {
    let sql = format!("SELECT {COLUMNS} FROM plugin_bindings ORDER BY tenant_id, priority, plugin");
    Ok(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(e).await?))
}

pub async fn for_tenant(pool: &Pool, tenant: &str) -> StoreResult<Vec<BindingRow>> {
    let sql = format!("SELECT {COLUMNS} FROM plugin_bindings WHERE tenant_id = $1 ORDER BY priority, plugin");
    Ok(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(tenant).fetch_all(e).await?))
}

pub async fn upsert(w: &mut WriteTx, b: &BindingRow) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query(
        "INSERT INTO plugin_bindings
            (tenant_id, plugin, enabled, config, priority, on_error, allowed_hosts, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT(tenant_id, plugin) DO UPDATE SET enabled = excluded.enabled, config = excluded.config,
            priority = excluded.priority, on_error = excluded.on_error, allowed_hosts = excluded.allowed_hosts,
            updated_at = excluded.updated_at",
    )
    .bind(&b.tenant_id)
    .bind(&b.plugin)
    .bind(b.enabled)
    .bind(&b.config)
    .bind(b.priority)
    .bind(&b.on_error)
    .bind(&b.allowed_hosts)
    .bind(b.created_at)
    .bind(b.updated_at)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

pub async fn delete(w: &mut WriteTx, tenant: &str, plugin: &str) -> StoreResult<bool> {
    let done = on_engine!(&mut *w, |e| sqlx::query("DELETE FROM plugin_bindings WHERE tenant_id = $1 AND plugin = $2")
        .bind(tenant)
        .bind(plugin)
        .execute(e)
        .await?
        .rows_affected());
    on_engine!(&mut *w, |e| sqlx::query("DELETE FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2")
        .bind(tenant)
        .bind(plugin)
        .execute(e)
        .await?
        .rows_affected());
    Ok(done > 0)
}

pub async fn kv_get(pool: &Pool, tenant: &str, plugin: &str, key: &str) -> StoreResult<Option<String>> {
    Ok(on_engine!(pool, |e| sqlx::query_scalar(
        "SELECT value FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND key = $3"
    )
    .bind(tenant)
    .bind(plugin)
    .bind(key)
    .fetch_optional(e)
    .await?))
}

/// Keys and bytes (keys plus values) a plugin keeps for a tenant, leaving out `key` (the one
/// about to be written), read inside the write that checks a limit on them.
pub async fn kv_usage_besides(w: &mut WriteTx, tenant: &str, plugin: &str, key: &str) -> StoreResult<(i64, u64)> {
    let (keys, bytes): (i64, i64) = on_engine!(&mut *w, |e| sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(octet_length(key) + octet_length(value)), 0)
         FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND key != $3",
    )
    .bind(tenant)
    .bind(plugin)
    .bind(key)
    .fetch_one(e)
    .await?);
    Ok((keys, bytes.max(0) as u64))
}

pub async fn kv_set(w: &mut WriteTx, tenant: &str, plugin: &str, key: &str, value: &str) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query(
        "INSERT INTO plugin_kv (tenant_id, plugin, key, value) VALUES ($1, $2, $3, $4)
         ON CONFLICT(tenant_id, plugin, key) DO UPDATE SET value = excluded.value",
    )
    .bind(tenant)
    .bind(plugin)
    .bind(key)
    .bind(value)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}

pub async fn kv_delete(w: &mut WriteTx, tenant: &str, plugin: &str, key: &str) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query("DELETE FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND key = $3")
        .bind(tenant)
        .bind(plugin)
        .bind(key)
        .execute(e)
        .await?
        .rows_affected());
    Ok(())
}
