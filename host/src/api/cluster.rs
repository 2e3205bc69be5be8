//! The cluster as the operator sees it: which nodes are alive, since when, how many sessions
//! each runs, where the others reach it, and which plugin builds it serves.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, ErrorBody};
use super::extract::Admin;
use super::state::AppState;
use crate::store::leases::{self, ServedPlugin};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(cluster_nodes))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    /// Whether this gateway runs as one node of several (`cluster.enabled`).
    enabled: bool,
    /// The node that answered; null outside a cluster.
    this_node: Option<String>,
    /// The nodes alive (a heartbeat within a lease's lifetime), by id; empty outside a cluster.
    nodes: Vec<NodeView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    id: String,
    started_at: DateTime<Utc>,
    /// Sessions whose lease the node holds.
    sessions: u64,
    /// Where the other nodes forward requests for its sessions (`cluster.advertise_url`).
    url: Option<String>,
    /// The plugins it serves, by name: a digest that differs between nodes means they serve
    /// different builds (a folder not yet in step everywhere).
    plugins: Vec<ServedPlugin>,
}

/// The nodes of this gateway's cluster.
#[utoipa::path(get, path = "/api/v1/cluster/nodes", tag = "cluster", security(("admin" = [])),
    responses((status = 200, body = ClusterView), (status = 401, body = ErrorBody)))]
async fn cluster_nodes(_: Admin, State(st): State<AppState>) -> ApiResult<Json<ClusterView>> {
    let Some(this_node) = st.sessions.node_id() else {
        return Ok(Json(ClusterView { enabled: false, this_node: None, nodes: Vec::new() }));
    };
    let now = Utc::now().timestamp_millis();
    let since = now - st.config.cluster.lease_ttl_ms as i64;
    let nodes = leases::live_nodes(st.store.pool(), since, now)
        .await?
        .into_iter()
        .map(|n| NodeView {
            id: n.id,
            started_at: DateTime::from_timestamp_millis(n.started_ms).unwrap_or_default(),
            sessions: n.sessions.max(0) as u64,
            url: n.profile.url,
            plugins: n.profile.plugins,
        })
        .collect();
    Ok(Json(ClusterView { enabled: true, this_node: Some(this_node.to_owned()), nodes }))
}
