use chrono::{DateTime, Utc};

use super::{Pool, StoreError, StoreResult, WriteTx};
use crate::auth::SessionAccess;
use crate::model::{Tenant, TenantJwt, TenantStats};
use crate::quotas::LimitOverrides;

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
    pub session_access: String,
    pub previous_jwt_secret: Option<String>,
    pub previous_jwt_secret_until: Option<DateTime<Utc>>,
    pub quotas: Option<String>,
    pub api_key_hash: String,
    pub previous_api_key_hash: Option<String>,
    pub previous_api_key_until: Option<DateTime<Utc>>,
}

/// A partial update: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub jwt_public_key: Option<Option<String>>,
    pub jwt_issuer: Option<Option<String>>,
    pub jwt_audience: Option<Option<String>>,
    pub tenant_claim: Option<String>,
    pub session_access: Option<SessionAccess>,
    /// Replaces the tenant's quota overrides as a whole.
    pub quotas: Option<LimitOverrides>,
}

impl TenantPatch {
    /// The settings it changes, by their REST names (for the audit log: names, not values).
    pub fn changed(&self) -> Vec<&'static str> {
        [
            (self.name.is_some(), "name"),
            (self.jwt_public_key.is_some(), "jwt.publicKeyPem"),
            (self.jwt_issuer.is_some(), "jwt.issuer"),
            (self.jwt_audience.is_some(), "jwt.audience"),
            (self.tenant_claim.is_some(), "jwt.tenantClaim"),
            (self.session_access.is_some(), "sessionAccess"),
            (self.quotas.is_some(), "quotas"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: String,
    name: String,
    jwt_public_key: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    tenant_claim: String,
    session_access: String,
    quotas: Option<String>,
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
            session_access: SessionAccess::from_stored(&r.session_access),
            quotas: overrides_of(r.quotas.as_deref()),
            created_at: r.created_at,
        }
    }
}

const COLUMNS: &str =
    "id, name, jwt_public_key, jwt_issuer, jwt_audience, tenant_claim, session_access, quotas, created_at";
const AUTH_COLUMNS: &str = "id, jwt_secret, jwt_public_key, jwt_issuer, jwt_audience, tenant_claim, session_access, \
    previous_jwt_secret, previous_jwt_secret_until, quotas, api_key_hash, previous_api_key_hash, previous_api_key_until";

/// Stored overrides; a row the gateway did not write (hand-edited) reads as none.
pub fn overrides_of(stored: Option<&str>) -> LimitOverrides {
    stored.and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
}

pub async fn insert(w: &mut WriteTx, t: NewTenant<'_>) -> StoreResult<Tenant> {
    let now = Utc::now();
    let done = on_engine!(&mut *w, |e| sqlx::query(
        "INSERT INTO tenants (id, name, api_key_hash, jwt_secret, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT(id) DO NOTHING",
    )
    .bind(t.id)
    .bind(t.name)
    .bind(t.api_key_hash)
    .bind(t.jwt_secret)
    .bind(now)
    .execute(e)
    .await?
    .rows_affected());
    if done == 0 {
        return Err(StoreError::Conflict(format!("tenant '{}'", t.id)));
    }
    Ok(Tenant {
        id: t.id.to_owned(),
        name: t.name.to_owned(),
        jwt: TenantJwt { tenant_claim: "tenant".into(), ..Default::default() },
        session_access: SessionAccess::default(),
        quotas: LimitOverrides::default(),
        created_at: now,
    })
}

pub async fn list(pool: &Pool) -> StoreResult<Vec<Tenant>> {
    let sql = format!("SELECT {COLUMNS} FROM tenants ORDER BY created_at, id");
    let rows: Vec<TenantRow> = on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(e).await?);
    Ok(rows.into_iter().map(Tenant::from).collect())
}

/// Every tenant's last handed-out event `seq`.
pub async fn seqs(pool: &Pool) -> StoreResult<Vec<(String, i64)>> {
    Ok(on_engine!(pool, |e| sqlx::query_as("SELECT id, seq FROM tenants").fetch_all(e).await?))
}

pub async fn get(pool: &Pool, id: &str) -> StoreResult<Option<Tenant>> {
    let sql = format!("SELECT {COLUMNS} FROM tenants WHERE id = $1");
    let row: Option<TenantRow> =
        on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(e).await?);
    Ok(row.map(Tenant::from))
}

pub async fn update(w: &mut WriteTx, id: &str, p: TenantPatch) -> StoreResult<()> {
    // Each column is set to the given value or kept; the flag columns say which.
    let done = on_engine!(&mut *w, |e| sqlx::query(
        "UPDATE tenants SET
            name = COALESCE($1, name),
            jwt_public_key = CASE WHEN $2 THEN $3 ELSE jwt_public_key END,
            jwt_issuer = CASE WHEN $4 THEN $5 ELSE jwt_issuer END,
            jwt_audience = CASE WHEN $6 THEN $7 ELSE jwt_audience END,
            tenant_claim = COALESCE($8, tenant_claim),
            session_access = COALESCE($9, session_access),
            quotas = CASE WHEN $10 THEN $11 ELSE quotas END
         WHERE id = $12",
    )
    .bind(p.name)
    .bind(p.jwt_public_key.is_some())
    .bind(p.jwt_public_key.flatten())
    .bind(p.jwt_issuer.is_some())
    .bind(p.jwt_issuer.flatten())
    .bind(p.jwt_audience.is_some())
    .bind(p.jwt_audience.flatten())
    .bind(p.tenant_claim)
    .bind(p.session_access.map(SessionAccess::as_str))
    .bind(p.quotas.is_some())
    .bind(p.quotas.map(|q| serde_json::to_string(&q).expect("overrides serialise")))
    .bind(id)
    .execute(e)
    .await?
    .rows_affected());
    if done == 0 {
        return Err(StoreError::NotFound(format!("tenant '{id}'")));
    }
    Ok(())
}

pub async fn delete(w: &mut WriteTx, id: &str) -> StoreResult<bool> {
    let done = on_engine!(&mut *w, |e| sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(id)
        .execute(e)
        .await?
        .rows_affected());
    Ok(done > 0)
}

/// The tenant whose API key hashes to `hash`: its current key, or the one it replaced while
/// that one's grace period lasts.
/// New credentials of a tenant; the ones they replace keep working until `grace_until`
/// (now: not at all).
pub struct Rotation<'a> {
    pub api_key_hash: Option<&'a str>,
    pub jwt_secret: Option<&'a str>,
    pub grace_until: DateTime<Utc>,
}

pub async fn rotate(w: &mut WriteTx, id: &str, r: Rotation<'_>) -> StoreResult<()> {
    let done = on_engine!(&mut *w, |e| sqlx::query(
        "UPDATE tenants SET
            previous_api_key_hash = CASE WHEN $1 IS NULL THEN previous_api_key_hash ELSE api_key_hash END,
            previous_api_key_until = CASE WHEN $1 IS NULL THEN previous_api_key_until ELSE $3 END,
            api_key_hash = COALESCE($1, api_key_hash),
            previous_jwt_secret = CASE WHEN $2 IS NULL THEN previous_jwt_secret ELSE jwt_secret END,
            previous_jwt_secret_until = CASE WHEN $2 IS NULL THEN previous_jwt_secret_until ELSE $3 END,
            jwt_secret = COALESCE($2, jwt_secret)
         WHERE id = $4",
    )
    .bind(r.api_key_hash)
    .bind(r.jwt_secret)
    .bind(r.grace_until)
    .bind(id)
    .execute(e)
    .await?
    .rows_affected());
    if done == 0 {
        return Err(StoreError::NotFound(format!("tenant '{id}'")));
    }
    Ok(())
}

pub async fn auth_records(pool: &Pool) -> StoreResult<Vec<TenantAuthRecord>> {
    let sql = format!("SELECT {AUTH_COLUMNS} FROM tenants");
    Ok(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(e).await?))
}

pub async fn auth_record(pool: &Pool, id: &str) -> StoreResult<Option<TenantAuthRecord>> {
    let sql = format!("SELECT {AUTH_COLUMNS} FROM tenants WHERE id = $1");
    Ok(on_engine!(pool, |e| sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(e).await?))
}

/// Sessions are counted (a tenant has few); message and chat totals are kept by the
/// triggers of migration 0015.
pub async fn stats(pool: &Pool, tenant: &str) -> StoreResult<TenantStats> {
    let (sessions, connected): (i64, i64) = on_engine!(pool, |e| sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'CONNECTED' THEN 1 ELSE 0 END), 0) FROM sessions WHERE tenant_id = $1"
    )
    .bind(tenant)
    .fetch_one(e)
    .await?);
    let totals: Option<(i64, i64, i64, i64, i64)> = on_engine!(pool, |e| sqlx::query_as(
        "SELECT chats, unread, messages_sent, messages_received, messages_failed FROM tenants WHERE id = $1",
    )
    .bind(tenant)
    .fetch_optional(e)
    .await?);
    let (chats, unread, sent, received, failed) = totals.unwrap_or_default();
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
