//! Real components in the real host: every hook, the sandbox's fault containment and circuit
//! breaker, the compile cache, and hot reload under load. Needs `scripts/build-plugins.sh --tests`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use chrono::Utc;
use common::{ADMIN, TestGateway, install_plugin, metric_value, scrape};
use serde_json::{Value, json};
use wagate::auth::Identity;
use wagate::events::{self, Event, EventBody};
use wagate::model::SessionStatus;
use wagate::plugins::{BotLane, HostAction, Target};

fn status_event(tenant: &str, session: &str, seq: u64) -> Event {
    Event {
        tenant_id: tenant.into(),
        session_id: Some(session.into()),
        seq,
        timestamp: Utc::now(),
        body: EventBody::SessionStatus(events::SessionStatusChanged {
            status: SessionStatus::Connected,
            previous_status: Some(SessionStatus::Pairing),
            reason: None,
            phone: Some("+15550001".into()),
            display_name: None,
        }),
    }
}

/// What the tenant's bots on `lane` asked for on `ev`, all bots together.
async fn bot_actions(plugins: &wagate::plugins::Plugins, ev: &Event, lane: BotLane) -> Vec<HostAction> {
    plugins.bots(ev, lane).await.into_iter().flat_map(|a| a.actions).collect()
}

fn identity(tenant: &str, claims: Value) -> Identity {
    Identity::new(tenant.into(), Some("u1".into()), claims)
}

async fn start_with_plugins(plugins: &[(&str, &str)], tweak: impl FnOnce(&mut wagate::config::Config)) -> TestGateway {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    for (src, dest) in plugins {
        install_plugin(&dir.path().join("plugins"), src, dest, |m| m);
    }
    TestGateway::start_in(dir, tweak).await
}

async fn bind(gw: &TestGateway, key: &str, plugin: &str, body: Value) -> (StatusCode, Value) {
    gw.call(Method::PUT, &format!("/api/v1/tenant/plugins/{plugin}"), Some(key), Some(body)).await
}

#[tokio::test]
async fn every_hook_runs_in_a_real_component() {
    every_hook_of_the_relay("relay", "1.0.0").await;
}

/// The relay as it was built against WIT 0.3.0 (a committed component, see its README): it
/// loads and answers every hook exactly as the relay built from today's sources does.
#[tokio::test]
async fn a_component_built_against_wit_0_3_answers_every_hook() {
    every_hook_of_the_relay("relay-wit-0.3", "0.3.0-fixture").await;
}

/// The relay as built with the 1.0 contract's SDK (a committed fixture, never rebuilt) loads
/// and answers every hook exactly as the relay built from today's sources does; it stays so
/// when the contract gains minor versions.
#[tokio::test]
async fn a_component_built_against_wit_1_0_answers_every_hook() {
    every_hook_of_the_relay("relay-wit-1.0", "1.0.0-fixture").await;
}

/// A config that does not decode into the plugin's config type is refused by plugin-sdk,
/// naming the field and what was expected, before the plugin's init runs; nothing is bound.
#[tokio::test]
async fn a_bad_config_is_refused_at_bind_with_the_field_path() {
    let gw = start_with_plugins(&[("relay", "relay")], |_| {}).await;
    let acme = gw.tenant("acme").await;
    let (s, b) = bind(&gw, &acme.api_key, "relay", json!({ "config": { "label": 7 } })).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("config_refused")));
    assert_eq!(b["error"]["message"], "invalid config at 'label': invalid type: integer `7`, expected a string");
    assert_eq!(gw.get("/api/v1/tenant/plugins", &acme.api_key).await.1, json!([]));
}

async fn every_hook_of_the_relay(src: &str, version: &str) {
    let gw = start_with_plugins(&[(src, "relay")], |_| {}).await;
    let acme = gw.tenant("acme").await;
    let other = gw.tenant("other").await;

    let (s, list) = gw.get("/api/v1/plugins", ADMIN).await;
    assert_eq!(s, StatusCode::OK);
    let relay = &list[0];
    assert_eq!(relay["name"], "relay");
    assert_eq!(relay["status"], "loaded");
    assert_eq!(relay["version"], version);
    // The fixtures predate the 1.2 hook `webhook`.
    let mut hooks = json!(["auth", "client-events", "transform", "bot"]);
    if src == "relay" {
        hooks.as_array_mut().unwrap().push(json!("webhook"));
    }
    assert_eq!(relay["hooks"], hooks);
    assert!(relay["capabilities"].as_array().unwrap().contains(&json!("kv")));
    assert!(relay["loadMs"].as_f64().unwrap() > 0.0);
    assert_eq!(gw.get("/api/v1/plugins", &acme.api_key).await.0, StatusCode::UNAUTHORIZED);

    // The plugin's own init judges the config.
    let (s, b) = bind(&gw, &acme.api_key, "relay", json!({ "config": { "refuse": "nope" } })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "config_refused");
    assert_eq!(b["error"]["message"], "refused: \"nope\"");
    let (s, b) = bind(&gw, &acme.api_key, "ghost", json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "plugin_not_found");
    let (s, b) = bind(&gw, &acme.api_key, "relay", json!({ "config": [1] })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = bind(&gw, &acme.api_key, "relay", json!({ "config": { "label": "mine" }, "priority": 5 })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["version"], version);
    assert_eq!(b["onError"], "passthrough");
    assert_eq!(b["breaker"]["state"], "closed");
    let (_, views) = gw.get("/api/v1/tenant/plugins", &acme.api_key).await;
    assert_eq!(views[0]["plugin"], "relay");
    assert_eq!(views[0]["priority"], 5);
    let (_, none) = gw.get("/api/v1/tenant/plugins", &other.api_key).await;
    assert_eq!(none, json!([]));

    let plugins = &gw.gateway.state.plugins;
    // transform: the bound tenant gets the plugin's dialect, the other the canonical one.
    let out = plugins.transform(&status_event("acme", "s1", 7)).await;
    assert!(!out.canonical);
    assert_eq!(out.deliveries.len(), 1);
    let d = &out.deliveries[0];
    assert_eq!(d.event, "relay:session.status");
    assert_eq!(d.target, Target::Rooms(vec!["t/acme/s/s1".into()]));
    assert_eq!(d.payload["label"], "mine");
    assert_eq!(d.payload["seq"], 7);
    assert_eq!(d.payload["original"]["status"], "CONNECTED");
    let out = plugins.transform(&status_event("other", "s1", 1)).await;
    assert!(out.canonical && out.deliveries.is_empty());

    // auth: the plugin shapes user, roles and rooms, but cannot move the socket to another tenant.
    let id = plugins.map_auth(identity("acme", json!({ "userId": "u9", "room": "vip" }))).await.unwrap();
    assert_eq!(id.tenant, "acme");
    assert_eq!(id.user.as_deref(), Some("u9"));
    assert_eq!(id.roles, vec!["relayed"]);
    assert_eq!(id.rooms, vec!["vip"]);
    let refused = plugins.map_auth(identity("acme", json!({ "blocked": true }))).await.unwrap_err();
    assert_eq!(refused, "blocked by relay");

    // client events, with per-tenant state through the kv capability.
    let caller = identity("acme", json!({}));
    for expected in [1, 2] {
        let actions = plugins.client_event(&caller, "relay:count", &json!(null)).await.unwrap();
        match &actions[..] {
            [HostAction::Deliver(d)] => {
                assert_eq!(d.target, Target::Caller);
                assert_eq!(d.payload["count"], expected);
            }
            other => panic!("{other:?}"),
        }
    }
    let actions = plugins.client_event(&caller, "relay:join", &json!("lobby")).await.unwrap();
    assert_eq!(actions, vec![HostAction::Join("t/acme/r/lobby".into())]);
    gw.session(&acme, "s1").await;
    let actions = plugins.client_event(&caller, "relay:sessions", &json!("s1")).await.unwrap();
    let HostAction::Deliver(d) = &actions[0] else { panic!() };
    assert_eq!(d.payload["sessions"][0]["id"], "s1");
    assert_eq!(d.payload["chats"], json!([]));
    assert!(d.payload["now"].as_u64().unwrap() > 1_700_000_000_000);
    assert!(plugins.client_event(&identity("other", json!({})), "relay:count", &json!(null)).await.is_none());

    // bot: actions come back as host actions for the tenant's own session.
    let ping = wagate_event_message("acme", "s1", "ping");
    let actions = bot_actions(plugins, &ping, BotLane::Local).await;
    match &actions[..] {
        [HostAction::SendText { session, to, text }] => {
            assert_eq!(session.tenant, "acme");
            assert_eq!(session.session, "s1");
            assert_eq!(to, "15550002@s.whatsapp.net");
            assert_eq!(text, "pong from mine");
        }
        other => panic!("{other:?}"),
    }

    let (_, info) = gw.get("/api/v1/plugins/relay", ADMIN).await;
    assert!(info["calls"]["transform"]["calls"].as_u64().unwrap() >= 1);
    assert!(info["calls"]["client-events"]["p99Us"].as_u64().unwrap() > 0);
    assert_eq!(info["calls"]["transform"]["errors"], 0);

    let (s, _) = gw.call(Method::DELETE, "/api/v1/tenant/plugins/relay", Some(&acme.api_key), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(plugins.transform(&status_event("acme", "s1", 8)).await.canonical);
    let (s, b) = gw.call(Method::DELETE, "/api/v1/tenant/plugins/relay", Some(&acme.api_key), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "binding_not_found");
}

fn wagate_event_message(tenant: &str, session: &str, text: &str) -> Event {
    use wagate::model::{Chat, Direction, Message, MessageStatus, MessageType};
    let chat = Chat {
        id: "c1".into(),
        session_id: session.into(),
        jid: "15550002@s.whatsapp.net".into(),
        number: Some("+15550002".into()),
        name: None,
        last_message: Some(text.into()),
        last_message_at: Some(Utc::now()),
        unread_count: 1,
        is_group: false,
        pinned: false,
        archived: false,
    };
    let message = Message {
        id: "m1".into(),
        wa_message_id: Some("3EB0".into()),
        session_id: session.into(),
        chat_id: "c1".into(),
        direction: Direction::Inbound,
        from_me: false,
        from_jid: "15550002@s.whatsapp.net".into(),
        from_number: Some("+15550002".into()),
        from_lid: None,
        from_name: None,
        kind: MessageType::Text,
        content: text.into(),
        media_url: None,
        media: None,
        location: None,
        contact: None,
        poll: None,
        quoted: None,
        mentions: Vec::new(),
        reactions: Vec::new(),
        edited_at: None,
        revoked_at: None,
        link_preview: None,
        origin: None,
        media_expired_at: None,
        status: MessageStatus::Delivered,
        error: None,
        timestamp: Utc::now(),
        sent_at: None,
        delivered_at: None,
        read_at: None,
    };
    Event {
        tenant_id: tenant.into(),
        session_id: Some(session.into()),
        seq: 1,
        timestamp: Utc::now(),
        body: EventBody::MessageReceived(events::MessageEvent { message, chat }),
    }
}

#[tokio::test]
async fn faults_are_contained_counted_and_open_the_breaker() {
    let gw = start_with_plugins(&[("faulty", "faulty")], |_| {}).await;
    let calm = gw.tenant("calm").await;
    let (s, b) = bind(&gw, &calm.api_key, "faulty", json!({ "config": { "mode": "ok" } })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let plugins = &gw.gateway.state.plugins;

    let modes = [
        ("loop", "deadline exceeded"),
        ("bomb", "memory limit exceeded"),
        ("panic", "plugin panicked"),
        ("foreign-room", "outside the plugin's namespace"),
        ("bad-action", "event names are 1 to 128"),
    ];
    for (mode, expected) in modes {
        let t = gw.tenant(&format!("t-{mode}")).await;
        let (s, b) = bind(&gw, &t.api_key, "faulty", json!({ "config": { "mode": mode } })).await;
        assert_eq!(s, StatusCode::OK, "{mode}: {b}");
        for i in 0..5u64 {
            let started = Instant::now();
            let out = plugins.transform(&status_event(&t.id, "s1", i)).await;
            assert!(out.deliveries.is_empty(), "{mode}: a faulting plugin's output is never used");
            assert!(out.canonical, "{mode}: onError passthrough falls back to the canonical dialect");
            assert!(started.elapsed() < Duration::from_secs(2), "{mode}: a fault must not hang the gateway");
            // The other tenant sees no difference, between every fault.
            let calm_out = plugins.transform(&status_event("calm", "s1", i)).await;
            assert_eq!(calm_out.deliveries.len(), 1, "{mode}");
            assert_eq!(calm_out.deliveries[0].event, "faulty:ok");
        }
        let (_, views) = gw.get("/api/v1/tenant/plugins", &t.api_key).await;
        let breaker = &views[0]["breaker"];
        assert_eq!(breaker["state"], "open", "{mode}: {breaker}");
        assert_eq!(breaker["consecutiveFaults"], 5);
        assert!(breaker["lastFault"].as_str().unwrap().contains(expected), "{mode}: {breaker}");
        // While open the plugin is skipped entirely (and quickly).
        let before = gw.get("/api/v1/plugins/faulty", ADMIN).await.1["calls"]["transform"]["calls"].as_u64().unwrap();
        let started = Instant::now();
        assert!(plugins.transform(&status_event(&t.id, "s1", 9)).await.canonical);
        assert!(started.elapsed() < Duration::from_millis(20));
        let after = gw.get("/api/v1/plugins/faulty", ADMIN).await.1["calls"]["transform"]["calls"].as_u64().unwrap();
        assert_eq!(before, after, "{mode}: an open breaker makes no call");
        assert_eq!(gw.call(Method::GET, "/healthz", None, None).await.0, StatusCode::OK);
    }
    let (_, info) = gw.get("/api/v1/plugins/faulty", ADMIN).await;
    assert_eq!(info["calls"]["transform"]["errors"], 25, "{info}");

    // Half-open: after the cool-down one trial call runs; it faults again and reopens.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let before = gw.get("/api/v1/plugins/faulty", ADMIN).await.1["calls"]["transform"]["errors"].as_u64().unwrap();
    plugins.transform(&status_event("t-panic", "s1", 10)).await;
    let after = gw.get("/api/v1/plugins/faulty", ADMIN).await.1["calls"]["transform"]["errors"].as_u64().unwrap();
    assert_eq!(after, before + 1);
    let t = gw.get("/api/v1/tenant/plugins", "").await;
    assert_eq!(t.0, StatusCode::UNAUTHORIZED);

    // onError: drop means a failed event is not delivered at all.
    let dropper = gw.tenant("dropper").await;
    bind(&gw, &dropper.api_key, "faulty", json!({ "config": { "mode": "panic" }, "onError": "drop" })).await;
    let out = plugins.transform(&status_event("dropper", "s1", 1)).await;
    assert!(!out.canonical && out.deliveries.is_empty());

    // The same, as the operator's Prometheus sees it.
    let text = scrape(&gw).await;
    let value = |series: &str| metric_value(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert!(value(r#"wagate_plugin_errors_total{plugin="faulty",hook="transform"}"#) >= 27.0);
    assert!(value(r#"wagate_plugin_calls_total{plugin="faulty",hook="transform"}"#) >= 52.0);
    assert!(value(r#"wagate_plugin_call_duration_seconds_count{plugin="faulty",hook="transform"}"#) >= 52.0);
    // t-panic's trial call faulted again; the others' cool-down is over.
    assert_eq!(value(r#"wagate_plugin_breaker{tenant="t-panic",plugin="faulty",state="open"}"#), 1.0);
    assert_eq!(value(r#"wagate_plugin_breaker{tenant="t-loop",plugin="faulty",state="half-open"}"#), 1.0);
    assert_eq!(value(r#"wagate_plugin_breaker{tenant="calm",plugin="faulty",state="closed"}"#), 1.0);
    assert!(metric_value(&text, r#"wagate_plugin_breaker{tenant="calm",plugin="faulty",state="open"}"#).is_none());
    assert_eq!(value(r#"wagate_plugin_loads_total{plugin="faulty",outcome="loaded"}"#), 1.0);
}

/// Status events of `tenant` with seqs `from..to`.
fn status_events(tenant: &str, seqs: std::ops::Range<u64>) -> Vec<Event> {
    seqs.map(|seq| status_event(tenant, "s1", seq)).collect()
}

#[tokio::test]
async fn queued_events_share_calls_and_answer_as_one_by_one() {
    let gw = start_with_plugins(&[("relay", "relay"), ("faulty", "faulty")], |_| {}).await;
    let acme = gw.tenant("acme").await;
    let beta = gw.tenant("beta").await;
    gw.tenant("plain").await;
    for (t, label) in [(&acme, "a"), (&beta, "b")] {
        let (s, b) = bind(&gw, &t.api_key, "relay", json!({ "config": { "label": label } })).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let plugins = &gw.gateway.state.plugins;

    // Interleaved tenants, as the fan-out takes them off the bus: each answer is what the
    // event gets on its own, in the same order.
    let events: Vec<Event> =
        (1..=30u64).map(|seq| status_event(["acme", "beta", "plain"][(seq % 3) as usize], "s1", seq)).collect();
    let calls = || async { gw.get("/api/v1/plugins/relay", ADMIN).await.1["calls"]["transform"]["calls"].as_u64() };
    plugins.transform(&events[0]).await; // a first call measures the cost per event
    let before = calls().await.unwrap();
    let together = plugins.transform_many(&events).await;
    assert_eq!(calls().await.unwrap(), before + 20, "every event counts as a call, batched or not");
    assert_eq!(together.len(), events.len());
    for (ev, got) in events.iter().zip(&together) {
        let alone = plugins.transform(ev).await;
        assert_eq!(got.canonical, alone.canonical, "event {}", ev.seq);
        assert_eq!(got.deliveries, alone.deliveries, "event {}", ev.seq);
        match ev.tenant_id.as_str() {
            "plain" => assert!(got.canonical && got.deliveries.is_empty()),
            tenant => {
                assert_eq!(got.deliveries.len(), 1);
                assert_eq!(got.deliveries[0].payload["seq"], ev.seq);
                assert_eq!(got.deliveries[0].payload["label"], &tenant[..1]);
            }
        }
    }

    // A fault in a batch fails every event in it (onError for each, one fault for the
    // breaker), and the binding goes back to single events until its cost is known again.
    let (s, b) = bind(&gw, &acme.api_key, "faulty", json!({ "config": { "panicAtSeq": 13 }, "priority": 1 })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let faulty_ok = |t: &wagate::plugins::Transformed| t.deliveries.iter().any(|d| d.event == "faulty:ok");
    // Single calls first: they measure the cost per event that sizes batches (the first one
    // also instantiates, so a few are needed before a batch of 10 fits even on a slow machine).
    for seq in 100..120 {
        assert!(faulty_ok(&plugins.transform(&status_event("acme", "s1", seq)).await));
    }
    let batch = plugins.transform_many(&status_events("acme", 10..20)).await;
    for (seq, t) in (10..20).zip(&batch) {
        assert!(!faulty_ok(t) && t.canonical, "event {seq}: its batch faulted, so passthrough");
        assert_eq!(t.deliveries.len(), 1, "event {seq}: the relay still answered");
    }
    let (_, views) = gw.get("/api/v1/tenant/plugins", &acme.api_key).await;
    let breaker = &views.as_array().unwrap().iter().find(|v| v["plugin"] == "faulty").unwrap()["breaker"];
    assert_eq!(breaker["consecutiveFaults"], 1, "{breaker}");
    assert!(breaker["lastFault"].as_str().unwrap().contains("panicked"), "{breaker}");
    let (_, info) = gw.get("/api/v1/plugins/faulty", ADMIN).await;
    assert_eq!(info["calls"]["transform"]["errors"], 10, "each event of the batch failed: {info}");
    let singles = plugins.transform_many(&status_events("acme", 10..20)).await;
    for (seq, t) in (10..20).zip(&singles) {
        assert_eq!(faulty_ok(t), seq != 13, "event {seq}: after a fault events go one by one");
        assert_eq!(t.canonical, seq == 13, "event {seq}");
    }
}

#[tokio::test]
async fn compiled_components_are_cached_across_restarts() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let cache = dir.path().join("own-cache");
    install_plugin(&dir.path().join("plugins"), "relay", "relay", |m| m);
    let first = {
        let cache = cache.clone();
        let gw = TestGateway::start_in(dir.clone(), move |c| c.plugins.cache_dir = Some(cache)).await;
        gw.get("/api/v1/plugins/relay", ADMIN).await.1
    };
    assert_eq!(first["fromCache"], false);
    let gw = TestGateway::start_in(dir.clone(), move |c| c.plugins.cache_dir = Some(cache)).await;
    let second = gw.get("/api/v1/plugins/relay", ADMIN).await.1;
    assert_eq!(second["fromCache"], true);
    assert_eq!(second["sha256"], first["sha256"]);
    assert!(second["loadMs"].as_f64().unwrap() < first["loadMs"].as_f64().unwrap());
}

/// Writes a plugin folder from raw parts and swaps it in with one rename.
fn install_raw(plugins_dir: &std::path::Path, dest: &str, manifest: &str, wasm: &[u8]) {
    let tmp = plugins_dir.join(format!(".raw-{dest}"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("plugin.toml"), manifest).unwrap();
    std::fs::write(tmp.join("plugin.wasm"), wasm).unwrap();
    let target = plugins_dir.join(dest);
    let old = plugins_dir.join(format!(".old-raw-{dest}"));
    let _ = std::fs::remove_dir_all(&old);
    if target.exists() {
        std::fs::rename(&target, &old).unwrap();
    }
    std::fs::rename(&tmp, &target).unwrap();
    let _ = std::fs::remove_dir_all(&old);
}

#[tokio::test]
async fn hot_reload_under_load_delivers_every_event_exactly_once() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let plugins_dir = dir.path().join("plugins");
    let version = |n: u32| {
        move |m: String| {
            m.replace("version = \"1.0.0\"", &format!("version = \"1.0.{n}\""))
                .replace("label = \"v1\"", &format!("label = \"v{n}\""))
        }
    };
    install_plugin(&plugins_dir, "relay", "relay", version(0));
    let gw = TestGateway::start_in(dir.clone(), |c| {
        c.plugins.watch = true;
        c.plugins.debounce_ms = 50;
    })
    .await;
    let acme = gw.tenant("acme").await;
    let (s, b) = bind(&gw, &acme.api_key, "relay", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // Events flow the whole time, one after the other, as the fan-out sends them.
    let plugins = gw.gateway.state.plugins.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pump = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut seen: BTreeMap<u64, Vec<String>> = BTreeMap::new();
            let mut seq = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seq += 1;
                let out = plugins.transform(&status_event("acme", "s1", seq)).await;
                assert!(!out.canonical, "event {seq} fell back to canonical");
                let labels = out.deliveries.iter().map(|d| {
                    assert_eq!(d.payload["seq"], seq);
                    d.payload["label"].as_str().unwrap().to_owned()
                });
                seen.entry(seq).or_default().extend(labels);
                tokio::task::yield_now().await;
            }
            seen
        })
    };

    let relay_wasm = std::fs::read(common::test_plugin("relay").join("relay.wasm")).unwrap();
    let good_manifest = std::fs::read_to_string(common::test_plugin("relay").join("plugin.toml")).unwrap();
    let info = || async { gw.get("/api/v1/plugins/relay", ADMIN).await.1 };
    let mut refusals = Vec::new();
    for i in 1..=20u32 {
        let before = info().await;
        let expected_error = if i % 2 == 0 {
            install_plugin(&plugins_dir, "relay", "relay", version(i));
            None
        } else {
            let bumped = version(i)(good_manifest.clone());
            match (i / 2) % 5 {
                0 => install_raw(&plugins_dir, "relay", &bumped.replace("relay.wasm", "plugin.wasm"), b"\0asm garbage"),
                // The relay imports wagate:plugin/kv; without the capability it may not load.
                1 => install_raw(&plugins_dir, "relay", &bumped.replace("\"kv\", ", ""), &relay_wasm),
                2 => install_plugin(&plugins_dir, "no-hooks", "relay", |m| m),
                3 => install_plugin(&plugins_dir, "relay-strict", "relay", version(i)),
                _ => install_raw(&plugins_dir, "relay", "name = \"relay\"\nversion = [", &relay_wasm),
            }
            Some(
                [
                    "not a valid WebAssembly component",
                    "needs the capability 'kv' that plugin.toml does not grant",
                    "does not fit wagate:plugin",
                    "init refused the config of tenant 'acme'",
                    "plugin.toml is invalid",
                ][((i / 2) % 5) as usize],
            )
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let now = info().await;
            match expected_error {
                None if now["version"] == format!("1.0.{i}") => break,
                Some(needle) if now["lastErrorAt"] != before["lastErrorAt"] && !now["lastError"].is_null() => {
                    let reason = now["lastError"].as_str().unwrap().to_owned();
                    assert!(reason.contains(needle), "swap {i}: expected '{needle}', got '{reason}'");
                    assert_eq!(
                        now["version"], before["version"],
                        "swap {i}: a bad version must not replace the good one"
                    );
                    refusals.push(reason);
                    break;
                }
                _ => {}
            }
            assert!(Instant::now() < deadline, "swap {i} never took effect: {now}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = pump.await.unwrap();
    assert_eq!(refusals.len(), 10);
    let total = seen.len();
    assert!(total > 100, "too few events flowed: {total}");
    for (seq, labels) in &seen {
        assert_eq!(labels.len(), 1, "event {seq} delivered {} times", labels.len());
    }
    let labels: std::collections::BTreeSet<&String> = seen.values().flatten().collect();
    assert!(labels.len() >= 5, "events were served by several versions: {labels:?}");
    assert_eq!(info().await["version"], "1.0.20");
}

/// A guest blocked inside a WASI call runs no wasm code, so epochs cannot stop it: the host's
/// own deadline does, and the tenant's other work and other tenants go on.
#[tokio::test]
async fn a_plugin_blocked_in_wasi_is_stopped_by_the_host_deadline() {
    let gw = start_with_plugins(&[("sleeper", "sleeper"), ("relay", "relay")], |_| {}).await;
    let slow = gw.tenant("slow").await;
    let calm = gw.tenant("calm").await;
    let (s, b) = bind(&gw, &slow.api_key, "sleeper", json!({ "config": { "sleepMs": 5000 } })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(bind(&gw, &calm.api_key, "relay", json!({ "config": {} })).await.0, StatusCode::OK);
    let plugins = &gw.gateway.state.plugins;

    let started = Instant::now();
    let out = plugins.transform(&status_event("slow", "s1", 1)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "a 5 s sleep held the call {took:?} (deadline 50 ms)");
    assert!(out.canonical && out.deliveries.is_empty(), "onError passthrough");
    let (_, views) = gw.get("/api/v1/tenant/plugins", &slow.api_key).await;
    assert!(views[0]["breaker"]["lastFault"].as_str().unwrap().contains("deadline exceeded"), "{views}");

    let started = Instant::now();
    let caller = Identity::new("slow".into(), Some("u1".into()), json!({}));
    let _ = plugins.client_event(&caller, "anything", &json!(null)).await;
    assert!(started.elapsed() < Duration::from_millis(500), "client events too: {:?}", started.elapsed());
    let started = Instant::now();
    assert!(bot_actions(plugins, &status_event("slow", "s1", 2), BotLane::Local).await.is_empty());
    assert!(started.elapsed() < Duration::from_millis(500), "bots too");

    // The instance that was abandoned mid-call is replaced: a calm config works at once.
    let (s, _) = bind(&gw, &slow.api_key, "sleeper", json!({ "config": { "sleepMs": 0 } })).await;
    assert_eq!(s, StatusCode::OK);
    let out = plugins.transform(&status_event("slow", "s1", 3)).await;
    assert_eq!(out.deliveries.len(), 1);
    assert_eq!(out.deliveries[0].event, "sleeper:session.status");
    assert_eq!(plugins.transform(&status_event("calm", "s1", 1)).await.deliveries.len(), 1);
}

/// Setting an instance up (instantiation, `init`, the config-schema probe at load) has its own
/// deadline, longer than a call's: a plugin slow to start is bound and hot-swapped although its
/// `init` takes longer than any call may, and one that never finishes starting is refused at
/// that deadline, not held.
#[tokio::test]
async fn setting_an_instance_up_has_its_own_deadline() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let plugins_dir = dir.path().join("plugins");
    install_plugin(&plugins_dir, "sleeper", "sleeper", |m| m);
    let gw = TestGateway::start_in(dir, |c| c.plugins.setup_timeout_ms = 1_000).await;
    assert_eq!(gw.gateway.state.config.plugins.call_timeout_ms, 50);
    let acme = gw.tenant("acme").await;
    let plugins = &gw.gateway.state.plugins;

    let started = Instant::now();
    let (s, b) = bind(&gw, &acme.api_key, "sleeper", json!({ "config": { "initSleepMs": 300 } })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(started.elapsed() >= Duration::from_millis(300), "init ran at bind");
    let out = plugins.transform(&status_event("acme", "s1", 1)).await;
    assert_eq!(out.deliveries.len(), 1, "the first call starts a fresh instance, its slow init included");
    assert_eq!(out.deliveries[0].event, "sleeper:session.status");

    install_plugin(&plugins_dir, "sleeper", "sleeper", |m| m.replace(r#"version = "1.0.0""#, r#"version = "1.0.1""#));
    match plugins.reload("sleeper").await {
        wagate::plugins::ReloadOutcome::Loaded { version } => assert_eq!(version, "1.0.1"),
        other => panic!("a slow init refused at load: {other:?}"),
    }

    let started = Instant::now();
    let (s, b) = bind(&gw, &acme.api_key, "sleeper", json!({ "config": { "initSleepMs": 60_000 } })).await;
    let took = started.elapsed();
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("config_refused")), "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("deadline exceeded (1000 ms)"), "{b}");
    assert!(took < Duration::from_secs(5), "refused at the setup deadline, not held: {took:?}");
    let (_, views) = gw.get("/api/v1/tenant/plugins", &acme.api_key).await;
    assert_eq!(views[0]["config"]["initSleepMs"], 300, "the refused config did not replace the bound one: {views}");
}

/// `wasi:clocks` is linked only for plugins that ask for `clock`: one that imports it without
/// the capability is refused at load, with the reason.
#[tokio::test]
async fn wasi_clocks_are_linked_only_with_the_clock_capability() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let plugins_dir = dir.path().join("plugins");
    install_plugin(&plugins_dir, "sleeper", "sleeper", |m| {
        m.replace(r#"capabilities = ["clock"]"#, "capabilities = []")
    });
    let gw = TestGateway::start_in(dir, |_| {}).await;
    match gw.gateway.state.plugins.reload("sleeper").await {
        wagate::plugins::ReloadOutcome::Refused(reason) => {
            assert!(reason.contains("wasi:clocks"), "{reason}");
            assert!(reason.contains("capability 'clock' that plugin.toml does not grant"), "{reason}");
        }
        other => panic!("loaded without the clock capability: {other:?}"),
    }
    let (_, info) = gw.get("/api/v1/plugins/sleeper", ADMIN).await;
    assert!(info["version"].is_null(), "nothing serves: {info}");
    let reason = info["lastError"].as_str().unwrap();
    assert!(reason.contains("wasi:clocks") && reason.contains("capability 'clock'"), "{info}");
    // With the capability it loads.
    install_plugin(&plugins_dir, "sleeper", "sleeper", |m| m);
    assert!(matches!(gw.gateway.state.plugins.reload("sleeper").await, wagate::plugins::ReloadOutcome::Loaded { .. }));
}

/// The 0.3 fixture serves under load and is replaced by the relay rebuilt against today's 1.x (a hot
/// swap across contract versions): every event is transformed exactly once, first by the old
/// component, then by the new one, and nothing falls back to the canonical dialect.
#[tokio::test]
async fn a_0_3_plugin_is_hot_swapped_for_its_1_x_rebuild_without_losing_an_event() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let plugins_dir = dir.path().join("plugins");
    install_plugin(&plugins_dir, "relay-wit-0.3", "relay", |m| m.replace("label = \"v1\"", "label = \"old\""));
    let gw = TestGateway::start_in(dir.clone(), |c| {
        c.plugins.watch = true;
        c.plugins.debounce_ms = 50;
    })
    .await;
    let (_, info) = gw.get("/api/v1/plugins/relay", ADMIN).await;
    assert_eq!((info["version"].as_str(), info["contract"].as_str()), (Some("0.3.0-fixture"), Some("0.3.0")), "{info}");
    assert!(info["configSchema"].is_null(), "0.3 cannot declare a config schema");
    let acme = gw.tenant("acme").await;
    assert_eq!(bind(&gw, &acme.api_key, "relay", json!({})).await.0, StatusCode::OK);

    let plugins = gw.gateway.state.plugins.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pump = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut labels: Vec<(u64, Vec<String>)> = Vec::new();
            let mut seq = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seq += 1;
                let out = plugins.transform(&status_event("acme", "s1", seq)).await;
                assert!(!out.canonical, "event {seq} fell back to canonical");
                let seen = out.deliveries.iter().map(|d| {
                    assert_eq!(d.payload["seq"], seq);
                    assert_eq!(d.payload["original"]["status"], "CONNECTED");
                    d.payload["label"].as_str().unwrap().to_owned()
                });
                labels.push((seq, seen.collect()));
                tokio::task::yield_now().await;
            }
            labels
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    install_plugin(&plugins_dir, "relay", "relay", |m| m.replace("label = \"v1\"", "label = \"new\""));
    let deadline = Instant::now() + Duration::from_secs(15);
    while gw.get("/api/v1/plugins/relay", ADMIN).await.1["contract"] != "1.3.0" {
        assert!(Instant::now() < deadline, "the rebuild never took over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let labels = pump.await.unwrap();
    assert!(labels.iter().all(|(_, l)| l.len() == 1), "every event exactly once");
    let first_new = labels.iter().position(|(_, l)| l[0] == "new").expect("the new version served");
    assert!(first_new > 0, "the old version served first");
    assert!(labels[..first_new].iter().all(|(_, l)| l[0] == "old"));
    assert!(labels[first_new..].iter().all(|(_, l)| l[0] == "new"), "no event went back to the old version");
    let (_, info) = gw.get("/api/v1/plugins/relay", ADMIN).await;
    assert_eq!(info["configSchema"]["properties"]["label"]["type"], json!(["string", "null"]), "{info}");
}

/// Checked at load: a manifest listing a hook the component does not export is refused,
/// naming both; with an honest manifest the same component loads and the host calls only
/// what it exports.
#[tokio::test]
async fn a_manifest_listing_a_hook_the_component_does_not_export_is_refused() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let plugins_dir = dir.path().join("plugins");
    install_plugin(&plugins_dir, "partial", "partial", |m| {
        m.replace("hooks = [\"transform\"]", "hooks = [\"transform\", \"bot\"]")
    });
    let gw = TestGateway::start_in(dir.clone(), |_| {}).await;
    let (_, info) = gw.get("/api/v1/plugins/partial", ADMIN).await;
    assert!(info["version"].is_null(), "nothing serves: {info}");
    let reason = info["lastError"].as_str().unwrap();
    assert!(
        reason.contains("lists the hook 'bot'") && reason.contains("does not export 'wagate:plugin/bot@1.3.0'"),
        "{reason}"
    );
    install_plugin(&plugins_dir, "partial", "partial", |m| m);
    let plugins = &gw.gateway.state.plugins;
    assert!(matches!(plugins.reload("partial").await, wagate::plugins::ReloadOutcome::Loaded { .. }));
    let acme = gw.tenant("acme").await;
    assert_eq!(bind(&gw, &acme.api_key, "partial", json!({})).await.0, StatusCode::OK);
    let out = plugins.transform(&status_event("acme", "s1", 4)).await;
    assert_eq!(
        (out.deliveries[0].event.as_str(), &out.deliveries[0].payload),
        ("partial:session.status", &json!({ "seq": 4 }))
    );
    assert!(
        bot_actions(plugins, &status_event("acme", "s1", 5), BotLane::Local).await.is_empty(),
        "no bot hook: nothing is called"
    );
    let text = scrape(&gw).await;
    assert_eq!(metric_value(&text, r#"wagate_plugin_loads_total{plugin="partial",outcome="refused"}"#), Some(1.0));
    assert_eq!(metric_value(&text, r#"wagate_plugin_loads_total{plugin="partial",outcome="loaded"}"#), Some(1.0));
}

/// Checked at load: a component importing an interface its manifest does not grant never
/// loads (no call can reach it), and the refusal names the interface and the capability.
#[tokio::test]
async fn a_component_importing_an_ungranted_interface_is_refused_at_load() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let plugins_dir = dir.path().join("plugins");
    install_plugin(&plugins_dir, "relay", "relay", |m| m.replace("\"kv\", ", ""));
    let gw = TestGateway::start_in(dir.clone(), |_| {}).await;
    let (_, info) = gw.get("/api/v1/plugins/relay", ADMIN).await;
    assert!(info["version"].is_null(), "nothing serves: {info}");
    let reason = info["lastError"].as_str().unwrap();
    assert!(
        reason.contains("imports 'wagate:plugin/kv@1.3.0'")
            && reason.contains("capability 'kv' that plugin.toml does not grant"),
        "{reason}"
    );
    let acme = gw.tenant("acme").await;
    let (s, b) = bind(&gw, &acme.api_key, "relay", json!({})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("plugin_not_found")), "{b}");
}

/// Contract 1.1: a plugin queues messages of every kind (`messages`) from its bot and
/// client-events hooks, carried out after its returned actions; transforms may not queue; a
/// call queues at most 16; `media.link` signs a link to a stored file that works without a
/// credential, and only for the tenant's own messages.
#[tokio::test]
async fn contract_1_1_queues_messages_and_links_media() {
    use wagate::plugins::MAX_QUEUED;
    let gw = start_with_plugins(&[("relay", "relay")], |_| {}).await;
    let acme = gw.tenant("acme").await;
    let other = gw.tenant("other").await;
    let (_, info) = gw.get("/api/v1/plugins/relay", ADMIN).await;
    assert_eq!(info["contract"], "1.3.0");
    for t in [&acme, &other] {
        let (s, b) = bind(&gw, &t.api_key, "relay", json!({ "config": { "label": "q" } })).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    gw.connected_session(&acme, "s1", "+15550001").await;
    let plugins = &gw.gateway.state.plugins;

    // A bot: its returned send-text first, then what it queued, in call order.
    let actions = bot_actions(plugins, &wagate_event_message("acme", "s1", "quote me"), BotLane::Local).await;
    match &actions[..] {
        [
            HostAction::SendText { text, .. },
            HostAction::Send { session, message },
            HostAction::React { message: reacted, emoji, .. },
        ] => {
            assert_eq!(text, "first");
            assert_eq!((session.tenant.as_str(), session.session.as_str()), ("acme", "s1"));
            assert_eq!((message.reply_to.as_deref(), message.text.as_deref()), (Some("m1"), Some("quoted")));
            assert_eq!((reacted.as_str(), emoji.as_deref()), ("m1", Some("👍")));
        }
        other => panic!("{other:?}"),
    }

    // A client event: checked when queued, refused with what is wrong.
    let caller = identity("acme", json!({}));
    let queue = |p: Value| {
        let caller = caller.clone();
        async move { plugins.client_event(&caller, "relay:queue", &p).await.unwrap() }
    };
    let refusal = |actions: &[HostAction]| match actions.first() {
        Some(HostAction::Deliver(d)) => d.payload["error"].as_str().map(str::to_owned),
        other => panic!("{other:?}"),
    };
    let poll = json!({ "to": "+15550002", "poll": { "question": "Lunch?", "options": ["yes", "no"] } });
    let actions = queue(json!({ "op": "send", "session": "s1", "message": poll })).await;
    assert_eq!(refusal(&actions), None);
    assert!(
        matches!(&actions[1], HostAction::Send { message, .. } if message.poll.as_ref().unwrap().options.len() == 2)
    );
    let actions = queue(json!({ "op": "send", "session": "ghost", "message": { "to": "+1", "text": "x" } })).await;
    assert_eq!(refusal(&actions).as_deref(), Some("invalid: session 'ghost' not found"));
    assert_eq!(actions.len(), 1, "nothing queued");
    let actions = queue(json!({ "op": "react", "session": "s1", "message": "", "emoji": "x" })).await;
    assert!(refusal(&actions).unwrap().contains("message ids are 1 to"));
    let actions = queue(json!({ "op": "revoke", "session": "s1", "message": "m1" })).await;
    assert!(matches!(&actions[1], HostAction::Revoke { message, .. } if message == "m1"));
    let actions = queue(json!({ "op": "flood", "session": "s1", "to": "+15550002" })).await;
    assert_eq!(
        refusal(&actions).as_deref(),
        Some(format!("invalid: at most {MAX_QUEUED} messages are queued per call").as_str())
    );
    assert_eq!(actions.iter().filter(|a| matches!(a, HostAction::Send { .. })).count(), MAX_QUEUED);

    // A transform may not queue.
    let out = plugins.transform(&wagate_event_message("acme", "s1", "send from transform")).await;
    let refused = out.deliveries[0].payload["sendRefused"].as_str().unwrap();
    assert!(refused.contains("bot and client-events hooks only"), "{refused}");

    // Carried out through the gateway's own pipeline: a contact writes "quote me", the bot's
    // queued reply quotes it and its reaction lands on it.
    let (s, b) = gw
        .post("/api/v1/sim/sessions/s1/inbound", &acme.api_key, json!({ "from": "+15550002", "text": "quote me" }))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let history = || async {
        let (_, chats) = gw.get("/api/v1/sessions/s1/chats", &acme.api_key).await;
        match chats[0]["id"].as_str() {
            Some(chat) => gw.get(&format!("/api/v1/sessions/s1/chats/{chat}/messages"), &acme.api_key).await.1,
            None => json!([]),
        }
    };
    let mut seen = Value::Null;
    for _ in 0..500 {
        seen = history().await;
        let list = seen.as_array().unwrap();
        let asked = list.iter().find(|m| m["content"] == "quote me");
        if list.iter().any(|m| m["content"] == "quoted") && asked.is_some_and(|m| m["reactions"].is_array()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let list = seen.as_array().unwrap();
    let asked = list.iter().find(|m| m["content"] == "quote me").expect("the inbound is stored");
    let quoted = list.iter().find(|m| m["content"] == "quoted").unwrap_or_else(|| panic!("no queued reply: {seen}"));
    assert_eq!(quoted["quoted"]["messageId"], asked["id"]);
    assert_eq!(asked["reactions"][0]["emoji"], "👍");
    assert!(list.iter().any(|m| m["content"] == "first"), "the returned action ran too");

    // media.link: a stored file's link works without a token; text and others' messages have none.
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ";
    let inbound = json!({ "from": "+15550002", "type": "image", "text": "menu", "media": { "base64": png, "mimeType": "image/png" } });
    let (s, b) = gw.post("/api/v1/sim/sessions/s1/inbound", &acme.api_key, inbound).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let mut image = Value::Null;
    for _ in 0..300 {
        if let Some(m) = history().await.as_array().unwrap().iter().find(|m| m["type"] == "image") {
            image = m.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let id = image["id"].as_str().expect("the image arrived");
    let link = |tenant: &str, message: &str| {
        let (tenant, message) = (tenant.to_owned(), message.to_owned());
        async move {
            let p = json!({ "session": "s1", "message": message });
            let actions = plugins.client_event(&identity(&tenant, json!({})), "relay:link", &p).await.unwrap();
            let [HostAction::Deliver(d)] = &actions[..] else { panic!("{actions:?}") };
            d.payload.clone()
        }
    };
    let linked = link("acme", id).await;
    let url = linked["url"].as_str().expect("a link");
    assert!(url.starts_with(&format!("/api/v1/media/acme/s1/{id}?expires=")), "{url}");
    let (s, _) = gw.call(Method::GET, url, None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(link("acme", asked["id"].as_str().unwrap()).await["url"], Value::Null, "a text has no file");
    assert_eq!(link("other", id).await["url"], Value::Null, "another tenant's message");
}

/// Contract 1.2: the `webhook` hook gives a delivery's body. Bindings are asked in priority
/// order and the first with an opinion decides; `Canonical` leaves it to the next; a body past
/// the limit is a fault; a faulting binding decides by its `onError`; a tenant without the
/// hook gets the canonical body.
#[tokio::test]
async fn contract_1_2_webhook_bodies_come_from_the_first_plugin_with_an_opinion() {
    use wagate::plugins::WebhookShape;
    let gw = start_with_plugins(&[("relay", "relay"), ("faulty", "faulty")], |_| {}).await;
    let plugins = &gw.gateway.state.plugins;
    let acme = gw.tenant("acme").await;
    let (s, b) = bind(&gw, &acme.api_key, "relay", json!({ "config": { "label": "w" }, "priority": 10 })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, info) = gw.get("/api/v1/plugins/relay", ADMIN).await;
    assert_eq!(info["hooks"], json!(["auth", "client-events", "transform", "bot", "webhook"]), "{info}");

    async fn shape_of(plugins: &wagate::plugins::Plugins, text: &str, tenant: &str) -> WebhookShape {
        plugins.webhook(&wagate_event_message(tenant, "s1", text)).await
    }
    let WebhookShape::Body { plugin, body } = shape_of(plugins, "hi", "acme").await else { panic!("a body") };
    assert_eq!(plugin, "relay");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body, json!({ "relay": "w", "seq": 1, "type": "message.received" }));
    assert_eq!(shape_of(plugins, "skip", "acme").await, WebhookShape::Skipped { plugin: "relay".into() });
    assert_eq!(shape_of(plugins, "canonical", "acme").await, WebhookShape::Canonical, "no opinion and no other plugin");
    assert_eq!(shape_of(plugins, "hi", "plain").await, WebhookShape::Canonical, "a tenant without the hook");
    // Past the limit: a fault, and onError passthrough leaves it to the next (none: canonical).
    assert_eq!(shape_of(plugins, "huge", "acme").await, WebhookShape::Canonical);
    let (_, info) = gw.get("/api/v1/plugins/relay", ADMIN).await;
    assert_eq!(info["calls"]["webhook"]["errors"], 1, "{info}");

    // A second binding after the relay decides what the relay leaves to it.
    bind(&gw, &acme.api_key, "faulty", json!({ "config": { "mode": "ok" }, "priority": 20 })).await;
    let WebhookShape::Body { plugin, .. } = shape_of(plugins, "canonical", "acme").await else {
        panic!("faulty's body")
    };
    assert_eq!(plugin, "faulty");
    let WebhookShape::Body { plugin, .. } = shape_of(plugins, "hi", "acme").await else { panic!("relay's body") };
    assert_eq!(plugin, "relay", "the first with an opinion decides");
    // A faulting binding with onError drop skips the delivery.
    bind(&gw, &acme.api_key, "faulty", json!({ "config": { "mode": "panic" }, "priority": 20, "onError": "drop" }))
        .await;
    assert_eq!(shape_of(plugins, "canonical", "acme").await, WebhookShape::Skipped { plugin: "faulty".into() });
    bind(&gw, &acme.api_key, "faulty", json!({ "config": { "mode": "panic" }, "priority": 20 })).await;
    assert_eq!(
        shape_of(plugins, "canonical", "acme").await,
        WebhookShape::Canonical,
        "passthrough: as if it were not there"
    );
}

/// Binding, reconfiguring and unbinding are the tenant administrator's entries in the audit
/// log (with the config's keys, never its values); reloads, by the operator or by the folder
/// watcher, are the gateway's own.
#[tokio::test]
async fn bindings_and_reloads_are_in_the_audit_log() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let plugins_dir = dir.path().join("plugins");
    install_plugin(&plugins_dir, "relay", "relay", |m| m);
    let gw = TestGateway::start_in(dir, |c| {
        c.plugins.watch = true;
        c.plugins.debounce_ms = 50;
    })
    .await;
    let acme = gw.tenant("acme").await;
    let (s, b) = bind(&gw, &acme.api_key, "relay", json!({ "config": { "label": "very-secret-label" } })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = bind(&gw, &acme.api_key, "relay", json!({ "config": { "refuse": "nope" } })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = bind(&gw, &acme.api_key, "relay", json!({ "enabled": false })).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = gw.call(Method::DELETE, "/api/v1/tenant/plugins/relay", Some(&acme.api_key), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    let (_, own) = gw.get("/api/v1/tenant/audit", &acme.api_key).await;
    let entries = own["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["plugin.unbound", "plugin.config_changed", "plugin.bound", "tenant.created"], "{own}");
    assert_eq!(entries[2]["detail"], "enabled: true; config keys: label");
    assert_eq!(entries[1]["detail"], "enabled: false");
    assert!(!own.to_string().contains("very-secret-label"), "{own}");

    // The operator's reload of an unchanged folder changes nothing and records nothing; the
    // watcher's reload of a new version is recorded as the watcher's.
    let (_, r) = gw.post("/api/v1/plugins/relay/reload", ADMIN, json!({})).await;
    assert_eq!(r["outcome"], "unchanged");
    let (_, page) = gw.get("/api/v1/audit?action=plugin.reloaded", ADMIN).await;
    assert!(page["entries"].as_array().unwrap().iter().all(|e| e["actor"]["kind"] != "operator"), "{page}");
    install_plugin(&plugins_dir, "relay", "relay", |m| m.replace(r#"version = "1.0.0""#, r#"version = "1.0.1""#));
    let deadline = Instant::now() + Duration::from_secs(10);
    let entry = loop {
        let (_, page) = gw.get("/api/v1/audit?action=plugin.reloaded", ADMIN).await;
        let found = page["entries"].as_array().unwrap().iter().find(|e| e["detail"] == "loaded version 1.0.1").cloned();
        if let Some(e) = found {
            break e;
        }
        assert!(Instant::now() < deadline, "no reload recorded: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (entry["actor"]["kind"].as_str(), entry["target"].as_str(), entry["tenantId"].is_null()),
        (Some("watcher"), Some("relay"), true),
        "{entry}"
    );
    let (_, own) = gw.get("/api/v1/tenant/audit?action=plugin.reloaded", &acme.api_key).await;
    assert_eq!(own["entries"], json!([]), "a reload is the gateway's, not the tenant's");
}

/// A tenant's administrator sees what it may bind (never the operator's view of a plugin),
/// and each binding counts its own calls: one tenant's traffic never shows in another's.
#[tokio::test]
async fn the_catalog_shows_what_a_tenant_may_bind_and_each_binding_counts_its_own_calls() {
    let gw = start_with_plugins(&[("relay", "relay")], |_| {}).await;
    let acme = gw.tenant("acme").await;
    let other = gw.tenant("other").await;
    let (s, catalog) = gw.get("/api/v1/tenant/catalog/plugins", &acme.api_key).await;
    assert_eq!(s, StatusCode::OK, "{catalog}");
    let relay = catalog.as_array().unwrap().iter().find(|p| p["name"] == "relay").expect("relay is offered").clone();
    assert_eq!(relay["configSchema"]["properties"]["label"]["type"], json!(["string", "null"]), "{relay}");
    assert!(relay["hooks"].as_array().unwrap().contains(&json!("transform")), "{relay}");
    assert!(relay["defaultConfig"].is_object(), "{relay}");
    for operator_only in ["sha256", "lastError", "calls", "loadMs"] {
        assert!(relay.get(operator_only).is_none(), "{operator_only} is the operator's: {relay}");
    }
    let (_, user) = gw.post("/api/v1/tokens", &acme.api_key, json!({ "sub": "u1" })).await;
    let (s, _) = gw.get("/api/v1/tenant/catalog/plugins", user["token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "the catalog is for administrators");

    for t in [&acme, &other] {
        let (s, b) = bind(&gw, &t.api_key, "relay", json!({ "config": { "label": "x" } })).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["calls"], json!({}), "a new binding has no calls yet");
    }
    let plugins = &gw.gateway.state.plugins;
    plugins.transform_many(&status_events("acme", 1..4)).await;
    let (_, own) = gw.get("/api/v1/tenant/plugins", &acme.api_key).await;
    let calls = &own[0]["calls"]["transform"];
    assert_eq!((calls["calls"].as_u64(), calls["errors"].as_u64()), (Some(3), Some(0)), "{own}");
    assert!(calls["p99Us"].as_u64().unwrap() >= calls["p50Us"].as_u64().unwrap());
    let (_, theirs) = gw.get("/api/v1/tenant/plugins", &other.api_key).await;
    assert_eq!(theirs[0]["calls"], json!({}), "{theirs}");
}

/// A bot granted `http:outbound` (the `caller` test plugin) reaches a local server that takes
/// far longer than the call deadline to answer, because waiting does not count as running; it
/// runs only on the calling lane; its transform is refused any request; wasm code that runs
/// on after the wait is still stopped at the running budget, long before the bot deadline.
#[tokio::test]
async fn a_bot_may_wait_on_a_request_but_not_run_longer() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let slow = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "pong"
        }),
    );
    tokio::spawn(async move { axum::serve(listener, slow).await.unwrap() });
    let gw = start_with_plugins(&[("caller", "caller")], |cfg| {
        cfg.plugins.http.allow_hosts = vec!["127.0.0.1".parse().unwrap()];
        cfg.plugins.http.allow_networks = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let acme = gw.tenant("acme").await;
    let url = format!("http://127.0.0.1:{port}/slow");
    let body = json!({ "allowedHosts": [format!("127.0.0.1:{port}")], "config": { "url": url } });
    let (s, b) = bind(&gw, &acme.api_key, "caller", body).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let plugins = &gw.gateway.state.plugins;
    let emitted = |actions: &[HostAction]| match actions {
        [HostAction::Deliver(d)] => (d.event.clone(), d.payload.clone()),
        other => panic!("{other:?}"),
    };

    assert!(
        bot_actions(plugins, &status_event("acme", "s1", 1), BotLane::Local).await.is_empty(),
        "not on the local lane"
    );
    let started = Instant::now();
    let actions = bot_actions(plugins, &status_event("acme", "s1", 2), BotLane::Calling).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(emitted(&actions), ("caller:answer".into(), json!({ "status": 200, "body": "pong" })));

    let out = plugins.transform(&status_event("acme", "s1", 3)).await;
    assert_eq!(out.deliveries[0].event, "caller:error");
    assert_eq!(out.deliveries[0].payload["error"], "denied: requests are sent from the bot hook only");

    let spinning = json!({ "allowedHosts": [format!("127.0.0.1:{port}")], "config": { "url": url, "spin": true } });
    assert_eq!(bind(&gw, &acme.api_key, "caller", spinning).await.0, StatusCode::OK);
    let started = Instant::now();
    assert!(bot_actions(plugins, &status_event("acme", "s1", 4), BotLane::Calling).await.is_empty());
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "spinning ran {took:?}: the bot deadline (30 s) stopped it, not the 50 ms budget"
    );
    let (_, views) = gw.get("/api/v1/tenant/plugins", &acme.api_key).await;
    assert!(views[0]["breaker"]["lastFault"].as_str().unwrap().contains("deadline exceeded"), "{views}");

    // Without the binding's consent the request is refused before any traffic.
    let elsewhere = json!({ "allowedHosts": ["localhost"], "config": { "url": url } });
    assert_eq!(bind(&gw, &acme.api_key, "caller", elsewhere).await.0, StatusCode::OK);
    let actions = bot_actions(plugins, &status_event("acme", "s1", 5), BotLane::Calling).await;
    let (event, payload) = emitted(&actions);
    assert_eq!(event, "caller:error");
    assert!(payload["error"].as_str().unwrap().contains("is not in this binding's allowedHosts"), "{payload}");
}
