//! Notices between nodes, over PostgreSQL `NOTIFY` on one channel per schema: a node that
//! changed something every node keeps in memory (the tenant directory, a tenant's webhook
//! endpoints, its plugin bindings) says so after the change commits, and the others reload it
//! from the store. A node that lost the channel for a while reloads everything once back, so
//! a notice missed then is not a change missed. Alone (no cluster), nothing is sent.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;

use super::Channel;
use crate::auth::{Revocation, Revocations, TenantDirectory};
use crate::plugins::{PluginError, Plugins};
use crate::store::{Store, StoreError};
use crate::webhooks::{WebhookError, Webhooks};

/// What changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Change {
    /// A tenant was created, or its keys or settings changed: the directory is reloaded and
    /// the tenant's sockets checked again.
    Tenant { tenant: String },
    /// A tenant was deleted: what the node keeps of it goes, its sockets are disconnected.
    TenantDeleted { tenant: String },
    /// The tenant's webhook endpoints changed.
    Webhooks { tenant: String },
    /// The tenant's plugin bindings changed.
    Bindings { tenant: String },
}

#[derive(Serialize, Deserialize)]
struct Notice {
    from: String,
    #[serde(flatten)]
    change: Change,
}

/// Where this node's notices go; `off` on a single node.
#[derive(Clone, Default)]
pub struct Notices(Option<Arc<Channel>>);

/// The caches a notice refreshes.
#[derive(Clone)]
pub struct Followers {
    pub store: Store,
    pub directory: TenantDirectory,
    pub webhooks: Webhooks,
    pub plugins: Plugins,
    pub revocations: Revocations,
}

impl Notices {
    /// The notices of this node's cluster, on a channel of their own.
    pub fn new(node: Option<&str>, store: &Store, schema: Option<&str>) -> Self {
        Notices(Channel::open(node, store, schema, "notices"))
    }

    /// Tells the other nodes; a notice that cannot be sent is logged (they reload everything
    /// when their own channel comes back, not on this one's failure: say it plainly).
    pub async fn tell(&self, change: Change) {
        let Some(ch) = &self.0 else { return };
        let payload = serde_json::to_string(&Notice { from: ch.node.clone(), change }).expect("a notice serialises");
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(&ch.name).bind(&payload).execute(&ch.pool).await {
            tracing::error!(error = %e, notice = %payload, "cluster notice not sent; other nodes keep their cached copy");
        }
    }

    /// Listens until the task is aborted and applies what the other nodes say.
    pub fn spawn_listener(&self, followers: Followers) -> Option<tokio::task::JoinHandle<()>> {
        let ch = self.0.clone()?;
        Some(tokio::spawn(async move {
            loop {
                let result = listen(&ch, &followers).await;
                // The gateway is stopping.
                if matches!(result, Err(sqlx::Error::PoolClosed)) {
                    return;
                }
                if let Err(e) = result {
                    tracing::warn!(error = %e, "cluster notices interrupted; listening again");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }))
    }
}

async fn listen(ch: &Channel, f: &Followers) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(&ch.pool).await?;
    listener.listen(&ch.name).await?;
    // Whatever was said while not listening is unknown: everything is read again.
    reload_all(f).await;
    loop {
        let Some(n) = listener.try_recv().await? else {
            tracing::warn!("cluster notices: connection lost; reloading everything once back");
            listener.listen(&ch.name).await?;
            reload_all(f).await;
            continue;
        };
        match serde_json::from_str::<Notice>(n.payload()) {
            Ok(notice) if notice.from == ch.node => {}
            Ok(notice) => apply(f, notice.change).await,
            Err(e) => tracing::warn!(error = %e, payload = n.payload(), "unreadable cluster notice ignored"),
        }
    }
}

/// Why a notice could not be applied.
#[derive(Debug, thiserror::Error)]
enum ApplyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Webhooks(#[from] WebhookError),
    #[error(transparent)]
    Plugins(#[from] PluginError),
}

async fn apply(f: &Followers, change: Change) {
    match apply_change(f, &change).await {
        Ok(()) => tracing::debug!(?change, "cluster notice applied"),
        Err(e) => tracing::error!(?change, error = %e, "cluster notice not applied"),
    }
}

async fn apply_change(f: &Followers, change: &Change) -> Result<(), ApplyError> {
    let pool = f.store.pool();
    match change {
        Change::Tenant { tenant } => {
            f.directory.reload(pool).await?;
            f.revocations.announce(Revocation::TenantChanged { tenant: tenant.clone(), recheck_at: None });
        }
        Change::TenantDeleted { tenant } => {
            f.webhooks.forget_tenant(tenant);
            f.plugins.forget_tenant(tenant);
            f.directory.reload(pool).await?;
            f.revocations.announce(Revocation::TenantDeleted(tenant.clone()));
        }
        Change::Webhooks { tenant } => f.webhooks.reload_tenant(tenant).await?,
        Change::Bindings { tenant } => f.plugins.reload_bindings(tenant).await?,
    }
    Ok(())
}

async fn reload_all(f: &Followers) {
    if let Err(e) = f.directory.reload(f.store.pool()).await {
        tracing::error!(error = %e, "tenant directory not reloaded");
    }
    for tenant in f.directory.ids() {
        if let Err(e) = f.webhooks.reload_tenant(&tenant).await {
            tracing::error!(%tenant, error = %e, "webhook endpoints not reloaded");
        }
        if let Err(e) = f.plugins.reload_bindings(&tenant).await {
            tracing::error!(%tenant, error = %e, "plugin bindings not reloaded");
        }
    }
}
