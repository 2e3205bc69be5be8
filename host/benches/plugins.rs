//! Plugin runtime benchmark (issue: plugin platform). Prints a table; run with
//! `scripts/bench.sh` (builds the test plugins first).
//!
//! The transform compared is the `relay` test plugin's: parse the canonical payload, wrap it
//! in a new JSON object with the sequence number and a label, serialise it. "native" runs
//! the very same Rust code compiled for the host, from the same JSON text to the same JSON
//! text; "wasm" calls the component on a warm instance. Two events: a small `session.status`
//! (~200 B) and a `message.received` with its chat (~950 B), the most frequent one.
//!
//! The native side is built as the gateway ships (`cargo build --release`: no LTO); the
//! plugin is built as we ship plugins (LTO, one codegen unit, inline threshold 1000). For the
//! same whole-program optimisation on both sides run
//! `CARGO_PROFILE_BENCH_LTO=true CARGO_PROFILE_BENCH_CODEGEN_UNITS=1 scripts/bench.sh`
//! (a ~15 min build); the table says which one it is.
//!
//! Knobs (environment): `BENCH_ROUNDS` (21) alternating native/wasm rounds; `BENCH_BATCH` (16)
//! events per `transform-batch` call in the batched rows;
//! `BENCH_COMPARE_WASM=other.wasm` times a second build of the relay in the same rounds (A/B of
//! an SDK or build-flag change, or a relay of an older contract); `BENCH_EVENTS=<event name>`
//! times one event kind only; `BENCH_PERF_MAP=1` writes a perf map so `perf record` names the
//! plugin's functions.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use wagate::config::PluginsConfig;
use wagate::events::{self, Event, EventBody};
use wagate::model::{Chat, Direction, Message, MessageStatus, MessageType, SessionStatus};
use wagate::plugins::Plugins;
use wagate::plugins::sandbox::{CallContext, Instance, Request, Response, Sandbox, wit};
use wagate_plugin_sdk::Plugin;
use wasmtime::component::Component;

/// How the native side of the comparison was compiled (see the module comment).
const NATIVE_BUILD: &str = match option_env!("CARGO_PROFILE_BENCH_LTO") {
    Some(_) => "release + LTO",
    None => "release as shipped",
};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// `BENCH_PERF_MAP=1` lets `perf record` name the plugin's functions.
fn perf_map() -> bool {
    std::env::var_os("BENCH_PERF_MAP").is_some()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs `f` `n` times after a warm-up; returns (mean, p50, p99) in microseconds.
fn measure(n: usize, mut f: impl FnMut()) -> (f64, f64, f64) {
    for _ in 0..n / 10 {
        f();
    }
    let mut samples = Vec::with_capacity(n);
    let all = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        f();
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let mean = all.elapsed().as_secs_f64() * 1e6 / n as f64;
    samples.sort_by(f64::total_cmp);
    (mean, percentile(&samples, 0.5), percentile(&samples, 0.99))
}

fn event(seq: u64) -> Event {
    Event {
        tenant_id: "acme".into(),
        session_id: Some("sales".into()),
        seq,
        timestamp: Utc::now(),
        body: EventBody::SessionStatus(events::SessionStatusChanged {
            status: SessionStatus::Connected,
            previous_status: Some(SessionStatus::Pairing),
            reason: None,
            phone: Some("+6281234567890".into()),
            display_name: Some("John Doe".into()),
        }),
    }
}

/// A message as the network delivers it, with its chat: the most frequent event of a gateway.
fn message_event(seq: u64) -> Event {
    let now = Utc::now();
    let chat = Chat {
        id: "chat_01JD3Q5Z8W9X".into(),
        session_id: "sales".into(),
        jid: "6289876543210@s.whatsapp.net".into(),
        number: Some("+6289876543210".into()),
        name: Some("Budi Santoso".into()),
        last_message: Some("Halo, apakah pesanan saya sudah dikirim? Nomor pesanan #A-20931".into()),
        last_message_at: Some(now),
        unread_count: 3,
        is_group: false,
        pinned: false,
        archived: false,
    };
    let message = Message {
        id: "msg_01JD3Q5Z8W9Y".into(),
        wa_message_id: Some("3EB0C4F1A2B3D4E5F607".into()),
        session_id: "sales".into(),
        chat_id: chat.id.clone(),
        direction: Direction::Inbound,
        from_me: false,
        from_jid: chat.jid.clone(),
        from_number: chat.number.clone(),
        from_lid: None,
        from_name: chat.name.clone(),
        kind: MessageType::Text,
        content: chat.last_message.clone().unwrap(),
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
        timestamp: now,
        sent_at: None,
        delivered_at: Some(now),
        read_at: None,
    };
    Event {
        tenant_id: "acme".into(),
        session_id: Some("sales".into()),
        seq,
        timestamp: now,
        body: EventBody::MessageReceived(events::MessageEvent { message, chat }),
    }
}

fn wit_event(ev: &Event) -> wit::Event {
    wit::Event {
        name: ev.name().into(),
        tenant: ev.tenant_id.clone(),
        session: ev.session_id.clone(),
        seq: ev.seq,
        payload: serde_json::to_string(ev).unwrap(),
    }
}

struct Comparison {
    payload_bytes: usize,
    /// (round mean, p50, p99) in microseconds.
    native: (f64, f64, f64),
    wasm: (f64, f64, f64),
    /// Round mean per event when `batch` events share a `transform-batch` call.
    batched: f64,
    /// Median, lowest and highest per-round wasm / native.
    ratio: (f64, f64, f64),
    /// The same for batched wasm / native.
    batched_ratio: (f64, f64, f64),
    other: Option<(f64, f64, f64)>,
}

fn median_spread(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (percentile(v, 0.5), v[0], v[v.len() - 1])
}

/// The relay's transform of `ev`, natively and in the component. This machine's speed drifts
/// by tens of percent over seconds (shared cores), so the sides run in alternating rounds and
/// each round yields its own ratio; medians over rounds are reported. Each wasm round runs
/// inside one block_on, as the fan-out task does.
fn compare(
    rt: &tokio::runtime::Runtime,
    native: &mut relay::Relay,
    instance: &mut Instance,
    mut other: Option<&mut Instance>,
    ev: &Event,
    rounds: usize,
    batch: usize,
) -> Comparison {
    let input = wit_event(ev);
    let inputs = vec![input.clone(); batch];
    let mut native_once = || {
        // The same steps as the SDK's glue in the guest: JSON text in, JSON text out.
        let e = wagate_plugin_sdk::decode_event(
            input.name.clone(),
            input.tenant.clone(),
            input.session.clone(),
            input.seq,
            black_box(&input.payload),
        );
        for emit in native.transform(&e) {
            black_box(serde_json::to_string(&emit.payload).unwrap());
        }
    };
    let per_round = 20_000;
    let wasm_round = |instance: &mut Instance, samples: &mut Vec<f64>| {
        rt.block_on(async {
            let started = Instant::now();
            for _ in 0..per_round {
                let t = Instant::now();
                let Response::Emits(emits) = instance.call(&Request::Transform(black_box(&input))).await.unwrap()
                else {
                    panic!("transform answers with emits")
                };
                assert_eq!(emits.len(), 1);
                black_box(emits);
                samples.push(t.elapsed().as_secs_f64() * 1e6);
            }
            started.elapsed().as_secs_f64() * 1e6 / per_round as f64
        })
    };
    // Events of one tenant queued together, as the fan-out hands them over under a burst.
    let batched_round = |instance: &mut Instance| {
        rt.block_on(async {
            let calls = per_round / batch;
            let started = Instant::now();
            for _ in 0..calls {
                let Response::EmitBatches(lists) =
                    instance.call(&Request::TransformBatch(black_box(&inputs))).await.unwrap()
                else {
                    panic!("transform-batch answers with one list per event")
                };
                assert_eq!(lists.len(), batch);
                black_box(lists);
            }
            started.elapsed().as_secs_f64() * 1e6 / (calls * batch) as f64
        })
    };
    let (mut batched_means, mut batched_ratios) = (vec![], vec![]);
    let (mut native_samples, mut wasm_samples, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
    let (mut native_means, mut wasm_means, mut ratios, mut other_ratios) = (vec![], vec![], vec![], vec![]);
    for _ in 0..per_round / 4 {
        native_once();
    }
    wasm_round(instance, &mut scratch);
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..per_round {
            let t = Instant::now();
            native_once();
            native_samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let native_mean = started.elapsed().as_secs_f64() * 1e6 / per_round as f64;
        let wasm_mean = wasm_round(instance, &mut wasm_samples);
        let batched_mean = batched_round(instance);
        batched_means.push(batched_mean);
        batched_ratios.push(batched_mean / native_mean);
        if let Some(other) = other.as_deref_mut() {
            scratch.clear();
            other_ratios.push(wasm_round(other, &mut scratch) / wasm_mean);
        }
        native_means.push(native_mean);
        wasm_means.push(wasm_mean);
        ratios.push(wasm_mean / native_mean);
    }
    let (native_p50, _, _) = median_spread(&mut native_samples);
    let (wasm_p50, _, _) = median_spread(&mut wasm_samples);
    Comparison {
        payload_bytes: input.payload.len(),
        native: (median_spread(&mut native_means).0, native_p50, percentile(&native_samples, 0.99)),
        wasm: (median_spread(&mut wasm_means).0, wasm_p50, percentile(&wasm_samples, 0.99)),
        batched: median_spread(&mut batched_means).0,
        ratio: median_spread(&mut ratios),
        batched_ratio: median_spread(&mut batched_ratios),
        other: (!other_ratios.is_empty()).then(|| median_spread(&mut other_ratios)),
    }
}

fn copy_dir(from: &Path, to: &Path, edit: impl Fn(String) -> String) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.file_name().unwrap() == "plugin.toml" {
            std::fs::write(dest, edit(std::fs::read_to_string(&path).unwrap())).unwrap();
        } else {
            std::fs::copy(&path, dest).unwrap();
        }
    }
}

fn main() {
    let relay_dir = target_dir().join("test-plugins/relay");
    assert!(relay_dir.exists(), "run scripts/build-plugins.sh --tests first");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut rows: Vec<(String, String)> = Vec::new();
    let status_event = event(42);
    let message_event = message_event(43);

    // ---- wasm: a warm instance ----
    let cfg = PluginsConfig { max_instances: 16, perf_map: perf_map(), ..PluginsConfig::default() };
    let sandbox = Sandbox::new(&cfg).unwrap();
    let wasm = std::fs::read(relay_dir.join("relay.wasm")).unwrap();
    let component = Component::new(&sandbox.engine, &wasm).unwrap();
    let manifest = wagate::plugins::manifest::read(&relay_dir).unwrap();
    let pre = sandbox.prepare(&component, &manifest).unwrap();
    let db =
        rt.block_on(wagate::store::Store::open(&format!("sqlite://{}", tmp.path().join("b.db").display()), None)).unwrap();
    let ctx = || {
        Arc::new(CallContext {
            tenant: "acme".into(),
            plugin: "relay".into(),
            capabilities: [wagate::plugins::Capability::Log].into_iter().collect(),
            db: db.clone(),
            directory: Default::default(),
            rates: Default::default(),
            dropping_logs: Default::default(),
            media: Default::default(),
        })
    };
    let config = r#"{"label":"bench"}"#;
    let mut instance = rt.block_on(sandbox.instantiate(&pre, ctx(), config)).unwrap().unwrap();
    // `BENCH_COMPARE_WASM=other.wasm`: time another build of the relay in the same rounds
    // (an SDK or build-flag change, A/B on a noisy machine).
    let mut other = std::env::var_os("BENCH_COMPARE_WASM").map(|path| {
        let component = Component::new(&sandbox.engine, std::fs::read(path).unwrap()).unwrap();
        let pre = sandbox.prepare(&component, &manifest).unwrap();
        rt.block_on(sandbox.instantiate(&pre, ctx(), config)).unwrap().unwrap()
    });
    let mut native =
        relay::Relay::init(wagate_plugin_sdk::config::decode(json!({ "label": "bench" })).unwrap()).unwrap();
    let rounds = std::env::var("BENCH_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(21);
    let batch = std::env::var("BENCH_BATCH").ok().and_then(|n| n.parse().ok()).unwrap_or(16);

    // `BENCH_EVENTS=session.status` (or `message.received`) times one kind only, for a profile.
    let only = std::env::var("BENCH_EVENTS").ok();
    for ev in [&status_event, &message_event].into_iter().filter(|e| only.as_deref().is_none_or(|o| o == e.name())) {
        let c = compare(&rt, &mut native, &mut instance, other.as_mut(), ev, rounds, batch);
        let what = format!("`{}` ({} B payload)", ev.name(), c.payload_bytes);
        rows.push((
            format!("JSON transform {what}, native Rust, {NATIVE_BUILD} (round mean / p50 / p99)"),
            format!("{:.2} / {:.2} / {:.2} us", c.native.0, c.native.1, c.native.2),
        ));
        rows.push((
            format!("JSON transform {what}, wasm component (round mean / p50 / p99)"),
            format!("{:.2} / {:.2} / {:.2} us", c.wasm.0, c.wasm.1, c.wasm.2),
        ));
        rows.push((
            format!("wasm / native {what} (median of {rounds} alternating rounds; target <= 1.5x)"),
            format!("{:.2}x (rounds {:.2}..{:.2})", c.ratio.0, c.ratio.1, c.ratio.2),
        ));
        rows.push((
            format!("JSON transform {what}, wasm, {batch} queued events per `transform-batch` call (per event)"),
            format!("{:.2} us", c.batched),
        ));
        rows.push((
            format!("wasm / native {what}, batches of {batch} (median of {rounds} rounds; target <= 1.5x)"),
            format!("{:.2}x (rounds {:.2}..{:.2})", c.batched_ratio.0, c.batched_ratio.1, c.batched_ratio.2),
        ));
        if let Some((r, lo, hi)) = c.other {
            rows.push((
                format!("BENCH_COMPARE_WASM build / this build, {what}"),
                format!("{r:.3}x (rounds {lo:.2}..{hi:.2})"),
            ));
        }
    }

    // The same call with an empty payload of a kind the plugin does not know: what a call
    // costs before the plugin does any work.
    let empty = wit::Event { name: "bench.empty".into(), payload: "{}".into(), ..wit_event(&status_event) };
    let empty_mean = rt.block_on(async {
        let n = 100_000;
        let started = Instant::now();
        for _ in 0..n {
            black_box(instance.call(&Request::Transform(black_box(&empty))).await.unwrap());
        }
        started.elapsed().as_secs_f64() * 1e6 / n as f64
    });
    rows.push((
        "JSON transform, wasm, empty payload `{}` of an unknown kind (mean)".into(),
        format!("{empty_mean:.2} us"),
    ));

    // ---- instantiate from the prepared InstancePre (includes the init call) ----
    let (inst_mean, inst_p50, inst_p99) = measure(2_000, || {
        black_box(rt.block_on(sandbox.instantiate(&pre, ctx(), config)).unwrap().unwrap());
    });
    rows.push((
        "instantiate from InstancePre + init (mean / p50 / p99)".into(),
        format!("{inst_mean:.1} / {inst_p50:.1} / {inst_p99:.1} us"),
    ));

    // ---- the whole gateway path: canonical event -> validated deliveries, one core ----
    let plugins_dir = tmp.path().join("plugins");
    copy_dir(&relay_dir, &plugins_dir.join("relay"), |m| m);
    let cache = tmp.path().join("cache");
    let pcfg = PluginsConfig {
        dir: plugins_dir.clone(),
        cache_dir: Some(cache.clone()),
        watch: false,
        max_instances: 16,
        ..PluginsConfig::default()
    };
    let (plugins, cold_ms) = rt.block_on(async {
        let p = Plugins::start(pcfg.clone(), cache.clone(), db.clone(), Default::default(), Default::default(), Default::default())
            .await
            .unwrap();
        let ms = p.info("relay").unwrap().load_ms.unwrap();
        (p, ms)
    });
    rt.block_on(async {
        let mut w = db.begin_write().await.unwrap();
        wagate::store::tenants::insert(
            &mut w,
            wagate::store::tenants::NewTenant { id: "acme", name: "Acme", api_key_hash: "x", jwt_secret: "s" },
        )
        .await
        .unwrap();
        w.commit().await.unwrap();
        plugins.bind("acme", "relay", Default::default()).await.unwrap();
    });
    let n = 100_000u64;
    let started = Instant::now();
    rt.block_on(async {
        for seq in 0..n {
            let out = plugins.transform(&event(seq)).await;
            assert_eq!(out.deliveries.len(), 1);
            black_box(out);
        }
    });
    let per_sec = n as f64 / started.elapsed().as_secs_f64();
    rows.push((
        "events/s through one transform plugin, one core (full path, one event at a time)".into(),
        format!("{per_sec:.0}"),
    ));
    // A burst: the fan-out takes up to MAX_BATCH queued events at once.
    let started = Instant::now();
    rt.block_on(async {
        let burst = wagate::plugins::MAX_BATCH as u64;
        for first in (0..n).step_by(burst as usize) {
            let events: Vec<Event> = (first..first + burst).map(event).collect();
            let out = plugins.transform_many(&events).await;
            assert!(out.iter().all(|t| t.deliveries.len() == 1));
            black_box(out);
        }
    });
    let burst_per_sec = n as f64 / started.elapsed().as_secs_f64();
    rows.push((
        format!(
            "events/s through one transform plugin, one core (full path, bursts of {} queued events)",
            wagate::plugins::MAX_BATCH
        ),
        format!("{burst_per_sec:.0} ({:.2}x one at a time)", burst_per_sec / per_sec),
    ));

    // ---- loading: compile (cold cache) vs precompiled artifact ----
    let cached_ms = rt.block_on(async {
        let p = Plugins::start(pcfg.clone(), cache.clone(), db.clone(), Default::default(), Default::default(), Default::default())
            .await
            .unwrap();
        let info = p.info("relay").unwrap();
        assert_eq!(info.from_cache, Some(true));
        info.load_ms.unwrap()
    });
    rows.push(("load, compiling (read + compile + type-check)".into(), format!("{cold_ms:.1} ms")));
    rows.push(("load, from the compiled cache (read + deserialize + type-check)".into(), format!("{cached_ms:.2} ms")));

    // ---- hot reload: new folder written -> new version serving ----
    let debounce = 50u64;
    let mut times = Vec::new();
    rt.block_on(async {
        let watched = PluginsConfig { watch: true, debounce_ms: debounce, ..pcfg.clone() };
        let p =
            Plugins::start(watched, cache.clone(), db.clone(), Default::default(), Default::default(), Default::default()).await.unwrap();
        let _watch = p.watch(Duration::from_millis(debounce), wagate::audit::Audit::new(db.clone())).unwrap();
        for i in 1..=10 {
            let version = format!("2.0.{i}");
            let staging = tmp.path().join(format!("staging-{i}"));
            copy_dir(&relay_dir, &staging, |m| m.replace("version = \"1.0.0\"", &format!("version = \"{version}\"")));
            let old = tmp.path().join(format!("old-{i}"));
            let t = Instant::now();
            std::fs::rename(plugins_dir.join("relay"), &old).unwrap();
            std::fs::rename(&staging, plugins_dir.join("relay")).unwrap();
            while p.info("relay").and_then(|x| x.version) != Some(version.clone()) {
                assert!(t.elapsed() < Duration::from_secs(10), "reload never happened");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    });
    times.sort_by(f64::total_cmp);
    rows.push((
        format!("new folder written -> new version serving (debounce {debounce} ms; p50 / max of 10)"),
        format!("{:.0} / {:.0} ms", percentile(&times, 0.5), times[times.len() - 1]),
    ));

    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!("\n| {:width$} | result |\n|{}|--------|", "measure", "-".repeat(width + 2));
    for (k, v) in rows {
        println!("| {k:width$} | {v} |");
    }
}
