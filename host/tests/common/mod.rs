//! An in-process gateway with millisecond timings, driven through its real router.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use tower::ServiceExt;
use wagate::app::Gateway;
use wagate::config::Config;
use wagate::events::{Event, Subscription};

pub const ADMIN: &str = "wga_test-admin-key-0123456789-abcdefghij";

pub fn fast_config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: dir.to_owned(),
        admin_key: Some(ADMIN.into()),
        max_body_bytes: 16 * 1024,
        ..Config::default()
    };
    let s = &mut c.sessions;
    s.qr_first_ttl_ms = 400;
    s.qr_next_ttl_ms = 150;
    s.max_qr_codes = 3;
    s.pairing_code_ttl_ms = 400;
    s.backoff_initial_ms = 20;
    s.backoff_max_ms = 80;
    s.max_reconnect_attempts = 3;
    s.stable_after_ms = 10_000;
    s.resume_stagger_ms = 10;
    let sim = &mut c.sim;
    sim.enabled = true;
    sim.connect_delay_ms = 20;
    sim.sent_delay_ms = 20;
    sim.delivered_delay_ms = 20;
    sim.read_delay_ms = 20;
    c.events.stats_interval_ms = 50;
    // Webhook receivers of the tests listen on loopback.
    c.webhooks.allow = vec!["127.0.0.0/8".parse().unwrap()];
    c.webhooks.timeout_ms = 500;
    let p = &mut c.plugins;
    p.dir = dir.join("plugins");
    p.watch = false;
    p.max_instances = 24;
    p.cache_dir = Some(target_dir().join("test-plugin-cache"));
    p.breaker_cooldown_ms = 300;
    // The same suites run on PostgreSQL when scripts/test.sh finds one: each data directory
    // has a schema of its own (a gateway restarted on the same directory finds its data), so
    // tests running side by side share nothing.
    if let Ok(url) = std::env::var("WAGATE_TEST_DATABASE_URL") {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        dir.hash(&mut h);
        c.database_url = Some(url);
        c.database_schema = Some(format!("wagate_test_{:016x}", h.finish()));
    }
    c
}

pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A test plugin's folder: a committed fixture (`host/tests/fixtures/plugins/<name>`, built
/// once and kept as it is) or one `scripts/build-plugins.sh --tests` built.
pub fn test_plugin(name: &str) -> std::path::PathBuf {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plugins").join(name);
    if fixture.join("plugin.toml").exists() {
        return fixture;
    }
    let dir = target_dir().join("test-plugins").join(name);
    assert!(dir.join("plugin.toml").exists(), "{} is missing: run scripts/build-plugins.sh --tests", dir.display());
    dir
}

/// Copies test plugin `src` into `plugins_dir/dest`, editing its plugin.toml on the way, and
/// swaps it in with one rename (as an operator's deploy script would).
pub fn install_plugin(plugins_dir: &std::path::Path, src: &str, dest: &str, edit: impl Fn(String) -> String) {
    let from = test_plugin(src);
    std::fs::create_dir_all(plugins_dir).unwrap();
    let tmp = plugins_dir.join(format!(".tmp-{dest}-{}", rand_suffix()));
    std::fs::create_dir_all(&tmp).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        if name == "plugin.toml" {
            std::fs::write(tmp.join(&name), edit(std::fs::read_to_string(&path).unwrap())).unwrap();
        } else {
            std::fs::copy(&path, tmp.join(&name)).unwrap();
        }
    }
    let target = plugins_dir.join(dest);
    let old = plugins_dir.join(format!(".old-{dest}-{}", rand_suffix()));
    if target.exists() {
        std::fs::rename(&target, &old).unwrap();
    }
    std::fs::rename(&tmp, &target).unwrap();
    let _ = std::fs::remove_dir_all(&old);
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) ^ (std::process::id() as u64) << 32
}

pub struct TestGateway {
    pub gateway: Gateway,
    pub router: Router,
    pub dir: Arc<tempfile::TempDir>,
}

pub struct Tenant {
    pub id: String,
    pub api_key: String,
    pub jwt_secret: String,
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::start_in(Arc::new(tempfile::tempdir().unwrap()), |_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_in(Arc::new(tempfile::tempdir().unwrap()), tweak).await
    }

    pub async fn start_in(dir: Arc<tempfile::TempDir>, tweak: impl FnOnce(&mut Config)) -> Self {
        // `WAGATE_TEST_LOG=wagate=debug` shows the gateway's log beside a failing test's output.
        if let Ok(filter) = std::env::var("WAGATE_TEST_LOG") {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        }
        let mut config = fast_config(dir.path());
        tweak(&mut config);
        let gateway = Gateway::build(config).await.expect("gateway builds");
        let router = gateway.router();
        Self { gateway, router, dir }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.send(req).await
    }

    /// The router's response, body unread.
    pub async fn serve(&self, req: Request<Body>) -> axum::response::Response {
        self.router.clone().oneshot(req).await.unwrap()
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = self.serve(req).await;
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, value)
    }

    /// Like `send`, for a route whose successful answer is a stream that never ends: its body
    /// is read only when the request was refused.
    pub async fn send_head(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = self.serve(req).await;
        let status = resp.status();
        if status.is_success() {
            return (status, Value::Null);
        }
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn tenant(&self, id: &str) -> Tenant {
        let (status, body) =
            self.post("/api/v1/tenants", ADMIN, json!({ "id": id, "name": format!("Tenant {id}") })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        Tenant {
            id: id.into(),
            api_key: body["apiKey"].as_str().unwrap().into(),
            jwt_secret: body["jwtSecret"].as_str().unwrap().into(),
        }
    }

    pub async fn session(&self, t: &Tenant, id: &str) -> Value {
        let (status, body) = self.post("/api/v1/sessions", &t.api_key, json!({ "id": id })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn status_of(&self, t: &Tenant, id: &str) -> Value {
        let (status, body) = self.get(&format!("/api/v1/sessions/{id}"), &t.api_key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Polls until the session reaches `status` (or fails after 3 s).
    pub async fn wait_status(&self, t: &Tenant, id: &str, status: &str) -> Value {
        for _ in 0..300 {
            let s = self.status_of(t, id).await;
            if s["status"] == status {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("session {id} never reached {status}: {}", self.status_of(t, id).await);
    }

    /// Creates a session and links it by QR; returns when it is CONNECTED.
    pub async fn connected_session(&self, t: &Tenant, id: &str, phone: &str) -> Value {
        self.session(t, id).await;
        self.link(t, id, phone).await
    }

    /// Links an existing session by QR; returns when it is CONNECTED.
    pub async fn link(&self, t: &Tenant, id: &str, phone: &str) -> Value {
        let (s, b) = self.post(&format!("/api/v1/sessions/{id}/connect"), &t.api_key, json!({})).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        self.wait_status(t, id, "QR_REQUIRED").await;
        // The store shows CONNECTED a moment before the bus publishes the events of that write;
        // waiting for them here keeps them out of a subscription the caller opens next.
        let mut published = self.events();
        let (s, b) = self
            .post(
                &format!("/api/v1/sim/sessions/{id}/scan"),
                &t.api_key,
                json!({ "phoneNumber": phone, "displayName": "Tester" }),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let session = self.wait_status(t, id, "CONNECTED").await;
        loop {
            let seen = until(&mut published, "session.connected").await;
            if seen.last().is_some_and(|e| e.session_id.as_deref() == Some(id)) {
                break session;
            }
        }
    }

    pub fn events(&self) -> Subscription {
        self.gateway.bus.subscribe("test")
    }
}

/// Collects events until one named `name` arrives (3 s limit); returns all seen.
pub async fn until(rx: &mut Subscription, name: &str) -> Vec<Arc<Event>> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| {
                panic!("no {name} within 3 s; saw {:?}", seen.iter().map(|e: &Arc<Event>| e.name()).collect::<Vec<_>>())
            })
            .expect("bus open");
        let done = ev.name() == name;
        seen.push(ev);
        if done {
            return seen;
        }
    }
}

pub fn names(events: &[Arc<Event>]) -> Vec<&str> {
    events.iter().map(|e| e.name()).filter(|n| *n != "tenant.stats").collect()
}

/// The text `GET /metrics` answers the admin with.
pub async fn scrape(gw: &TestGateway) -> String {
    let (s, body) = gw.get("/metrics", ADMIN).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body.as_str().expect("metrics are text").to_owned()
}

/// The value of the series that starts with `series` (name and labels), if it is there.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.split(' ').next()?.parse().ok())
}
