//! The wasmtime side: one engine per process, the store data a plugin instance runs with,
//! the host imports (tenant-scoped, capability-checked), and calls with a deadline.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy, Store, StoreLimits,
    StoreLimitsBuilder, Trap,
};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::manifest::Capability;
use crate::config::PluginsConfig;
use crate::model::SessionKey;
use crate::store::{self as db, chats, messages, plugins as stored, sessions};

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::wagate::plugin::types as wit;

/// Epochs tick every 10 ms; a call's deadline is a number of ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);
const MAX_KV_KEY: usize = 256;
const MAX_KV_VALUE: usize = 64 * 1024;
const MAX_KV_KEYS: i64 = 10_000;

/// Why a plugin call failed; every one counts against the binding's breaker.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Fault {
    #[error("deadline exceeded ({0} ms)")]
    Deadline(u64),
    #[error("memory limit exceeded")]
    Memory,
    #[error("plugin panicked")]
    Panic,
    #[error("capability '{0}' was not granted in plugin.toml")]
    Capability(&'static str),
    #[error("bad output: {0}")]
    BadOutput(String),
    #[error("trap: {0}")]
    Trap(String),
    #[error("instantiation failed: {0}")]
    Instantiate(String),
}

/// What every instance of the gateway's plugins shares.
#[derive(Clone)]
pub struct Sandbox {
    pub engine: Engine,
    /// What every plugin is linked with: the host imports and the WASI a Rust guest needs to
    /// start (`wasi:io`, `wasi:cli` with nothing behind stdin and the environment, `wasi:random`).
    linker: Arc<Linker<State>>,
    /// The same plus `wasi:clocks`, for plugins granted `clock`. Without clocks a guest can
    /// neither read the time nor wait on a timer: there is no pollable that blocks.
    linker_with_clocks: Arc<Linker<State>>,
    call_ticks: u64,
    timeout_ms: u64,
    memory_bytes: usize,
}

impl Sandbox {
    pub fn new(cfg: &PluginsConfig) -> wasmtime::Result<Self> {
        let memory_bytes = (cfg.memory_mib * 1024 * 1024) as usize;
        let mut pool = PoolingAllocationConfig::default();
        // A Rust component is 3 core instances, 1 memory and 2 tables.
        pool.total_component_instances(cfg.max_instances)
            .total_core_instances(cfg.max_instances * 4)
            .total_memories(cfg.max_instances * 2)
            .total_tables(cfg.max_instances * 4)
            .total_stacks(cfg.max_instances)
            .max_memory_size(memory_bytes);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .concurrency_support(false)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if cfg.perf_map {
            config.profiler(ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        spawn_epoch_ticker(&engine);
        let mut linker = Linker::new(&engine);
        link_wasi_without_clocks(&mut linker)?;
        Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        let mut linker_with_clocks = linker.clone();
        {
            use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
            use wasmtime_wasi::p2::bindings::clocks;
            clocks::wall_clock::add_to_linker::<State, WasiClocks>(&mut linker_with_clocks, <State as WasiClocksView>::clocks)?;
            clocks::monotonic_clock::add_to_linker::<State, WasiClocks>(&mut linker_with_clocks, <State as WasiClocksView>::clocks)?;
        }
        let call_ticks = cfg.call_timeout_ms.div_ceil(EPOCH_TICK.as_millis() as u64).max(1);
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            linker_with_clocks: Arc::new(linker_with_clocks),
            call_ticks,
            timeout_ms: cfg.call_timeout_ms,
            memory_bytes,
        })
    }

    /// Type-checks a component against the `plugin` world with the WASI its capabilities
    /// grant: every import resolvable, the `hooks` export present with the right signatures.
    pub fn prepare(&self, component: &Component, capabilities: &BTreeSet<Capability>) -> Result<PluginPre<State>, String> {
        let with_clocks = capabilities.contains(&Capability::Clock);
        let linker = if with_clocks { &self.linker_with_clocks } else { &self.linker };
        let pre = linker.instantiate_pre(component).map_err(|e| {
            let text = format!("{e:#}");
            if !with_clocks && text.contains("wasi:clocks") {
                format!("{text} (wasi:clocks is linked only for plugins with the 'clock' capability)")
            } else {
                text
            }
        })?;
        PluginPre::new(pre).map_err(|e| format!("{e:#}"))
    }

    /// Longest a call may take by the host's own clock. Epochs stop wasm code at the call
    /// deadline, but not a guest waiting inside a host import (a WASI sleep, a slow query):
    /// this stops those, a tick later.
    fn host_deadline(&self) -> Duration {
        Duration::from_millis(self.timeout_ms) + EPOCH_TICK
    }

    /// A fresh instance of `pre` for one tenant binding, initialised with `config`.
    /// `Ok(Err(msg))` is the plugin refusing the config.
    pub async fn instantiate(
        &self,
        pre: &PluginPre<State>,
        ctx: Arc<CallContext>,
        config: &str,
    ) -> Result<Result<Instance, String>, Fault> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.memory_bytes)
            .instances(16)
            .tables(16)
            .memories(4)
            .trap_on_grow_failure(true)
            .build();
        // No filesystem, network, environment or inherited stdio: the default context grants nothing.
        let mut wasi = WasiCtxBuilder::new();
        wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        let state = State { scope: None, wasi: wasi.build(), table: ResourceTable::new(), limits, ctx };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.call_ticks);
        let bindings = pre.instantiate_async(&mut store).await.map_err(|e| self.classify(e))?;
        let mut instance = Instance { store, bindings, calls: 0, sandbox: self.clone() };
        match instance.call(&Request::Init(config)).await? {
            Response::Init(result) => Ok(result.map(|()| instance)),
            _ => unreachable!("init answers with Response::Init"),
        }
    }

    fn classify(&self, err: wasmtime::Error) -> Fault {
        if let Some(denied) = err.downcast_ref::<Denied>() {
            return Fault::Capability(denied.0.name());
        }
        if let Some(trap) = err.downcast_ref::<Trap>() {
            return match trap {
                Trap::Interrupt => Fault::Deadline(self.timeout_ms),
                Trap::UnreachableCodeReached => Fault::Panic,
                other => Fault::Trap(other.to_string()),
            };
        }
        let text = format!("{err:#}");
        if text.contains("forcing trap when growing memory") || text.contains("memory growth failure") {
            Fault::Memory
        } else {
            Fault::Trap(text)
        }
    }
}

/// WASI p2 as `wasmtime_wasi::p2::add_to_linker_async` links it, less clocks, filesystem and
/// sockets: plugins get no file, socket or clock (`clock` adds clocks, see `Sandbox::new`).
fn link_wasi_without_clocks(l: &mut Linker<State>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::p2::bindings::{cli, random};
    use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<State, HasIo>(l, |t| t.ctx().table)?;
    wasmtime_wasi_io::bindings::wasi::io::poll::add_to_linker::<State, HasIo>(l, |t| t.ctx().table)?;
    wasmtime_wasi_io::bindings::wasi::io::streams::add_to_linker::<State, HasIo>(l, |t| t.ctx().table)?;
    random::random::add_to_linker::<State, WasiRandom>(l, <State as WasiRandomView>::random)?;
    random::insecure::add_to_linker::<State, WasiRandom>(l, <State as WasiRandomView>::random)?;
    random::insecure_seed::add_to_linker::<State, WasiRandom>(l, <State as WasiRandomView>::random)?;
    cli::exit::add_to_linker::<State, WasiCli>(l, <State as WasiCliView>::cli)?;
    cli::environment::add_to_linker::<State, WasiCli>(l, <State as WasiCliView>::cli)?;
    cli::stdin::add_to_linker::<State, WasiCli>(l, <State as WasiCliView>::cli)?;
    cli::stdout::add_to_linker::<State, WasiCli>(l, <State as WasiCliView>::cli)?;
    cli::stderr::add_to_linker::<State, WasiCli>(l, <State as WasiCliView>::cli)?;
    cli::terminal_input::add_to_linker::<State, WasiCli>(l, <State as WasiCliView>::cli)?;
    cli::terminal_output::add_to_linker::<State, WasiCli>(l, <State as WasiCliView>::cli)?;
    cli::terminal_stdin::add_to_linker::<State, WasiCli>(l, <State as WasiCliView>::cli)?;
    cli::terminal_stdout::add_to_linker::<State, WasiCli>(l, <State as WasiCliView>::cli)?;
    cli::terminal_stderr::add_to_linker::<State, WasiCli>(l, <State as WasiCliView>::cli)?;
    Ok(())
}

/// `wasi:io` resources live in the store's resource table.
struct HasIo;

impl wasmtime::component::HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("epoch thread");
}

/// One call into a plugin.
pub enum Request<'r> {
    Init(&'r str),
    MapAuth { claims: &'r str, identity: &'r wit::Identity },
    /// `scope`: the socket's rights, which the session reads of this call answer within.
    ClientEvent { caller: &'r wit::Identity, event: &'r wit::ClientEvent, scope: &'r Arc<CallerScope> },
    Transform(&'r wit::Event),
    /// Events of one tenant in commit order; one call, one deadline.
    TransformBatch(&'r [wit::Event]),
    OnEvent(&'r wit::Event),
}

pub enum Response {
    Init(Result<(), String>),
    Identity(Result<wit::Identity, String>),
    Actions(Vec<wit::Action>),
    Emits(Vec<wit::Emit>),
    /// One list per event of a `TransformBatch`, unchecked: the count may be wrong.
    EmitBatches(Vec<Vec<wit::Emit>>),
}

impl Request<'_> {
    /// How many events the call handles: recycling and metrics count events, not calls.
    pub fn events(&self) -> usize {
        match self {
            Request::TransformBatch(events) => events.len(),
            _ => 1,
        }
    }
}

/// A live instance of one plugin version for one tenant binding.
pub struct Instance {
    store: Store<State>,
    bindings: Plugin,
    /// Events handled so far (a batch counts each of its events).
    pub calls: u64,
    sandbox: Sandbox,
}

impl Instance {
    /// Runs one export with a fresh deadline. After a fault the instance must be dropped: a
    /// trap leaves it unusable.
    pub async fn call(&mut self, req: &Request<'_>) -> Result<Response, Fault> {
        self.calls += req.events() as u64;
        self.store.set_epoch_deadline(self.sandbox.call_ticks);
        let hooks = self.bindings.wagate_plugin_hooks();
        let store = &mut self.store;
        let call = async move { match req {
            Request::Init(config) => hooks.call_init(store, &config.to_string()).await.map(Response::Init),
            Request::MapAuth { claims, identity } => {
                hooks.call_map_auth(store, &claims.to_string(), identity).await.map(Response::Identity)
            }
            Request::ClientEvent { caller, event, scope } => {
                store.data_mut().scope = Some((*scope).clone());
                hooks.call_on_client_event(store, caller, event).await.map(Response::Actions)
            }
            Request::Transform(event) => hooks.call_transform(store, event).await.map(Response::Emits),
            Request::TransformBatch(events) => {
                hooks.call_transform_batch(store, events).await.map(Response::EmitBatches)
            }
            Request::OnEvent(event) => hooks.call_on_event(store, event).await.map(Response::Actions),
        } };
        // Dropping the call future abandons the guest mid-call; the caller drops the instance
        // after any fault, as after a trap.
        let outcome = match tokio::time::timeout(self.sandbox.host_deadline(), call).await {
            Ok(result) => result.map_err(|e| self.sandbox.classify(e)),
            Err(_) => Err(Fault::Deadline(self.sandbox.timeout_ms)),
        };
        self.store.data_mut().scope = None;
        outcome
    }
}

/// Who an instance acts for; fixed for the life of the instance.
pub struct CallContext {
    pub tenant: String,
    pub plugin: String,
    pub capabilities: BTreeSet<Capability>,
    pub db: db::Store,
    /// The tenant's quotas (kv bytes, log lines), read at each use so overrides apply at once.
    pub directory: crate::auth::TenantDirectory,
    pub rates: crate::quotas::Rates,
    /// Set while log lines are being dropped over the quota, so that is said once.
    pub dropping_logs: std::sync::atomic::AtomicBool,
}

/// The socket a client-event call is made for. While the call runs, `sessions`, `chats`,
/// `chat` and `history` answer only for sessions that socket's user may use (the tenant's
/// `sessionAccess`), so what a plugin decides from them (which room a socket joins, which
/// history it gets) stays within the user's rights.
pub struct CallerScope {
    pub identity: crate::auth::Identity,
    pub access: crate::auth::SessionAccess,
}

pub struct State {
    /// Set for the length of a client-event call.
    scope: Option<Arc<CallerScope>>,
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    ctx: Arc<CallContext>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// An import the plugin has no capability for: traps the call.
#[derive(Debug)]
struct Denied(Capability);

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "capability '{}' not granted", self.0.name())
    }
}

impl std::error::Error for Denied {}

impl State {
    fn require(&self, cap: Capability) -> wasmtime::Result<()> {
        if self.ctx.capabilities.contains(&cap) { Ok(()) } else { Err(wasmtime::Error::new(Denied(cap))) }
    }

    /// Whether this call may read `session`: always, unless it is made for a socket whose
    /// user may not use it. An unusable session reads as a missing one. (Owned parts only:
    /// the future must not borrow the store's state across the query.)
    fn may_read(&self, session: &str) -> impl std::future::Future<Output = bool> + Send + 'static {
        let (scope, ctx) = (self.scope.clone(), self.ctx.clone());
        let key = SessionKey::new(&ctx.tenant, session);
        async move {
            let Some(scope) = scope else { return true };
            matches!(sessions::get(ctx.db.pool(), &key).await, Ok(Some(s)) if scope.identity.may_use(scope.access, &s))
        }
    }
}

fn json_or_err<T: serde::Serialize>(r: Result<T, db::StoreError>) -> Result<String, String> {
    r.map_err(|e| e.to_string()).and_then(|v| serde_json::to_string(&v).map_err(|e| e.to_string()))
}

impl self::wagate::plugin::types::Host for State {}

impl self::wagate::plugin::host::Host for State {
    async fn log(&mut self, level: self::wagate::plugin::host::Level, message: String) -> wasmtime::Result<()> {
        use self::wagate::plugin::host::Level;
        self.require(Capability::Log)?;
        let (tenant, plugin) = (&self.ctx.tenant, &self.ctx.plugin);
        let per_minute = self.ctx.directory.limits(tenant).plugin_log_lines_per_minute;
        let over = self.ctx.rates.check("plugin log lines per minute", &format!("log/{tenant}/{plugin}"), per_minute);
        let was_dropping = self.ctx.dropping_logs.swap(over.is_err(), std::sync::atomic::Ordering::Relaxed);
        if let Err(q) = over {
            if !was_dropping {
                tracing::warn!(%tenant, %plugin, "{q}: dropping its log lines until the rate allows again");
            }
            return Ok(());
        }
        let message: String = message.chars().take(4096).collect();
        match level {
            Level::Trace => tracing::trace!(%tenant, %plugin, "{message}"),
            Level::Debug => tracing::debug!(%tenant, %plugin, "{message}"),
            Level::Info => tracing::info!(%tenant, %plugin, "{message}"),
            Level::Warn => tracing::warn!(%tenant, %plugin, "{message}"),
            Level::Error => tracing::error!(%tenant, %plugin, "{message}"),
        }
        Ok(())
    }

    async fn now_ms(&mut self) -> wasmtime::Result<u64> {
        self.require(Capability::Clock)?;
        Ok(chrono::Utc::now().timestamp_millis() as u64)
    }

    async fn kv_get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.require(Capability::Kv)?;
        let c = &self.ctx;
        Ok(stored::kv_get(c.db.pool(), &c.tenant, &c.plugin, &key).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "plugin kv read failed");
            None
        }))
    }

    async fn kv_set(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), String>> {
        self.require(Capability::Kv)?;
        if key.is_empty() || key.len() > MAX_KV_KEY {
            return Ok(Err(format!("keys are 1 to {MAX_KV_KEY} bytes")));
        }
        if value.len() > MAX_KV_VALUE {
            return Ok(Err(format!("values are at most {MAX_KV_VALUE} bytes")));
        }
        let c = &self.ctx;
        let max_bytes = c.directory.limits(&c.tenant).plugin_kv_bytes;
        let result = async {
            // Checked inside the write that would exceed it: concurrent sets cannot overshoot.
            let mut w = c.db.begin_write().await?;
            let (keys, bytes) = stored::kv_usage_besides(&mut w, &c.tenant, &c.plugin, &key).await?;
            if keys >= MAX_KV_KEYS {
                return Ok(Err(format!("at most {MAX_KV_KEYS} keys per plugin and tenant")));
            }
            let after = bytes.saturating_add((key.len() + value.len()) as u64);
            if after > max_bytes {
                return Ok(Err(format!(
                    "quota exceeded: plugin kv bytes (limit {max_bytes}); this value would make it {after}"
                )));
            }
            stored::kv_set(&mut w, &c.tenant, &c.plugin, &key, &value).await?;
            w.commit().await?;
            Ok::<_, db::StoreError>(Ok(()))
        };
        Ok(result.await.unwrap_or_else(|e| Err(e.to_string())))
    }

    async fn kv_delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.require(Capability::Kv)?;
        let c = &self.ctx;
        let result = async {
            let mut w = c.db.begin_write().await?;
            stored::kv_delete(&mut w, &c.tenant, &c.plugin, &key).await?;
            w.commit().await
        };
        if let Err(e) = result.await {
            tracing::warn!(error = %e, "plugin kv delete failed");
        }
        Ok(())
    }

    async fn sessions(&mut self) -> wasmtime::Result<Result<String, String>> {
        self.require(Capability::SessionsRead)?;
        let mut list = sessions::list(self.ctx.db.pool(), &self.ctx.tenant).await;
        if let (Ok(list), Some(scope)) = (&mut list, &self.scope) {
            list.retain(|s| scope.identity.may_use(scope.access, s));
        }
        Ok(json_or_err(list))
    }

    async fn chats(&mut self, session: String, limit: u32, offset: u32) -> wasmtime::Result<Result<String, String>> {
        self.require(Capability::ChatsRead)?;
        if !self.may_read(&session).await {
            return Ok(Ok("[]".into()));
        }
        let key = SessionKey::new(&self.ctx.tenant, &session);
        let limit = i64::from(limit.min(500));
        Ok(json_or_err(chats::list(self.ctx.db.pool(), &key, limit, i64::from(offset)).await))
    }

    async fn chat(&mut self, chat: String) -> wasmtime::Result<Result<Option<String>, String>> {
        self.require(Capability::ChatsRead)?;
        Ok(match chats::find(self.ctx.db.pool(), &self.ctx.tenant, &chat).await {
            Ok(None) => Ok(None),
            Ok(Some(found)) if !self.may_read(&found.session_id).await => Ok(None),
            Ok(Some(found)) => json_or_err(Ok(found)).map(Some),
            Err(e) => Err(e.to_string()),
        })
    }

    async fn history(
        &mut self,
        session: String,
        chat: String,
        limit: u32,
        offset: u32,
    ) -> wasmtime::Result<Result<String, String>> {
        self.require(Capability::ChatsRead)?;
        if !self.may_read(&session).await {
            return Ok(Ok("[]".into()));
        }
        let key = SessionKey::new(&self.ctx.tenant, &session);
        let limit = i64::from(limit.min(500));
        Ok(json_or_err(messages::list_for_chat(self.ctx.db.pool(), &key, &chat, limit, i64::from(offset)).await))
    }
}
