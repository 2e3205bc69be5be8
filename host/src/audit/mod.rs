//! The audit log: what the operator and tenant administrators did (tenants created and
//! changed, credentials rotated, plugins bound, reconfigured, unbound and reloaded, sessions
//! created and deleted, webhooks changed), with who, when and to what. The API records an
//! entry right after the change it names has committed; the plugin watcher records the hot
//! reloads it makes. Listed by `GET /api/v1/audit` (operator) and `GET /api/v1/tenant/audit`
//! (a tenant's administrator, its own entries); pruned by age and by count.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::AuditConfig;
use crate::store::audit::{self as rows, AuditQuery, AuditRow, NewAuditRow};
use crate::store::{Store, StoreError, StoreResult, pruning};

/// Longest `detail` kept; what it says is for people, never a config's values.
const MAX_DETAIL_CHARS: usize = 500;

/// Entries one page lists at most.
pub const MAX_PAGE: i64 = 500;

macro_rules! actions {
    ($($variant:ident = $text:literal),+ $(,)?) => {
        /// What was done.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        pub enum AuditAction { $(#[serde(rename = $text)] $variant),+ }

        impl AuditAction {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

actions! {
    TenantCreated = "tenant.created",
    TenantUpdated = "tenant.updated",
    TenantDeleted = "tenant.deleted",
    CredentialsRotated = "tenant.credentials_rotated",
    PluginBound = "plugin.bound",
    PluginConfigChanged = "plugin.config_changed",
    PluginUnbound = "plugin.unbound",
    PluginReloaded = "plugin.reloaded",
    SessionCreated = "session.created",
    SessionDeleted = "session.deleted",
    SendPolicyChanged = "session.send_policy_changed",
    WebhookCreated = "webhook.created",
    WebhookUpdated = "webhook.updated",
    WebhookDeleted = "webhook.deleted",
    WebhookSecretRotated = "webhook.secret_rotated",
}

/// Who did it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The admin key.
    Operator,
    /// The tenant's API key.
    ApiKey,
    /// A user token with the `admin` role; `user` is its subject.
    User { user: Option<String> },
    /// The plugin folder watcher, after files changed on disk.
    Watcher,
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::Operator => "operator",
            Actor::ApiKey => "api_key",
            Actor::User { .. } => "user",
            Actor::Watcher => "watcher",
        }
    }

    fn user(&self) -> Option<&str> {
        match self {
            Actor::User { user } => user.as_deref(),
            _ => None,
        }
    }

    fn from_row(kind: &str, user: Option<String>) -> StoreResult<Self> {
        Ok(match kind {
            "operator" => Actor::Operator,
            "api_key" => Actor::ApiKey,
            "user" => Actor::User { user },
            "watcher" => Actor::Watcher,
            other => return Err(StoreError::Corrupt(format!("unknown audit actor '{other}'"))),
        })
    }
}

/// One thing done, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    #[serde(serialize_with = "crate::model::time::millis")]
    pub at: DateTime<Utc>,
    /// `null`: the gateway as a whole (a plugin reload).
    pub tenant_id: Option<String>,
    pub actor: Actor,
    pub action: AuditAction,
    /// What it was done to: a tenant, plugin, session or webhook id.
    pub target: String,
    /// What changed, in words (which settings, which credentials, a reload's outcome).
    pub detail: Option<String>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(r: AuditRow) -> StoreResult<Self> {
        Ok(AuditEntry {
            id: r.id,
            at: DateTime::from_timestamp_millis(r.at_ms).unwrap_or_default(),
            tenant_id: r.tenant_id,
            actor: Actor::from_row(&r.actor_kind, r.actor_user)?,
            action: AuditAction::parse(&r.action)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown audit action '{}'", r.action)))?,
            target: r.target,
            detail: r.detail,
        })
    }
}

/// A change to record.
pub struct Change {
    pub tenant: Option<String>,
    pub action: AuditAction,
    pub target: String,
    pub detail: Option<String>,
}

impl Change {
    pub fn of_tenant(tenant: &str, action: AuditAction, target: &str) -> Self {
        Change { tenant: Some(tenant.to_owned()), action, target: target.to_owned(), detail: None }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        let detail: String = detail.into();
        self.detail = Some(detail.chars().take(MAX_DETAIL_CHARS).collect());
        self
    }
}

/// Which entries a page holds.
pub struct Filter<'a> {
    pub tenant: Option<&'a str>,
    pub action: Option<AuditAction>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

#[derive(Clone)]
pub struct Audit {
    store: Store,
}

impl Audit {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Records what `actor` did. The change itself has already committed: an entry that
    /// cannot be written is logged as an error and the action still stands.
    pub async fn record(&self, actor: &Actor, change: Change) {
        if let Err(e) = self.append(actor, &change).await {
            tracing::error!(error = %e, action = change.action.as_str(), target = %change.target, "audit entry not written");
        }
    }

    async fn append(&self, actor: &Actor, change: &Change) -> StoreResult<()> {
        let mut w = self.store.begin_write().await?;
        let row = NewAuditRow {
            at_ms: Utc::now().timestamp_millis(),
            tenant_id: change.tenant.as_deref(),
            actor_kind: actor.kind(),
            actor_user: actor.user(),
            action: change.action.as_str(),
            target: &change.target,
            detail: change.detail.as_deref(),
        };
        rows::append(&mut w, row).await?;
        w.commit().await?;
        Ok(())
    }

    /// Newest first.
    pub async fn list(&self, filter: Filter<'_>) -> StoreResult<Vec<AuditEntry>> {
        let query = AuditQuery {
            tenant: filter.tenant,
            action: filter.action.map(AuditAction::as_str),
            before_id: filter.before_id,
            limit: filter.limit.clamp(1, MAX_PAGE),
        };
        rows::list(self.store.pool(), query).await?.into_iter().map(AuditEntry::try_from).collect()
    }
}

/// Every `audit.prune_interval_secs`, deletes entries past `audit.retention_days` and, per
/// tenant, beyond the newest `audit.retention_count`.
pub fn spawn_pruning(store: Store, cfg: AuditConfig) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(cfg.prune_interval_secs.max(1));
    pruning::spawn_every("audit log", every, move || {
        let (store, cfg) = (store.clone(), cfg.clone());
        async move { prune(&store, &cfg).await }
    })
}

/// One pass; how many entries went.
pub async fn prune(store: &Store, cfg: &AuditConfig) -> StoreResult<u64> {
    let before = (cfg.retention_days > 0)
        .then(|| Utc::now().timestamp_millis() - (cfg.retention_days as i64).saturating_mul(86_400_000));
    let mut w = store.begin_write().await?;
    let removed = rows::prune(&mut w, before, cfg.retention_count).await?;
    w.commit().await?;
    Ok(removed)
}
