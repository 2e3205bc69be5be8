//! The wasmtime side: one engine per process, the store data a plugin instance runs with, and
//! calls with a deadline. The contracts a component can be built against (`v1`, and `v0_3`
//! through an adapter) share the host imports (`imports`); `contract` reads which one a
//! component speaks and checks it against its manifest at load.

mod contract;
mod imports;
mod v0_3;
mod v1;

pub use contract::Contract;
pub use imports::{MAX_QUEUED, MAX_SEND_JSON};
pub use v1::{WebhookBody, wit};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy, Store, StoreLimits,
    StoreLimitsBuilder, Trap,
};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::manifest::{Capability, Manifest};
use super::output::HostAction;
use crate::config::PluginsConfig;
use crate::store as db;

/// Epochs tick every 10 ms; a call's deadline is a number of ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);
const MAX_KV_KEY: usize = 256;
const MAX_KV_VALUE: usize = 64 * 1024;
const MAX_KV_KEYS: i64 = 10_000;

/// How long a kind of call may run: epoch ticks for wasm code, milliseconds by the host's clock.
#[derive(Debug, Clone, Copy)]
struct Budget {
    ticks: u64,
    ms: u64,
}

impl Budget {
    fn of(ms: u64) -> Self {
        Self { ticks: ms.div_ceil(EPOCH_TICK.as_millis() as u64).max(1), ms }
    }
}

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
    /// A hook's call.
    call: Budget,
    /// Setting an instance up: instantiation, `init`, the config-schema probe.
    setup: Budget,
    /// The deadline of a bot call that may wait on HTTP requests, waits included.
    waiting_deadline: Duration,
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
        v1::add_to_linker(&mut linker)?;
        v0_3::add_to_linker(&mut linker)?;
        let mut linker_with_clocks = linker.clone();
        {
            use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
            use wasmtime_wasi::p2::bindings::clocks;
            clocks::wall_clock::add_to_linker::<State, WasiClocks>(
                &mut linker_with_clocks,
                <State as WasiClocksView>::clocks,
            )?;
            clocks::monotonic_clock::add_to_linker::<State, WasiClocks>(
                &mut linker_with_clocks,
                <State as WasiClocksView>::clocks,
            )?;
        }
        Ok(Self {
            engine,
            linker: Arc::new(linker),
            linker_with_clocks: Arc::new(linker_with_clocks),
            call: Budget::of(cfg.call_timeout_ms),
            setup: Budget::of(cfg.setup_timeout_ms),
            waiting_deadline: Duration::from_millis(cfg.http.bot_deadline_ms),
            memory_bytes,
        })
    }

    /// Checks a component against its manifest (`contract::check`: the contract it speaks,
    /// every import granted, every listed hook exported) and type-checks it against that
    /// contract with the WASI its capabilities grant.
    pub fn prepare(&self, component: &Component, manifest: &Manifest) -> Result<Prepared, String> {
        let contract = contract::check(&contract::Surface::of(&self.engine, component), manifest)?;
        let with_clocks = manifest.capabilities.contains(&Capability::Clock);
        let linker = if with_clocks { &self.linker_with_clocks } else { &self.linker };
        let pre = linker.instantiate_pre(component).map_err(|e| format!("{e:#}"))?;
        match contract {
            Contract::V1 { minor } => v1::Pre::new(pre, minor).map(Prepared::V1),
            Contract::V0_3 => v0_3::Pre::new(pre).map(Prepared::V0_3).map_err(|e| format!("{e:#}")),
        }
    }

    /// Longest a call may take by the host's own clock. Epochs stop wasm code at the call
    /// deadline, but not a guest waiting inside a host import (a WASI sleep, a slow query):
    /// this stops those, a tick later.
    fn host_deadline(&self, budget: Budget, may_wait: bool) -> Duration {
        Duration::from_millis(self.deadline_ms(budget, may_wait)) + EPOCH_TICK
    }

    /// The deadline a call has, as a fault names it: a bot's that may wait on requests, or
    /// its budget's.
    fn deadline_ms(&self, budget: Budget, may_wait: bool) -> u64 {
        if may_wait { self.waiting_deadline.as_millis() as u64 } else { budget.ms }
    }

    /// A fresh instance of `pre` for one tenant binding, initialised with `config`.
    /// `Ok(Err(msg))` is the plugin refusing the config.
    pub async fn instantiate(
        &self,
        pre: &Prepared,
        ctx: Arc<CallContext>,
        config: &str,
    ) -> Result<Result<Instance, String>, Fault> {
        let mut instance = self.fresh(pre, ctx).await?;
        match instance.call(&Request::Init(config)).await? {
            Response::Init(result) => Ok(result.map(|()| instance)),
            _ => unreachable!("init answers with Response::Init"),
        }
    }

    /// The JSON Schema the plugin declares for its config (1.0 plugins built with plugin-sdk
    /// do), asked of an instance that is not initialised.
    pub async fn config_schema(&self, pre: &Prepared, ctx: Arc<CallContext>) -> Result<Option<String>, Fault> {
        let mut instance = self.fresh(pre, ctx).await?;
        match instance.call(&Request::ConfigSchema).await? {
            Response::ConfigSchema(schema) => Ok(schema),
            _ => unreachable!("config-schema answers with Response::ConfigSchema"),
        }
    }

    async fn fresh(&self, pre: &Prepared, ctx: Arc<CallContext>) -> Result<Instance, Fault> {
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
        let calls_out = ctx.capabilities.contains(&Capability::HttpOutbound);
        let state = State {
            scope: None,
            queue: None,
            waits: Waits::new(self.waiting_deadline),
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits,
            ctx,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        if calls_out {
            // The epoch deadline counts wall-clock time; time spent waiting on a request is
            // given back, so such a call still runs wasm for at most the usual deadline.
            let (ticks, compute) = (self.call.ticks, Duration::from_millis(self.call.ms));
            store.epoch_deadline_callback(move |cx| {
                Ok(match cx.data().waits.more_ticks(compute, ticks) {
                    Some(more) => wasmtime::UpdateDeadline::Continue(more),
                    None => wasmtime::UpdateDeadline::Interrupt,
                })
            });
        } else {
            store.epoch_deadline_trap();
        }
        // A component's start functions run while it is instantiated.
        store.set_epoch_deadline(self.setup.ticks);
        let hooks = match pre {
            Prepared::V1(pre) => pre.instantiate(&mut store).await.map(Hooks::V1),
            Prepared::V0_3(pre) => pre.instantiate_async(&mut store).await.map(Hooks::V0_3),
        };
        let hooks = hooks.map_err(|e| self.classify(e, self.setup))?;
        Ok(Instance { store, hooks, calls: 0, sandbox: self.clone() })
    }

    fn classify(&self, err: wasmtime::Error, budget: Budget) -> Fault {
        if let Some(denied) = err.downcast_ref::<Denied>() {
            return Fault::Capability(denied.0.name());
        }
        if let Some(trap) = err.downcast_ref::<Trap>() {
            return match trap {
                Trap::Interrupt => Fault::Deadline(budget.ms),
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
    MapAuth {
        claims: &'r str,
        identity: &'r wit::Identity,
    },
    /// `scope`: the socket's rights, which the session reads of this call answer within.
    ClientEvent {
        caller: &'r wit::Identity,
        event: &'r wit::ClientEvent,
        scope: &'r Arc<CallerScope>,
    },
    Transform(&'r wit::Event),
    /// Events of one tenant in commit order; one call, one deadline.
    TransformBatch(&'r [wit::Event]),
    OnEvent(&'r wit::Event),
    /// The body of a webhook delivery of the event (hook `webhook`, since 1.2).
    Webhook(&'r wit::Event),
    ConfigSchema,
}

pub enum Response {
    Init(Result<(), String>),
    Identity(Result<wit::Identity, String>),
    /// What the hook returned, and what it queued through `messages` (filled in by
    /// [`Instance::call`]), carried out in that order.
    Actions(Vec<wit::Action>, Vec<HostAction>),
    Emits(Vec<wit::Emit>),
    /// One list per event of a `TransformBatch`, unchecked: the count may be wrong.
    EmitBatches(Vec<Vec<wit::Emit>>),
    ConfigSchema(Option<String>),
    WebhookBody(WebhookBody),
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

/// A component checked and type-checked against the contract it speaks.
pub enum Prepared {
    V1(v1::Pre),
    V0_3(v0_3::Pre),
}

impl Prepared {
    pub fn contract(&self) -> Contract {
        match self {
            Prepared::V1(pre) => Contract::V1 { minor: pre.minor },
            Prepared::V0_3(_) => Contract::V0_3,
        }
    }
}

enum Hooks {
    V1(v1::Hooks),
    V0_3(v0_3::Hooks),
}

/// A live instance of one plugin version for one tenant binding.
pub struct Instance {
    store: Store<State>,
    hooks: Hooks,
    /// Events handled so far (a batch counts each of its events).
    pub calls: u64,
    sandbox: Sandbox,
}

impl Instance {
    /// Runs one export with a fresh deadline. After a fault the instance must be dropped: a
    /// trap leaves it unusable.
    pub async fn call(&mut self, req: &Request<'_>) -> Result<Response, Fault> {
        self.calls += req.events() as u64;
        let budget = match req {
            Request::Init(_) | Request::ConfigSchema => self.sandbox.setup,
            _ => self.sandbox.call,
        };
        self.store.set_epoch_deadline(budget.ticks);
        if let Request::ClientEvent { scope, .. } = req {
            self.store.data_mut().scope = Some((*scope).clone());
        }
        // Only hooks that answer with actions may queue messages; only bots may wait on HTTP.
        let state = self.store.data_mut();
        state.queue = matches!(req, Request::ClientEvent { .. } | Request::OnEvent(_)).then(Vec::new);
        let may_wait = matches!(req, Request::OnEvent(_)) && state.ctx.capabilities.contains(&Capability::HttpOutbound);
        state.waits.start(may_wait);
        let store = &mut self.store;
        let hooks = &self.hooks;
        let call = async move {
            match hooks {
                Hooks::V1(h) => h.call(store, req).await,
                Hooks::V0_3(h) => v0_3::call(h, store, req).await,
            }
        };
        // Dropping the call future abandons the guest mid-call; the caller drops the instance
        // after any fault, as after a trap.
        let outcome = match tokio::time::timeout(self.sandbox.host_deadline(budget, may_wait), call).await {
            Ok(result) => result.map_err(|e| self.sandbox.classify(e, budget)),
            Err(_) => Err(Fault::Deadline(self.sandbox.deadline_ms(budget, may_wait))),
        };
        let state = self.store.data_mut();
        state.scope = None;
        let queued = state.queue.take().unwrap_or_default();
        outcome.map(|response| match response {
            Response::Actions(returned, _) => Response::Actions(returned, queued),
            other => other,
        })
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
    pub media: MediaAccess,
    pub clock: super::clock::PluginClock,
    /// Where `http.send` may go: set for plugins granted `http:outbound`.
    pub http: Option<HttpAccess>,
}

/// What a plugin's requests go through, and the hosts its plugin.toml and its binding allow.
#[derive(Clone)]
pub struct HttpAccess {
    pub outbound: super::outbound::Outbound,
    pub plugin_hosts: Arc<[super::HostPattern]>,
    pub binding_hosts: Arc<[super::HostPattern]>,
    pub metrics: super::metrics::Exported,
}

/// The time a call spent waiting (on HTTP requests, on the store), and how long it may go on.
pub(crate) struct Waits {
    /// Set for the length of a call that may wait (a bot granted `http:outbound`).
    may_wait: bool,
    started: std::time::Instant,
    waited: Duration,
    deadline: Duration,
}

impl Waits {
    fn new(deadline: Duration) -> Self {
        Self { may_wait: false, started: std::time::Instant::now(), waited: Duration::ZERO, deadline }
    }

    fn start(&mut self, may_wait: bool) {
        *self = Self { may_wait, started: std::time::Instant::now(), waited: Duration::ZERO, deadline: self.deadline };
    }

    /// What is left of the call's deadline; `None` for a call that may not wait.
    pub(crate) fn left(&self) -> Option<Duration> {
        self.may_wait.then(|| self.deadline.saturating_sub(self.started.elapsed()))
    }

    pub(crate) fn waited(&mut self, d: Duration) {
        self.waited += d;
    }

    /// At the epoch deadline: the ticks of running the call has left (`compute` in all,
    /// `ticks` per full budget), or `None` to stop it.
    fn more_ticks(&self, compute: Duration, ticks: u64) -> Option<u64> {
        let elapsed = self.started.elapsed();
        let ran = elapsed.saturating_sub(self.waited);
        if !self.may_wait || ran >= compute || elapsed >= self.deadline {
            return None;
        }
        let left = (compute - ran).as_nanos() * u128::from(ticks) / compute.as_nanos().max(1);
        Some((left as u64).max(1))
    }
}

/// What `media.link` signs with.
#[derive(Clone)]
pub struct MediaAccess {
    pub links: crate::media::links::MediaLinks,
    /// Used when a plugin asks for ttl 0 (`media.link_ttl_secs`).
    pub default_ttl_secs: u64,
}

impl Default for MediaAccess {
    /// Links under a key of its own, which no other gateway accepts (benchmarks, tests).
    fn default() -> Self {
        Self { links: crate::media::links::MediaLinks::with_key(rand::random()), default_ttl_secs: 900 }
    }
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
    /// What the call queued through `messages`; `None` in hooks that may not queue.
    queue: Option<Vec<HostAction>>,
    waits: Waits,
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
