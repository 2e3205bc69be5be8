//! REST requests by route and status, with their latency. The route is the matched pattern
//! (`/api/v1/sessions/{id}`), never the raw path, so ids do not multiply the series.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::latency_histogram;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabels {
    method: String,
    route: String,
    status: u16,
}

/// What no route matched is counted under this route.
const UNMATCHED: &str = "unmatched";

#[derive(Clone)]
pub struct RequestMetrics {
    requests: Family<ResponseLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self { requests: Family::default(), latency: Family::new_with_constructor(latency_histogram) }
    }
}

impl RequestMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register("http_requests", "REST requests by method, route and status", self.requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "REST request latency by method and route, until the response head",
            self.latency.clone(),
        );
    }
}

/// A client can send any method name; the series are kept to the ones HTTP defines.
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`) that records every request it passes.
pub async fn record(State(m): State<RequestMetrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method()).to_owned();
    let route = req.extensions().get::<MatchedPath>().map_or(UNMATCHED, |p| p.as_str()).to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16();
    m.latency.get_or_create(&RouteLabels { method: method.clone(), route: route.clone() }).observe(started.elapsed().as_secs_f64());
    m.requests.get_or_create(&ResponseLabels { method, route, status }).inc();
    response
}
