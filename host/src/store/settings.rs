//! Gateway-wide key/value settings (the admin key hash).

use super::{Pool, StoreResult, WriteTx};

pub const ADMIN_KEY_HASH: &str = "admin_key_hash";

pub async fn get(pool: &Pool, key: &str) -> StoreResult<Option<String>> {
    Ok(on_engine!(pool, |e| sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(e)
        .await?))
}

pub async fn set(w: &mut WriteTx, key: &str, value: &str) -> StoreResult<()> {
    on_engine!(&mut *w, |e| sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(e)
    .await?
    .rows_affected());
    Ok(())
}
