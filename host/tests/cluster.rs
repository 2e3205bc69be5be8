//! Cluster mode: gateway nodes sharing one PostgreSQL database, each session run by the node
//! holding its lease. The nodes here are gateways in this process on one schema, their
//! ownership rounds called by the test, so that "a node died" is "a node stopped renewing".
//! Needs PostgreSQL: `WAGATE_TEST_DATABASE_URL` (scripts/test.sh sets it when PostgreSQL
//! answers on 127.0.0.1:5432); without it each test says so and passes nothing off as tested.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::{Tenant, TestGateway};
use serde_json::json;
use wagate::sessions::Round;
use wagate::store::{Fence, StoreError};

const TTL_MS: u64 = 600;

fn postgres() -> bool {
    let there = std::env::var("WAGATE_TEST_DATABASE_URL").is_ok();
    if !there {
        eprintln!("skipped: cluster mode needs PostgreSQL and WAGATE_TEST_DATABASE_URL is not set");
    }
    there
}

/// Starts node `id` on the cluster's shared schema.
async fn node(schema: &str, id: &str) -> TestGateway {
    let (schema, id) = (schema.to_owned(), id.to_owned());
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // Every node loads the same plugin folder.
    common::install_plugin(&dir.path().join("plugins"), "relay", "relay", |t| t);
    TestGateway::start_in(dir, move |c| {
        c.database_schema = Some(schema);
        c.cluster.enabled = true;
        c.cluster.node_id = Some(id);
        c.cluster.lease_ttl_ms = TTL_MS;
        c.cluster.renew_interval_ms = 150;
    })
    .await
}

/// Nodes `ids` on a schema of their own, the tenant `acme` made on the first before the
/// others start (so they load it rather than hear of it).
async fn cluster<const N: usize>(ids: [&str; N]) -> ([TestGateway; N], Tenant) {
    let schema = cluster_schema();
    let mut nodes = Vec::with_capacity(N);
    nodes.push(node(&schema, ids[0]).await);
    let acme = nodes[0].tenant("acme").await;
    for id in &ids[1..] {
        nodes.push(node(&schema, id).await);
    }
    let Ok(nodes) = nodes.try_into() else { unreachable!("one node per id") };
    (nodes, acme)
}

fn cluster_schema() -> String {
    format!("wagate_test_cluster_{:08x}", rand::random::<u32>())
}

async fn round(gw: &TestGateway) -> Round {
    gw.gateway.state.sessions.ownership_round().await.unwrap()
}

/// Renews the nodes' leases every 150 ms while a test's traffic runs, as their own rounds
/// would: inbound messages are answered once stored, so a burst outlasts a lease of its own.
fn keep_renewing(nodes: &[&TestGateway]) -> tokio::task::JoinHandle<()> {
    let sessions: Vec<_> = nodes.iter().map(|n| n.gateway.state.sessions.clone()).collect();
    tokio::spawn(async move {
        loop {
            for s in &sessions {
                let _ = s.ownership_round().await;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    })
}

async fn expire_leases() {
    tokio::time::sleep(Duration::from_millis(TTL_MS + 100)).await;
}

#[tokio::test]
async fn a_session_runs_on_one_node_and_moves_when_that_node_stops_renewing() {
    if !postgres() {
        return;
    }
    let ([a, b], acme) = cluster(["a", "b"]).await;
    a.connected_session(&acme, "s1", "+15550001111").await;
    assert_eq!(round(&a).await, Round { renewed: 1, lost: 0, taken: 0 });
    assert_eq!(round(&b).await, Round::default(), "b takes nothing a holds");

    // A command on the other node is refused with the owner's name, and runs nowhere.
    let (s, body) = b.post("/api/v1/sessions/s1/connect", &acme.api_key, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "session_on_another_node");
    assert!(body["error"]["message"].as_str().unwrap().contains("'a'"), "{body}");
    // A send is queued in the store by the node that took it, and sent by the node running
    // the session, which hears of it through the cluster feed.
    let (s, sent) =
        b.post("/api/v1/sessions/s1/messages", &acme.api_key, json!({ "to": "+15559990000", "text": "hi" })).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sent}");
    let path = format!("/api/v1/sessions/s1/messages/{}", sent["id"].as_str().unwrap());
    eventually("the send queued on b goes out from a", || async {
        b.get(&path, &acme.api_key).await.1["status"] != "PENDING"
    })
    .await;
    let (_, chats) = a.get("/api/v1/sessions/s1/chats", &acme.api_key).await;
    let chats_before_failover = chats.as_array().map(Vec::len).unwrap_or_default();

    // Node a stops renewing (as if it died): b takes the session over at its next round after
    // the lease expired, and reconnects it with its stored credentials (no new QR).
    expire_leases().await;
    assert_eq!(round(&b).await.taken, 1);
    let s = b.wait_status(&acme, "s1", "CONNECTED").await;
    assert_eq!(s["phone"], "+15550001111");

    // Until node a notices, its actor still has its connection, and what arrives there is not
    // written: the write carries a's old token. The simulated phone is told it was not stored
    // (as WhatsApp's server would deliver it again).
    let (s, body) = a
        .post("/api/v1/sim/sessions/s1/inbound", &acme.api_key, json!({ "from": "+15559990009", "text": "late" }))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("inbound_not_stored")),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, chats) = b.get("/api/v1/sessions/s1/chats", &acme.api_key).await;
    assert_eq!(
        chats.as_array().map(Vec::len),
        Some(chats_before_failover),
        "a write of a node that lost the lease: {chats}"
    );
    // At its next round node a learns it lost the lease and stops running the session; its
    // commands for it then name b.
    assert_eq!(round(&a).await, Round { renewed: 0, lost: 1, taken: 0 });
    let mut answer = Default::default();
    for _ in 0..100 {
        answer = a.post("/api/v1/sessions/s1/connect", &acme.api_key, json!({})).await;
        if answer.0 == StatusCode::CONFLICT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (s, body) = answer;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("'b'"), "{body}");
}

#[tokio::test]
async fn a_write_carrying_an_old_fencing_token_is_refused() {
    if !postgres() {
        return;
    }
    let schema = cluster_schema();
    let a = node(&schema, "a").await;
    let acme = a.tenant("acme").await;
    a.session(&acme, "s1").await;
    let key = wagate::model::SessionKey::new("acme", "s1");
    let store = &a.gateway.state.store;
    let mut w = store.begin_write().await.unwrap();
    let first = wagate::store::leases::acquire(&mut w, &key, "a", now_ms(), TTL_MS as i64).await.unwrap().unwrap();
    w.commit().await.unwrap();
    let fenced = store.fenced(Fence { key: key.clone(), node: "a".into(), token: first });
    fenced.begin_write().await.expect("the holder writes");

    expire_leases().await;
    let mut w = store.begin_write().await.unwrap();
    let second = wagate::store::leases::acquire(&mut w, &key, "b", now_ms(), TTL_MS as i64).await.unwrap().unwrap();
    w.commit().await.unwrap();
    assert!(second > first, "a new holder gets a larger token");
    assert!(matches!(fenced.begin_write().await, Err(StoreError::LeaseLost(_))));
    // Held and live: another node cannot take it, and learns who holds it.
    let mut w = store.begin_write().await.unwrap();
    let held = wagate::store::leases::acquire(&mut w, &key, "a", now_ms(), TTL_MS as i64).await.unwrap();
    assert_eq!(held, Err(wagate::store::leases::HeldBy("b".into())));
}

#[tokio::test]
async fn a_graceful_shutdown_hands_sessions_over_at_once_and_they_are_shared_evenly() {
    if !postgres() {
        return;
    }
    let ([a, b, c], acme) = cluster(["a", "b", "c"]).await;
    for i in 0..6 {
        a.connected_session(&acme, &format!("s{i}"), &format!("+1555000100{i}")).await;
    }
    for n in [&a, &b, &c] {
        round(n).await;
    }
    let (s, view) = b.get("/api/v1/cluster/nodes", common::ADMIN).await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(view["thisNode"], "b");
    let held = |v: &serde_json::Value| {
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["id"].as_str().unwrap().to_owned(), n["sessions"].as_u64().unwrap()))
            .collect::<Vec<_>>()
    };
    assert_eq!(held(&view), [("a".to_owned(), 6), ("b".to_owned(), 0), ("c".to_owned(), 0)]);
    a.gateway.state.sessions.shutdown().await;
    // No waiting for the leases to expire: a gave them up.
    let taken_b = round(&b).await.taken;
    let taken_c = round(&c).await.taken;
    assert_eq!((taken_b, taken_c), (3, 3), "shared evenly between the two live nodes");
    for i in 0..6 {
        b.wait_status(&acme, &format!("s{i}"), "CONNECTED").await;
    }
    assert_eq!(round(&b).await, Round { renewed: 3, lost: 0, taken: 0 });
    assert_eq!(round(&c).await, Round { renewed: 3, lost: 0, taken: 0 });
    let (_, view) = c.get("/api/v1/cluster/nodes", common::ADMIN).await;
    assert_eq!(held(&view), [("b".to_owned(), 3), ("c".to_owned(), 3)], "a left the cluster: {view}");
}

/// A send (as any command) that reaches a node for a session no node holds, its node having
/// stopped, takes the session over there and brings its connection back, as an ownership round
/// would: a node holding a session's lease without running it would keep every node from it.
#[tokio::test]
async fn a_send_for_a_session_no_node_holds_takes_it_over_and_brings_its_connection_back() {
    if !postgres() {
        return;
    }
    let ([a, b], acme) = cluster(["a", "b"]).await;
    a.connected_session(&acme, "s1", "+15550001111").await;
    round(&a).await;
    a.gateway.state.sessions.shutdown().await;

    // Before any round of b's: the send takes the session over.
    let (s, sent) = b
        .post("/api/v1/sessions/s1/messages", &acme.api_key, json!({ "to": "+15550002222", "text": "meanwhile" }))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sent}");
    let path = format!("/api/v1/sessions/s1/messages/{}", sent["id"].as_str().unwrap());
    let mut status = serde_json::Value::Null;
    for _ in 0..250 {
        status = b.get(&path, &acme.api_key).await.1["status"].clone();
        if status == "SENT" || status == "DELIVERED" || status == "READ" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(["SENT", "DELIVERED", "READ"].contains(&status.as_str().unwrap()), "the send went out from b: {status}");
    let (s, body) =
        b.post("/api/v1/sim/sessions/s1/inbound", &acme.api_key, json!({ "from": "+15550002222", "text": "hi" })).await;
    assert_eq!(s, StatusCode::ACCEPTED, "b's connection takes inbound messages: {body}");
    assert_eq!(round(&b).await, Round { renewed: 1, lost: 0, taken: 0 }, "b runs it; nothing was left orphaned");
}

#[tokio::test]
async fn a_change_on_one_node_applies_on_the_others_within_a_second() {
    if !postgres() {
        return;
    }
    let schema = cluster_schema();
    let a = node(&schema, "a").await;
    let b = node(&schema, "b").await;
    // b's listener reads everything once when it starts listening: what follows must reach
    // it as notices, not in that first read.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A tenant created on a: b accepts its key.
    let acme = a.tenant("acme").await;
    eventually("b accepts the new tenant's key", || async {
        b.get("/api/v1/sessions", &acme.api_key).await.0 == StatusCode::OK
    })
    .await;

    // A binding made on a: b runs it.
    let (s, body) =
        a.call(axum::http::Method::PUT, "/api/v1/tenant/plugins/relay", Some(&acme.api_key), Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    eventually("b has the binding", || async {
        let (_, list) = b.get("/api/v1/tenant/plugins", &acme.api_key).await;
        list.as_array().is_some_and(|l| l.iter().any(|x| x["plugin"] == "relay"))
    })
    .await;

    // A webhook endpoint made on a: an event committed on b is queued for it.
    let (s, hook) = a.post("/api/v1/webhooks", &acme.api_key, json!({ "url": "http://127.0.0.1:9/hook" })).await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let id = hook["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    b.session(&acme, "made-on-b").await;
    eventually("b queued a delivery of its event for a's endpoint", || async {
        let (_, list) = a.get(&format!("/api/v1/webhooks/{id}/deliveries"), &acme.api_key).await;
        list.as_array().is_some_and(|l| l.iter().any(|d| d["event"] == "session.status"))
    })
    .await;

    // The tenant deleted on a: b refuses its key.
    let (s, _) = a.call(axum::http::Method::DELETE, "/api/v1/tenants/acme", Some(common::ADMIN), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    eventually("b refuses the deleted tenant's key", || async {
        b.get("/api/v1/sessions", &acme.api_key).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
}

#[tokio::test]
async fn each_delivery_is_attempted_by_one_node_although_every_node_runs_the_endpoint() {
    if !postgres() {
        return;
    }
    // A receiver counting each webhook-id it is sent.
    let seen: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>> = Default::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counted = seen.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let counted = counted.clone();
            async move {
                let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                *counted.lock().unwrap().entry(id).or_default() += 1;
                StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let ([a, b], acme) = cluster(["a", "b"]).await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let (s, hook) =
        a.post("/api/v1/webhooks", &acme.api_key, json!({ "url": url, "events": ["message.received"] })).await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    a.connected_session(&acme, "on-a", "+15550002221").await;
    b.connected_session(&acme, "on-b", "+15550002222").await;
    let renewing = keep_renewing(&[&a, &b]);
    // Both nodes commit events for the endpoint at once: each node's worker is woken by its
    // own commits and finds the other's deliveries due too.
    async fn inbound(gw: &TestGateway, key: &str, session: &str, i: usize) -> (StatusCode, serde_json::Value) {
        let path = format!("/api/v1/sim/sessions/{session}/inbound");
        gw.post(&path, key, json!({ "from": "+15559990000", "text": format!("m{i}") })).await
    }
    const EACH: usize = 30;
    for i in 0..EACH {
        let (x, y) = tokio::join!(inbound(&a, &acme.api_key, "on-a", i), inbound(&b, &acme.api_key, "on-b", i));
        assert!(x.0.is_success() && y.0.is_success(), "{x:?} {y:?}");
    }
    for _ in 0..300 {
        if seen.lock().unwrap().len() == 2 * EACH {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2 * EACH, "every event delivered");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    renewing.abort();
}

#[tokio::test]
async fn every_node_gets_every_event_of_the_tenant_in_seq_order_whichever_node_committed_it() {
    if !postgres() {
        return;
    }
    let ([a, b], acme) = cluster(["a", "b"]).await;
    a.connected_session(&acme, "on-a", "+15550003331").await;
    b.connected_session(&acme, "on-b", "+15550003332").await;
    let renewing = keep_renewing(&[&a, &b]);
    // What each node's fan-out is given, from here on.
    let mut given_a = a.gateway.delivered.subscribe("test");
    let mut given_b = b.gateway.delivered.subscribe("test");
    // Both nodes commit the tenant's events at once, so their `seq`s interleave.
    const EACH: usize = 25;
    for i in 0..EACH {
        let text = format!("m{i}");
        let (x, y) = tokio::join!(
            a.post("/api/v1/sim/sessions/on-a/inbound", &acme.api_key, json!({ "from": "+15559990001", "text": text })),
            b.post("/api/v1/sim/sessions/on-b/inbound", &acme.api_key, json!({ "from": "+15559990002", "text": text })),
        );
        assert!(x.0.is_success() && y.0.is_success(), "{x:?} {y:?}");
    }
    async fn received(given: &mut wagate::events::Subscription) -> Vec<(u64, String)> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while seen.iter().filter(|(_, name, _)| name == "message.received").count() < 2 * EACH {
            let ev = tokio::time::timeout_at(deadline, given.recv())
                .await
                .unwrap_or_else(|_| panic!("not every message within 10 s: {seen:?}"))
                .unwrap();
            seen.push((ev.seq, ev.name().to_owned(), ev.session_id.clone().unwrap_or_default()));
        }
        let seqs: Vec<u64> = seen.iter().map(|(seq, ..)| *seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "each seq once, in order, none left out: {seqs:?}");
        let sessions: std::collections::HashSet<&str> =
            seen.iter().filter(|(_, name, _)| name == "message.received").map(|(.., s)| s.as_str()).collect();
        assert_eq!(sessions.len(), 2, "both nodes' events");
        seen.into_iter().map(|(seq, name, _)| (seq, name)).collect()
    }
    let messages = |seen: Vec<(u64, String)>| -> Vec<u64> {
        seen.into_iter().filter(|(_, name)| name == "message.received").map(|(seq, _)| seq).collect()
    };
    let on_a = messages(received(&mut given_a).await);
    let on_b = messages(received(&mut given_b).await);
    assert_eq!(on_a, on_b, "both nodes give their sockets the same messages, under the same seqs");
    renewing.abort();
}

/// Waits up to a second for `check` to hold.
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..50 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("not within a second: {what}");
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
