//! The audit log's rows: appended one per action, read newest first, pruned by age and by
//! count per tenant.

use super::{Pool, StoreResult, WriteTx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at_ms: i64,
    pub tenant_id: Option<String>,
    pub actor_kind: String,
    pub actor_user: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: Option<String>,
}

pub struct NewAuditRow<'a> {
    pub at_ms: i64,
    pub tenant_id: Option<&'a str>,
    pub actor_kind: &'a str,
    pub actor_user: Option<&'a str>,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: Option<&'a str>,
}

pub async fn append(w: &mut WriteTx, row: NewAuditRow<'_>) -> StoreResult<i64> {
    let id = on_engine!(&mut *w, |e| sqlx::query_scalar(
        "INSERT INTO audit_log (at_ms, tenant_id, actor_kind, actor_user, action, target, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(row.at_ms)
    .bind(row.tenant_id)
    .bind(row.actor_kind)
    .bind(row.actor_user)
    .bind(row.action)
    .bind(row.target)
    .bind(row.detail)
    .fetch_one(e)
    .await?);
    Ok(id)
}

/// Which entries to read: one tenant's or all, of one action or any, older than `before_id`.
pub struct AuditQuery<'a> {
    pub tenant: Option<&'a str>,
    pub action: Option<&'a str>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Newest first.
pub async fn list(pool: &Pool, q: AuditQuery<'_>) -> StoreResult<Vec<AuditRow>> {
    Ok(on_engine!(pool, |e| sqlx::query_as(
        "SELECT id, at_ms, tenant_id, actor_kind, actor_user, action, target, detail FROM audit_log \
         WHERE ($1 IS NULL OR tenant_id = $1) AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR id < $3) \
         ORDER BY id DESC LIMIT $4",
    )
    .bind(q.tenant)
    .bind(q.action)
    .bind(q.before_id)
    .bind(q.limit)
    .fetch_all(e)
    .await?))
}

/// Deletes entries older than `before_ms` and, per tenant (and for the gateway's own), all but
/// the newest `keep_per_tenant`; how many went.
pub async fn prune(w: &mut WriteTx, before_ms: Option<i64>, keep_per_tenant: u64) -> StoreResult<u64> {
    let mut removed = 0;
    if let Some(before) = before_ms {
        removed += on_engine!(&mut *w, |e| sqlx::query("DELETE FROM audit_log WHERE at_ms < $1")
            .bind(before)
            .execute(e)
            .await?
            .rows_affected());
    }
    if keep_per_tenant > 0 {
        removed += on_engine!(&mut *w, |e| sqlx::query(
            "DELETE FROM audit_log WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER \
             (PARTITION BY tenant_id ORDER BY id DESC) AS newer FROM audit_log) AS ranked WHERE newer > $1)",
        )
        .bind(keep_per_tenant as i64)
        .execute(e)
        .await?
        .rows_affected());
    }
    Ok(removed)
}
