//! A plugin written in TypeScript (`tests/plugins-ts/ts-relay`, built by
//! `scripts/build-ts-plugin.sh` into the same folder shape as a Rust plugin) in the real host:
//! it loads under the same checks, answers its hooks, and its faults (an exception, a loop
//! without end, a memory bomb) are contained like a Rust plugin's. Needs `scripts/build-plugins.sh --tests`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use chrono::Utc;
use common::{ADMIN, TestGateway, install_plugin};
use serde_json::{Value, json};
use wagate::events::{self, Event, EventBody};
use wagate::model::SessionStatus;
use wagate::plugins::{BotLane, HostAction};

fn status_event(tenant: &str, seq: u64) -> Event {
    Event {
        tenant_id: tenant.into(),
        session_id: Some("s1".into()),
        seq,
        timestamp: Utc::now(),
        body: EventBody::SessionStatus(events::SessionStatusChanged {
            status: SessionStatus::Connected,
            previous_status: None,
            reason: None,
            phone: None,
            display_name: None,
        }),
    }
}

async fn bind(gw: &TestGateway, key: &str, config: Value) -> (StatusCode, Value) {
    gw.call(Method::PUT, "/api/v1/tenant/plugins/ts-relay", Some(key), Some(json!({ "config": config }))).await
}

#[tokio::test]
async fn a_typescript_plugin_answers_its_hooks_and_its_faults_are_contained() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    install_plugin(&dir.path().join("plugins"), "ts-relay", "ts-relay", |m| m);
    let gw = TestGateway::start_in(dir.clone(), |c| {
        c.plugins.breaker_threshold = 2;
        // A JavaScript component's first call starts its engine: on a machine busy with the
        // other test binaries that can take longer than the fast config's deadline.
        c.plugins.call_timeout_ms = 250;
    })
    .await;
    let (_, info) = gw.get("/api/v1/plugins/ts-relay", ADMIN).await;
    assert_eq!((info["status"].as_str(), info["contract"].as_str()), (Some("loaded"), Some("1.3.0")), "{info}");
    assert_eq!(info["configSchema"]["properties"]["mode"]["enum"], json!(["relay", "throw", "loop", "bomb"]));
    let acme = gw.tenant("acme").await;
    let calm = gw.tenant("calm").await;
    let (s, b) = bind(&gw, &acme.api_key, json!({ "mode": "sideways" })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("invalid config at 'mode'"), "{b}");
    assert_eq!(bind(&gw, &acme.api_key, json!({ "label": "a" })).await.0, StatusCode::OK);
    assert_eq!(bind(&gw, &calm.api_key, json!({ "label": "c" })).await.0, StatusCode::OK);
    let plugins = &gw.gateway.state.plugins;

    // transform, one event and a batch, each as transform-batch says
    let out = plugins.transform(&status_event("acme", 7)).await;
    assert!(!out.canonical);
    assert_eq!(out.deliveries[0].event, "ts:session.status");
    assert_eq!(out.deliveries[0].payload, json!({ "seq": 7, "label": "a", "session": "s1" }));
    let events: Vec<Event> = (10..14).map(|seq| status_event("acme", seq)).collect();
    let seqs: Vec<Value> =
        plugins.transform_many(&events).await.iter().map(|t| t.deliveries[0].payload["seq"].clone()).collect();
    assert_eq!(seqs, [json!(10), json!(11), json!(12), json!(13)]);
    // bot: its emits come back as actions
    let answers = plugins.bots(&status_event("acme", 8), BotLane::Local).await;
    match &answers[0].actions[..] {
        [HostAction::Deliver(d)] => {
            assert_eq!((d.event.as_str(), d.payload["label"].as_str()), ("ts:session.status", Some("a")))
        }
        other => panic!("{other:?}"),
    }

    // An exception, a loop without end and a memory bomb are faults of that binding only.
    for (mode, fault) in [("throw", "panicked"), ("loop", "deadline exceeded"), ("bomb", "memory limit exceeded")] {
        assert_eq!(bind(&gw, &acme.api_key, json!({ "label": "a", "mode": mode })).await.0, StatusCode::OK);
        let started = Instant::now();
        let out = plugins.transform(&status_event("acme", 20)).await;
        assert!(started.elapsed() < Duration::from_secs(2), "{mode}: {:?}", started.elapsed());
        assert!(out.canonical && out.deliveries.is_empty(), "{mode}: onError passthrough");
        let (_, views) = gw.get("/api/v1/tenant/plugins", &acme.api_key).await;
        assert!(views[0]["breaker"]["lastFault"].as_str().unwrap().contains(fault), "{mode}: {views}");
        let other = plugins.transform(&status_event("calm", 20)).await;
        assert_eq!(other.deliveries[0].payload["label"], "c", "{mode}: the other tenant is served");
    }

    // A manifest that does not grant what the component imports is refused at load.
    install_plugin(&dir.path().join("plugins"), "ts-relay", "ts-relay", |m| {
        m.replace("capabilities = [\"log\"]", "capabilities = []")
    });
    let outcome = plugins.reload("ts-relay").await;
    assert!(
        matches!(&outcome, wagate::plugins::ReloadOutcome::Refused(why) if why.contains("'wagate:plugin/log@1.3.0'") && why.contains("capability 'log'")),
        "{outcome:?}"
    );
}
