//! The real WhatsApp connector on a machine with no route to WhatsApp: the session says why
//! in words a user understands, keeps retrying, never holds up other sessions, and can be
//! disconnected and deleted cleanly (its device state with it).
#![cfg(feature = "whatsapp")]

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::TestGateway;
use serde_json::json;

/// Where a session's device state is kept.
enum Device {
    File(std::path::PathBuf),
    Database(wagate::store::Store, wagate::model::SessionKey),
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::File(path) => write!(f, "file {}", path.display()),
            Device::Database(_, key) => write!(f, "database rows of {key}"),
        }
    }
}

impl Device {
    fn of(gw: &TestGateway, t: &common::Tenant, session: &str) -> Self {
        let store = gw.gateway.state.store.clone();
        if store.pool().dialect() == wagate::store::Dialect::Postgres {
            let file = gw.dir.path().join(format!("whatsapp/t-{}/s-{session}.db", t.id));
            assert!(!file.exists(), "no device file on PostgreSQL");
            Device::Database(store, wagate::model::SessionKey::new(&t.id, session))
        } else {
            Device::File(gw.dir.path().join(format!("whatsapp/t-{}/s-{session}.db", t.id)))
        }
    }

    async fn exists(&self) -> bool {
        use whatsapp_rust::wacore::store::traits::DeviceStore;
        match self {
            Device::File(path) => path.exists(),
            Device::Database(store, key) => {
                wagate::connector::whatsapp::devices::DatabaseDevice::new(store, key.clone()).exists().await.unwrap()
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_whatsapp_reconnects_and_leaves_others_alone() {
    let gw = TestGateway::start_with(|c| c.sessions.connect_timeout_ms = 400).await;
    let t = gw.tenant("acme").await;
    let (s, b) = gw.post("/api/v1/sessions", &t.api_key, json!({ "id": "real", "connector": "whatsapp" })).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["connector"], "whatsapp");
    let (s, b) = gw.post("/api/v1/sessions/real/connect", &t.api_key, json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");

    let mut down = None;
    for _ in 0..300 {
        let now = gw.status_of(&t, "real").await;
        if now["status"] == "RECONNECTING" {
            down = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let down = down.expect("a whatsapp session with no route ends in RECONNECTING");
    assert_eq!(down["disconnectReason"], "connection_lost");
    let why = down["lastError"].as_str().unwrap();
    assert!(why.starts_with("cannot reach WhatsApp"), "{why}");
    assert!(why.contains("still retrying"), "{why}");
    // The library's device state is per session: on SQLite a file beside our database, on
    // PostgreSQL rows of the database, where any node of a cluster finds it.
    let device = Device::of(&gw, &t, "real");
    assert!(device.exists().await, "the device state was created: {device:?}");

    // Meanwhile a simulator session of the same tenant logs in and chats as usual.
    gw.connected_session(&t, "sim1", "+15550001111").await;
    let (s, _) =
        gw.post("/api/v1/sim/sessions/sim1/inbound", &t.api_key, json!({ "from": "+15550002222", "text": "hi" })).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, b) =
        gw.post("/api/v1/sessions/sim1/messages", &t.api_key, json!({ "to": "+15550002222", "text": "hello" })).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(gw.status_of(&t, "real").await["status"], "RECONNECTING", "still retrying");

    // A send on the unreachable session is queued, not lost, and not an error.
    let (s, b) =
        gw.post("/api/v1/sessions/real/messages", &t.api_key, json!({ "to": "+15550002222", "text": "later" })).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["status"], "PENDING");

    let started = std::time::Instant::now();
    let (s, b) = gw.post("/api/v1/sessions/real/disconnect", &t.api_key, json!({})).await;
    assert!(s.is_success(), "{s} {b}");
    let stopped = gw.wait_status(&t, "real", "DISCONNECTED").await;
    assert_eq!(stopped["disconnectReason"], "manual");
    assert!(started.elapsed() < Duration::from_secs(7), "disconnect is bounded: {:?}", started.elapsed());

    let (s, b) = gw.call(Method::DELETE, "/api/v1/sessions/real", Some(&t.api_key), None).await;
    assert!(s.is_success(), "{s} {b}");
    let (s, _) = gw.get("/api/v1/sessions/real", &t.api_key).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!device.exists().await, "deleting the session erased its device state: {device:?}");
    assert_eq!(gw.status_of(&t, "sim1").await["status"], "CONNECTED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_code_login_needs_a_phone_number() {
    let gw = TestGateway::start_with(|c| c.sessions.connect_timeout_ms = 400).await;
    let t = gw.tenant("acme").await;
    gw.post("/api/v1/sessions", &t.api_key, json!({ "id": "real", "connector": "whatsapp" })).await;
    let (s, b) = gw.post("/api/v1/sessions/real/connect", &t.api_key, json!({ "method": "code" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("phoneNumber"), "{b}");
}
