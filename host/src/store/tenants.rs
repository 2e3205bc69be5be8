use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::{StoreError, StoreResult, WriteTx};
use crate::model::{Tenant, TenantJwt, TenantStats};

pub struct NewTenant<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub api_key_hash: &'a str,
    pub jwt_secret: &'a str,
}

/// What token verification needs of a tenant, secrets included. Never serialised.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TenantAuthRecord {
    pub id: String,
    pub jwt_secret: String,
    pub jwt_public_key: Option<String>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    pub tenant_claim: String,
}

/// A partial update: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub jwt_public_key: Option<Option<String>>,
    pub jwt_issuer: Option<Option<String>>,
    pub jwt_audience: Option<Option<String>>,
    pub tenant_claim: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: String,
    name: String,
    jwt_public_key: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    tenant_claim: String,
    created_at: DateTime<Utc>,
}

impl From<TenantRow> for Tenant {
    fn from(r: TenantRow) -> Self {
        Tenant {
            id: r.id,
            name: r.name,
            jwt: TenantJwt {
                public_key_pem: r.jwt_public_key,
                issuer: r.jwt_issuer,
                audience: r.jwt_audience,
                tenant_claim: r.tenant_claim,
            },
            created_at: r.created_at,
        }
    }
}

const COLUMNS: &str = "id, name, jwt_public_key, jwt_issuer, jwt_audience, tenant_claim, created_at";

pub async fn insert(w: &mut WriteTx, t: NewTenant<'_>) -> StoreResult<Tenant> {
    let now = Utc::now();
    let done = sqlx::query(
        "INSERT INTO tenants (id, name, api_key_hash, jwt_secret, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(id) DO NOTHING",
    )
    .bind(t.id)
    .bind(t.name)
    .bind(t.api_key_hash)
    .bind(t.jwt_secret)
    .bind(now)
    .execute(w.conn())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!("tenant '{}'", t.id)));
    }
    Ok(Tenant {
        id: t.id.to_owned(),
        name: t.name.to_owned(),
        jwt: TenantJwt { tenant_claim: "tenant".into(), ..Default::default() },
        created_at: now,
    })
}

pub async fn list(pool: &SqlitePool) -> StoreResult<Vec<Tenant>> {
    let sql = format!("SELECT {COLUMNS} FROM tenants ORDER BY created_at, id");
    let rows: Vec<TenantRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
    Ok(rows.into_iter().map(Tenant::from).collect())
}

pub async fn get(pool: &SqlitePool, id: &str) -> StoreResult<Option<Tenant>> {
    let sql = format!("SELECT {COLUMNS} FROM tenants WHERE id = ?");
    let row: Option<TenantRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
    Ok(row.map(Tenant::from))
}

pub async fn update(w: &mut WriteTx, id: &str, p: TenantPatch) -> StoreResult<()> {
    // Each column is set to the given value or kept; the flag columns say which.
    let done = sqlx::query(
        "UPDATE tenants SET
            name = COALESCE(?, name),
            jwt_public_key = CASE WHEN ? THEN ? ELSE jwt_public_key END,
            jwt_issuer = CASE WHEN ? THEN ? ELSE jwt_issuer END,
            jwt_audience = CASE WHEN ? THEN ? ELSE jwt_audience END,
            tenant_claim = COALESCE(?, tenant_claim)
         WHERE id = ?",
    )
    .bind(p.name)
    .bind(p.jwt_public_key.is_some())
    .bind(p.jwt_public_key.flatten())
    .bind(p.jwt_issuer.is_some())
    .bind(p.jwt_issuer.flatten())
    .bind(p.jwt_audience.is_some())
    .bind(p.jwt_audience.flatten())
    .bind(p.tenant_claim)
    .bind(id)
    .execute(w.conn())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("tenant '{id}'")));
    }
    Ok(())
}

pub async fn delete(w: &mut WriteTx, id: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM tenants WHERE id = ?").bind(id).execute(w.conn()).await?;
    Ok(done.rows_affected() > 0)
}

pub async fn find_by_api_key_hash(pool: &SqlitePool, hash: &str) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT id FROM tenants WHERE api_key_hash = ?").bind(hash).fetch_optional(pool).await?)
}

pub async fn auth_records(pool: &SqlitePool) -> StoreResult<Vec<TenantAuthRecord>> {
    Ok(sqlx::query_as("SELECT id, jwt_secret, jwt_public_key, jwt_issuer, jwt_audience, tenant_claim FROM tenants")
        .fetch_all(pool)
        .await?)
}

pub async fn auth_record(pool: &SqlitePool, id: &str) -> StoreResult<Option<TenantAuthRecord>> {
    Ok(sqlx::query_as(
        "SELECT id, jwt_secret, jwt_public_key, jwt_issuer, jwt_audience, tenant_claim FROM tenants WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

pub async fn stats(pool: &SqlitePool, tenant: &str) -> StoreResult<TenantStats> {
    let (sessions, connected): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(status = 'CONNECTED'), 0) FROM sessions WHERE tenant_id = ?")
            .bind(tenant)
            .fetch_one(pool)
            .await?;
    let (chats, unread): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(unread_count), 0) FROM chats WHERE tenant_id = ?")
            .bind(tenant)
            .fetch_one(pool)
            .await?;
    let (sent, received, failed): (i64, i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(direction = 'outbound' AND status != 'FAILED'), 0),
                COALESCE(SUM(direction = 'inbound'), 0),
                COALESCE(SUM(status = 'FAILED'), 0)
         FROM messages WHERE tenant_id = ?",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await?;
    Ok(TenantStats {
        sessions,
        connected,
        chats,
        unread,
        messages_sent: sent,
        messages_received: received,
        messages_failed: failed,
    })
}
