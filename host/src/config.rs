//! Settings: embedded defaults, then an optional TOML file, then `WAGATE_*` environment
//! variables, then command-line flags. Nested keys use `__` in env names
//! (`WAGATE_SESSIONS__QR_FIRST_TTL_MS`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP API and Socket.IO listen on.
    pub listen: SocketAddr,
    /// Where the SQLite file and other state live.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`; defaults to `<data_dir>/wagate.db`.
    pub database_url: Option<String>,
    /// PostgreSQL only: the schema the gateway's tables live in (created if missing), so that
    /// several deployments can share one database; the server's default (`public`) when unset.
    pub database_schema: Option<String>,
    /// Operator key for `/api/v1/tenants`; generated and stored on first start when unset.
    pub admin_key: Option<String>,
    /// tracing filter, e.g. `info,wagate=debug`.
    pub log: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Allowed browser origins for REST and Socket.IO; `*` allows any.
    #[serde(deserialize_with = "comma_list")]
    pub cors_origins: Vec<String>,
    /// Largest accepted request body in bytes; also the largest Socket.IO message on every
    /// transport.
    pub max_body_bytes: usize,
    /// Connector of a new session whose request names none: `sim` when the simulator is
    /// enabled, else `whatsapp`, unless set here.
    pub default_connector: Option<String>,
    pub auth: AuthConfig,
    pub sessions: SessionTimings,
    pub sim: SimConfig,
    pub events: EventsConfig,
    pub plugins: PluginsConfig,
    pub media: MediaConfig,
    pub webhooks: WebhooksConfig,
    pub metrics: MetricsConfig,
    pub audit: AuditConfig,
    /// Default limits of every tenant; the operator overrides them per tenant.
    pub quotas: crate::quotas::Limits,
    /// The send queue's policy for sessions that set none of their own.
    pub send_queue: SendQueueConfig,
    /// Several nodes on one PostgreSQL database, each session run by one of them.
    pub cluster: ClusterConfig,
}

/// Cluster mode (docs/deploy.md): every node runs the sessions whose lease it holds, renews
/// those leases, and takes over its share of the sessions whose node stopped renewing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Run as one node of several sharing the database (a postgres:// `database_url`).
    pub enabled: bool,
    /// This node's name, unique in the cluster. A stable one (a pod's name) lets a restarted
    /// node take its sessions back at once; a random one is drawn at each start when unset.
    pub node_id: Option<String>,
    /// How long a lease lasts unless renewed: a dead node's sessions move after at most this
    /// long plus one renewal interval.
    pub lease_ttl_ms: u64,
    /// How often a node renews its leases and looks for sessions no node holds.
    pub renew_interval_ms: u64,
    /// Where the other nodes reach this one to forward a request for a session it runs
    /// (`http://10.0.0.5:8080`, a pod's address). Unset, a node listening on a specific address
    /// advertises that one; a node listening on every address (`0.0.0.0`) cannot be reached,
    /// and requests for its sessions made on another node are refused with 409.
    pub advertise_url: Option<String>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self { enabled: false, node_id: None, lease_ttl_ms: 6_000, renew_interval_ms: 1_500, advertise_url: None }
    }
}

/// The send queue's default policy (`PUT /api/v1/sessions/{id}/queue` sets a session's own;
/// docs/send-queue.md). Pacing is off unless set; the depth cap always holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendQueueConfig {
    /// Messages handed to WhatsApp per minute per session, evenly spaced; 0 = no limit.
    pub per_minute: u32,
    /// Seconds between two messages to the same chat; 0 = none.
    pub per_recipient_secs: u32,
    /// Random extra delay before each message, up to this many milliseconds.
    pub jitter_ms: u32,
    /// Show "typing..." before each message, `humanlike_ms_per_char` per character (1-8 s).
    pub humanlike: bool,
    pub humanlike_ms_per_char: u32,
    /// Newly linked numbers: at most `warm_up_per_day` messages in any 24 hours during the
    /// first `warm_up_days` days after linking; 0 days = no warm-up cap.
    pub warm_up_days: u32,
    pub warm_up_per_day: u32,
    /// Messages waiting per session before sends are refused (429 with `Retry-After`).
    pub max_depth: u32,
}

impl Default for SendQueueConfig {
    fn default() -> Self {
        let p = crate::model::SendPolicy::default();
        Self {
            per_minute: p.per_minute,
            per_recipient_secs: p.per_recipient_secs,
            jitter_ms: p.jitter_ms,
            humanlike: p.humanlike,
            humanlike_ms_per_char: p.humanlike_ms_per_char,
            warm_up_days: 0,
            warm_up_per_day: 0,
            max_depth: p.max_depth,
        }
    }
}

impl SendQueueConfig {
    pub fn policy(&self) -> crate::model::SendPolicy {
        crate::model::SendPolicy {
            per_minute: self.per_minute,
            per_recipient_secs: self.per_recipient_secs,
            jitter_ms: self.jitter_ms,
            humanlike: self.humanlike,
            humanlike_ms_per_char: self.humanlike_ms_per_char,
            warm_up: (self.warm_up_days > 0)
                .then_some(crate::model::WarmUp { days: self.warm_up_days, per_day: self.warm_up_per_day }),
            max_depth: self.max_depth,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Development only: sockets that present no token at all are admitted as user
    /// `anonymous` of this tenant. Unset (the default) means every socket needs a token.
    pub dev_no_auth_tenant: Option<String>,
    /// Clock skew tolerated on `exp`/`nbf`, in seconds.
    pub leeway_secs: u64,
    /// Lifetime of tokens minted by `POST /api/v1/tokens` when none is asked for.
    pub default_token_ttl_secs: u64,
    /// Upper bound for `ttlSeconds`.
    pub max_token_ttl_secs: u64,
    /// Cookie a socket's token is read from when the handshake carries none elsewhere: a
    /// browser frontend that keeps its JWT in a same-site cookie connects unchanged.
    pub token_cookie: String,
}

/// Every timing of the session state machine; tests shrink them to milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionTimings {
    pub qr_first_ttl_ms: u64,
    pub qr_next_ttl_ms: u64,
    pub max_qr_codes: u32,
    pub pairing_code_ttl_ms: u64,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// Consecutive reconnect attempts (without a stable connection in between) before ERROR.
    pub max_reconnect_attempts: u32,
    /// A connection that lasted this long resets the reconnect attempt counter.
    pub stable_after_ms: u64,
    /// Gap between WhatsApp sessions brought back after a restart, so a node with hundreds
    /// of numbers does not open them all in the same second (simulated sessions are not paced).
    pub resume_stagger_ms: u64,
    /// Sessions reconnecting at the same time after a restart.
    pub resume_concurrency: usize,
    /// `whatsapp` connector: no QR, pairing code or connection this long after connecting
    /// and the session reports RECONNECTING ("cannot reach WhatsApp") while retrying.
    pub connect_timeout_ms: u64,
    /// A connected session that has received nothing for this long is probed (a keepalive
    /// ping); 0 switches the watchdog off.
    pub watchdog_silence_ms: u64,
    /// A probe unanswered for this long marks the connection stale: RECONNECTING with
    /// reason `stale`, on the normal backoff.
    pub watchdog_probe_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// The simulator (connector `sim` and the phone-side `/api/v1/sim/...` routes). Off
    /// unless switched on: with it, any tenant credential can forge inbound messages.
    pub enabled: bool,
    /// Time from "linked device opens a connection" to CONNECTED.
    pub connect_delay_ms: u64,
    /// Send -> SENT (server ack).
    pub sent_delay_ms: u64,
    /// SENT -> DELIVERED.
    pub delivered_delay_ms: u64,
    /// DELIVERED -> READ.
    pub read_delay_ms: u64,
    /// Numbers the simulated network treats as "not on WhatsApp": sends to them fail.
    #[serde(deserialize_with = "comma_list")]
    pub invalid_numbers: Vec<String>,
}

/// The WebAssembly plugin runtime and the plugins folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Folder of plugin folders (`<dir>/<name>/plugin.toml` + component); created if missing.
    pub dir: PathBuf,
    /// Watch `dir` and load, swap or unload plugins as folders change.
    pub watch: bool,
    /// Where compiled components are cached; `<data_dir>/plugin-cache` when unset.
    pub cache_dir: Option<PathBuf>,
    /// Quiet time after a change before a folder is (re)loaded.
    pub debounce_ms: u64,
    /// Wall-clock budget of one plugin call.
    pub call_timeout_ms: u64,
    /// Wall-clock budget of setting an instance up: instantiating it and its `init`, and the
    /// config-schema probe at load. Longer than a call's, since it runs once per instance and a
    /// plugin's first instance on a busy machine must not be refused for being slow to start.
    pub setup_timeout_ms: u64,
    /// Linear memory one plugin instance may grow to.
    pub memory_mib: u64,
    /// Warm instances the pooling allocator has room for (one per tenant binding in use).
    pub max_instances: u32,
    /// A warm instance is replaced after this many calls.
    pub recycle_after_calls: u64,
    /// Consecutive faults that open a binding's circuit breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker skips the plugin before one trial call.
    pub breaker_cooldown_ms: u64,
    /// Write `/tmp/perf-<pid>.map` so `perf` names the plugins' compiled functions.
    pub perf_map: bool,
    /// The HTTP requests plugins granted `http:outbound` make.
    pub http: PluginHttpConfig,
}

/// `[plugins.http]`: where plugins may send HTTP requests, and for how long.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginHttpConfig {
    /// Hosts any plugin may reach (`api.openai.com`, `*.example.com`, `host:port`, `*`); a
    /// request also needs its plugin's plugin.toml and its tenant binding to allow the host.
    /// Empty (the default): no plugin sends any request.
    #[serde(deserialize_with = "comma_host_patterns")]
    pub allow_hosts: Vec<crate::plugins::HostPattern>,
    /// Networks (CIDR) plugin requests may reach although they are not public; by default
    /// only public addresses.
    #[serde(deserialize_with = "comma_networks")]
    pub allow_networks: Vec<ipnet::IpNet>,
    /// The longest a request may wait for its whole answer (a plugin may ask for less).
    pub timeout_ms: u64,
    /// The largest answer a plugin is given; a larger one fails the request.
    pub max_response_kib: u64,
    /// The deadline of a bot call by a plugin that may send requests, waits included: the wasm
    /// code itself still stops at `call_timeout_ms` of running.
    pub bot_deadline_ms: u64,
}

impl Default for PluginHttpConfig {
    fn default() -> Self {
        Self {
            allow_hosts: Vec::new(),
            allow_networks: Vec::new(),
            timeout_ms: 15_000,
            max_response_kib: 1024,
            bot_deadline_ms: 30_000,
        }
    }
}

impl PluginHttpConfig {
    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(format!("plugins.http: {m}")));
        if !(1..=120_000).contains(&self.timeout_ms) {
            return invalid("timeout_ms must be between 1 and 120000");
        }
        if !(self.timeout_ms..=600_000).contains(&self.bot_deadline_ms) {
            return invalid("bot_deadline_ms must be between timeout_ms and 600000");
        }
        if !(1..=16 * 1024).contains(&self.max_response_kib) {
            return invalid("max_response_kib must be between 1 and 16384");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Where media files are kept; defaults to `<data_dir>/media`.
    pub dir: Option<PathBuf>,
    /// Files a send names by URL (`media.url`).
    pub fetch: MediaFetchConfig,
    /// How long a browser link to a file (`.../media/link`) works unless the request says.
    pub link_ttl_secs: u64,
    /// Files older than this (by their message's time) are deleted; 0 keeps them forever.
    pub retention_secs: u64,
    /// `fs` (files under `dir`) or `s3` (a bucket of an S3-compatible service, `media.s3`).
    pub store: MediaStoreKind,
    pub s3: S3Config,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MediaStoreKind {
    #[default]
    Fs,
    S3,
}

/// An S3 bucket for media files. Unset credentials are taken from the usual `AWS_*`
/// environment variables (or the instance's role).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    pub region: Option<String>,
    /// An S3-compatible service's address (MinIO, R2, ...); AWS when unset.
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Whether `endpoint` may be plain `http://` (a service on a private network).
    pub allow_http: bool,
}

impl S3Config {
    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(format!("media.s3: {m}")));
        let bucket_ok = (3..=63).contains(&self.bucket.len())
            && self.bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return invalid("bucket must be an S3 bucket name (3 to 63 lowercase letters, digits, '-' or '.')");
        }
        if self.access_key_id.is_some() != self.secret_access_key.is_some() {
            return invalid("access_key_id and secret_access_key go together");
        }
        if let Some(endpoint) = &self.endpoint {
            match url::Url::parse(endpoint) {
                Ok(u) if u.scheme() == "https" => {}
                Ok(u) if u.scheme() == "http" && self.allow_http => {}
                Ok(u) if u.scheme() == "http" => return invalid("an http:// endpoint needs allow_http = true"),
                _ => return invalid("endpoint must be an http(s) URL"),
            }
        }
        Ok(())
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            dir: None,
            fetch: MediaFetchConfig::default(),
            link_ttl_secs: 900,
            retention_secs: 0,
            store: MediaStoreKind::Fs,
            s3: S3Config::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaFetchConfig {
    /// Networks (CIDR, e.g. `10.0.0.0/8`) a `media.url` may reach although they are not
    /// public; by default only public addresses are fetched from.
    #[serde(deserialize_with = "comma_networks")]
    pub allow: Vec<ipnet::IpNet>,
    /// A fetch that has not got the whole file by then fails the message.
    pub timeout_secs: u64,
    /// Fetches running at once across the gateway; more wait their turn.
    pub concurrency: usize,
}

impl Default for MediaFetchConfig {
    fn default() -> Self {
        Self { allow: Vec::new(), timeout_secs: 30, concurrency: 4 }
    }
}

impl Config {
    pub fn media_dir(&self) -> PathBuf {
        self.media.dir.clone().unwrap_or_else(|| self.data_dir.join("media"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// `tenant.stats` is coalesced: at most one per tenant per interval.
    pub stats_interval_ms: u64,
    /// Events of one tenant waiting for live delivery (and, separately, for its bots); beyond
    /// it the newest are not delivered live and sockets get `delivery.gap`.
    pub lane_depth: usize,
    /// Packets waiting to be written to one socket's connection; a socket that falls further
    /// behind leaves its rooms and catches up from the journal. Idle sockets hold only a
    /// fraction of it.
    pub socket_buffer: usize,
    /// Journaled events older than this are pruned (0: kept until `retention_count` drops them).
    pub retention_secs: u64,
    /// Events of one tenant kept in the journal at most; the oldest beyond are pruned (0: no count limit).
    pub retention_count: u64,
    /// How often the pruning job runs.
    pub prune_interval_secs: u64,
}

/// The audit log of administrators' actions (docs/operations.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Entries older than this are pruned (0: kept until `retention_count` drops them).
    pub retention_days: u64,
    /// Entries of one tenant kept at most; the oldest beyond are pruned (0: no count limit).
    pub retention_count: u64,
    pub prune_interval_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { retention_days: 365, retention_count: 10_000, prune_interval_secs: 3600 }
    }
}

/// Prometheus metrics (docs/operations.md). `GET /metrics` on the main listener always asks
/// for the admin key; `listen` adds a listener that serves only `/metrics`, without a key, for
/// a scraper on a private network.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub listen: Option<SocketAddr>,
}

/// Webhook delivery (docs/webhooks.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Networks (CIDR) a webhook URL may reach although they are not public; by default only
    /// public addresses are delivered to.
    #[serde(deserialize_with = "comma_networks")]
    pub allow: Vec<ipnet::IpNet>,
    /// An attempt that has no answer by then is cut and counts as failed.
    pub timeout_ms: u64,
    /// Delay before each attempt, from the event (first) or from the failed attempt before;
    /// its length is the number of attempts. Each delay gets up to 10% jitter.
    #[serde(deserialize_with = "comma_numbers")]
    pub retry_schedule_secs: Vec<u64>,
    /// An endpoint whose deliveries have failed for this long, without a success, is disabled.
    pub disable_after_secs: u64,
    /// Deliveries in flight to one endpoint at most; an endpoint may ask for fewer.
    pub max_concurrency: u32,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            timeout_ms: 10_000,
            retry_schedule_secs: vec![0, 5, 300, 1_800, 7_200, 18_000, 36_000],
            disable_after_secs: 5 * 24 * 3600,
            max_concurrency: 16,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:3000".parse().expect("static address"),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_schema: None,
            admin_key: None,
            log: "info".into(),
            log_format: LogFormat::Text,
            cors_origins: vec!["*".into()],
            max_body_bytes: 256 * 1024,
            default_connector: None,
            auth: AuthConfig::default(),
            sessions: SessionTimings::default(),
            sim: SimConfig::default(),
            events: EventsConfig::default(),
            plugins: PluginsConfig::default(),
            media: MediaConfig::default(),
            webhooks: WebhooksConfig::default(),
            metrics: MetricsConfig::default(),
            audit: AuditConfig::default(),
            quotas: crate::quotas::Limits::default(),
            send_queue: SendQueueConfig::default(),
            cluster: ClusterConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            dev_no_auth_tenant: None,
            leeway_secs: 30,
            default_token_ttl_secs: 3600,
            max_token_ttl_secs: 30 * 24 * 3600,
            token_cookie: "token".into(),
        }
    }
}

impl Default for SessionTimings {
    fn default() -> Self {
        // WhatsApp's own rhythm: first QR lives 60 s, each next one 20 s, six in all.
        Self {
            qr_first_ttl_ms: 60_000,
            qr_next_ttl_ms: 20_000,
            max_qr_codes: 6,
            pairing_code_ttl_ms: 180_000,
            backoff_initial_ms: 1_000,
            backoff_max_ms: 60_000,
            max_reconnect_attempts: 10,
            stable_after_ms: 30_000,
            resume_stagger_ms: 500,
            resume_concurrency: 32,
            connect_timeout_ms: 20_000,
            watchdog_silence_ms: 120_000,
            watchdog_probe_timeout_ms: 20_000,
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            connect_delay_ms: 300,
            sent_delay_ms: 300,
            delivered_delay_ms: 1_000,
            read_delay_ms: 3_000,
            invalid_numbers: Vec::new(),
        }
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./plugins.d"),
            watch: true,
            cache_dir: None,
            debounce_ms: 300,
            call_timeout_ms: 50,
            setup_timeout_ms: 2_000,
            memory_mib: 32,
            max_instances: 128,
            recycle_after_calls: 10_000,
            breaker_threshold: 5,
            breaker_cooldown_ms: 30_000,
            perf_map: false,
            http: PluginHttpConfig::default(),
        }
    }
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            stats_interval_ms: 1_000,
            lane_depth: 1_024,
            socket_buffer: 1_024,
            retention_secs: 7 * 24 * 3600,
            retention_count: 100_000,
            prune_interval_secs: 60,
        }
    }
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

/// The top-level keys an environment variable may set; other `WAGATE_*` variables (used by
/// scripts and tests) are not configuration and must not make start-up fail.
const ENV_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "database_schema",
    "admin_key",
    "log",
    "log_format",
    "cors_origins",
    "max_body_bytes",
    "default_connector",
    "auth",
    "sessions",
    "sim",
    "events",
    "plugins",
    "media",
    "webhooks",
    "metrics",
    "audit",
    "quotas",
    "send_queue",
    "cluster",
];

impl Config {
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::MissingFile(path.to_owned()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let env = Env::prefixed("WAGATE_")
            .split("__")
            .filter(|key| {
                let top = key.as_str().split('.').next().unwrap_or_default();
                ENV_KEYS.iter().any(|k| k.eq_ignore_ascii_case(top))
            })
            .lowercase(true);
        figment = figment.merge(env).merge(Serialized::defaults(overrides));
        let config: Config = figment.extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    /// Refuses settings the gateway cannot run safely with; `Gateway::build` calls it too.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(key) = &self.admin_key {
            check_admin_key(key)?;
        }
        self.quotas.check().map_err(ConfigError::Invalid)?;
        self.plugins.http.check()?;
        crate::sessions::send_queue::check(&self.send_queue.policy())
            .map_err(|e| ConfigError::Invalid(format!("send_queue: {e}")))?;
        let p = &self.plugins;
        if p.call_timeout_ms == 0 || !(p.call_timeout_ms..=60_000).contains(&p.setup_timeout_ms) {
            return Err(ConfigError::Invalid(
                "plugins.call_timeout_ms must be at least 1 and plugins.setup_timeout_ms between it and 60000".into(),
            ));
        }
        if self.events.lane_depth == 0 {
            return Err(ConfigError::Invalid("events.lane_depth must be at least 1".into()));
        }
        if self.events.socket_buffer == 0 {
            return Err(ConfigError::Invalid("events.socket_buffer must be at least 1".into()));
        }
        if self.auth.max_token_ttl_secs == 0 || self.auth.max_token_ttl_secs > MAX_TOKEN_TTL_SECS {
            return Err(ConfigError::Invalid(format!(
                "auth.max_token_ttl_secs must be between 1 and {MAX_TOKEN_TTL_SECS} (ten years)"
            )));
        }
        if !(1..=self.auth.max_token_ttl_secs).contains(&self.auth.default_token_ttl_secs) {
            return Err(ConfigError::Invalid(
                "auth.default_token_ttl_secs must be between 1 and auth.max_token_ttl_secs".into(),
            ));
        }
        if self.default_connector.as_deref() == Some("sim") && !self.sim.enabled {
            return Err(ConfigError::Invalid("default_connector 'sim' needs sim.enabled = true".into()));
        }
        let t = &self.sessions;
        if t.max_qr_codes == 0 {
            return Err(ConfigError::Invalid("sessions.max_qr_codes must be at least 1".into()));
        }
        if !(1..=1024).contains(&t.resume_concurrency) {
            return Err(ConfigError::Invalid("sessions.resume_concurrency must be 1 to 1024".into()));
        }
        if t.backoff_initial_ms == 0 || t.backoff_max_ms < t.backoff_initial_ms {
            return Err(ConfigError::Invalid(
                "sessions.backoff_initial_ms must be > 0 and <= sessions.backoff_max_ms".into(),
            ));
        }
        if !(1..=crate::media::links::MAX_LINK_TTL_SECS).contains(&self.media.link_ttl_secs) {
            return Err(ConfigError::Invalid(format!(
                "media.link_ttl_secs must be 1 to {}",
                crate::media::links::MAX_LINK_TTL_SECS
            )));
        }
        if self.media.store == MediaStoreKind::S3 {
            self.media.s3.check()?;
        }
        let fetch = &self.media.fetch;
        if !(1..=600).contains(&fetch.timeout_secs) || !(1..=64).contains(&fetch.concurrency) {
            return Err(ConfigError::Invalid(
                "media.fetch.timeout_secs must be 1 to 600 and media.fetch.concurrency 1 to 64".into(),
            ));
        }
        let w = &self.webhooks;
        if !(100..=60_000).contains(&w.timeout_ms) {
            return Err(ConfigError::Invalid("webhooks.timeout_ms must be 100 to 60000".into()));
        }
        if w.retry_schedule_secs.is_empty() || w.retry_schedule_secs.len() > 20 {
            return Err(ConfigError::Invalid("webhooks.retry_schedule_secs must list 1 to 20 delays".into()));
        }
        if !(1..=256).contains(&w.max_concurrency) || w.disable_after_secs == 0 {
            return Err(ConfigError::Invalid(
                "webhooks.max_concurrency must be 1 to 256 and webhooks.disable_after_secs at least 1".into(),
            ));
        }
        if self.events.prune_interval_secs == 0 {
            return Err(ConfigError::Invalid("events.prune_interval_secs must be at least 1".into()));
        }
        let postgres = self.postgres();
        if let Some(url) = &self.database_url
            && !url.starts_with("sqlite:")
            && !postgres
        {
            return Err(ConfigError::Invalid(format!(
                "database_url '{}': must be sqlite://PATH or postgres://...",
                redact_password(url)
            )));
        }
        let cl = &self.cluster;
        if cl.enabled && !postgres {
            return Err(ConfigError::Invalid("cluster.enabled needs a postgres:// database_url".into()));
        }
        if cl.renew_interval_ms == 0 || cl.lease_ttl_ms < 2 * cl.renew_interval_ms {
            return Err(ConfigError::Invalid(
                "cluster.lease_ttl_ms must be at least twice cluster.renew_interval_ms (at least 1)".into(),
            ));
        }
        if let Some(id) = &cl.node_id
            && (id.is_empty()
                || id.len() > 64
                || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
        {
            return Err(ConfigError::Invalid(format!(
                "cluster.node_id '{id}' must be 1 to 64 letters, digits, '-', '_', '.' or ':'"
            )));
        }
        if let Some(url) = &cl.advertise_url
            && !url::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.path() == "/")
        {
            return Err(ConfigError::Invalid(format!(
                "cluster.advertise_url '{url}' must be an http:// or https:// origin, such as http://10.0.0.5:8080"
            )));
        }
        if let Some(schema) = &self.database_schema {
            if !postgres {
                return Err(ConfigError::Invalid("database_schema applies to a postgres:// database_url only".into()));
            }
            if !crate::store::valid_schema_name(schema) {
                return Err(ConfigError::Invalid(format!(
                    "database_schema '{schema}' must be a lowercase identifier (a-z, 0-9, _; up to 63)"
                )));
            }
        }
        Ok(())
    }

    /// The connector a session gets when its request names none.
    pub fn default_connector(&self) -> String {
        match &self.default_connector {
            Some(c) => c.clone(),
            None if self.sim.enabled => "sim".into(),
            None => "whatsapp".into(),
        }
    }

    /// Whether the store is PostgreSQL (else the embedded SQLite).
    pub fn postgres(&self) -> bool {
        self.database_url.as_deref().is_some_and(|u| u.starts_with("postgres:") || u.starts_with("postgresql:"))
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("wagate.db").display()))
    }
}

/// A database URL as it may be shown: without the password it may carry.
pub fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Longest lifetime a minted token may be given.
const MAX_TOKEN_TTL_SECS: u64 = 10 * 365 * 24 * 3600;

/// Shortest admin key accepted, and how many distinct characters it must use: a key that
/// short or that repetitive ("aaaa...", "12341234...") is guessable.
pub const MIN_ADMIN_KEY_CHARS: usize = 32;
const MIN_ADMIN_KEY_DISTINCT: usize = 10;

fn check_admin_key(key: &str) -> Result<(), ConfigError> {
    let distinct: std::collections::HashSet<char> = key.chars().collect();
    if key.chars().count() < MIN_ADMIN_KEY_CHARS
        || distinct.len() < MIN_ADMIN_KEY_DISTINCT
        || key.chars().any(char::is_whitespace)
    {
        return Err(ConfigError::Invalid(format!(
            "admin_key must be at least {MIN_ADMIN_KEY_CHARS} random characters without spaces \
             (at least {MIN_ADMIN_KEY_DISTINCT} different ones); leave it unset to have one generated"
        )));
    }
    Ok(())
}

impl SessionTimings {
    pub fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }
}

/// Lists come from TOML arrays or from one comma-separated env string.
fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        OneOrMany::Many(v) => v,
    })
}

/// Numbers from a TOML array or one comma-separated env string.
fn comma_numbers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<u64>),
    }
    match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => Ok(v),
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|n| n.parse().map_err(|_| serde::de::Error::custom(format!("'{n}' is not a whole number"))))
            .collect(),
    }
}

/// Networks from a TOML array or one comma-separated env string.
fn comma_networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    comma_list(d)?
        .iter()
        .map(|n| {
            n.parse().map_err(|_| serde::de::Error::custom(format!("'{n}' is not a network (CIDR, e.g. 10.0.0.0/8)")))
        })
        .collect()
}

fn comma_host_patterns<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<crate::plugins::HostPattern>, D::Error> {
    comma_list(d)?.iter().map(|p| p.parse().map_err(serde::de::Error::custom)).collect()
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's test jail returns its own error type
mod tests {
    use super::*;

    #[test]
    fn every_setting_can_come_from_the_environment() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        for key in defaults.as_object().unwrap().keys() {
            assert!(
                ENV_KEYS.contains(&key.as_str()),
                "WAGATE_{} is ignored: add '{key}' to ENV_KEYS",
                key.to_uppercase()
            );
        }
    }

    #[test]
    fn an_s3_media_store_is_checked_before_start() {
        let with = |s3: S3Config| {
            let mut c = Config::default();
            c.media.store = MediaStoreKind::S3;
            c.media.s3 = s3;
            c.check().err().map(|e| e.to_string())
        };
        let good = S3Config { bucket: "wagate-media".into(), ..Default::default() };
        assert_eq!(with(good.clone()), None);
        let local = S3Config { endpoint: Some("http://127.0.0.1:9000".into()), allow_http: true, ..good.clone() };
        assert_eq!(with(local.clone()), None);
        for (bad, why) in [
            (S3Config { bucket: String::new(), ..good.clone() }, "bucket"),
            (S3Config { bucket: "Bad_Bucket".into(), ..good.clone() }, "bucket"),
            (S3Config { access_key_id: Some("k".into()), ..good.clone() }, "go together"),
            (S3Config { allow_http: false, ..local.clone() }, "allow_http"),
            (S3Config { endpoint: Some("ftp://x".into()), ..good.clone() }, "http(s) URL"),
        ] {
            let err = with(bad).expect("refused");
            assert!(err.contains(why), "{err}");
        }
        // The file store needs no bucket.
        assert!(Config::default().check().is_ok());
    }

    #[test]
    fn defaults_match_the_readme() {
        let c = Config::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url(), "sqlite://./data/wagate.db");
        assert_eq!(c.sessions.max_qr_codes, 6);
    }

    #[test]
    fn file_then_env_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("w.toml", "listen = \"127.0.0.1:4000\"\n[sessions]\nqr_first_ttl_ms = 5\n")?;
            jail.set_env("WAGATE_SESSIONS__QR_NEXT_TTL_MS", "7");
            jail.set_env("WAGATE_CORS_ORIGINS", "http://a.test, http://b.test");
            jail.set_env("WAGATE_BIN", "/not/config");
            jail.set_env("WAGATE_PLUGINS__DIR", "/srv/plugins");
            jail.set_env("WAGATE_PLUGINS__WATCH", "false");
            let flags = Overrides { data_dir: Some("/tmp/x".into()), ..Default::default() };
            let c = Config::load(Some(Path::new("w.toml")), &flags).map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 4000);
            assert_eq!(c.sessions.qr_first_ttl_ms, 5);
            assert_eq!(c.sessions.qr_next_ttl_ms, 7);
            assert_eq!(c.cors_origins, vec!["http://a.test", "http://b.test"]);
            assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
            assert_eq!(c.plugins.dir, PathBuf::from("/srv/plugins"));
            assert!(!c.plugins.watch);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "lisen = \"x\"\n")?;
            assert!(Config::load(Some(Path::new("bad.toml")), &Overrides::default()).is_err());
            jail.create_file("db.toml", "database_url = \"mysql://x\"\n")?;
            assert!(Config::load(Some(Path::new("db.toml")), &Overrides::default()).is_err());
            jail.create_file(
                "pg.toml",
                "database_url = \"postgres://u:secret@h/d\"\ndatabase_schema = \"Bad-Name\"\n",
            )?;
            let e = Config::load(Some(Path::new("pg.toml")), &Overrides::default()).unwrap_err().to_string();
            assert!(e.contains("database_schema"), "{e}");
            jail.create_file("schema.toml", "database_schema = \"wagate\"\n")?;
            let e = Config::load(Some(Path::new("schema.toml")), &Overrides::default()).unwrap_err().to_string();
            assert!(e.contains("postgres://"), "{e}");
            jail.create_file("pgok.toml", "database_url = \"postgres://u@h/d\"\ndatabase_schema = \"wagate_1\"\n")?;
            assert!(Config::load(Some(Path::new("pgok.toml")), &Overrides::default()).unwrap().postgres());
            for (url, ok) in [
                ("http://10.0.0.5:8080", true),
                ("https://node-a.internal", true),
                ("10.0.0.5:8080", false),
                ("http://h/api", false),
                ("ftp://h", false),
            ] {
                let toml = format!(
                    "database_url = \"postgres://u@h/d\"\n[cluster]\nenabled = true\nadvertise_url = \"{url}\"\n"
                );
                jail.create_file("adv.toml", &toml)?;
                assert_eq!(Config::load(Some(Path::new("adv.toml")), &Overrides::default()).is_ok(), ok, "{url}");
            }
            jail.create_file("sim.toml", "default_connector = \"sim\"\n")?;
            assert!(Config::load(Some(Path::new("sim.toml")), &Overrides::default()).is_err());
            for (plugins, ok) in [
                ("call_timeout_ms = 0", false),
                ("setup_timeout_ms = 10", false),
                ("setup_timeout_ms = 50", true),
                ("setup_timeout_ms = 60001", false),
            ] {
                jail.create_file("plugins.toml", &format!("[plugins]\n{plugins}\n"))?;
                assert_eq!(
                    Config::load(Some(Path::new("plugins.toml")), &Overrides::default()).is_ok(),
                    ok,
                    "{plugins}"
                );
            }
            jail.create_file("ttl.toml", "[auth]\nmax_token_ttl_secs = 18446744073709551615\n")?;
            assert!(Config::load(Some(Path::new("ttl.toml")), &Overrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn weak_admin_keys_are_refused() {
        for weak in ["x", "short-key", &"a".repeat(64), &"1234".repeat(10), "wga_ with spaces in it, still thirty-two+"]
        {
            let c = Config { admin_key: Some(weak.to_owned()), ..Config::default() };
            assert!(c.check().is_err(), "{weak:?} was accepted");
        }
        let strong = Config { admin_key: Some(crate::auth::new_admin_key()), ..Config::default() };
        assert!(strong.check().is_ok());
    }

    #[test]
    fn the_simulator_is_off_unless_switched_on() {
        let c = Config::default();
        assert!(!c.sim.enabled);
        assert_eq!(c.default_connector(), "whatsapp");
        let mut c = Config::default();
        c.sim.enabled = true;
        assert_eq!(c.default_connector(), "sim");
    }
}
