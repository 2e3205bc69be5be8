//! Quotas: configured defaults, the operator's per-tenant overrides, and the answer when a
//! count (403) or a rate (429 + Retry-After) is reached. Socket quotas are in the e2e suite.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{ADMIN, TestGateway, install_plugin};
use serde_json::{Value, json};
use wagate::auth::Identity;
use wagate::plugins::HostAction;

async fn set_quotas(gw: &TestGateway, tenant: &str, quotas: Value) -> (StatusCode, Value) {
    gw.call(Method::PATCH, &format!("/api/v1/tenants/{tenant}"), Some(ADMIN), Some(json!({ "quotas": quotas }))).await
}

#[tokio::test]
async fn sessions_per_tenant_follow_the_default_then_the_override() {
    let gw = TestGateway::start_with(|c| c.quotas.max_sessions = 3).await;
    let acme = gw.tenant("acme").await;
    let other = gw.tenant("other").await;
    for id in ["a", "b", "c"] {
        assert_eq!(gw.post("/api/v1/sessions", &acme.api_key, json!({ "id": id })).await.0, StatusCode::CREATED);
    }
    let (s, b) = gw.post("/api/v1/sessions", &acme.api_key, json!({ "id": "d" })).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(b["error"]["code"], "quota_exceeded");
    assert_eq!(b["error"]["message"], "quota exceeded: sessions per tenant (limit 3)");
    assert_eq!(gw.post("/api/v1/sessions", &other.api_key, json!({ "id": "d" })).await.0, StatusCode::CREATED);

    // The operator raises acme's limit; the tenant view shows the override.
    let (s, b) = set_quotas(&gw, "acme", json!({ "maxSessions": 4 })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["quotas"], json!({ "maxSessions": 4 }));
    assert_eq!(gw.post("/api/v1/sessions", &acme.api_key, json!({ "id": "d" })).await.0, StatusCode::CREATED);
    assert_eq!(gw.post("/api/v1/sessions", &acme.api_key, json!({ "id": "e" })).await.0, StatusCode::FORBIDDEN);
    // Deleting one frees its place.
    gw.call(Method::DELETE, "/api/v1/sessions/a", Some(&acme.api_key), None).await;
    assert_eq!(gw.post("/api/v1/sessions", &acme.api_key, json!({ "id": "e" })).await.0, StatusCode::CREATED);

    // Overrides that would refuse everything, or are not quotas, are refused.
    let (s, b) = set_quotas(&gw, "acme", json!({ "maxSessions": 0 })).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_quotas")));
    let (s, _) = set_quotas(&gw, "acme", json!({ "maxPizzas": 1 })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // `{}` goes back to the defaults.
    let (_, b) = set_quotas(&gw, "acme", json!({})).await;
    assert_eq!(b["quotas"], json!({}));
    assert_eq!(gw.post("/api/v1/sessions", &acme.api_key, json!({ "id": "f" })).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn concurrent_creates_cannot_pass_the_limit_together() {
    let gw = Arc::new(TestGateway::start_with(|c| c.quotas.max_sessions = 5).await);
    let acme = gw.tenant("acme").await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (gw, key) = (gw.clone(), acme.api_key.clone());
            tokio::spawn(async move { gw.post("/api/v1/sessions", &key, json!({ "id": format!("s{i}") })).await.0 })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap() == StatusCode::CREATED {
            created += 1;
        }
    }
    assert_eq!(created, 5);
    let (_, list) = gw.get("/api/v1/sessions", &acme.api_key).await;
    assert_eq!(list.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn rest_requests_per_credential_are_a_rate_with_retry_after() {
    let gw = TestGateway::start().await;
    let acme = gw.tenant("acme").await;
    let (s, _) = set_quotas(&gw, "acme", json!({ "requestsPerMinute": 3 })).await;
    assert_eq!(s, StatusCode::OK);
    let mint = |sub: &str| {
        let body = json!({ "sub": sub });
        let (gw, key) = (&gw, acme.api_key.clone());
        async move { gw.post("/api/v1/tokens", &key, body).await.1["token"].as_str().unwrap().to_owned() }
    };
    // The two mints above spent two of the key's three.
    let ana = mint("ana").await;
    let bob = mint("bob").await;
    assert_eq!(gw.get("/api/v1/sessions", &acme.api_key).await.0, StatusCode::OK);
    let req = Request::get("/api/v1/sessions").header("authorization", format!("Bearer {}", acme.api_key));
    let resp = tower::ServiceExt::oneshot(gw.router.clone(), req.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "Retry-After {retry}");
    let body: Value = serde_json::from_slice(
        &http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes(),
    )
    .unwrap();
    assert_eq!(body["error"]["code"], "quota_exceeded");
    // Each user of the tenant has a budget of its own; the key's is spent.
    for _ in 0..3 {
        assert_eq!(gw.get("/api/v1/sessions", &ana).await.0, StatusCode::OK);
    }
    assert_eq!(gw.get("/api/v1/sessions", &ana).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(gw.get("/api/v1/sessions", &bob).await.0, StatusCode::OK);
    // The operator is not counted against the tenant.
    assert_eq!(gw.get("/api/v1/tenants/acme", ADMIN).await.0, StatusCode::OK);
}

#[tokio::test]
async fn plugin_kv_bytes_are_checked_inside_the_write() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    install_plugin(&dir.path().join("plugins"), "relay", "relay", |t| t);
    // relay keeps one key, "count" (5 bytes), with the number of its calls as the value:
    // 6 bytes hold 1..9; "10" would be 7.
    let gw = TestGateway::start_in(dir, |c| c.quotas.plugin_kv_bytes = 6).await;
    let acme = gw.tenant("acme").await;
    let (s, b) =
        gw.call(Method::PUT, "/api/v1/tenant/plugins/relay", Some(&acme.api_key), Some(json!({ "config": {} }))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let caller = Identity::new("acme".into(), Some("u1".into()), json!({}));
    let plugins = &gw.gateway.state.plugins;
    let mut counts = Vec::new();
    for _ in 0..12 {
        let actions = plugins.client_event(&caller, "relay:count", &json!(null)).await.unwrap();
        let [HostAction::Deliver(d)] = &actions[..] else { panic!("{actions:?}") };
        counts.push(d.payload["count"].as_u64().unwrap());
    }
    assert_eq!(counts, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10], "the write of '10' was refused, '9' kept");
    // A larger override for this tenant lets it grow again.
    set_quotas(&gw, "acme", json!({ "pluginKvBytes": 7 })).await;
    let actions = plugins.client_event(&caller, "relay:count", &json!(null)).await.unwrap();
    let [HostAction::Deliver(d)] = &actions[..] else { panic!() };
    assert_eq!(d.payload["count"], 10);
    let actions = plugins.client_event(&caller, "relay:count", &json!(null)).await.unwrap();
    let [HostAction::Deliver(d)] = &actions[..] else { panic!() };
    assert_eq!(d.payload["count"], 11, "'10' was stored this time");
}

#[tokio::test]
async fn zero_quotas_in_the_config_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::fast_config(dir.path());
    config.quotas.requests_per_minute = 0;
    let err = wagate::app::Gateway::build(config).await.err().expect("refused");
    assert!(err.to_string().contains("requests_per_minute"), "{err}");
}
