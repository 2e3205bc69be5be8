//! WebAssembly plugins: the sandboxed runtime (`sandbox`), the versions loaded from the
//! plugins folder (`registry`, hot-reloaded by `watcher`), tenant bindings with their breakers
//! (`bindings`, `breaker`), and the dispatch of hooks with validation of what comes back
//! (`output`). Sits between `events` and `realtime`: canonical events go through the tenant's
//! transform plugins on their way to sockets.

mod bindings;
mod breaker;
pub mod clock;
pub mod manifest;
mod metrics;
pub mod outbound;
pub mod output;
mod registry;
pub mod sandbox;
mod watcher;

pub use bindings::{BindingView, MAX_BATCH, OnError};
pub use breaker::{BreakerState, BreakerView};
pub use manifest::{Capability, Hook, Manifest};
pub use metrics::HookView;
pub use outbound::HostPattern;
pub use output::{Delivery, HostAction, Target, WebhookShape};
pub use watcher::{Watcher, reload_change};

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use utoipa::ToSchema;

use self::bindings::{Binding, Warm, merged_config};
use self::registry::{Loaded, Registry};
use self::sandbox::{CallContext, CallerScope, Fault, HttpAccess, Request, Response, Sandbox, WebhookBody, wit};
pub use self::sandbox::{MAX_QUEUED, MAX_SEND_JSON, MediaAccess};
use crate::auth::{Identity, TenantDirectory};
use crate::config::PluginsConfig;
use crate::events::Event;
use crate::quotas::Rates;
use crate::store::{self as db, StoreError, plugins as stored};

#[derive(Debug, Error)]
pub enum PluginError {
    #[error("plugin '{0}' is not loaded")]
    NotLoaded(String),
    #[error("plugin '{0}' is not bound for this tenant")]
    NotBound(String),
    #[error("{0}")]
    ConfigRefused(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PluginStatus {
    /// A version is serving.
    Loaded,
    /// No version serves: the folder never held a valid plugin.
    Failed,
}

/// A plugin as the operator sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginInfo {
    pub name: String,
    pub status: PluginStatus,
    pub version: Option<String>,
    pub description: Option<String>,
    pub hooks: Vec<Hook>,
    pub capabilities: Vec<Capability>,
    /// Why the last new version was refused (the serving one, if any, stayed).
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub loaded_at: Option<DateTime<Utc>>,
    /// Whether the serving version came from the compiled-artifact cache.
    pub from_cache: Option<bool>,
    /// Time to read, compile or load from cache, and type-check the serving version.
    pub load_ms: Option<f64>,
    pub sha256: Option<String>,
    /// The `wagate:plugin` contract the serving version is built against (`1.0.0`, or
    /// `0.3.0` served through the adapter).
    pub contract: Option<String>,
    /// The JSON Schema of the plugin's config, when it declares one (a UI renders a form).
    #[schema(value_type = Option<Object>)]
    pub config_schema: Option<Value>,
    /// Per hook: calls, errors, p50/p99 call time over the recent calls.
    pub calls: BTreeMap<Hook, HookView>,
}

/// A loaded plugin as a tenant sees it when choosing what to bind: what it does and how it is
/// configured, nothing of the operator's (files, load errors, other tenants' calls).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginOffer {
    pub name: String,
    pub version: String,
    pub description: String,
    pub hooks: Vec<Hook>,
    pub capabilities: Vec<Capability>,
    /// The JSON Schema of its config, when it declares one (the dashboard renders a form).
    #[schema(value_type = Option<Object>)]
    pub config_schema: Option<Value>,
    /// plugin.toml's defaults, under each binding's own config.
    #[schema(value_type = Object)]
    pub default_config: Value,
    /// Hosts it may send HTTP requests to, as its plugin.toml says (`http:outbound`); a
    /// binding's `allowedHosts` and the operator narrow them.
    #[schema(value_type = Vec<String>)]
    pub http_hosts: Vec<HostPattern>,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq)]
pub enum ReloadOutcome {
    Loaded { version: String },
    Unchanged,
    Unloaded,
    Refused(String),
    Missing,
}

/// Which of a tenant's bots: those that may wait on HTTP requests (`http:outbound`) run on
/// lanes of their own, so their waits hold up no other bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotLane {
    Local,
    Calling,
}

/// What one bot asked for on an event (its messages carry its name as their origin).
#[derive(Debug)]
pub struct BotAnswer {
    pub plugin: String,
    pub actions: Vec<HostAction>,
}

/// A tenant's request to bind (or re-bind) a plugin.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BindRequest {
    /// Default true.
    pub enabled: Option<bool>,
    /// JSON object, merged over the plugin's defaults; checked by the plugin's `init`.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Bindings run in ascending priority (default 100), then by name.
    pub priority: Option<i64>,
    /// Default `passthrough`.
    pub on_error: Option<OnError>,
    /// Hosts the binding may send HTTP requests to (`api.openai.com`, `*.example.com`,
    /// `host:port`, `*`), within what the plugin's plugin.toml and the operator allow; only
    /// for plugins granted `http:outbound`. Default: none.
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_hosts: Option<Vec<HostPattern>>,
}

/// The result of running the tenant's transform plugins on an event.
#[derive(Debug, Default)]
pub struct Transformed {
    pub deliveries: Vec<Delivery>,
    /// Also deliver the event in the canonical dialect (no transform bound, or one failed
    /// with `onError: passthrough`).
    pub canonical: bool,
}

struct Inner {
    registry: Registry,
    db: db::Store,
    cfg: PluginsConfig,
    bindings: RwLock<HashMap<String, Vec<Arc<Binding>>>>,
    reload_lock: tokio::sync::Mutex<()>,
    /// Where a plugin's kv and log quotas come from (the tenant's limits, the log rate).
    directory: TenantDirectory,
    rates: Rates,
    media: MediaAccess,
    clock: clock::PluginClock,
    exported: metrics::Exported,
    outbound: outbound::Outbound,
}

#[derive(Clone)]
pub struct Plugins {
    inner: Arc<Inner>,
}

impl Plugins {
    /// Prepares the runtime, loads the stored bindings and every plugin folder.
    pub async fn start(
        cfg: PluginsConfig,
        cache_dir: PathBuf,
        db: db::Store,
        directory: TenantDirectory,
        rates: Rates,
        media: MediaAccess,
    ) -> Result<Self, String> {
        std::fs::create_dir_all(&cfg.dir)
            .map_err(|e| format!("cannot create plugins dir {}: {e}", cfg.dir.display()))?;
        let sandbox = Sandbox::new(&cfg).map_err(|e| format!("plugin runtime: {e:#}"))?;
        let outbound = outbound::Outbound::new(&cfg.http).map_err(|e| format!("plugin http client: {e}"))?;
        let registry = Registry::new(sandbox, cfg.dir.clone(), cache_dir);
        let mut by_tenant: HashMap<String, Vec<Arc<Binding>>> = HashMap::new();
        let cooldown = Duration::from_millis(cfg.breaker_cooldown_ms);
        for row in stored::all(db.pool()).await.map_err(|e| e.to_string())? {
            let b = Binding::from_row(row, cfg.breaker_threshold, cooldown);
            by_tenant.entry(b.tenant.clone()).or_default().push(Arc::new(b));
        }
        let plugins = Self {
            inner: Arc::new(Inner {
                registry,
                db,
                cfg,
                bindings: RwLock::new(by_tenant),
                reload_lock: Default::default(),
                directory,
                rates,
                media,
                clock: Default::default(),
                exported: Default::default(),
                outbound,
            }),
        };
        for name in plugins.inner.registry.folders() {
            plugins.reload(&name).await;
        }
        Ok(plugins)
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.inner.cfg.dir
    }

    fn sandbox(&self) -> &Sandbox {
        &self.inner.registry.sandbox
    }

    /// (Re)loads folder `name`: a new version is compiled off the async runtime, type-checked,
    /// and `init` is run with every enabled binding's config before it is swapped in. A folder
    /// that is gone unloads the plugin. One reload runs at a time.
    pub async fn reload(&self, name: &str) -> ReloadOutcome {
        let outcome = self.load_folder(name).await;
        let counted = match &outcome {
            ReloadOutcome::Loaded { .. } => "loaded",
            ReloadOutcome::Unchanged => "unchanged",
            ReloadOutcome::Unloaded => "unloaded",
            ReloadOutcome::Refused(_) => "refused",
            // A name that never was a plugin is not a series.
            ReloadOutcome::Missing => return outcome,
        };
        self.inner.exported.load(name, counted);
        outcome
    }

    /// Adds the plugins' Prometheus series (calls, errors, latency, loads) to `registry`.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.inner.exported.register(registry);
    }

    async fn load_folder(&self, name: &str) -> ReloadOutcome {
        let _one_at_a_time = self.inner.reload_lock.lock().await;
        let registry = &self.inner.registry;
        if !registry.dir.join(name).is_dir() {
            return if registry.unload(name) {
                tracing::info!(plugin = name, "plugin folder removed; unloaded");
                self.drop_instances(name).await;
                ReloadOutcome::Unloaded
            } else {
                ReloadOutcome::Missing
            };
        }
        let inner = self.inner.clone();
        let folder = name.to_owned();
        let built = tokio::task::spawn_blocking(move || inner.registry.build(&folder))
            .await
            .unwrap_or_else(|e| Err(format!("loader crashed: {e}")));
        let mut candidate = match built {
            Ok(c) => c,
            Err(reason) => return self.refuse(name, reason),
        };
        if let Some(current) = registry.current(name)
            && current.sha256 == candidate.loaded.sha256
            && current.manifest.version == candidate.loaded.manifest.version
            && current.manifest.hooks == candidate.loaded.manifest.hooks
            && current.manifest.capabilities == candidate.loaded.manifest.capabilities
            && current.manifest.config == candidate.loaded.manifest.config
        {
            return ReloadOutcome::Unchanged;
        }
        for b in self.bindings_of(name).into_iter().filter(|b| b.enabled) {
            let config = merged_config(&candidate.loaded.manifest.config, &b.config);
            match self
                .sandbox()
                .instantiate(
                    &candidate.loaded.pre,
                    self.context(&b.tenant, &candidate.loaded, &b.allowed_hosts),
                    &config,
                )
                .await
            {
                Ok(Ok(_)) => {}
                Ok(Err(msg)) => {
                    return self.refuse(name, format!("init refused the config of tenant '{}': {msg}", b.tenant));
                }
                Err(fault) => return self.refuse(name, format!("init failed for tenant '{}': {fault}", b.tenant)),
            }
        }
        let probe = self.context("-", &candidate.loaded, &[]);
        candidate.loaded.config_schema = match self.sandbox().config_schema(&candidate.loaded.pre, probe).await {
            Ok(None) => None,
            Ok(Some(text)) => match serde_json::from_str(&text) {
                Ok(schema) => Some(schema),
                Err(e) => return self.refuse(name, format!("the config schema it declares is not JSON: {e}")),
            },
            Err(fault) => return self.refuse(name, format!("asking for its config schema failed: {fault}")),
        };
        let loaded = registry.install(candidate);
        tracing::info!(plugin = name, version = %loaded.manifest.version, from_cache = loaded.from_cache, load_ms = loaded.load_ms, "plugin loaded");
        ReloadOutcome::Loaded { version: loaded.manifest.version.clone() }
    }

    fn refuse(&self, name: &str, reason: String) -> ReloadOutcome {
        tracing::warn!(plugin = name, %reason, "plugin version refused");
        self.inner.registry.refuse(name, reason.clone());
        ReloadOutcome::Refused(reason)
    }

    async fn drop_instances(&self, name: &str) {
        for b in self.bindings_of(name) {
            *b.warm.lock().await = None;
        }
    }

    /// Who an instance acts for; `binding_hosts`: where its binding lets it send requests.
    fn context(&self, tenant: &str, loaded: &Loaded, binding_hosts: &[HostPattern]) -> Arc<CallContext> {
        let http = loaded.manifest.capabilities.contains(&Capability::HttpOutbound).then(|| HttpAccess {
            outbound: self.inner.outbound.clone(),
            plugin_hosts: loaded.manifest.http_hosts.clone().into(),
            binding_hosts: binding_hosts.into(),
            metrics: self.inner.exported.clone(),
        });
        Arc::new(CallContext {
            tenant: tenant.to_owned(),
            plugin: loaded.manifest.name.clone(),
            capabilities: loaded.manifest.capabilities.clone(),
            db: self.inner.db.clone(),
            directory: self.inner.directory.clone(),
            rates: self.inner.rates.clone(),
            dropping_logs: Default::default(),
            media: self.inner.media.clone(),
            clock: self.inner.clock.clone(),
            http,
        })
    }

    /// The time plugins read; the simulator moves it.
    pub fn clock(&self) -> &clock::PluginClock {
        &self.inner.clock
    }

    // ---- what the API shows ----

    pub fn list(&self) -> Vec<PluginInfo> {
        self.inner.registry.with_entries(|entries| entries.iter().map(|(name, e)| info_of(name, e)).collect())
    }

    /// The plugins serving now, as a tenant may see them, by name.
    pub fn catalog(&self) -> Vec<PluginOffer> {
        self.inner.registry.with_entries(|entries| {
            entries
                .iter()
                .filter_map(|(name, e)| {
                    let l = e.current.as_ref()?;
                    Some(PluginOffer {
                        name: name.clone(),
                        version: l.manifest.version.clone(),
                        description: l.manifest.description.clone(),
                        hooks: l.manifest.hooks.iter().copied().collect(),
                        capabilities: l.manifest.capabilities.iter().copied().collect(),
                        config_schema: l.config_schema.clone(),
                        default_config: l.manifest.config.clone(),
                        http_hosts: l.manifest.http_hosts.clone(),
                    })
                })
                .collect()
        })
    }

    pub fn info(&self, name: &str) -> Option<PluginInfo> {
        self.inner.registry.with_entries(|entries| entries.get(name).map(|e| info_of(name, e)))
    }

    fn bindings_of(&self, plugin: &str) -> Vec<Arc<Binding>> {
        let map = self.inner.bindings.read().expect("bindings lock");
        map.values().flatten().filter(|b| b.plugin == plugin).cloned().collect()
    }

    /// Every binding's breaker state, as (tenant, plugin, state) (metrics).
    pub fn breakers(&self) -> Vec<(String, String, BreakerState)> {
        let map = self.inner.bindings.read().expect("bindings lock");
        map.values()
            .flatten()
            .map(|b| (b.tenant.clone(), b.plugin.clone(), b.breaker.lock().expect("breaker lock").view().state))
            .collect()
    }

    pub fn tenant_bindings(&self, tenant: &str) -> Vec<BindingView> {
        let map = self.inner.bindings.read().expect("bindings lock");
        map.get(tenant)
            .map(|list| {
                list.iter()
                    .map(|b| b.view(self.inner.registry.current(&b.plugin).map(|l| l.manifest.version.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Binds (or re-binds) a plugin for a tenant; an enabled binding's config must pass the
    /// plugin's `init` first.
    pub async fn bind(&self, tenant: &str, name: &str, req: BindRequest) -> Result<BindingView, PluginError> {
        let loaded = self.inner.registry.current(name).ok_or_else(|| PluginError::NotLoaded(name.to_owned()))?;
        let config = req.config.unwrap_or_else(|| Value::Object(Default::default()));
        if !config.is_object() {
            return Err(PluginError::Invalid("config must be a JSON object".into()));
        }
        let priority = req.priority.unwrap_or(100);
        if !(-1000..=1000).contains(&priority) {
            return Err(PluginError::Invalid("priority must be between -1000 and 1000".into()));
        }
        let allowed_hosts = req.allowed_hosts.unwrap_or_default();
        if allowed_hosts.len() > outbound::MAX_BINDING_HOSTS {
            return Err(PluginError::Invalid(format!(
                "allowedHosts lists at most {} hosts",
                outbound::MAX_BINDING_HOSTS
            )));
        }
        if !allowed_hosts.is_empty() && !loaded.manifest.capabilities.contains(&Capability::HttpOutbound) {
            return Err(PluginError::Invalid(format!(
                "allowedHosts: the plugin '{name}' sends no HTTP requests (it is not granted 'http:outbound')"
            )));
        }
        let enabled = req.enabled.unwrap_or(true);
        if enabled {
            let merged = merged_config(&loaded.manifest.config, &config);
            let ctx = self.context(tenant, &loaded, &allowed_hosts);
            match self.sandbox().instantiate(&loaded.pre, ctx, &merged).await {
                Ok(Ok(_)) => {}
                Ok(Err(msg)) => return Err(PluginError::ConfigRefused(msg)),
                Err(fault) => {
                    return Err(PluginError::ConfigRefused(format!(
                        "the plugin failed while checking the config: {fault}"
                    )));
                }
            }
        }
        let now = Utc::now();
        let created_at = self
            .inner
            .bindings
            .read()
            .expect("bindings lock")
            .get(tenant)
            .and_then(|l| l.iter().find(|b| b.plugin == name).map(|b| b.created_at))
            .unwrap_or(now);
        let on_error = req.on_error.unwrap_or_default();
        let row = stored::BindingRow {
            tenant_id: tenant.to_owned(),
            plugin: name.to_owned(),
            enabled,
            config: config.to_string(),
            priority,
            on_error: match on_error {
                OnError::Passthrough => "passthrough".into(),
                OnError::Drop => "drop".into(),
            },
            allowed_hosts: serde_json::to_string(&allowed_hosts).expect("patterns serialise"),
            created_at,
            updated_at: now,
        };
        let mut w = self.inner.db.begin_write().await?;
        stored::upsert(&mut w, &row).await?;
        w.commit().await?;
        let cfg = &self.inner.cfg;
        let binding =
            Arc::new(Binding::from_row(row, cfg.breaker_threshold, Duration::from_millis(cfg.breaker_cooldown_ms)));
        let view = binding.view(Some(loaded.manifest.version.clone()));
        let mut map = self.inner.bindings.write().expect("bindings lock");
        let list = map.entry(tenant.to_owned()).or_default();
        list.retain(|b| b.plugin != name);
        list.push(binding);
        list.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.plugin.cmp(&b.plugin)));
        Ok(view)
    }

    pub async fn unbind(&self, tenant: &str, name: &str) -> Result<(), PluginError> {
        let mut w = self.inner.db.begin_write().await?;
        if !stored::delete(&mut w, tenant, name).await? {
            return Err(PluginError::NotBound(name.to_owned()));
        }
        w.commit().await?;
        if let Some(list) = self.inner.bindings.write().expect("bindings lock").get_mut(tenant) {
            list.retain(|b| b.plugin != name);
        }
        Ok(())
    }

    /// Another node changed the tenant's bindings: this node's follow the store. A binding
    /// whose row did not change is kept as it is (its breaker, its warm instance).
    pub async fn reload_bindings(&self, tenant: &str) -> Result<(), PluginError> {
        let rows = stored::for_tenant(self.inner.db.pool(), tenant).await?;
        let cfg = &self.inner.cfg;
        let mut map = self.inner.bindings.write().expect("bindings lock");
        let before = map.remove(tenant).unwrap_or_default();
        let mut list: Vec<Arc<Binding>> = rows
            .into_iter()
            .map(|row| match before.iter().find(|b| b.plugin == row.plugin && b.updated_at == row.updated_at) {
                Some(same) => same.clone(),
                None => Arc::new(Binding::from_row(
                    row,
                    cfg.breaker_threshold,
                    Duration::from_millis(cfg.breaker_cooldown_ms),
                )),
            })
            .collect();
        list.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.plugin.cmp(&b.plugin)));
        if !list.is_empty() {
            map.insert(tenant.to_owned(), list);
        }
        Ok(())
    }

    /// Forgets a deleted tenant's bindings (the store cascades).
    pub fn forget_tenant(&self, tenant: &str) {
        self.inner.bindings.write().expect("bindings lock").remove(tenant);
    }

    // ---- dispatch ----

    /// Enabled bindings of the tenant whose loaded plugin implements `hook`, in order.
    fn bound(&self, tenant: &str, hook: Hook) -> Vec<Arc<Binding>> {
        self.bound_where(tenant, |m| m.hooks.contains(&hook))
    }

    /// Enabled bindings of the tenant whose loaded plugin's manifest passes `keep`, in order:
    /// one look-up of each plugin, whatever `keep` asks of it.
    fn bound_where(&self, tenant: &str, keep: impl Fn(&Manifest) -> bool) -> Vec<Arc<Binding>> {
        let map = self.inner.bindings.read().expect("bindings lock");
        let Some(list) = map.get(tenant) else { return Vec::new() };
        list.iter()
            .filter(|b| b.enabled)
            .filter(|b| self.inner.registry.current(&b.plugin).is_some_and(|l| keep(&l.manifest)))
            .cloned()
            .collect()
    }

    pub fn has_hook(&self, tenant: &str, hook: Hook) -> bool {
        !self.bound(tenant, hook).is_empty()
    }

    /// The tenant's bots that run on `lane`, in order.
    fn bots_on(&self, tenant: &str, lane: BotLane) -> Vec<Arc<Binding>> {
        self.bound_where(tenant, |m| {
            m.hooks.contains(&Hook::Bot)
                && m.capabilities.contains(&Capability::HttpOutbound) == (lane == BotLane::Calling)
        })
    }

    /// Whether the tenant has a bot on `lane`.
    pub fn has_bots(&self, tenant: &str, lane: BotLane) -> bool {
        !self.bots_on(tenant, lane).is_empty()
    }

    /// One call of a binding's plugin, on its warm instance (made fresh after a fault, a new
    /// version, or `recycle_after_calls` calls). `check` validates the answer; a failed check
    /// is a fault like a trap. `None`: the plugin failed or its breaker is open.
    async fn invoke<T>(
        &self,
        b: &Binding,
        hook: Hook,
        req: Request<'_>,
        check: impl FnOnce(Response) -> Result<T, Fault>,
    ) -> Option<T> {
        let (loaded, metrics) = self.inner.registry.serving(&b.plugin)?;
        if !b.breaker.lock().expect("breaker lock").allow() {
            return None;
        }
        let started = Instant::now();
        let mut warm = b.warm.lock().await;
        let stale = warm
            .as_ref()
            .is_none_or(|w| w.loaded_id != loaded.id || w.instance.calls >= self.inner.cfg.recycle_after_calls);
        if stale {
            *warm = None;
        }
        let result = async {
            if warm.is_none() {
                let config = merged_config(&loaded.manifest.config, &b.config);
                let instance = self
                    .sandbox()
                    .instantiate(&loaded.pre, self.context(&b.tenant, &loaded, &b.allowed_hosts), &config)
                    .await?
                    .map_err(|msg| Fault::Instantiate(format!("init refused the config: {msg}")))?;
                *warm = Some(Warm { loaded_id: loaded.id, instance });
            }
            let instance = &mut warm.as_mut().expect("instantiated above").instance;
            check(instance.call(&req).await?)
        }
        .await;
        if result.is_err() {
            // A trap leaves the instance unusable, and bad output may mean bad state: start over.
            *warm = None;
        }
        drop(warm);
        let took = started.elapsed();
        metrics.record(hook, took, req.events(), result.is_err());
        b.calls.record(hook, took, req.events(), result.is_err());
        self.inner.exported.call(&b.plugin, hook, took, req.events(), result.is_err());
        let mut breaker = b.breaker.lock().expect("breaker lock");
        match result {
            Ok(v) => {
                breaker.success();
                Some(v)
            }
            Err(fault) => {
                tracing::warn!(tenant = %b.tenant, plugin = %b.plugin, ?hook, %fault, "plugin fault");
                breaker.fault(fault.to_string());
                None
            }
        }
    }

    /// The tenant's transform plugins on a canonical event, in priority order.
    pub async fn transform(&self, ev: &Event) -> Transformed {
        self.transform_many(&[ev]).await.pop().expect("one answer per event")
    }

    /// [`Self::transform`] for events in commit order, one answer per event in the same order.
    /// A tenant's events share calls (`transform-batch`, sized per binding by
    /// [`Binding::batch_limit`]); when a batch faults, every event in it takes the binding's
    /// `onError` and the breaker counts one fault. Events are never replayed one by one: a
    /// plugin with state would see them twice.
    pub async fn transform_many<E: Borrow<Event>>(&self, events: &[E]) -> Vec<Transformed> {
        let mut out: Vec<Transformed> = events.iter().map(|_| Transformed::default()).collect();
        let mut by_tenant: Vec<(&str, Vec<usize>)> = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            let tenant = ev.borrow().tenant_id.as_str();
            match by_tenant.iter_mut().find(|(t, _)| *t == tenant) {
                Some((_, indices)) => indices.push(i),
                None => by_tenant.push((tenant, vec![i])),
            }
        }
        let deadline = Duration::from_millis(self.inner.cfg.call_timeout_ms);
        for (tenant, indices) in by_tenant {
            let bindings = self.bound(tenant, Hook::Transform);
            if bindings.is_empty() {
                indices.iter().for_each(|&i| out[i].canonical = true);
                continue;
            }
            let inputs: Vec<wit::Event> = indices.iter().map(|&i| wit_event(events[i].borrow())).collect();
            for b in bindings {
                let limit = b.batch_limit(deadline);
                for (slots, batch) in indices.chunks(limit).zip(inputs.chunks(limit)) {
                    let started = Instant::now();
                    let answer = self.transform_batch(&b, batch).await;
                    b.observe_transform(answer.as_ref().map(|_| started.elapsed()), batch.len());
                    match answer {
                        Some(per_event) => {
                            for (&i, deliveries) in slots.iter().zip(per_event) {
                                out[i].deliveries.extend(deliveries);
                            }
                        }
                        None if b.on_error == OnError::Passthrough => {
                            slots.iter().for_each(|&i| out[i].canonical = true)
                        }
                        None => {}
                    }
                }
            }
        }
        out
    }

    /// One binding on a batch of one tenant's events: a single event goes through `transform`,
    /// more through `transform-batch`, whose answer must hold one list per event.
    async fn transform_batch(&self, b: &Binding, batch: &[wit::Event]) -> Option<Vec<Vec<Delivery>>> {
        let check = |r| match r {
            Response::Emits(e) if batch.len() == 1 => Ok(vec![output::emits(&b.tenant, e)?]),
            Response::EmitBatches(lists) => output::emit_lists(&b.tenant, lists, batch.len()),
            _ => Err(Fault::BadOutput("unexpected answer".into())),
        };
        let req = match batch {
            [one] => Request::Transform(one),
            many => Request::TransformBatch(many),
        };
        self.invoke(b, Hook::Transform, req, check).await
    }

    /// The body of a webhook delivery of `ev`, for endpoints that take plugin bodies: the
    /// tenant's `webhook` bindings in priority order, the first with an opinion deciding. A
    /// binding that fails decides by its `onError`: `passthrough` leaves it to the next,
    /// `drop` skips the delivery.
    pub async fn webhook(&self, ev: &Event) -> WebhookShape {
        let bindings = self.bound(&ev.tenant_id, Hook::Webhook);
        if bindings.is_empty() {
            return WebhookShape::Canonical;
        }
        let event = wit_event(ev);
        for b in bindings {
            // `None`: no opinion, the next binding decides.
            let check = |r| match r {
                Response::WebhookBody(WebhookBody::Body(body)) => {
                    output::webhook_body(&body).map(|()| Some(WebhookShape::Body { plugin: b.plugin.clone(), body }))
                }
                Response::WebhookBody(WebhookBody::Skip) => {
                    Ok(Some(WebhookShape::Skipped { plugin: b.plugin.clone() }))
                }
                Response::WebhookBody(WebhookBody::Canonical) => Ok(None),
                _ => Err(Fault::BadOutput("unexpected answer".into())),
            };
            match self.invoke(&b, Hook::Webhook, Request::Webhook(&event), check).await {
                Some(Some(decided)) => return decided,
                Some(None) => {}
                None if b.on_error == OnError::Passthrough => {}
                None => return WebhookShape::Skipped { plugin: b.plugin.clone() },
            }
        }
        WebhookShape::Canonical
    }

    /// The tenant's bots of `lane` on a canonical event: what each asks for, in order.
    pub async fn bots(&self, ev: &Event, lane: BotLane) -> Vec<BotAnswer> {
        let bindings = self.bots_on(&ev.tenant_id, lane);
        if bindings.is_empty() {
            return Vec::new();
        }
        let event = wit_event(ev);
        let mut out = Vec::new();
        for b in bindings {
            let check = |r| match r {
                Response::Actions(a, queued) => output::actions(&b.tenant, a, false).map(|mut v| {
                    v.extend(queued);
                    v
                }),
                _ => Err(Fault::BadOutput("unexpected answer".into())),
            };
            let actions = self.invoke(&b, Hook::Bot, Request::OnEvent(&event), check).await.unwrap_or_default();
            out.push(BotAnswer { plugin: b.plugin.clone(), actions });
        }
        out
    }

    /// An event a socket sent, through the tenant's client-event plugins. `None`: no plugin
    /// handles client events for this tenant.
    pub async fn client_event(&self, caller: &Identity, name: &str, payload: &Value) -> Option<Vec<HostAction>> {
        let bindings = self.bound(&caller.tenant, Hook::ClientEvents);
        if bindings.is_empty() {
            return None;
        }
        let who = wit_identity(caller);
        let event = wit::ClientEvent { name: name.to_owned(), payload: payload.to_string() };
        let access = self.inner.directory.session_access(&caller.tenant).unwrap_or(crate::auth::SessionAccess::Listed);
        let scope = Arc::new(CallerScope { identity: caller.clone(), access });
        let mut out = Vec::new();
        for b in bindings {
            let check = |r| match r {
                Response::Actions(a, queued) => output::actions(&b.tenant, a, true).map(|mut v| {
                    v.extend(queued);
                    v
                }),
                _ => Err(Fault::BadOutput("unexpected answer".into())),
            };
            let req = Request::ClientEvent { caller: &who, event: &event, scope: &scope };
            out.extend(self.invoke(&b, Hook::ClientEvents, req, check).await.unwrap_or_default());
        }
        Some(out)
    }

    /// The tenant's auth plugins shape a verified identity, in order. `Err` is the refusal
    /// the client sees. The tenant itself can never be changed by a plugin.
    pub async fn map_auth(&self, mut identity: Identity) -> Result<Identity, String> {
        let bindings = self.bound(&identity.tenant, Hook::Auth);
        if bindings.is_empty() {
            return Ok(identity);
        }
        let claims = identity.claims.to_string();
        for b in bindings {
            let current = wit_identity(&identity);
            let tenant = identity.tenant.clone();
            let check = |r| match r {
                Response::Identity(Ok(i)) => {
                    if i.rooms.len() > 64 {
                        return Err(Fault::BadOutput("more than 64 rooms".into()));
                    }
                    for room in &i.rooms {
                        output::plugin_room(&tenant, room)?;
                    }
                    let attributes = output::attributes(&i.attributes)?;
                    Ok(Ok((i, attributes)))
                }
                Response::Identity(Err(msg)) => Ok(Err(msg)),
                _ => Err(Fault::BadOutput("unexpected answer".into())),
            };
            let req = Request::MapAuth { claims: &claims, identity: &current };
            match self.invoke(&b, Hook::Auth, req, check).await {
                Some(Ok((i, attributes))) => {
                    identity.user = i.user;
                    identity.roles = i.roles;
                    identity.rooms = i.rooms;
                    identity.attributes = attributes;
                }
                Some(Err(refusal)) => return Err(refusal),
                None if b.on_error == OnError::Passthrough => {}
                None => return Err("authentication plugin failed".into()),
            }
        }
        Ok(identity)
    }
}

fn wit_event(ev: &Event) -> wit::Event {
    wit::Event {
        name: ev.name().to_owned(),
        tenant: ev.tenant_id.clone(),
        session: ev.session_id.clone(),
        seq: ev.seq,
        payload: serde_json::to_string(ev).expect("an event serialises"),
    }
}

fn wit_identity(i: &Identity) -> wit::Identity {
    wit::Identity {
        tenant: i.tenant.clone(),
        user: i.user.clone(),
        roles: i.roles.clone(),
        rooms: i.rooms.clone(),
        attributes: i.attributes.to_string(),
    }
}

fn info_of(name: &str, e: &registry::Entry) -> PluginInfo {
    let current = e.current.as_ref();
    PluginInfo {
        name: name.to_owned(),
        status: if current.is_some() { PluginStatus::Loaded } else { PluginStatus::Failed },
        version: current.map(|l| l.manifest.version.clone()),
        description: current.map(|l| l.manifest.description.clone()),
        hooks: current.map(|l| l.manifest.hooks.iter().copied().collect()).unwrap_or_default(),
        capabilities: current.map(|l| l.manifest.capabilities.iter().copied().collect()).unwrap_or_default(),
        last_error: e.last_error.as_ref().map(|(m, _)| m.clone()),
        last_error_at: e.last_error.as_ref().map(|(_, t)| *t),
        loaded_at: current.map(|l| l.loaded_at),
        from_cache: current.map(|l| l.from_cache),
        load_ms: current.map(|l| l.load_ms),
        sha256: current.map(|l| l.sha256.clone()),
        contract: current.map(|l| l.pre.contract().version().to_owned()),
        config_schema: current.and_then(|l| l.config_schema.clone()),
        calls: e.metrics.view(),
    }
}
