//! `GET /api/v1/events/stream`: the tenant's committed events as Server-Sent Events, read from
//! the durable journal: live, in order, resumable with `Last-Event-ID`, filtered to what the
//! caller may see, limited like sockets, and ended when the caller's rights end.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{ADMIN, TestGateway};
use http_body_util::BodyExt;
use serde_json::{Value, json};

struct Frame {
    id: Option<u64>,
    event: String,
    data: Value,
}

/// An open stream, read frame by frame.
struct Stream {
    body: Body,
    buf: String,
}

async fn open(
    gw: &TestGateway,
    path: &str,
    token: Option<&str>,
    last_event_id: Option<&str>,
) -> Result<Stream, (StatusCode, Value)> {
    let mut req = Request::builder().method(Method::GET).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    let resp = gw.serve(req.body(Body::empty()).unwrap()).await;
    let status = resp.status();
    if status != StatusCode::OK {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        return Err((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)));
    }
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    Ok(Stream { body: resp.into_body(), buf: String::new() })
}

impl Stream {
    /// The next frame; `None` when the stream has ended.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(cut) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..cut + 2).collect();
                let mut frame = Frame { id: None, event: "message".into(), data: Value::Null };
                let mut any = false;
                for line in block.lines().filter(|l| !l.is_empty() && !l.starts_with(':')) {
                    let (field, value) = line.split_once(':').map(|(f, v)| (f, v.trim_start())).unwrap_or((line, ""));
                    match field {
                        "id" => frame.id = value.parse().ok(),
                        "event" => frame.event = value.to_owned(),
                        "data" => frame.data = serde_json::from_str(value).unwrap(),
                        _ => {}
                    }
                    any = true;
                }
                if any {
                    return Some(frame);
                }
                continue;
            }
            let chunk =
                tokio::time::timeout(Duration::from_secs(5), self.body.frame()).await.expect("a frame within 5 s");
            match chunk {
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        self.buf.push_str(std::str::from_utf8(&data).unwrap());
                    }
                }
                _ => return None,
            }
        }
    }

    /// Frames until one named `name` (inclusive), skipping `tenant.stats`.
    async fn until(&mut self, name: &str) -> Vec<Frame> {
        let mut seen = Vec::new();
        loop {
            let f = self.next().await.unwrap_or_else(|| panic!("the stream ended before {name}"));
            if f.event == "tenant.stats" {
                continue;
            }
            let done = f.event == name;
            seen.push(f);
            if done {
                return seen;
            }
        }
    }
}

async fn inbound(gw: &TestGateway, key: &str, session: &str, text: &str) {
    let (s, b) = gw
        .post(&format!("/api/v1/sim/sessions/{session}/inbound"), key, json!({ "from": "+15550002222", "text": text }))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
}

fn texts(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f.event == "message.received")
        .map(|f| f.data["message"]["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_stream_is_live_in_order_and_resumes_after_the_last_id_without_a_gap_or_a_repeat() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;

    let mut live = open(&gw, "/api/v1/events/stream", Some(&t.api_key), None).await.unwrap();
    for i in 0..3 {
        inbound(&gw, &t.api_key, "s1", &format!("live-{i}")).await;
    }
    let mut frames = Vec::new();
    while texts(&frames).len() < 3 {
        frames.extend(live.until("message.received").await);
    }
    assert_eq!(texts(&frames), ["live-0", "live-1", "live-2"], "only what was committed after it opened");
    let ids: Vec<u64> = frames.iter().map(|f| f.id.expect("every event has its seq as id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(frames.iter().all(|f| f.data["seq"].as_u64() == f.id), "id is the event's seq");
    let last = *ids.last().unwrap();
    drop(live);

    for i in 0..2 {
        inbound(&gw, &t.api_key, "s1", &format!("missed-{i}")).await;
    }
    let mut resumed = open(&gw, "/api/v1/events/stream", Some(&t.api_key), Some(&last.to_string())).await.unwrap();
    let mut frames = Vec::new();
    while texts(&frames).len() < 2 {
        frames.extend(resumed.until("message.received").await);
    }
    assert_eq!(frames[0].id, Some(last + 1), "starts right after the last id it had");
    assert_eq!(texts(&frames), ["missed-0", "missed-1"]);

    // From the oldest kept: the session's creation comes first.
    let mut all = open(&gw, "/api/v1/events/stream?afterSeq=0", Some(&t.api_key), None).await.unwrap();
    let first = all.next().await.unwrap();
    assert_eq!((first.id, first.event.as_str()), (Some(1), "session.status"));
}

#[tokio::test]
async fn a_user_token_streams_only_the_sessions_it_may_use() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    for (id, owner) in [("mine", "u1"), ("theirs", "u2")] {
        let (s, b) = gw.post("/api/v1/sessions", &t.api_key, json!({ "id": id, "owner": owner })).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        gw.link(&t, id, "+15550000001").await;
    }
    let (s, b) =
        gw.call(Method::PATCH, "/api/v1/tenant", Some(&t.api_key), Some(json!({ "sessionAccess": "owned" }))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, token) = gw.post("/api/v1/tokens", &t.api_key, json!({ "sub": "u1" })).await;
    let token = token["token"].as_str().unwrap().to_owned();

    let mut stream = open(&gw, "/api/v1/events/stream", Some(&token), None).await.unwrap();
    inbound(&gw, &t.api_key, "theirs", "not for u1").await;
    inbound(&gw, &t.api_key, "mine", "for u1").await;
    let frames = stream.until("message.received").await;
    assert_eq!(texts(&frames), ["for u1"]);
    assert!(
        frames.iter().all(|f| f.data["sessionId"] == "mine"),
        "{:?}",
        frames.iter().map(|f| &f.event).collect::<Vec<_>>()
    );

    // A session it may not use is as missing as an unknown one.
    let err = open(&gw, "/api/v1/events/stream?sessionId=theirs", Some(&token), None).await.err().unwrap();
    assert_eq!((err.0, err.1["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("session_not_found")));
}

#[tokio::test]
async fn the_stream_refuses_bad_requests_counts_as_a_socket_and_ends_when_rights_end() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.session(&t, "s1").await;

    let err = open(&gw, "/api/v1/events/stream", None, None).await.err().unwrap();
    assert_eq!(err.0, StatusCode::UNAUTHORIZED, "{}", err.1);
    let err = open(&gw, "/api/v1/events/stream", Some(&t.api_key), Some("yesterday")).await.err().unwrap();
    assert_eq!(
        (err.0, err.1["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_last_event_id"))
    );
    let err = open(&gw, "/api/v1/events/stream", Some(&t.api_key), Some("999999")).await.err().unwrap();
    assert_eq!((err.0, err.1["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("seq_ahead")), "{}", err.1);
    let err = open(&gw, "/api/v1/events/stream?colour=red", Some(&t.api_key), None).await.err().unwrap();
    assert_eq!(err.0, StatusCode::BAD_REQUEST);

    let (s, b) = gw
        .call(
            Method::PATCH,
            "/api/v1/tenants/acme",
            Some(ADMIN),
            Some(json!({ "quotas": { "maxSocketsPerTenant": 1 } })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut first = open(&gw, "/api/v1/events/stream", Some(&t.api_key), None).await.unwrap();
    let err = open(&gw, "/api/v1/events/stream", Some(&t.api_key), None).await.err().unwrap();
    assert_eq!((err.0, err.1["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("quota_exceeded")), "{}", err.1);
    assert!(err.1["error"]["message"].as_str().unwrap().contains("sockets per tenant"), "{}", err.1);

    // Rotating the key ends the stream with a reason; the place it held is free again.
    let (s, b) = gw.post("/api/v1/tenants/acme/rotate", ADMIN, json!({ "apiKey": true, "graceSeconds": 60 })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let end = first.next().await.expect("an error event");
    assert_eq!((end.event.as_str(), end.data["code"].as_str()), ("error", Some("credentials_changed")), "{}", end.data);
    assert!(first.next().await.is_none(), "then the stream ends");
    drop(first);
    assert!(
        open(&gw, "/api/v1/events/stream", Some(&t.api_key), None).await.is_ok(),
        "the old key still works during its grace"
    );
}

#[tokio::test]
async fn a_reader_whose_events_were_pruned_is_told_what_it_missed() {
    let gw = TestGateway::start().await;
    let t = gw.tenant("acme").await;
    gw.connected_session(&t, "s1", "+15550000001").await;
    for i in 0..5 {
        inbound(&gw, &t.api_key, "s1", &format!("old-{i}")).await;
    }
    // Accepted inbound messages are committed a moment later.
    for _ in 0..300 {
        let (_, page) = gw.get("/api/v1/events?limit=1000", &t.api_key).await;
        let received = page["events"].as_array().unwrap().iter().filter(|e| e["event"] == "message.received").count();
        if received == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cfg = wagate::config::EventsConfig { retention_count: 3, ..Default::default() };
    let pruned = wagate::events::retention::prune(&gw.gateway.state.store, &cfg).await.unwrap();
    assert!(pruned > 0);

    let mut stream = open(&gw, "/api/v1/events/stream", Some(&t.api_key), Some("1")).await.unwrap();
    let gap = stream.next().await.unwrap();
    assert_eq!(gap.event, "delivery.gap");
    let (_, page) = gw.get("/api/v1/events", &t.api_key).await;
    let first_kept = page["firstSeq"].as_u64().unwrap();
    assert_eq!(
        (gap.data["fromSeq"].as_u64(), gap.data["toSeq"].as_u64()),
        (Some(2), Some(first_kept - 1)),
        "{}",
        gap.data
    );
    let next = stream.next().await.unwrap();
    assert_eq!(next.id, Some(first_kept), "then every event still kept");
}
