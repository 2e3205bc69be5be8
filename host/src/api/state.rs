use std::sync::Arc;

use crate::audit::Audit;
use crate::auth::{AdminKey, Revocations, TenantDirectory};
use crate::config::Config;
use crate::connector::sim::SimWorld;
use crate::media::MediaStore;
use crate::events::Tail;
use crate::metrics::Metrics;
use crate::metrics::requests::RequestMetrics;
use crate::media::links::MediaLinks;
use crate::plugins::Plugins;
use crate::quotas::{Connections, Rates};
use crate::sessions::Sessions;
use crate::store::Store;
use crate::webhooks::Webhooks;

/// Everything a REST handler may use.
#[derive(Clone)]
pub struct AppState {
    /// What this node tells the other nodes of its cluster (nothing when alone).
    pub notices: crate::cluster::notices::Notices,
    pub config: Arc<Config>,
    pub store: Store,
    /// Media files of messages.
    pub media: MediaStore,
    /// Signs and checks the browser links to those files.
    pub media_links: MediaLinks,
    pub directory: TenantDirectory,
    pub sessions: Sessions,
    pub sim: SimWorld,
    pub admin_key: AdminKey,
    pub plugins: Plugins,
    /// Where a route that ends a right announces it, for the sockets that hold it.
    pub revocations: Revocations,
    /// Request rates per credential (and the other rates of the gateway).
    pub rates: Rates,
    pub webhooks: Webhooks,
    /// Where a reader of the stored journal (the event stream) waits for the next commit.
    pub journal_tail: Tail,
    /// Sockets and event streams open per tenant and user (their limits).
    pub connections: Connections,
    /// Where administrators' actions are recorded.
    pub audit: Audit,
    /// What `GET /metrics` renders.
    pub metrics: Arc<Metrics>,
    /// REST requests by route and status (the router's outermost layer records them).
    pub requests: RequestMetrics,
}
