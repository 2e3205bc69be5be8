//! In a cluster, a REST request for a session that another node runs is sent on to that node
//! and its answer given back, so a client may call any node. The request is first handled
//! here as usual: a session command refuses itself before it changes anything when another
//! node holds the session's lease (`SessionError::OnAnotherNode`), and only such a refusal is
//! forwarded, once (a forwarded request carries `wagate-forwarded-by` and is never sent on
//! again). The owner authenticates and authorises the request itself.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, RunsOn};
use crate::store::{Store, StoreError, leases};

/// Set on a request one node forwards to another: the node that forwarded it.
pub const FORWARDED_BY: &str = "wagate-forwarded-by";
/// Set on an answer that another node gave: that node.
pub const ANSWERED_BY: &str = "wagate-answered-by";

/// A forwarded request that takes longer than this is given up (a send with a large media
/// upload is the longest there is).
const TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Headers about one connection, not the request: never passed on.
const HOP_BY_HOP: [HeaderName; 6] =
    [header::HOST, header::CONNECTION, header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::TE, header::UPGRADE];

#[derive(Clone)]
pub struct Forwarder {
    node: HeaderValue,
    store: Store,
    client: reqwest::Client,
    max_body: usize,
}

#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error("node '{0}' has not said where it can be reached (cluster.advertise_url)")]
    NoAddress(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("node '{node}' did not answer: {error}")]
    Unreachable { node: String, error: reqwest::Error },
}

/// Why the forwarding client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("forwarding client TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("forwarding client: {0}")]
    Client(#[from] reqwest::Error),
}

impl Forwarder {
    /// `None` outside a cluster.
    pub fn new(node: Option<&str>, store: &Store, max_body: usize) -> Result<Option<Self>, ClientError> {
        let Some(node) = node else { return Ok(None) };
        let client = crate::egress::operator_client()?
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let node = HeaderValue::from_str(node).expect("a node id is letters, digits and punctuation (config check)");
        Ok(Some(Forwarder { node, store: store.clone(), client, max_body }))
    }

    async fn send(
        &self,
        owner: &str,
        method: Method,
        uri: &Uri,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<Response, ForwardError> {
        let base = leases::node_url(self.store.pool(), owner)
            .await?
            .ok_or_else(|| ForwardError::NoAddress(owner.to_owned()))?;
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        for h in &HOP_BY_HOP {
            headers.remove(h);
        }
        headers.insert(FORWARDED_BY, self.node.clone());
        let unreachable = |error| ForwardError::Unreachable { node: owner.to_owned(), error };
        let answer = self
            .client
            .request(method, format!("{}{path}", base.trim_end_matches('/')))
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(unreachable)?;
        let mut response = Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            if !HOP_BY_HOP.contains(name) {
                response = response.header(name, value);
            }
        }
        if let Ok(owner) = HeaderValue::from_str(owner) {
            response = response.header(ANSWERED_BY, owner);
        }
        Ok(response.body(Body::from_stream(answer.bytes_stream())).expect("status and headers came from a response"))
    }
}

/// Only these paths name a session a node may not run.
fn about_a_session(path: &str) -> bool {
    path.starts_with("/api/v1/sessions/") || path.starts_with("/api/v1/sim/sessions/")
}

pub async fn forward(State(f): State<Option<Forwarder>>, req: Request, next: Next) -> Response {
    let Some(f) = f else { return next.run(req).await };
    if !about_a_session(req.uri().path()) || req.headers().contains_key(FORWARDED_BY) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // Kept to send on: the handler here takes the body, and refuses before acting on it.
    let body = match axum::body::to_bytes(body, f.max_body).await {
        Ok(body) => body,
        Err(_) => {
            let message = format!("the request body is larger than {} bytes", f.max_body);
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", message).into_response();
        }
    };
    let (method, uri, headers) = (parts.method.clone(), parts.uri.clone(), parts.headers.clone());
    let refused = next.run(Request::from_parts(parts, Body::from(body.clone()))).await;
    let Some(RunsOn(owner)) = refused.extensions().get::<RunsOn>().cloned() else { return refused };
    match f.send(&owner, method, &uri, headers, body).await {
        Ok(answer) => answer,
        // The client learns which node runs the session from the refusal itself.
        Err(e @ ForwardError::NoAddress(_)) => {
            tracing::warn!(error = %e, "request for another node's session not forwarded");
            refused
        }
        Err(e) => {
            tracing::warn!(error = %e, "request for another node's session not forwarded");
            let message = format!("{e}; the session moves to another node if it stays so");
            ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "session_node_unreachable", message)
            }
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_session_paths_are_forwarded() {
        assert!(about_a_session("/api/v1/sessions/s1/messages"));
        assert!(about_a_session("/api/v1/sim/sessions/s1/inbound"));
        assert!(!about_a_session("/api/v1/sessions"));
        assert!(!about_a_session("/api/v1/tenants/acme"));
    }
}
