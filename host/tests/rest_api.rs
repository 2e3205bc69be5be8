//! REST contract: operator and tenant routes, and every error path a client can hit.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{ADMIN, TestGateway, metric_value, scrape};
use serde_json::{Value, json};
use tower::ServiceExt;

#[tokio::test]
async fn operator_routes_need_the_admin_key() {
    let gw = TestGateway::start().await;
    let (s, b) = gw.call(Method::GET, "/api/v1/tenants", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["code"], "missing_token");
    let (s, b) = gw.get("/api/v1/tenants", "nope").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["code"], "invalid_admin_key");
    // A tenant API key is not an admin key.
    let t = gw.tenant("acme").await;
    let (s, _) = gw.get("/api/v1/tenants", &t.api_key).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tenant_lifecycle() {
    let gw = TestGateway::start().await;
    let (s, b) = gw.post("/api/v1/tenants", ADMIN, json!({ "id": "acme", "name": "Acme" })).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(b["id"], "acme");
    assert_eq!(b["name"], "Acme");
    assert!(b["apiKey"].as_str().unwrap().starts_with("wgk_"));
    assert!(b["jwtSecret"].as_str().unwrap().len() >= 32);

    let (s, b) = gw.post("/api/v1/tenants", ADMIN, json!({ "name": "Generated" })).await;
    assert_eq!(s, StatusCode::CREATED);
    let generated = b["id"].as_str().unwrap().to_owned();

    let (s, b) = gw.post("/api/v1/tenants", ADMIN, json!({ "id": "acme", "name": "Again" })).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], "tenant_exists");

    let (s, b) = gw.post("/api/v1/tenants", ADMIN, json!({ "id": "a/b", "name": "x" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_id");
    let (s, b) = gw.post("/api/v1/tenants", ADMIN, json!({ "name": "" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_name");

    let (s, b) = gw.get("/api/v1/tenants", ADMIN).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b.as_array().unwrap().len(), 2);
    // Secrets are never listed.
    assert!(b[0].get("apiKey").is_none() && b[0].get("jwtSecret").is_none());

    let (s, b) = gw
        .call(
            Method::PATCH,
            "/api/v1/tenants/acme",
            Some(ADMIN),
            Some(json!({ "name": "Acme Inc", "jwt": { "issuer": "acme-auth", "tenantClaim": "org" } })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["name"], "Acme Inc");
    assert_eq!(b["jwt"]["issuer"], "acme-auth");
    assert_eq!(b["jwt"]["tenantClaim"], "org");
    let (s, b) =
        gw.call(Method::PATCH, "/api/v1/tenants/acme", Some(ADMIN), Some(json!({ "jwt": { "issuer": null } }))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["jwt"]["issuer"], serde_json::Value::Null);
    assert_eq!(b["jwt"]["tenantClaim"], "org", "absent fields are kept");

    let (s, b) = gw
        .call(
            Method::PATCH,
            "/api/v1/tenants/acme",
            Some(ADMIN),
            Some(json!({ "jwt": { "publicKeyPem": "not a key" } })),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_public_key");
    let (s, b) = gw
        .call(Method::PATCH, "/api/v1/tenants/acme", Some(ADMIN), Some(json!({ "jwt": { "tenantClaim": "sub" } })))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_tenant_claim");
    let (s, _) = gw.call(Method::PATCH, "/api/v1/tenants/ghost", Some(ADMIN), Some(json!({ "name": "x" }))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, _) = gw.call(Method::DELETE, &format!("/api/v1/tenants/{generated}"), Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = gw.get(&format!("/api/v1/tenants/{generated}"), ADMIN).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "tenant_not_found");
}

#[tokio::test]
async fn deleting_a_tenant_removes_its_sessions_and_keys() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("gone").await;
    gw.connected_session(&t, "s1", "+15550001111").await;
    let (s, _) = gw.call(Method::DELETE, "/api/v1/tenants/gone", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, b) = gw.get("/api/v1/sessions", &t.api_key).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"]["code"], "invalid_api_key");
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    let raw = |body: &str, ctype: Option<&str>| {
        let mut r = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/sessions")
            .header("authorization", format!("Bearer {}", t.api_key));
        if let Some(c) = ctype {
            r = r.header("content-type", c);
        }
        r.body(Body::from(body.to_owned())).unwrap()
    };
    let (s, b) = gw.send(raw("{not json", Some("application/json"))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"]["code"], "malformed_json");
    let (s, b) = gw.send(raw(r#"{"id": ["x"]}"#, Some("application/json"))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_body");
    // A session's name and owner are bounded, and printable.
    for body in [json!({ "name": "n".repeat(201) }), json!({ "owner": "o".repeat(257) }), json!({ "owner": "a\u{0}b" })]
    {
        let (s, b) = gw.post("/api/v1/sessions", &t.api_key, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["error"]["code"], "invalid_input");
    }
    let (s, _) =
        gw.post("/api/v1/sessions", &t.api_key, json!({ "name": "n".repeat(200), "owner": "o".repeat(256) })).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = gw.send(raw(r#"{"bogus": 1}"#, Some("application/json"))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "unknown fields are refused: {b}");
    let (s, b) = gw.send(raw("{}", None)).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(b["error"]["code"], "unsupported_media_type");
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(20 * 1024));
    let (s, b) = gw.send(raw(&huge, Some("application/json"))).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(b["error"]["code"], "body_too_large");

    let (s, b) = gw.post("/api/v1/sessions", &t.api_key, json!({ "id": "x".repeat(129) })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_id");
    let (s, b) = gw.post("/api/v1/sessions", &t.api_key, json!({ "connector": "carrier-pigeon" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "unknown_connector");

    let (s, b) = gw.get("/api/v1/nope", &t.api_key).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "route_not_found");
    let (s, b) = gw.call(Method::PUT, "/api/v1/sessions", Some(&t.api_key), None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(b["error"]["code"], "method_not_allowed");

    gw.session(&t, "1").await;
    let (s, b) = gw.get("/api/v1/sessions/1/chats?limit=abc", &t.api_key).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"]["code"], "invalid_query");
    let (s, b) = gw.get("/api/v1/sessions/1/chats?limit=100000", &t.api_key).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_limit");
    let (s, b) = gw.post("/api/v1/sessions/1/connect", &t.api_key, json!({ "method": "carrier" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = gw.post("/api/v1/sessions/1/connect", &t.api_key, json!({ "method": "code" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "phone_number_required");
    let (s, b) =
        gw.post("/api/v1/sessions/1/connect", &t.api_key, json!({ "method": "code", "phoneNumber": "banana" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_recipient");
    let (s, b) =
        gw.post("/api/v1/sessions/1/messages", &t.api_key, json!({ "to": "+15551234567", "text": "hi" })).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], "session_not_connected");
    let (s, b) = gw.get("/api/v1/sessions/1/qr", &t.api_key).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "no_qr");
    let (s, b) = gw.get("/api/v1/sessions/nope", &t.api_key).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "session_not_found");
    let (s, b) = gw.post("/api/v1/sessions", &t.api_key, json!({ "id": "1" })).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], "session_exists");
}

#[tokio::test]
async fn session_ids_may_be_numbers_and_are_per_tenant() {
    let gw = TestGateway::start().await;
    let a = gw.tenant("a").await;
    let b = gw.tenant("b").await;
    let (s, body) = gw.post("/api/v1/sessions", &a.api_key, json!({ "id": 1, "name": "first" })).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(body["id"], "1");
    // Another tenant may use the same id.
    let (s, _) = gw.post("/api/v1/sessions", &b.api_key, json!({ "id": "1" })).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, list) = gw.get("/api/v1/sessions", &a.api_key).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "first");
}

#[tokio::test]
async fn health_openapi_and_docs() {
    let gw = TestGateway::start().await;
    let (s, b) = gw.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["status"], "ok");
    let (s, b) = gw.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["status"], "ready");
    let (s, spec) = gw.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = spec["paths"].as_object().unwrap();
    for p in [
        "/api/v1/tenants",
        "/api/v1/tenants/{id}",
        "/api/v1/tokens",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/sessions/{id}/connect",
        "/api/v1/sessions/{id}/disconnect",
        "/api/v1/sessions/{id}/logout",
        "/api/v1/sessions/{id}/qr",
        "/api/v1/sessions/{id}/messages",
        "/api/v1/sessions/{id}/chats",
        "/api/v1/sessions/{id}/chats/{chatId}/messages",
        "/api/v1/sessions/{id}/chats/{chatId}/read",
        "/api/v1/sim/sessions/{id}/scan",
        "/api/v1/sim/sessions/{id}/pair",
        "/api/v1/sim/sessions/{id}/inbound",
        "/api/v1/sim/sessions/{id}/drop",
        "/api/v1/sim/sessions/{id}/logout",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lacks {p}");
    }
    assert!(spec["components"]["securitySchemes"]["admin"].is_object());
    let resp = tower::ServiceExt::oneshot(gw.router.clone(), Request::get("/docs").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

/// docs/openapi.json is generated (`wagate openapi > docs/openapi.json`); it must match.
#[test]
fn committed_openapi_document_is_current() {
    let live = wagate::api::openapi().to_pretty_json().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed.trim() == live.trim(),
        "docs/openapi.json is stale: run `cargo run -p wagate -- openapi > docs/openapi.json`"
    );
}

#[tokio::test]
async fn cors_origins_are_configurable() {
    let gw = TestGateway::start_with(|c| c.cors_origins = vec!["https://app.example".into()]).await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/sessions")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .body(Body::empty())
            .unwrap()
    };
    let ok = tower::ServiceExt::oneshot(gw.router.clone(), preflight("https://app.example")).await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example");
    let denied = tower::ServiceExt::oneshot(gw.router.clone(), preflight("https://evil.example")).await.unwrap();
    assert!(denied.headers().get("access-control-allow-origin").is_none());
    // Socket.IO polling sits behind the same policy.
    let poll = Request::get("/socket.io/?EIO=4&transport=polling")
        .header("origin", "https://app.example")
        .body(Body::empty())
        .unwrap();
    let resp = tower::ServiceExt::oneshot(gw.router.clone(), poll).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["access-control-allow-origin"], "https://app.example");
}

#[tokio::test]
async fn metrics_are_for_the_operator_and_count_what_happened() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    // Only the admin key reads them.
    let (s, b) = gw.call(Method::GET, "/metrics", None, None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing_token")));
    let (s, b) = gw.get("/metrics", &t.api_key).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_admin_key")));
    let resp = gw
        .router
        .clone()
        .oneshot(Request::get("/metrics").header("authorization", format!("Bearer {ADMIN}")).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));

    gw.connected_session(&t, "s1", "+15550000001").await;
    let (s, _) =
        gw.post("/api/v1/sim/sessions/s1/inbound", &t.api_key, json!({ "from": "+15559990000", "text": "hi" })).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    gw.get("/api/v1/sessions/nope", &t.api_key).await;
    // The fan-out runs on its own task: wait until it has handed the event on.
    let mut text = scrape(&gw).await;
    for _ in 0..50 {
        if metric_value(&text, r#"wagate_events_delivered_total{event="message.received"}"#).is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        text = scrape(&gw).await;
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
    let has = |series: &str, at_least: f64| {
        let v = metric_value(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        assert!(v >= at_least, "{series} = {v}, expected at least {at_least}");
    };
    has(r#"wagate_sessions{connector="sim",status="CONNECTED"}"#, 1.0);
    has("wagate_sockets", 0.0);
    has(r#"wagate_events_committed_total{event="message.received"}"#, 1.0);
    has(r#"wagate_events_committed_total{event="session.status"}"#, 1.0);
    has(r#"wagate_events_delivered_total{event="message.received"}"#, 1.0);
    has("wagate_fanout_latency_seconds_count", 1.0);
    has(r#"wagate_bus_queued{consumer="fanout"}"#, 0.0);
    has(r#"wagate_http_requests_total{method="POST",route="/api/v1/sim/sessions/{id}/inbound",status="202"}"#, 1.0);
    has(r#"wagate_http_requests_total{method="GET",route="/api/v1/sessions/{id}",status="404"}"#, 1.0);
    has(r#"wagate_http_request_duration_seconds_count{method="POST",route="/api/v1/tenants"}"#, 1.0);
    has("wagate_store_write_seconds_count", 1.0);
    has("wagate_store_write_wait_seconds_count", 1.0);
    // A path no route matched is one series, whatever the path was.
    gw.get("/api/v1/no/such/thing-1", &t.api_key).await;
    gw.get("/api/v1/no/such/thing-2", &t.api_key).await;
    let text = scrape(&gw).await;
    assert!(!text.contains("thing-1"), "raw paths never become labels");
    assert!(metric_value(&text, r#"wagate_http_requests_total{method="GET",route="unmatched",status="404"}"#).unwrap() >= 2.0);
}

/// Who did what: the operator's and the tenant administrators' actions are listed, newest
/// first, to the operator in full and to each tenant as its own.
#[tokio::test]
async fn administrators_actions_are_in_the_audit_log() {
    let gw = TestGateway::start().await;
    let acme = gw.tenant("acme").await;
    let other = gw.tenant("other").await;
    let (s, b) = gw.call(Method::PATCH, "/api/v1/tenant", Some(&acme.api_key), Some(json!({ "sessionAccess": "all" }))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, rotated) = gw.post("/api/v1/tenants/acme/rotate", ADMIN, json!({ "apiKey": true, "graceSeconds": 60 })).await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let key = rotated["apiKey"].as_str().unwrap().to_owned();
    gw.post("/api/v1/sessions", &key, json!({ "id": "s1" })).await;
    let (s, _) = gw.call(Method::DELETE, "/api/v1/sessions/s1", Some(&key), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, token) =
        gw.post("/api/v1/tokens", &key, json!({ "sub": "ops-anna", "claims": { "roles": ["admin"] } })).await;
    let token = token["token"].as_str().unwrap().to_owned();
    let (s, b) = gw.post("/api/v1/sessions", &token, json!({ "id": "s2" })).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // Refused actions leave nothing behind.
    let (s, _) = gw.post("/api/v1/tenants/acme/rotate", ADMIN, json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, page) = gw.get("/api/v1/audit?tenant=acme", ADMIN).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let seen: Vec<(String, String, String)> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().into(), e["actor"]["kind"].as_str().unwrap().into(), e["target"].as_str().unwrap().into()))
        .collect();
    let expected = [
        ("session.created", "user", "s2"),
        ("session.deleted", "api_key", "s1"),
        ("session.created", "api_key", "s1"),
        ("tenant.credentials_rotated", "operator", "acme"),
        ("tenant.updated", "api_key", "acme"),
        ("tenant.created", "operator", "acme"),
    ];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(a, k, t)| (a.to_string(), k.to_string(), t.to_string())).collect();
    assert_eq!(seen, expected, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries[0]["actor"]["user"], "ops-anna");
    assert_eq!(entries[3]["detail"], "API key rotated, the old one valid for 60 s more");
    assert_eq!(entries[4]["detail"], "changed sessionAccess");
    assert!(entries.iter().all(|e| e["tenantId"] == "acme" && e["at"].as_str().unwrap().ends_with('Z')));
    assert!(!page.to_string().contains(&key), "no credential is ever written down");

    // Filters and pages.
    let (_, one) = gw.get("/api/v1/audit?action=session.deleted", ADMIN).await;
    assert_eq!(one["entries"].as_array().unwrap().len(), 1);
    let (_, first) = gw.get("/api/v1/audit?tenant=acme&limit=4", ADMIN).await;
    let next = first["next"].as_i64().expect("a full page has a next");
    let (_, rest) = gw.get(&format!("/api/v1/audit?tenant=acme&limit=4&before={next}"), ADMIN).await;
    let rest_actions: Vec<&str> = rest["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(rest_actions, ["tenant.updated", "tenant.created"]);
    assert_eq!(rest["next"], Value::Null);
    for (bad, status) in [
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("limit=501", StatusCode::UNPROCESSABLE_ENTITY),
        ("action=tenant.exploded", StatusCode::UNPROCESSABLE_ENTITY),
        ("before=x", StatusCode::BAD_REQUEST),
        ("colour=red", StatusCode::BAD_REQUEST),
    ] {
        let (s, b) = gw.get(&format!("/api/v1/audit?{bad}"), ADMIN).await;
        assert_eq!(s, status, "{bad}: {b}");
        assert!(b["error"]["message"].is_string(), "{b}");
    }

    // A tenant sees its own entries only, whoever made them.
    let (s, own) = gw.get("/api/v1/tenant/audit", &other.api_key).await;
    assert_eq!(s, StatusCode::OK);
    let own: Vec<&str> = own["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(own, ["tenant.created"]);
    let (s, _) = gw.get("/api/v1/tenant/audit?tenant=acme", &other.api_key).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, mine) = gw.get("/api/v1/tenant/audit", &token).await;
    assert_eq!(mine["entries"].as_array().unwrap().len(), 6);

    // Deleting the tenant is itself an entry, and its history stays for the operator.
    let (s, _) = gw.call(Method::DELETE, "/api/v1/tenants/acme", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, after) = gw.get("/api/v1/audit?tenant=acme", ADMIN).await;
    let after = after["entries"].as_array().unwrap();
    assert_eq!((after.len(), after[0]["action"].as_str()), (7, Some("tenant.deleted")));
}

#[tokio::test]
async fn the_audit_log_is_pruned_by_age_and_by_count() {
    let gw = TestGateway::start().await;
    for i in 0..5 {
        gw.tenant(&format!("t{i}")).await;
    }
    let t0 = gw.tenant("busy").await;
    for access in ["all", "listed", "all", "listed"] {
        gw.call(Method::PATCH, "/api/v1/tenant", Some(&t0.api_key), Some(json!({ "sessionAccess": access }))).await;
    }
    let store = gw.gateway.state.store.clone();
    let keep_two = wagate::config::AuditConfig { retention_days: 0, retention_count: 2, prune_interval_secs: 3600 };
    assert_eq!(wagate::audit::prune(&store, &keep_two).await.unwrap(), 3, "busy kept its newest two");
    let (_, busy) = gw.get("/api/v1/tenant/audit", &t0.api_key).await;
    assert_eq!(busy["entries"].as_array().unwrap().len(), 2);
    let (_, all) = gw.get("/api/v1/audit", ADMIN).await;
    assert_eq!(all["entries"].as_array().unwrap().len(), 7);
    let by_age = wagate::config::AuditConfig { retention_days: 1, retention_count: 0, prune_interval_secs: 3600 };
    assert_eq!(wagate::audit::prune(&store, &by_age).await.unwrap(), 0, "nothing is a day old yet");
}

#[tokio::test]
async fn a_gateway_outside_a_cluster_says_so() {
    let gw = TestGateway::start().await;
    let (s, b) = gw.get("/api/v1/cluster/nodes", ADMIN).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b, json!({ "enabled": false, "thisNode": null, "nodes": [] }));
}
