use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ErrorBody;
use super::extract::Admin;
use super::state::AppState;
use crate::metrics::{CONTENT_TYPE, Metrics};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Every metric in the Prometheus (OpenMetrics) text format; docs/operations.md lists them.
#[utoipa::path(get, path = "/metrics", tag = "health", security(("admin" = [])),
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text"),
              (status = 401, description = "no or wrong admin key", body = ErrorBody)))]
async fn metrics(_: Admin, State(st): State<AppState>) -> impl IntoResponse {
    render(&st.metrics).await
}

async fn render(metrics: &Metrics) -> impl IntoResponse + use<> {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render().await)
}

/// What the separate metrics listener (`metrics.listen`) serves: `/metrics` and nothing else.
pub fn standalone(metrics: Arc<Metrics>) -> Router {
    Router::new().route("/metrics", axum::routing::get(move || async move { render(&metrics).await }))
}
