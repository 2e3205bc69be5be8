//! Builds the gateway from its configuration and runs it: store -> sessions -> events ->
//! realtime/api, all in one process.

use crate::cluster::feed::Feed;
use crate::cluster::notices::{Followers, Notices};
use crate::cluster::rooms::RoomRelay;
use crate::store::leases::{NodeProfile, ServedPlugin};
use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use socketioxide::SocketIo;
use thiserror::Error;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::auth::{AdminKey, Revocations, TenantDirectory, hash_key, new_admin_key};
use crate::config::Config;
use crate::connector::Connector;
use crate::connector::sim::{SimConnector, SimWorld};
use crate::events::{EventBus, Journal, spawn_stats_publisher};
use crate::media::MediaStore;
use crate::metrics::Metrics;
use crate::metrics::requests::RequestMetrics;
use crate::plugins::{Plugins, Watcher};
use crate::quotas::{Connections, Rates};
use crate::realtime::{self, Realtime};
use crate::sessions::{SessionError, Sessions};
use crate::store::{Store, StoreError, settings};
use crate::webhooks::Webhooks;

#[derive(Debug, Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("cannot create or secure data directory {0}: {1}")]
    DataDir(std::path::PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sessions(#[from] SessionError),
    #[error("cannot serve: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Plugins(String),
    #[error(transparent)]
    Media(#[from] crate::media::MediaStoreError),
    #[error("media fetching: {0}")]
    MediaFetch(#[from] crate::media::fetch::FetchError),
    #[error(transparent)]
    Forwarding(#[from] crate::api::ForwardClientError),
}

const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Rate state of keys that went quiet is dropped this often, so it cannot pile up.
const RATE_PRUNE_EVERY: Duration = Duration::from_secs(60);

fn spawn_rate_pruning(rates: Rates) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RATE_PRUNE_EVERY);
        loop {
            tick.tick().await;
            rates.forget_idle();
        }
    })
}

pub struct Gateway {
    pub state: AppState,
    pub io: SocketIo,
    /// Committed canonical events, for in-process consumers.
    pub bus: EventBus,
    /// What this node's sockets are given: the bus alone, every node's events in a cluster.
    pub delivered: EventBus,
    /// Set when this start generated the admin key: the only time it is ever shown.
    pub new_admin_key: Option<String>,
    router: Router,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// In a cluster, where the other nodes forward requests for this node's sessions.
    advertised: Arc<OnceLock<String>>,
    _watcher: Option<Watcher>,
}

/// The admin key from the config, else the stored one, else a new one (stored as a hash).
async fn admin_key(config: &Config, store: &Store) -> Result<(AdminKey, Option<String>), StoreError> {
    if let Some(key) = &config.admin_key {
        return Ok((AdminKey::from_plain(key), None));
    }
    if let Some(hash) = settings::get(store.pool(), settings::ADMIN_KEY_HASH).await? {
        return Ok((AdminKey::from_hash(hash), None));
    }
    let key = new_admin_key();
    let mut w = store.begin_write().await?;
    settings::set(&mut w, settings::ADMIN_KEY_HASH, &hash_key(&key)).await?;
    w.commit().await?;
    Ok((AdminKey::from_plain(&key), Some(key)))
}

impl Gateway {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        config.check().map_err(|e| StartError::Config(e.to_string()))?;
        let repaired =
            crate::data_dir::secure(&config.data_dir).map_err(|e| StartError::DataDir(config.data_dir.clone(), e))?;
        for path in &repaired.paths {
            tracing::warn!(path = %path.display(), "data directory entry was readable by other users; made private");
        }
        let store = Store::open(&config.database_url(), config.database_schema.as_deref()).await?;
        let (admin_key, new_admin_key) = admin_key(&config, &store).await?;
        let directory = TenantDirectory::load(store.pool(), config.quotas).await?;
        let rates = Rates::default();

        let bus = EventBus::default();
        let node = crate::sessions::Node::from_config(&config.cluster);
        let schema = config.database_schema.as_deref();
        let feed = Feed::listen(node.as_ref().map(|n| n.id.as_str()), &store, schema, &bus).await?;
        let mut journal = Journal::new(bus.clone(), crate::webhooks::routes(&config.webhooks));
        if let Some(feed) = &feed {
            journal = journal.announcing(feed.announcer());
        }
        let sim = SimWorld::new(config.sim.clone());
        let mut connectors: HashMap<String, Arc<dyn Connector>> = HashMap::new();
        if config.sim.enabled {
            tracing::warn!("the simulator is enabled: any tenant credential can fake a phone (sim.enabled)");
            connectors.insert("sim".into(), Arc::new(SimConnector::new(sim.clone(), config.sessions.clone())));
        }
        #[cfg(feature = "whatsapp")]
        connectors.insert(
            "whatsapp".into(),
            Arc::new(crate::connector::whatsapp::WhatsAppConnector::new(
                &config.data_dir,
                Duration::from_millis(config.sessions.connect_timeout_ms),
                &store,
            )),
        );
        let default_connector = config.default_connector();
        if !connectors.contains_key(&default_connector) {
            return Err(StartError::Config(format!(
                "default connector '{default_connector}' is not available in this build or configuration"
            )));
        }
        let media = MediaStore::from_config(&config)?;
        let fetcher = crate::media::fetch::Fetcher::new(&config.media.fetch)?;
        let media_links = crate::media::links::MediaLinks::load(&store).await?;
        let sessions = Sessions::new(
            store.clone(),
            media.clone(),
            fetcher,
            journal.clone(),
            connectors,
            default_connector,
            config.sessions.clone(),
            config.send_queue.policy(),
            node,
        );
        let plugins = Plugins::start(
            config.plugins.clone(),
            config.plugins.cache_dir.clone().unwrap_or_else(|| config.data_dir.join("plugin-cache")),
            store.clone(),
            directory.clone(),
            rates.clone(),
            crate::plugins::MediaAccess { links: media_links.clone(), default_ttl_secs: config.media.link_ttl_secs },
        )
        .await
        .map_err(StartError::Plugins)?;
        // After the plugins: what was pending at the last stop may need them for its body.
        let webhooks = Webhooks::start(
            store.clone(),
            journal.clone(),
            plugins.clone(),
            directory.clone(),
            config.webhooks.clone(),
            config.cluster.enabled,
        )
        .await?;
        let audit = crate::audit::Audit::new(store.clone());
        let watcher = match config.plugins.watch {
            true => Some(
                plugins
                    .watch(Duration::from_millis(config.plugins.debounce_ms), audit.clone())
                    .map_err(StartError::Plugins)?,
            ),
            false => None,
        };

        if let Some(tenant) = &config.auth.dev_no_auth_tenant {
            tracing::warn!(%tenant, "DEVELOPMENT MODE: sockets without a token are admitted to this tenant");
        }
        let marks = realtime::resume::Marks::load(&store).await?;
        let relay = RoomRelay::new(sessions.node_id(), &store, config.database_schema.as_deref());
        let connections = Connections::default();
        let rt = Realtime {
            directory: directory.clone(),
            sessions: sessions.clone(),
            plugins: plugins.clone(),
            leeway_secs: config.auth.leeway_secs,
            token_cookie: config.auth.token_cookie.clone(),
            cookie_origins: realtime::handshake::CookieOrigins::from_cors(&config.cors_origins),
            connections: connections.clone(),
            rates: rates.clone(),
            dev_no_auth_tenant: config.auth.dev_no_auth_tenant.clone(),
            store: store.clone(),
            marks: marks.clone(),
            relay: relay.clone(),
        };
        let rt_for_guard = rt.clone();
        let (sio_layer, io) = realtime::build(rt, config.max_body_bytes, config.events.socket_buffer);
        let revocations = Revocations::default();
        let fanout_metrics = realtime::FanoutMetrics::default();
        let requests = RequestMetrics::default();
        let metrics = Arc::new(Metrics::new(
            |registry| {
                requests.register(registry);
                bus.register_metrics(registry);
                fanout_metrics.register(registry);
                plugins.register_metrics(registry);
                store.register_metrics(registry);
                sessions.register_metrics(registry);
            },
            crate::metrics::Sources {
                store: store.clone(),
                io: io.clone(),
                plugins: plugins.clone(),
                sessions: sessions.clone(),
            },
        ));
        // In a cluster the fan-out takes the events of every node, in order, from the feed.
        let (delivered, feeding) = match feed {
            Some(feed) => {
                let out = bus.relay();
                let flushing = sessions.flush_remote_sends(out.subscribe("remote-sends"));
                let task = feed.spawn(marks.emitted_all(), out.clone(), journal.tail().clone());
                (out, vec![task, flushing])
            }
            None => (bus.clone(), Vec::new()),
        };
        let mut tasks = vec![
            realtime::spawn_guard(io.clone(), rt_for_guard, &revocations),
            realtime::spawn_fanout(
                io.clone(),
                plugins.clone(),
                marks,
                store.clone(),
                &delivered,
                config.events.lane_depth,
                fanout_metrics,
            ),
            realtime::spawn_bots(
                io.clone(),
                plugins.clone(),
                sessions.clone(),
                relay.clone(),
                &bus,
                config.events.lane_depth,
            ),
            spawn_rate_pruning(rates.clone()),
            crate::events::retention::spawn_pruning(store.clone(), config.events.clone()),
            crate::audit::spawn_pruning(store.clone(), config.audit.clone()),
            spawn_stats_publisher(
                store.clone(),
                journal.clone(),
                Duration::from_millis(config.events.stats_interval_ms),
            ),
        ];
        tasks.extend(feeding);
        let relayed_io = io.clone();
        tasks.extend(relay.spawn_listener(move |d| {
            let io = relayed_io.clone();
            async move { realtime::deliver(&io, d).await }
        }));
        if config.media.retention_secs > 0 {
            let retention = Duration::from_secs(config.media.retention_secs);
            tasks.push(crate::media::retention::spawn(store.clone(), media.clone(), retention));
        }

        let config = Arc::new(config);
        let notices = Notices::new(sessions.node_id(), &store, config.database_schema.as_deref());
        let followers = Followers {
            store: store.clone(),
            directory: directory.clone(),
            webhooks: webhooks.clone(),
            plugins: plugins.clone(),
            revocations: revocations.clone(),
        };
        tasks.extend(notices.spawn_listener(followers));
        // What this node says of itself to the others: where to forward (known once it
        // listens) and the plugin builds it serves.
        let advertised: Arc<OnceLock<String>> = Arc::default();
        if let Some(node) = sessions.node() {
            let (plugins, advertised) = (plugins.clone(), advertised.clone());
            node.describe_with(move || NodeProfile {
                url: advertised.get().cloned(),
                plugins: plugins
                    .list()
                    .into_iter()
                    .filter(|p| p.sha256.is_some())
                    .map(|p| ServedPlugin { name: p.name, version: p.version, sha256: p.sha256 })
                    .collect(),
            });
        }
        let forwarder = api::Forwarder::new(sessions.node_id(), &store, config.max_body_bytes)?;
        let state = AppState {
            notices,
            config: config.clone(),
            store,
            media,
            media_links,
            directory,
            sessions,
            sim,
            admin_key,
            plugins,
            revocations,
            rates,
            webhooks,
            journal_tail: journal.tail().clone(),
            connections,
            audit,
            metrics,
            requests,
        };
        // One Socket.IO service in front of the whole router: `Router::layer` would build a
        // separate engine (session table) per route, and polling requests would get lost.
        let with_sio = Router::new().fallback_service(
            tower::ServiceBuilder::new()
                .map_request(realtime::request::owned)
                .layer(sio_layer)
                .service(api::router(state.clone(), forwarder)),
        );
        let router = api::outer_layers(with_sio, config.max_body_bytes, &config.cors_origins);
        Ok(Self { state, io, bus, delivered, new_admin_key, router, tasks, advertised, _watcher: watcher })
    }

    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Where the other nodes reach this one: `cluster.advertise_url`, else the address it
    /// listens on when that is a specific one.
    fn advertise(&self, listener: &TcpListener) {
        let listening = listener.local_addr().ok().filter(|a| !a.ip().is_unspecified());
        let url = self.state.config.cluster.advertise_url.clone().or_else(|| listening.map(|a| format!("http://{a}")));
        match url {
            Some(url) => {
                tracing::info!(%url, "other nodes forward requests for this node's sessions here");
                let _ = self.advertised.set(url);
            }
            None => tracing::warn!(
                "listening on every address without cluster.advertise_url: requests for this node's sessions made on other nodes are refused (409)"
            ),
        }
    }

    /// Serves until `shutdown` resolves, then closes every WhatsApp connection without
    /// touching stored statuses, so connected sessions resume on the next start.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        // In cluster mode the rounds of the ownership task resume what this node takes; alone,
        // the node resumes every session that was running.
        if self.state.sessions.node().is_some() {
            self.advertise(&listener);
        }
        if let Some(rounds) = self.state.sessions.spawn_ownership() {
            tracing::info!(node = self.state.sessions.node_id().unwrap_or_default(), "running as a cluster node");
            self.tasks.push(rounds);
        } else {
            let resumed = self.state.sessions.resume_all().await?;
            if resumed > 0 {
                tracing::info!(sessions = resumed, "resuming sessions that were connected");
            }
        }
        // What produces events stops first (the sessions); then Socket.IO connections, which
        // never go idle by themselves, are closed; then HTTP requests in flight get a bounded
        // time to finish.
        let io = self.io.clone();
        let sessions = self.state.sessions.clone();
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        // Nagle would hold each small Socket.IO frame back until the previous one is acked.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
        });
        if let Some(addr) = self.state.config.metrics.listen {
            let metrics_listener = TcpListener::bind(addr).await?;
            tracing::info!(%addr, "metrics listening (no key: keep this address private)");
            let router = api::metrics_router(self.state.metrics.clone());
            self.tasks.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(metrics_listener, router).await {
                    tracing::error!(error = %e, "metrics listener stopped");
                }
            }));
        }
        let server = axum::serve(listener, self.router.clone()).with_graceful_shutdown(async move {
            shutdown.await;
            sessions.shutdown().await;
            io.close().await;
            let _ = stopping_tx.send(());
        });
        tokio::select! {
            result = server.into_future() => result?,
            _ = async {
                let _ = stopping_rx.await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => tracing::warn!("requests still open {SHUTDOWN_GRACE:?} after shutdown began; closing them"),
        }
        // Again: a request during the grace may have started a session's actor.
        self.state.sessions.shutdown().await;
        self.state.webhooks.shutdown();
        for t in &self.tasks {
            t.abort();
        }
        self.state.store.close().await;
        Ok(())
    }
}
