//! The 1.x contract (`wit/plugin.wit`): an interface per capability, served by `imports`, and
//! an interface per hook, looked up one by one so a plugin exports only the hooks it has.

use wasmtime::Store;
use wasmtime::component::{HasSelf, InstancePre, Linker};

use super::imports::{HostError, Level, MessageRequest};
use super::{Request, Response, State};

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::exports::wagate::plugin::webhook::WebhookBody;
/// The contract's records, the host's own for every version.
pub use self::wagate::plugin::types as wit;

use self::exports::wagate::plugin::{auth, bot, client_events, config, transform, webhook};
use self::wagate::plugin::{chats, clock, http, kv, log, media, messages, sessions};
use super::super::outbound::{self, OutboundError};

pub fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    Plugin::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
}

/// A component's exports, found once at load.
pub struct Pre {
    /// The 1.x minor version the component was built against.
    pub minor: u64,
    pre: InstancePre<State>,
    config: config::GuestIndices,
    auth: Option<auth::GuestIndices>,
    client_events: Option<client_events::GuestIndices>,
    transform: Option<transform::GuestIndices>,
    bot: Option<bot::GuestIndices>,
    webhook: Option<webhook::GuestIndices>,
}

/// An instance's exports.
pub struct Hooks {
    config: config::Guest,
    auth: Option<auth::Guest>,
    client_events: Option<client_events::Guest>,
    transform: Option<transform::Guest>,
    bot: Option<bot::Guest>,
    webhook: Option<webhook::Guest>,
}

impl Pre {
    /// The hooks are optional; `contract::check` has already refused a manifest that lists
    /// one the component does not export.
    pub fn new(pre: InstancePre<State>, minor: u64) -> Result<Pre, String> {
        let config = config::GuestIndices::new(&pre).map_err(|e| format!("{e:#}"))?;
        Ok(Pre {
            auth: auth::GuestIndices::new(&pre).ok(),
            client_events: client_events::GuestIndices::new(&pre).ok(),
            transform: transform::GuestIndices::new(&pre).ok(),
            bot: bot::GuestIndices::new(&pre).ok(),
            webhook: webhook::GuestIndices::new(&pre).ok(),
            config,
            pre,
            minor,
        })
    }

    pub async fn instantiate(&self, store: &mut Store<State>) -> wasmtime::Result<Hooks> {
        let instance = self.pre.instantiate_async(&mut *store).await?;
        let store = &mut *store;
        Ok(Hooks {
            config: self.config.load(&mut *store, &instance)?,
            auth: self.auth.as_ref().map(|i| i.load(&mut *store, &instance)).transpose()?,
            client_events: self.client_events.as_ref().map(|i| i.load(&mut *store, &instance)).transpose()?,
            transform: self.transform.as_ref().map(|i| i.load(&mut *store, &instance)).transpose()?,
            bot: self.bot.as_ref().map(|i| i.load(&mut *store, &instance)).transpose()?,
            webhook: self.webhook.as_ref().map(|i| i.load(&mut *store, &instance)).transpose()?,
        })
    }
}

/// The host only calls hooks the manifest lists, and the manifest lists only exported ones.
fn exported<'h, T>(hook: Option<&'h T>, name: &str) -> wasmtime::Result<&'h T> {
    hook.ok_or_else(|| wasmtime::format_err!("the plugin does not export wagate:plugin/{name}"))
}

impl Hooks {
    pub async fn call(&self, store: &mut Store<State>, req: &Request<'_>) -> wasmtime::Result<Response> {
        Ok(match req {
            Request::Init(cfg) => Response::Init(self.config.call_init(store, &cfg.to_string()).await?),
            Request::MapAuth { claims, identity } => Response::Identity(
                exported(self.auth.as_ref(), "auth")?.call_map_auth(store, &claims.to_string(), identity).await?,
            ),
            Request::ClientEvent { caller, event, .. } => {
                let hook = exported(self.client_events.as_ref(), "client-events")?;
                Response::Actions(hook.call_on_client_event(store, caller, event).await?, Vec::new())
            }
            Request::Transform(event) => {
                Response::Emits(exported(self.transform.as_ref(), "transform")?.call_transform(store, event).await?)
            }
            Request::TransformBatch(events) => {
                let hook = exported(self.transform.as_ref(), "transform")?;
                Response::EmitBatches(hook.call_transform_batch(store, events).await?)
            }
            Request::OnEvent(event) => {
                Response::Actions(exported(self.bot.as_ref(), "bot")?.call_on_event(store, event).await?, Vec::new())
            }
            Request::Webhook(event) => {
                Response::WebhookBody(exported(self.webhook.as_ref(), "webhook")?.call_shape(store, event).await?)
            }
            Request::ConfigSchema => Response::ConfigSchema(self.config.call_schema(store).await?),
        })
    }
}

impl From<HostError> for wit::Error {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Invalid(m) => wit::Error::Invalid(m),
            HostError::QuotaExceeded(m) => wit::Error::QuotaExceeded(m),
            HostError::Unavailable(m) => wit::Error::Unavailable(m),
        }
    }
}

fn typed<T>(r: Result<T, HostError>) -> Result<T, wit::Error> {
    r.map_err(wit::Error::from)
}

impl wit::Host for State {}

impl log::Host for State {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Trace => Level::Trace,
            log::Level::Debug => Level::Debug,
            log::Level::Info => Level::Info,
            log::Level::Warn => Level::Warn,
            log::Level::Error => Level::Error,
        };
        self.log_line(level, message).await
    }
}

impl clock::Host for State {
    async fn now_ms(&mut self) -> wasmtime::Result<u64> {
        self.clock_now().await
    }
}

impl kv::Host for State {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.kv_read(key).await
    }

    async fn set(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), wit::Error>> {
        Ok(typed(self.kv_write(key, value).await?))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.kv_remove(key).await
    }
}

impl sessions::Host for State {
    async fn all(&mut self) -> wasmtime::Result<Result<String, wit::Error>> {
        Ok(typed(self.list_sessions().await?))
    }
}

impl chats::Host for State {
    async fn recent(
        &mut self,
        session: String,
        limit: u32,
        offset: u32,
    ) -> wasmtime::Result<Result<String, wit::Error>> {
        Ok(typed(self.list_chats(session, limit, offset).await?))
    }

    async fn get(&mut self, chat: String) -> wasmtime::Result<Result<Option<String>, wit::Error>> {
        Ok(typed(self.find_chat(chat).await?))
    }

    async fn history(
        &mut self,
        session: String,
        chat: String,
        limit: u32,
        offset: u32,
    ) -> wasmtime::Result<Result<String, wit::Error>> {
        Ok(typed(self.chat_history(session, chat, limit, offset).await?))
    }
}

impl media::Host for State {
    async fn link(
        &mut self,
        session: String,
        message: String,
        ttl_secs: u32,
    ) -> wasmtime::Result<Result<Option<String>, wit::Error>> {
        Ok(typed(self.media_link(session, message, ttl_secs).await?))
    }
}

impl messages::Host for State {
    async fn send(&mut self, session: String, message: String) -> wasmtime::Result<Result<(), wit::Error>> {
        Ok(typed(self.queue_message(session, MessageRequest::Send(message)).await?))
    }

    async fn react(
        &mut self,
        session: String,
        message: String,
        emoji: String,
    ) -> wasmtime::Result<Result<(), wit::Error>> {
        Ok(typed(self.queue_message(session, MessageRequest::React { message, emoji }).await?))
    }

    async fn edit(
        &mut self,
        session: String,
        message: String,
        text: String,
    ) -> wasmtime::Result<Result<(), wit::Error>> {
        Ok(typed(self.queue_message(session, MessageRequest::Edit { message, text }).await?))
    }

    async fn revoke(&mut self, session: String, message: String) -> wasmtime::Result<Result<(), wit::Error>> {
        Ok(typed(self.queue_message(session, MessageRequest::Revoke { message }).await?))
    }
}

impl http::Host for State {
    async fn send(&mut self, request: http::Request) -> wasmtime::Result<Result<http::Response, http::RequestError>> {
        let method = match request.method {
            http::Method::Get => outbound::Method::Get,
            http::Method::Head => outbound::Method::Head,
            http::Method::Post => outbound::Method::Post,
            http::Method::Put => outbound::Method::Put,
            http::Method::Patch => outbound::Method::Patch,
            http::Method::Delete => outbound::Method::Delete,
        };
        let request = outbound::Request {
            method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            timeout_ms: request.timeout_ms,
        };
        Ok(self
            .http_send(request)
            .await?
            .map(|r| http::Response { status: r.status, headers: r.headers, body: r.body })
            .map_err(|e| match e {
                OutboundError::Invalid(m) => http::RequestError::Invalid(m),
                OutboundError::Denied(m) => http::RequestError::Denied(m),
                OutboundError::QuotaExceeded(m) => http::RequestError::QuotaExceeded(m),
                OutboundError::Timeout => http::RequestError::Timeout,
                OutboundError::TooLarge(n) => http::RequestError::TooLarge(n),
                OutboundError::Failed(m) => http::RequestError::Failed(m),
            }))
    }
}
