//! The 0.3 contract (`wit/0.3/plugin.wit`), linked beside 1.0 so plugins built before 1.0
//! keep working: its one `host` import is served by the same imports as 1.0's interfaces, and
//! its `hooks` export is called with the 1.0 records converted on the way in and out.

use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker};

use super::imports::{HostError, Level};
use super::{Request, Response, State, wit};

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/0.3",
    imports: { default: async | trappable },
    exports: { default: async },
});

use self::wagate::plugin::{host, types as old};

pub use self::Plugin as Hooks;
pub type Pre = PluginPre<State>;

pub fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    Plugin::add_to_linker::<_, HasSelf<_>>(linker, |s| s)
}

/// One call of a 0.3 plugin, in 1.0 records.
pub async fn call(hooks: &Hooks, store: &mut Store<State>, req: &Request<'_>) -> wasmtime::Result<Response> {
    let hooks = hooks.wagate_plugin_hooks();
    Ok(match req {
        Request::Init(config) => Response::Init(hooks.call_init(store, &config.to_string()).await?),
        Request::MapAuth { claims, identity } => Response::Identity(
            hooks.call_map_auth(store, &claims.to_string(), &identity_in(identity)).await?.map(identity_out),
        ),
        Request::ClientEvent { caller, event, .. } => {
            let event = old::ClientEvent { name: event.name.clone(), payload: event.payload.clone() };
            let actions = hooks.call_on_client_event(store, &identity_in(caller), &event).await?;
            Response::Actions(actions.into_iter().map(action_out).collect(), Vec::new())
        }
        Request::Transform(event) => {
            Response::Emits(hooks.call_transform(store, &event_in(event)).await?.into_iter().map(emit_out).collect())
        }
        Request::TransformBatch(events) => {
            let events: Vec<old::Event> = events.iter().map(event_in).collect();
            let batches = hooks.call_transform_batch(store, &events).await?;
            Response::EmitBatches(batches.into_iter().map(|b| b.into_iter().map(emit_out).collect()).collect())
        }
        Request::OnEvent(event) => Response::Actions(
            hooks.call_on_event(store, &event_in(event)).await?.into_iter().map(action_out).collect(),
            Vec::new(),
        ),
        // `contract::check` refuses a 0.3 manifest that lists the 1.2 hook.
        Request::Webhook(_) => wasmtime::bail!("wagate:plugin@0.3 has no webhook hook"),
        // 0.3 has no way to declare a config schema.
        Request::ConfigSchema => Response::ConfigSchema(None),
    })
}

fn identity_in(i: &wit::Identity) -> old::Identity {
    old::Identity {
        tenant: i.tenant.clone(),
        user: i.user.clone(),
        roles: i.roles.clone(),
        rooms: i.rooms.clone(),
        attributes: i.attributes.clone(),
    }
}

fn identity_out(i: old::Identity) -> wit::Identity {
    wit::Identity { tenant: i.tenant, user: i.user, roles: i.roles, rooms: i.rooms, attributes: i.attributes }
}

fn event_in(e: &wit::Event) -> old::Event {
    old::Event {
        name: e.name.clone(),
        tenant: e.tenant.clone(),
        session: e.session.clone(),
        seq: e.seq,
        payload: e.payload.clone(),
    }
}

fn emit_out(e: old::Emit) -> wit::Emit {
    let target = match e.target {
        old::Target::Room(r) => wit::Target::Room(r),
        old::Target::Session(s) => wit::Target::Session(s),
        old::Target::Tenant => wit::Target::Tenant,
        old::Target::Caller => wit::Target::Caller,
    };
    wit::Emit { event: e.event, payload: e.payload, target }
}

fn action_out(a: old::Action) -> wit::Action {
    match a {
        old::Action::Emit(e) => wit::Action::Emit(emit_out(e)),
        old::Action::Join(r) => wit::Action::Join(r),
        old::Action::Leave(r) => wit::Action::Leave(r),
        old::Action::SendText(s) => wit::Action::SendText(wit::SendText { session: s.session, to: s.to, text: s.text }),
        old::Action::MarkRead(m) => wit::Action::MarkRead(wit::MarkRead { session: m.session, chat: m.chat }),
    }
}

/// 0.3 reported every error as its text.
fn text<T>(r: Result<T, HostError>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

impl old::Host for State {}

impl host::Host for State {
    async fn log(&mut self, level: host::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            host::Level::Trace => Level::Trace,
            host::Level::Debug => Level::Debug,
            host::Level::Info => Level::Info,
            host::Level::Warn => Level::Warn,
            host::Level::Error => Level::Error,
        };
        self.log_line(level, message).await
    }

    async fn now_ms(&mut self) -> wasmtime::Result<u64> {
        self.clock_now().await
    }

    async fn kv_get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.kv_read(key).await
    }

    async fn kv_set(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), String>> {
        Ok(text(self.kv_write(key, value).await?))
    }

    async fn kv_delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.kv_remove(key).await
    }

    async fn sessions(&mut self) -> wasmtime::Result<Result<String, String>> {
        Ok(text(self.list_sessions().await?))
    }

    async fn chats(&mut self, session: String, limit: u32, offset: u32) -> wasmtime::Result<Result<String, String>> {
        Ok(text(self.list_chats(session, limit, offset).await?))
    }

    async fn chat(&mut self, chat: String) -> wasmtime::Result<Result<Option<String>, String>> {
        Ok(text(self.find_chat(chat).await?))
    }

    async fn history(
        &mut self,
        session: String,
        chat: String,
        limit: u32,
        offset: u32,
    ) -> wasmtime::Result<Result<String, String>> {
        Ok(text(self.chat_history(session, chat, limit, offset).await?))
    }
}
