//! A WhatsApp session's device state as rows of items (`wa_device_items`); what the spaces
//! hold and how their times are read is the connector's (connector/whatsapp/devices.rs).
//!
//! These writes are the library's, not events: they go straight to the pool, outside the
//! writer lock. In cluster mode each one carries the session's lease and changes nothing once
//! the lease has moved on, so a node that lost a session cannot overwrite the Signal state of
//! the node that took it over.

use std::sync::Arc;

use super::{Dialect, Fence, Pool, Store, StoreError, StoreResult};
use crate::model::SessionKey;

/// One stored item of a space.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub item: String,
    pub value: Vec<u8>,
    pub at: i64,
    pub other_at: Option<i64>,
}

/// What a write does to an item that is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    Replace,
    /// Replaced only by an item at least as new (`at`).
    KeepNewer,
    /// Only `other_at` moves, and only forward; a new item is written whole.
    AdvanceOtherAt,
    /// `value` and `at` are replaced when the stored value is empty or not newer; `other_at`
    /// is kept.
    ReplaceEmptyOrOlder,
    /// `at` is a deadline where 0 is "never": the later one (0 wins) is kept, and the later
    /// `other_at`.
    LaterDeadline,
}

impl OnConflict {
    fn set(self) -> &'static str {
        match self {
            OnConflict::Replace => "value = excluded.value, at = excluded.at, other_at = excluded.other_at",
            OnConflict::KeepNewer => {
                "value = excluded.value, at = excluded.at, other_at = excluded.other_at
                 WHERE excluded.at >= wa_device_items.at"
            }
            OnConflict::AdvanceOtherAt => {
                "other_at = CASE WHEN wa_device_items.other_at IS NULL OR wa_device_items.other_at < excluded.other_at
                                 THEN excluded.other_at ELSE wa_device_items.other_at END"
            }
            OnConflict::ReplaceEmptyOrOlder => {
                "value = excluded.value, at = excluded.at
                 WHERE length(wa_device_items.value) = 0 OR excluded.at >= wa_device_items.at"
            }
            OnConflict::LaterDeadline => {
                "value = excluded.value,
                 at = CASE WHEN wa_device_items.at = 0 OR excluded.at = 0 THEN 0
                           WHEN excluded.at > wa_device_items.at THEN excluded.at ELSE wa_device_items.at END,
                 other_at = CASE WHEN wa_device_items.other_at IS NULL OR excluded.other_at > wa_device_items.other_at
                                 THEN excluded.other_at ELSE wa_device_items.other_at END"
            }
        }
    }
}

/// Which items of a space have run out.
#[derive(Debug, Clone, Copy)]
pub enum Expired {
    /// `at` before this time.
    Before(i64),
    /// `at` is a deadline (0: never) at or before this time.
    DeadlinePassed(i64),
    /// An empty value or `at` before the first time, and no `other_at` or one before the second.
    BothBefore(i64, i64),
}

/// `$1`..`$5` of every write: the session, and the lease it must still hold (`$3` NULL: no
/// lease to hold, a gateway that is not a cluster). On PostgreSQL the lease row is locked until
/// the write commits, so a takeover waits for it: the write lands before the lease moves or
/// not at all.
fn fence(d: Dialect) -> String {
    format!(
        "($3 IS NULL OR EXISTS (SELECT 1 FROM session_leases l
           WHERE l.tenant_id = $1 AND l.session_id = $2 AND l.node = $3 AND l.token = $4 AND l.expires_ms >= $5{}))",
        d.lock_rows_shared()
    )
}

const INSERT: &str = "INSERT INTO wa_device_items (tenant_id, session_id, space, item, value, at, other_at)";
const CONFLICT: &str = "ON CONFLICT (tenant_id, session_id, space, item) DO UPDATE SET";
const OF_SESSION: &str = "tenant_id = $1 AND session_id = $2";

/// The items of one session, read and written as that session's runner.
#[derive(Clone)]
pub struct DeviceItems {
    pool: Pool,
    key: SessionKey,
    fence: Option<Arc<Fence>>,
}

/// Binds `$1`..`$5` (the session and its fence) to a query.
macro_rules! fenced {
    ($items:expr, $query:expr) => {{
        let f = $items.fence.as_deref();
        $query
            .bind(&$items.key.tenant)
            .bind(&$items.key.session)
            .bind(f.map(|f| f.node.as_str()))
            .bind(f.map(|f| f.token))
            .bind(chrono::Utc::now().timestamp_millis())
    }};
}

impl DeviceItems {
    /// The items of session `key`, written through `store` (fenced when it is).
    pub fn new(store: &Store, key: SessionKey) -> Self {
        Self { pool: store.pool().clone(), key, fence: store.fence.clone() }
    }

    pub async fn get(&self, space: &str, item: &str) -> StoreResult<Option<Item>> {
        let row: Option<(Vec<u8>, i64, Option<i64>)> = on_engine!(&self.pool, |e| {
            sqlx::query_as(
            "SELECT value, at, other_at FROM wa_device_items WHERE tenant_id = $1 AND session_id = $2 AND space = $3 AND item = $4"
        )
        .bind(&self.key.tenant)
        .bind(&self.key.session)
        .bind(space)
        .bind(item)
        .fetch_optional(e)
        .await?
        });
        Ok(row.map(|(value, at, other_at)| Item { item: item.to_owned(), value, at, other_at }))
    }

    /// Every item of `space`, by item.
    pub async fn list(&self, space: &str) -> StoreResult<Vec<Item>> {
        let rows: Vec<(String, Vec<u8>, i64, Option<i64>)> = on_engine!(&self.pool, |e| sqlx::query_as(
            "SELECT item, value, at, other_at FROM wa_device_items
             WHERE tenant_id = $1 AND session_id = $2 AND space = $3 ORDER BY item"
        )
        .bind(&self.key.tenant)
        .bind(&self.key.session)
        .bind(space)
        .fetch_all(e)
        .await?);
        Ok(rows.into_iter().map(|(item, value, at, other_at)| Item { item, value, at, other_at }).collect())
    }

    /// The names of the items of `space`, without their values.
    pub async fn names(&self, space: &str) -> StoreResult<Vec<String>> {
        Ok(on_engine!(&self.pool, |e| sqlx::query_scalar(
            "SELECT item FROM wa_device_items WHERE tenant_id = $1 AND session_id = $2 AND space = $3 ORDER BY item"
        )
        .bind(&self.key.tenant)
        .bind(&self.key.session)
        .bind(space)
        .fetch_all(e)
        .await?))
    }

    /// The greatest item name of `space`.
    pub async fn last_name(&self, space: &str) -> StoreResult<Option<String>> {
        Ok(on_engine!(&self.pool, |e| sqlx::query_scalar(
            "SELECT MAX(item) FROM wa_device_items WHERE tenant_id = $1 AND session_id = $2 AND space = $3"
        )
        .bind(&self.key.tenant)
        .bind(&self.key.session)
        .bind(space)
        .fetch_one(e)
        .await?))
    }

    /// Writes `items` into `space` in one transaction. A plain replace that changes nothing
    /// means the lease has moved on.
    pub async fn put(&self, space: &str, items: &[Item], on_conflict: OnConflict) -> StoreResult<()> {
        let fence = fence(self.pool.dialect());
        if items.is_empty() {
            return Ok(());
        }
        let sql = format!("{INSERT} SELECT $1, $2, $6, $7, $8, $9, $10 WHERE {fence} {CONFLICT} {}", on_conflict.set());
        let mut changed = 0;
        on_engine!(&self.pool, |e| {
            let mut tx = e.begin().await?;
            for it in items {
                changed += fenced!(self, sqlx::query(sqlx::AssertSqlSafe(sql.as_str())))
                    .bind(space)
                    .bind(&it.item)
                    .bind(&it.value)
                    .bind(it.at)
                    .bind(it.other_at)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
        });
        if on_conflict == OnConflict::Replace && changed == 0 {
            return Err(StoreError::LeaseLost(self.key.to_string()));
        }
        Ok(())
    }

    /// Sets `at` of the named items of `space`.
    pub async fn set_at(&self, space: &str, items: &[&str], at: i64) -> StoreResult<()> {
        let fence = fence(self.pool.dialect());
        let sql =
            format!("UPDATE wa_device_items SET at = $8 WHERE {OF_SESSION} AND space = $6 AND item = $7 AND {fence}");
        self.per_item(&sql, space, items, Some(at)).await
    }

    /// Runs `sql` once per item in one transaction: `$6` the space, `$7` the item, and `$8`
    /// `at` when there is one.
    async fn per_item(&self, sql: &str, space: &str, items: &[&str], at: Option<i64>) -> StoreResult<()> {
        on_engine!(&self.pool, |e| {
            let mut tx = e.begin().await?;
            for item in items {
                let q = fenced!(self, sqlx::query(sqlx::AssertSqlSafe(sql))).bind(space).bind(item);
                match at {
                    Some(at) => q.bind(at),
                    None => q,
                }
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes the named items of `space`; every item of it when `items` is `None`.
    pub async fn delete(&self, space: &str, items: Option<&[&str]>) -> StoreResult<()> {
        self.delete_where("space = $6", space, items).await
    }

    /// Deletes the named items (all when `None`) from every space whose name starts with
    /// `prefix` (a constant of the connector, never a user's text).
    pub async fn delete_in_spaces(&self, prefix: &'static str, items: Option<&[&str]>) -> StoreResult<()> {
        self.delete_where("space LIKE $6", &format!("{prefix}%"), items).await
    }

    async fn delete_where(&self, spaces: &str, space: &str, items: Option<&[&str]>) -> StoreResult<()> {
        let fence = fence(self.pool.dialect());
        let Some(items) = items else {
            let sql = format!("DELETE FROM wa_device_items WHERE {OF_SESSION} AND {spaces} AND {fence}");
            on_engine!(&self.pool, |e| fenced!(self, sqlx::query(sqlx::AssertSqlSafe(sql)))
                .bind(space)
                .execute(e)
                .await?
                .rows_affected());
            return Ok(());
        };
        let sql = format!("DELETE FROM wa_device_items WHERE {OF_SESSION} AND {spaces} AND item = $7 AND {fence}");
        self.per_item(&sql, space, items, None).await
    }

    /// Deletes one item and answers its value: of two takers, one gets it.
    pub async fn take(&self, space: &str, item: &str) -> StoreResult<Option<Vec<u8>>> {
        let fence = fence(self.pool.dialect());
        let sql = format!(
            "DELETE FROM wa_device_items WHERE {OF_SESSION} AND space = $6 AND item = $7 AND {fence} RETURNING value"
        );
        Ok(on_engine!(&self.pool, |e| fenced!(self, sqlx::query_scalar(sqlx::AssertSqlSafe(sql)))
            .bind(space)
            .bind(item)
            .fetch_optional(e)
            .await?))
    }

    /// Deletes the items of `space` that have run out; how many.
    pub async fn delete_expired(&self, space: &str, expired: Expired) -> StoreResult<u64> {
        let fence = fence(self.pool.dialect());
        let delete = |cond: &str| {
            format!("DELETE FROM wa_device_items WHERE {OF_SESSION} AND space = $6 AND {cond} AND {fence}")
        };
        let (sql, times) = match expired {
            Expired::Before(t) => (delete("at < $7"), vec![t]),
            Expired::DeadlinePassed(t) => (delete("at <> 0 AND at <= $7"), vec![t]),
            Expired::BothBefore(t, o) => {
                (delete("(length(value) = 0 OR at < $7) AND (other_at IS NULL OR other_at < $8)"), vec![t, o])
            }
        };
        Ok(on_engine!(&self.pool, |e| {
            let mut q = fenced!(self, sqlx::query(sqlx::AssertSqlSafe(sql))).bind(space);
            for t in times {
                q = q.bind(t);
            }
            q.execute(e).await?.rows_affected()
        }))
    }
}

/// Deletes every item of session `key`: the device is gone (logged out, unlinked, deleted).
pub async fn erase(pool: &Pool, key: &SessionKey) -> StoreResult<()> {
    on_engine!(pool, |e| sqlx::query("DELETE FROM wa_device_items WHERE tenant_id = $1 AND session_id = $2")
        .bind(&key.tenant)
        .bind(&key.session)
        .execute(e)
        .await?
        .rows_affected());
    Ok(())
}
