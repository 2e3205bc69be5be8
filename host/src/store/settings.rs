//! Gateway-wide key/value settings (the admin key hash).

use sqlx::SqlitePool;

use super::{StoreResult, WriteTx};

pub const ADMIN_KEY_HASH: &str = "admin_key_hash";

pub async fn get(pool: &SqlitePool, key: &str) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(pool).await?)
}

pub async fn set(w: &mut WriteTx, key: &str, value: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(w.conn())
    .await?;
    Ok(())
}
