//! The session state machine on the simulator: logins, rotation, timeouts, messages and
//! their statuses, drops and reconnects, logouts, deletion and restarts. Each test checks the
//! stored state and the canonical events, in order.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{TestGateway, names, until};
use serde_json::{Value, json};

#[tokio::test]
async fn qr_login_emits_events_in_order() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    let mut ev = gw.events();
    gw.session(&t, "s1").await;
    let (s, b) = gw.post("/api/v1/sessions/s1/connect", &t.api_key, json!({ "method": "qr" })).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(b["id"], "s1");
    let seen = until(&mut ev, "session.qr").await;
    let qr_event = seen.last().unwrap().payload();
    assert_eq!(qr_event["attempt"], 1);
    assert_eq!(qr_event["maxAttempts"], 3);
    assert!(qr_event["qr"].as_str().unwrap().starts_with("2@"));
    assert!(qr_event["dataUrl"].as_str().unwrap().starts_with("data:image/png;base64,"));
    assert_eq!(qr_event["tenantId"], "acme");
    assert_eq!(qr_event["sessionId"], "s1");

    let (s, qr) = gw.get("/api/v1/sessions/s1/qr", &t.api_key).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(qr["qr"], qr_event["qr"]);
    assert_eq!(qr["attempt"], 1);
    assert!(qr["expiresAt"].is_string());

    let (s, b) = gw
        .post(
            "/api/v1/sim/sessions/s1/scan",
            &t.api_key,
            json!({ "qr": qr["qr"], "phoneNumber": "+62 812-3456-7890", "displayName": "John Doe" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rest = until(&mut ev, "session.connected").await;
    let all: Vec<_> = seen.iter().chain(rest.iter()).cloned().collect();
    assert_eq!(
        names(&all),
        vec!["session.status", "session.status", "session.qr", "session.status", "session.status", "session.connected"]
    );
    let statuses: Vec<_> =
        all.iter().filter(|e| e.name() == "session.status").map(|e| e.payload()["status"].clone()).collect();
    assert_eq!(statuses, vec![json!("INIT"), json!("QR_REQUIRED"), json!("PAIRING"), json!("CONNECTED")]);
    let connected = all.last().unwrap().payload();
    assert_eq!(connected["phone"], "+6281234567890");
    assert_eq!(connected["displayName"], "John Doe");
    // seq is strictly increasing per tenant.
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");

    let s = gw.status_of(&t, "s1").await;
    assert_eq!(s["status"], "CONNECTED");
    assert_eq!(s["phone"], "+6281234567890");
    assert_eq!(s["linked"], true);
    assert!(s["lastConnectedAt"].is_string());
    let (s, _) = gw.get("/api/v1/sessions/s1/qr", &t.api_key).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no QR once connected");
    let (s, b) = gw.post("/api/v1/sessions/s1/connect", &t.api_key, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], "already_connected");
}

#[tokio::test]
async fn qr_codes_rotate_then_time_out() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.session(&t, "s1").await;
    let mut ev = gw.events();
    gw.post("/api/v1/sessions/s1/connect", &t.api_key, json!({})).await;
    let mut codes = Vec::new();
    for attempt in 1..=3 {
        let seen = until(&mut ev, "session.qr").await;
        let p = seen.last().unwrap().payload();
        assert_eq!(p["attempt"], attempt);
        codes.push(p["qr"].as_str().unwrap().to_owned());
    }
    codes.dedup();
    assert_eq!(codes.len(), 3, "each rotation is a new code");
    // A code that rotated away is refused with a reason.
    let (s, b) = gw.post("/api/v1/sim/sessions/s1/scan", &t.api_key, json!({ "qr": codes[0] })).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], "qr_expired");
    let (s, b) = gw.post("/api/v1/sim/sessions/s1/scan", &t.api_key, json!({ "qr": "2@forged" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "qr_mismatch");

    let seen = until(&mut ev, "session.disconnected").await;
    let p = seen.last().unwrap().payload();
    assert_eq!(p["reason"], "qr_timeout");
    assert_eq!(p["willReconnect"], false);
    let s = gw.status_of(&t, "s1").await;
    assert_eq!(s["status"], "DISCONNECTED");
    assert_eq!(s["disconnectReason"], "qr_timeout");
    let (s, b) = gw.post("/api/v1/sim/sessions/s1/scan", &t.api_key, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], "no_qr");
}

#[tokio::test]
async fn pairing_code_login() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.session(&t, "s1").await;
    let mut ev = gw.events();
    let (s, _) = gw
        .post("/api/v1/sessions/s1/connect", &t.api_key, json!({ "method": "code", "phoneNumber": "+6281234567890" }))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let seen = until(&mut ev, "session.pairing_code").await;
    let p = seen.last().unwrap().payload();
    let code = p["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    assert!(code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    assert_eq!(p["phoneNumber"], "+6281234567890");
    assert!(p["expiresAt"].is_string());
    assert_eq!(gw.status_of(&t, "s1").await["status"], "PAIRING");

    let (s, b) = gw.post("/api/v1/sim/sessions/s1/pair", &t.api_key, json!({ "code": "AAAA-AAAA" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "wrong_pairing_code");
    let typed = format!("{}-{}", &code[..4], code[4..].to_lowercase());
    let (s, b) = gw.post("/api/v1/sim/sessions/s1/pair", &t.api_key, json!({ "code": typed })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["phoneNumber"], "+6281234567890");
    until(&mut ev, "session.connected").await;
    assert_eq!(gw.status_of(&t, "s1").await["phone"], "+6281234567890");
}

#[tokio::test]
async fn pairing_code_expires() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.session(&t, "s1").await;
    let mut ev = gw.events();
    gw.post("/api/v1/sessions/s1/connect", &t.api_key, json!({ "method": "code", "phoneNumber": "+15550001234" }))
        .await;
    let seen = until(&mut ev, "session.disconnected").await;
    assert_eq!(seen.last().unwrap().payload()["reason"], "qr_timeout");
    let (s, b) = gw.post("/api/v1/sim/sessions/s1/pair", &t.api_key, json!({ "code": "ABCDEFGH" })).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], "no_pairing_code");
}

#[tokio::test]
async fn outbound_message_goes_through_every_status() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    let mut ev = gw.events();
    let (s, m) = gw
        .post("/api/v1/sessions/s1/messages", &t.api_key, json!({ "to": "+62 811-1111-1111", "text": "Hello!" }))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{m}");
    assert_eq!(m["status"], "PENDING");
    assert_eq!(m["direction"], "outbound");
    assert_eq!(m["fromMe"], true);
    let id = m["id"].as_str().unwrap().to_owned();
    let chat_id = m["chatId"].as_str().unwrap().to_owned();

    let mut statuses = Vec::new();
    let mut seen_names = Vec::new();
    while statuses.last().map(String::as_str) != Some("READ") {
        let batch = until(&mut ev, "message.status").await;
        // tenant.stats comes whenever its interval says, between any two of these.
        seen_names.extend(names(&batch).into_iter().filter(|n| *n != "tenant.stats").map(str::to_owned));
        let p = batch.last().unwrap().payload();
        assert_eq!(p["messageId"], id.as_str());
        assert_eq!(p["chatId"], chat_id.as_str());
        statuses.push(p["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(statuses, vec!["SENT", "DELIVERED", "READ"]);
    assert_eq!(&seen_names[..2], &["message.sent", "chat.updated"], "{seen_names:?}");

    let (_, stored) = gw.get(&format!("/api/v1/sessions/s1/messages/{id}"), &t.api_key).await;
    assert_eq!(stored["status"], "READ");
    assert!(stored["waMessageId"].as_str().unwrap().starts_with("3EB0"));
    for at in ["sentAt", "deliveredAt", "readAt"] {
        assert!(stored[at].is_string(), "{at}: {stored}");
    }
    let (_, chats) = gw.get("/api/v1/sessions/s1/chats", &t.api_key).await;
    assert_eq!(chats[0]["jid"], "6281111111111@s.whatsapp.net");
    assert_eq!(chats[0]["number"], "+6281111111111");
    assert_eq!(chats[0]["lastMessage"], "Hello!");
    assert_eq!(chats[0]["unreadCount"], 0);
}

#[tokio::test]
async fn sends_to_invalid_numbers_fail() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    let (s, _) =
        gw.post("/api/v1/sim/sessions/s1/invalid-numbers", &t.api_key, json!({ "numbers": ["+15550009999"] })).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let mut ev = gw.events();
    let (_, m) = gw
        .post(
            "/api/v1/sessions/s1/messages",
            &t.api_key,
            json!({ "to": "15550009999@s.whatsapp.net", "text": "anyone?" }),
        )
        .await;
    let seen = until(&mut ev, "message.status").await;
    let p = seen.last().unwrap().payload();
    assert_eq!(p["status"], "FAILED");
    assert_eq!(p["previousStatus"], "PENDING");
    assert!(p["error"].as_str().unwrap().contains("not on WhatsApp"));
    let (_, stored) = gw.get(&format!("/api/v1/sessions/s1/messages/{}", m["id"].as_str().unwrap()), &t.api_key).await;
    assert_eq!(stored["status"], "FAILED");
    // Nothing else follows a failure.
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Some(e) = ev.try_recv() {
        assert_ne!(e.name(), "message.status", "{:?}", e.payload());
    }
    let (s, b) =
        gw.post("/api/v1/sessions/s1/messages", &t.api_key, json!({ "to": "not-a-number", "text": "x" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_recipient");
    let (s, b) =
        gw.post("/api/v1/sessions/s1/messages", &t.api_key, json!({ "to": "+15551234567", "text": "  " })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_text");
}

#[tokio::test]
async fn inbound_messages_chats_history_and_read() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    let mut ev = gw.events();
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        let (s, b) = gw
            .post(
                "/api/v1/sim/sessions/s1/inbound",
                &t.api_key,
                json!({ "from": "+628123456789", "name": "Budi", "text": text }),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        let seen = until(&mut ev, "chat.updated").await;
        let received = seen.iter().find(|e| e.name() == "message.received").expect("message.received").payload();
        assert_eq!(received["message"]["content"], *text);
        assert_eq!(received["message"]["fromNumber"], "+628123456789");
        assert_eq!(received["message"]["fromName"], "Budi");
        assert_eq!(received["message"]["direction"], "inbound");
        assert_eq!(received["chat"]["unreadCount"], i as i64 + 1);
    }
    gw.post("/api/v1/sim/sessions/s1/inbound", &t.api_key, json!({ "from": "+628000000001", "text": "other chat" }))
        .await;
    until(&mut ev, "chat.updated").await;

    let (_, chats) = gw.get("/api/v1/sessions/s1/chats", &t.api_key).await;
    assert_eq!(chats.as_array().unwrap().len(), 2);
    assert_eq!(chats[0]["lastMessage"], "other chat", "most recent first");
    let budi = chats[1].clone();
    assert_eq!(budi["name"], "Budi");
    assert_eq!(budi["unreadCount"], 3);
    let (_, page) = gw.get("/api/v1/sessions/s1/chats?limit=1&offset=1", &t.api_key).await;
    assert_eq!(page[0]["id"], budi["id"]);

    let chat = budi["id"].as_str().unwrap();
    let (_, history) = gw.get(&format!("/api/v1/sessions/s1/chats/{chat}/messages"), &t.api_key).await;
    let texts: Vec<_> = history.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["three", "two", "one"], "newest first");
    let (_, older) = gw.get(&format!("/api/v1/sessions/s1/chats/{chat}/messages?limit=2&offset=1"), &t.api_key).await;
    assert_eq!(older.as_array().unwrap().len(), 2);
    assert_eq!(older[0]["content"], "two");

    let (s, read) = gw.post(&format!("/api/v1/sessions/s1/chats/{chat}/read"), &t.api_key, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(read["unreadCount"], 0);
    let seen = until(&mut ev, "chat.updated").await;
    assert_eq!(names(&seen), vec!["chat.read", "chat.updated"]);
    let read_event = seen.iter().find(|e| e.name() == "chat.read").unwrap().payload();
    assert_eq!(read_event["chatId"], chat);
    let (_, history) = gw.get(&format!("/api/v1/sessions/s1/chats/{chat}/messages"), &t.api_key).await;
    assert!(history.as_array().unwrap().iter().all(|m| m["status"] == "READ"));
    let (s, b) = gw.post("/api/v1/sessions/s1/chats/nope/read", &t.api_key, json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "chat_not_found");
    let (s, _) = gw.get("/api/v1/sessions/s1/chats/nope/messages", &t.api_key).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Newer clients report a LID beside the number: both are kept, REST and events.
    let (s, b) = gw
        .post(
            "/api/v1/sim/sessions/s1/inbound",
            &t.api_key,
            json!({ "from": "+628000000002", "lid": "123456789012345@lid", "text": "via lid" }),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let seen = until(&mut ev, "chat.updated").await;
    let received = seen.iter().find(|e| e.name() == "message.received").expect("message.received").payload();
    assert_eq!(received["message"]["fromNumber"], "+628000000002");
    assert_eq!(received["message"]["fromLid"], "123456789012345@lid");
    let lid_chat = received["chat"]["id"].as_str().unwrap().to_owned();
    let (_, stored) = gw.get(&format!("/api/v1/sessions/s1/chats/{lid_chat}/messages"), &t.api_key).await;
    assert_eq!(stored[0]["fromLid"], "123456789012345@lid");
    assert_eq!(history[0]["fromLid"], Value::Null, "no LID reported: null");
    let (s, b) = gw
        .post(
            "/api/v1/sim/sessions/s1/inbound",
            &t.api_key,
            json!({ "from": "+628000000002", "lid": "+6281", "text": "x" }),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_lid");

    let (s, b) = gw.post("/api/v1/sim/sessions/s1/inbound", &t.api_key, json!({ "from": "nobody", "text": "x" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "invalid_sender");
    let (s, _) = gw
        .post(
            "/api/v1/sim/sessions/s1/inbound",
            &t.api_key,
            json!({ "from": "+628000000001", "text": "x", "type": "hologram" }),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn drop_reconnects_and_flushes_queued_messages() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    let mut ev = gw.events();
    let (s, _) = gw.post("/api/v1/sim/sessions/s1/drop", &t.api_key, json!({ "outageMs": 60 })).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let seen = until(&mut ev, "session.disconnected").await;
    let p = seen.last().unwrap().payload();
    assert_eq!(p["reason"], "connection_lost");
    assert_eq!(p["willReconnect"], true);
    assert_eq!(gw.status_of(&t, "s1").await["status"], "RECONNECTING");
    // Sent while reconnecting: accepted, queued, delivered after the reconnect.
    let (s, m) =
        gw.post("/api/v1/sessions/s1/messages", &t.api_key, json!({ "to": "+15557770000", "text": "queued" })).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let seen = until(&mut ev, "session.connected").await;
    assert!(!names(&seen).contains(&"session.error"));
    let seen = until(&mut ev, "message.status").await;
    let p = seen.last().unwrap().payload();
    assert_eq!(p["messageId"], m["id"]);
    assert_eq!(p["status"], "SENT");
    let s = gw.status_of(&t, "s1").await;
    assert_eq!(s["status"], "CONNECTED");
    assert_eq!(s["disconnectReason"], serde_json::Value::Null);
}

#[tokio::test]
async fn endless_outage_ends_in_error_after_the_cap() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    let mut ev = gw.events();
    gw.post("/api/v1/sim/sessions/s1/drop", &t.api_key, json!({ "outageMs": 60_000 })).await;
    let seen = until(&mut ev, "session.error").await;
    let p = seen.last().unwrap().payload();
    assert_eq!(p["code"], "reconnect_failed");
    assert!(p["message"].as_str().unwrap().contains("3 reconnect attempts"), "{p}");
    let s = gw.status_of(&t, "s1").await;
    assert_eq!(s["status"], "ERROR");
    assert_eq!(s["disconnectReason"], "error");
    assert!(s["lastError"].as_str().unwrap().contains("network unreachable"));
    // Exactly one "went down" event: retries do not repeat it.
    assert_eq!(names(&seen).iter().filter(|n| **n == "session.disconnected").count(), 1);
}

#[tokio::test]
async fn phone_logout_api_logout_disconnect_and_reconnect() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    let mut ev = gw.events();

    // Manual disconnect keeps the device linked: the next connect needs no QR.
    let (s, b) = gw.post("/api/v1/sessions/s1/disconnect", &t.api_key, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["status"], "DISCONNECTED");
    assert_eq!(b["disconnectReason"], "manual");
    assert_eq!(b["linked"], true);
    let seen = until(&mut ev, "session.disconnected").await;
    assert_eq!(seen.last().unwrap().payload()["reason"], "manual");
    gw.post("/api/v1/sessions/s1/connect", &t.api_key, json!({})).await;
    let seen = until(&mut ev, "session.connected").await;
    assert!(!names(&seen).contains(&"session.qr"), "{:?}", names(&seen));

    // The phone unlinks the device.
    let (s, _) = gw.post("/api/v1/sim/sessions/s1/logout", &t.api_key, json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let seen = until(&mut ev, "session.disconnected").await;
    assert_eq!(seen.last().unwrap().payload()["reason"], "logged_out");
    let s = gw.status_of(&t, "s1").await;
    assert_eq!(s["status"], "DISCONNECTED");
    assert_eq!(s["disconnectReason"], "logged_out");
    assert_eq!(s["linked"], false);
    // Now a connect is a fresh login.
    gw.post("/api/v1/sessions/s1/connect", &t.api_key, json!({})).await;
    until(&mut ev, "session.qr").await;
    gw.post("/api/v1/sim/sessions/s1/scan", &t.api_key, json!({})).await;
    until(&mut ev, "session.connected").await;

    // Logout through the API forgets the credentials too.
    let (s, b) = gw.post("/api/v1/sessions/s1/logout", &t.api_key, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["status"], "DISCONNECTED");
    assert_eq!(b["disconnectReason"], "logged_out");
    assert_eq!(b["linked"], false);
    assert_eq!(b["phone"], serde_json::Value::Null);
}

#[tokio::test]
async fn deleting_a_session_erases_it() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    gw.post("/api/v1/sim/sessions/s1/inbound", &t.api_key, json!({ "from": "+15550002222", "text": "hi" })).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (s, _) = gw.call(Method::DELETE, "/api/v1/sessions/s1", Some(&t.api_key), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = gw.get("/api/v1/sessions/s1", &t.api_key).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = gw.call(Method::DELETE, "/api/v1/sessions/s1", Some(&t.api_key), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The id is free again and starts from nothing.
    gw.session(&t, "s1").await;
    let (_, chats) = gw.get("/api/v1/sessions/s1/chats", &t.api_key).await;
    assert_eq!(chats.as_array().unwrap().len(), 0);
    assert_eq!(gw.status_of(&t, "s1").await["linked"], false);
}

#[tokio::test]
async fn a_restart_keeps_everything_and_connected_sessions_come_back() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let (t, chat_count) = {
        let gw = TestGateway::start_in(dir.clone(), |_| {}).await;
        let t = gw.tenant("acme").await;
        gw.connected_session(&t, "up", "+15550000001").await;
        gw.connected_session(&t, "up2", "+15550000002").await;
        gw.session(&t, "idle").await;
        gw.post(
            "/api/v1/sim/sessions/up/inbound",
            &t.api_key,
            json!({ "from": "+15550003333", "text": "before restart" }),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (_, chats) = gw.get("/api/v1/sessions/up/chats", &t.api_key).await;
        gw.gateway.state.sessions.shutdown().await;
        gw.gateway.state.store.close().await;
        (t, chats.as_array().unwrap().len())
    };
    let gw = TestGateway::start_in(dir.clone(), |c| c.sim.connect_delay_ms = 300).await;
    let mut ev = gw.events();
    let resumed = gw.gateway.state.sessions.resume_all().await.unwrap();
    assert_eq!(resumed, 2);
    // Not connected until the connection is back: they say so at once, and why.
    for id in ["up", "up2"] {
        let s = gw.status_of(&t, id).await;
        assert_eq!(s["status"], "RECONNECTING", "{id}");
        assert_eq!(s["disconnectReason"], "connection_lost", "{id}");
    }
    let (s, b) =
        gw.post("/api/v1/sim/sessions/up/inbound", &t.api_key, json!({ "from": "+15550003333", "text": "x" })).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    // Both reconnect without a QR.
    let seen = until(&mut ev, "session.connected").await;
    assert!(!names(&seen).contains(&"session.qr"));
    let first = seen.iter().find(|e| e.name() == "session.status").unwrap().payload();
    assert_eq!((first["status"].as_str(), first["previousStatus"].as_str()), (Some("RECONNECTING"), Some("CONNECTED")));
    until(&mut ev, "session.connected").await;
    assert_eq!(gw.status_of(&t, "up").await["status"], "CONNECTED");
    assert_eq!(gw.status_of(&t, "up2").await["status"], "CONNECTED");
    assert_eq!(gw.status_of(&t, "idle").await["status"], "INIT");
    let (_, chats) = gw.get("/api/v1/sessions/up/chats", &t.api_key).await;
    assert_eq!(chats.as_array().unwrap().len(), chat_count);
    assert_eq!(chats[0]["lastMessage"], "before restart");
    // The API key survived too, and sending works on the resumed session.
    let (s, _) = gw
        .post("/api/v1/sessions/up/messages", &t.api_key, json!({ "to": "+15550003333", "text": "after restart" }))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let seen = until(&mut ev, "message.status").await;
    assert_eq!(seen.last().unwrap().payload()["status"], "SENT");
}

#[tokio::test]
async fn interrupted_logins_are_closed_after_a_restart() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let t = {
        let gw = TestGateway::start_in(dir.clone(), |c| c.sessions.qr_first_ttl_ms = 60_000).await;
        let t = gw.tenant("acme").await;
        gw.session(&t, "s1").await;
        gw.post("/api/v1/sessions/s1/connect", &t.api_key, json!({})).await;
        gw.wait_status(&t, "s1", "QR_REQUIRED").await;
        gw.gateway.state.sessions.shutdown().await;
        gw.gateway.state.store.close().await;
        t
    };
    let gw = TestGateway::start_in(dir, |_| {}).await;
    assert_eq!(gw.gateway.state.sessions.resume_all().await.unwrap(), 0);
    let s = gw.status_of(&t, "s1").await;
    assert_eq!(s["status"], "DISCONNECTED");
    assert_eq!(s["disconnectReason"], "connection_lost");
}

#[tokio::test]
async fn tenant_stats_are_pushed_and_served() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    let mut ev = gw.events();
    gw.connected_session(&t, "s1", "+15550000001").await;
    gw.post("/api/v1/sim/sessions/s1/inbound", &t.api_key, json!({ "from": "+15550002222", "text": "hi" })).await;
    let mut last = serde_json::Value::Null;
    for _ in 0..20 {
        let seen = until(&mut ev, "tenant.stats").await;
        last = seen.last().unwrap().payload();
        if last["stats"]["messagesReceived"] == 1 {
            break;
        }
    }
    assert_eq!(last["tenantId"], "acme");
    assert!(last.get("sessionId").is_none());
    assert_eq!(last["stats"]["sessions"], 1);
    assert_eq!(last["stats"]["connected"], 1);
    assert_eq!(last["stats"]["unread"], 1);
    let (_, stats) = gw.get("/api/v1/stats", &t.api_key).await;
    assert_eq!(stats, last["stats"]);
}

#[tokio::test]
async fn sessions_resume_side_by_side_up_to_the_concurrency() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let ids: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
    let t = {
        let gw = TestGateway::start_in(dir.clone(), |_| {}).await;
        let t = gw.tenant("acme").await;
        for (i, id) in ids.iter().enumerate() {
            gw.connected_session(&t, id, &format!("+1555000010{i}")).await;
        }
        gw.gateway.state.sessions.shutdown().await;
        gw.gateway.state.store.close().await;
        t
    };
    // Each connection takes 400 ms: three at a time is two rounds; one at a time would be six.
    let gw = TestGateway::start_in(dir, |c| {
        c.sim.connect_delay_ms = 400;
        c.sessions.resume_concurrency = 3;
        c.sessions.resume_stagger_ms = 5_000;
    })
    .await;
    let started = std::time::Instant::now();
    assert_eq!(gw.gateway.state.sessions.resume_all().await.unwrap(), 6);
    for id in &ids {
        gw.wait_status(&t, id, "CONNECTED").await;
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(800), "more than three at a time: {took:?}");
    assert!(took < Duration::from_millis(2_400), "simulated sessions are not paced one by one: {took:?}");
}

#[tokio::test]
async fn tenant_totals_follow_messages_reads_failures_and_deletions() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    gw.connected_session(&t, "s2", "+15550000002").await;
    let mut ev = gw.events();
    for (session, from) in [("s1", "+15550002222"), ("s1", "+15550002222"), ("s1", "+15550003333"), ("s2", "+15550004444")] {
        gw.post(&format!("/api/v1/sim/sessions/{session}/inbound"), &t.api_key, json!({ "from": from, "text": "hi" }))
            .await;
        until(&mut ev, "chat.updated").await;
    }
    gw.post("/api/v1/sim/sessions/s1/invalid-numbers", &t.api_key, json!({ "numbers": ["+15550009999"] })).await;
    gw.post("/api/v1/sessions/s1/messages", &t.api_key, json!({ "to": "+15550009999", "text": "anyone?" })).await;
    until(&mut ev, "message.status").await;
    gw.post("/api/v1/sessions/s1/messages", &t.api_key, json!({ "to": "+15550002222", "text": "hello" })).await;
    let s = gw.get("/api/v1/stats", &t.api_key).await.1;
    assert_eq!(
        (s["chats"].as_i64(), s["unread"].as_i64(), s["messagesReceived"].as_i64(), s["messagesFailed"].as_i64()),
        (Some(4), Some(4), Some(4), Some(1)),
        "{s}"
    );
    assert_eq!(s["messagesSent"], 1, "a failed send is not counted as sent: {s}");
    let (_, chats) = gw.get("/api/v1/sessions/s1/chats", &t.api_key).await;
    let read = chats.as_array().unwrap().iter().find(|c| c["unreadCount"] == 2).unwrap()["id"].as_str().unwrap().to_owned();
    gw.post(&format!("/api/v1/sessions/s1/chats/{read}/read"), &t.api_key, json!({})).await;
    assert_eq!(gw.get("/api/v1/stats", &t.api_key).await.1["unread"], 2);
    gw.call(Method::DELETE, "/api/v1/sessions/s1", Some(&t.api_key), None).await;
    let s = gw.get("/api/v1/stats", &t.api_key).await.1;
    assert_eq!(
        (s["sessions"].as_i64(), s["chats"].as_i64(), s["unread"].as_i64(), s["messagesReceived"].as_i64()),
        (Some(1), Some(1), Some(1), Some(1)),
        "what went with the session is no longer counted: {s}"
    );
    assert_eq!((s["messagesSent"].as_i64(), s["messagesFailed"].as_i64()), (Some(0), Some(0)), "{s}");
}

#[tokio::test]
async fn a_burst_of_inbound_messages_is_recorded_in_order_with_its_chats_and_quotes() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    let mut ev = gw.events();
    // Posted back to back: the session's actor finds most of them waiting and records them
    // together. Two contacts interleave; every fifth message replies to the contact's message
    // three before it.
    let mut wa_ids = Vec::new();
    for i in 0..60 {
        let from = if i % 3 == 0 { "+15550002222" } else { "+15550003333" };
        let mut body = json!({ "from": from, "text": format!("m{i}") });
        if i % 5 == 4 {
            body["replyTo"] = json!(wa_ids[i - 3]);
        }
        let (s, b) = gw.post("/api/v1/sim/sessions/s1/inbound", &t.api_key, body).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        wa_ids.push(b["waMessageId"].as_str().unwrap().to_owned());
    }
    let mut seen: Vec<Arc<wagate::events::Event>> = Vec::new();
    while seen.iter().filter(|e| e.name() == "message.received").count() < 60 {
        seen.extend(until(&mut ev, "message.received").await);
    }
    seen.extend(until(&mut ev, "chat.updated").await);
    seen.retain(|e| e.name() != "tenant.stats");
    let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
    let received: Vec<Value> = seen.iter().filter(|e| e.name() == "message.received").map(|e| e.payload()).collect();
    let texts: Vec<&str> = received.iter().map(|p| p["message"]["content"].as_str().unwrap()).collect();
    assert_eq!(texts, (0..60).map(|i| format!("m{i}")).collect::<Vec<_>>(), "arrival order kept");
    // Each message's event carries its chat as that message left it.
    let mut unread: std::collections::HashMap<String, i64> = Default::default();
    for (i, p) in received.iter().enumerate() {
        let n = unread.entry(p["chat"]["jid"].as_str().unwrap().to_owned()).or_default();
        *n += 1;
        assert_eq!(p["chat"]["unreadCount"], *n, "message {i}: {p}");
        assert_eq!(p["chat"]["lastMessage"], format!("m{i}"));
        if i % 5 == 4 {
            let quoted = &p["message"]["quoted"];
            assert_eq!(quoted["waMessageId"], wa_ids[i - 3].as_str());
            assert!(quoted["messageId"].is_string(), "the quoted message is found even in the same write: {p}");
        }
    }
    // Every message.received is followed by its chat.updated, with the same chat.
    for pair in seen.chunks(2) {
        assert_eq!((pair[0].name(), pair[1].name()), ("message.received", "chat.updated"));
        assert_eq!(pair[0].payload()["chat"], pair[1].payload()["chat"]);
    }
    let (_, chats) = gw.get("/api/v1/sessions/s1/chats", &t.api_key).await;
    let mut counts: Vec<i64> = chats.as_array().unwrap().iter().map(|c| c["unreadCount"].as_i64().unwrap()).collect();
    counts.sort();
    assert_eq!(counts, vec![20, 40]);
    let (_, stats) = gw.get("/api/v1/stats", &t.api_key).await;
    assert_eq!((stats["messagesReceived"].as_i64(), stats["unread"].as_i64()), (Some(60), Some(60)), "{stats}");
}

#[tokio::test]
async fn messages_that_arrived_before_a_disconnect_or_logout_are_kept() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    for (id, phone, action) in [("s1", "+15550000001", "disconnect"), ("s2", "+15550000002", "logout")] {
        gw.connected_session(&t, id, phone).await;
        // Posted without waiting for the session to record them, then the connection is taken
        // down at once: whatever the phone had already received must still be stored.
        for i in 0..30 {
            let body = json!({ "from": "+15550002222", "text": format!("{id}-{i}") });
            let (s, b) = gw.post(&format!("/api/v1/sim/sessions/{id}/inbound"), &t.api_key, body).await;
            assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        }
        let (s, b) = gw.post(&format!("/api/v1/sessions/{id}/{action}"), &t.api_key, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (_, chats) = gw.get(&format!("/api/v1/sessions/{id}/chats"), &t.api_key).await;
        let chat = chats[0]["id"].as_str().unwrap_or_else(|| panic!("{action}: no chat: {chats}"));
        let (_, msgs) = gw.get(&format!("/api/v1/sessions/{id}/chats/{chat}/messages?limit=100"), &t.api_key).await;
        let mut texts: Vec<String> = msgs.as_array().unwrap_or_else(|| panic!("{msgs}")).iter().map(|m| m["content"].as_str().unwrap().to_owned()).collect();
        texts.sort_by_key(|t| t.rsplit('-').next().unwrap().parse::<u32>().unwrap());
        assert_eq!(texts, (0..30).map(|i| format!("{id}-{i}")).collect::<Vec<_>>(), "{action}");
    }
}

/// A zombie connection: up on both ends, nothing crossing it. The watchdog probes it once the
/// silence passes its limit, finds it dead, and reconnects it on the normal backoff; what a
/// contact wrote meanwhile arrives after the reconnect.
#[tokio::test]
async fn a_silent_connection_is_found_dead_and_reconnected_without_losing_a_message() {
    let gw = TestGateway::start_with(|c| {
        c.sessions.watchdog_silence_ms = 300;
        c.sessions.watchdog_probe_timeout_ms = 200;
    })
    .await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    let s = gw.status_of(&t, "s1").await;
    assert!(s["liveness"]["lastTrafficAt"].is_string(), "{s}");
    assert!(s["liveness"]["silentForMs"].as_u64().unwrap() < 300, "{s}");
    assert_eq!(s["liveness"]["probing"], false);

    let mut ev = gw.events();
    let started = tokio::time::Instant::now();
    let (status, b) = gw.post("/api/v1/sim/sessions/s1/silence", &t.api_key, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{b}");
    let body = json!({ "from": "+15550002222", "text": "written while the line was dead" });
    let (status, b) = gw.post("/api/v1/sim/sessions/s1/inbound", &t.api_key, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{b}");
    let s = gw.status_of(&t, "s1").await;
    assert_eq!(s["status"], "CONNECTED", "a zombie still looks connected until probed: {s}");

    let seen = until(&mut ev, "session.disconnected").await;
    let p = seen.last().unwrap().payload();
    assert_eq!((p["reason"].as_str(), p["willReconnect"].as_bool()), (Some("stale"), Some(true)), "{p}");
    assert!(p["message"].as_str().unwrap().contains("unanswered"), "{p}");
    let status_change = seen.iter().find(|e| e.name() == "session.status").expect("status changed").payload();
    assert_eq!((status_change["status"].as_str(), status_change["reason"].as_str()), (Some("RECONNECTING"), Some("stale")));
    assert!(!names(&seen).contains(&"message.received"), "nothing crossed the dead connection: {:?}", names(&seen));

    let seen = until(&mut ev, "message.received").await;
    assert!(names(&seen).contains(&"session.connected"), "{:?}", names(&seen));
    let p = seen.last().unwrap().payload();
    assert_eq!(p["message"]["content"], "written while the line was dead");
    // Silence limit + probe timeout + a reconnect, with room for a slow machine.
    assert!(started.elapsed() < Duration::from_secs(3), "recovered in {:?}", started.elapsed());
    let s = gw.status_of(&t, "s1").await;
    assert_eq!((s["status"].as_str(), s["disconnectReason"].as_str()), (Some("CONNECTED"), None), "{s}");

    let text = common::scrape(&gw).await;
    assert_eq!(common::metric_value(&text, "wagate_sessions_stale_total"), Some(1.0), "{text}");
    assert!(common::metric_value(&text, "wagate_session_probes_total").unwrap() >= 1.0);
    let silence = common::metric_value(&text, r#"wagate_session_silence_seconds{tenant="acme",session="s1"}"#);
    assert!(silence.is_some_and(|s| s < 1.0), "{text}");
}

/// A quiet account on a healthy connection answers every probe and stays CONNECTED.
#[tokio::test]
async fn a_quiet_but_healthy_connection_answers_its_probes_and_stays_connected() {
    let gw = TestGateway::start_with(|c| {
        c.sessions.watchdog_silence_ms = 100;
        c.sessions.watchdog_probe_timeout_ms = 200;
    })
    .await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    let mut ev = gw.events();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut seen = Vec::new();
    while let Some(e) = ev.try_recv() {
        seen.push(e);
    }
    assert!(seen.iter().all(|e| e.name() == "tenant.stats"), "{:?}", names(&seen));
    let s = gw.status_of(&t, "s1").await;
    assert_eq!(s["status"], "CONNECTED");
    // Each answered probe counts as traffic: the silence never grows far past the limit.
    assert!(s["liveness"]["silentForMs"].as_u64().unwrap() < 400, "{s}");
    let text = common::scrape(&gw).await;
    assert!(common::metric_value(&text, "wagate_session_probes_total").unwrap() >= 3.0, "{text}");
    assert_eq!(common::metric_value(&text, "wagate_sessions_stale_total"), Some(0.0));
}

#[tokio::test]
async fn only_a_connected_simulated_session_can_go_silent() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.session(&t, "s1").await;
    let (status, b) = gw.post("/api/v1/sim/sessions/s1/silence", &t.api_key, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{b}");
    assert!(b["error"]["message"].is_string(), "{b}");
    let (status, _) = gw.post("/api/v1/sim/sessions/nope/silence", &t.api_key, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(gw.status_of(&t, "s1").await["liveness"].is_null(), "no connection, nothing to watch");
}
