//! Write wagate plugins in Rust.
//!
//! Implement [`Plugin`] (every hook has a neutral default), export it with
//! [`export_plugin!`], list the hooks you implemented in `plugin.toml`, and test the logic
//! natively with [`testing::Harness`]. Build with
//! `cargo build --release --target wasm32-wasip2`. See docs/plugins.md.
//!
//! Events arrive typed: match on [`EventBody`] (`EventBody::SessionQr(qr)` gives a
//! [`model::events::SessionQr`]); a kind this SDK does not know arrives as
//! [`EventBody::Other`] with its name and payload, so a gateway that adds event kinds never
//! breaks a plugin. The host's reads ([`host::sessions`], [`host::chats`], ...) return the
//! same model types the REST API serves.

#[doc(hidden)]
pub mod __private;
pub mod alloc;
pub mod bot;
pub mod claims;
pub mod config;
pub mod host;
pub mod http;
pub mod ids;
pub mod testing;
mod types;

pub use chrono;
pub use schemars;
pub use serde_json::{self, Value, json};
pub use types::{Action, ClientEvent, Emit, Identity, Target, WebhookBody, decode_event};
/// The canonical model (`wagate-model`): records, statuses, events.
pub use wagate_model as model;
pub use wagate_model::events::{EventBody, UnknownEvent};
pub use wagate_model::{
    Chat, Direction, DisconnectReason, Event, Message, MessageOrigin, MessageStatus, MessageType, Session,
    SessionStatus, TenantStats,
};

/// The WIT bindings (`wit/plugin.wit`, `wagate:plugin@1.3.0`), for plugins that need the raw
/// interface. A component imports only the interfaces it calls: a plugin that never calls
/// `host::kv_get` does not import `wagate:plugin/kv`, and needs no `kv` capability.
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "wagate_plugin_sdk::bindings",
    });
}

/// A plugin. `init` builds it from the tenant binding's config; the host calls only the
/// hooks plugin.toml lists, so the defaults below are never reached for those.
pub trait Plugin: Sized + 'static {
    /// The binding's config: plugin.toml's `[config]` with the tenant's merged over it, decoded
    /// by the SDK before `init`. A config that does not decode refuses the binding with the
    /// path of the field and what was expected (`invalid config at 'qrFormat': unknown variant
    /// ...`). `serde_json::Value` takes any JSON object.
    /// Its JSON Schema (`#[derive(schemars::JsonSchema)]`, re-exported as
    /// `wagate_plugin_sdk::schemars`) is what the gateway shows for the plugin
    /// (`configSchema`), so a UI can render a form for it.
    type Config: serde::de::DeserializeOwned + schemars::JsonSchema;

    /// Builds the plugin for one tenant binding. An `Err` refuses the binding and its text is
    /// shown to the tenant.
    fn init(config: Self::Config) -> Result<Self, String>;

    /// Hook `auth`: shape the identity of a socket from its verified claims.
    fn map_auth(&mut self, _claims: &Value, identity: Identity) -> Result<Identity, String> {
        Ok(identity)
    }

    /// Hook `client-events`: a socket sent `event`.
    fn on_client_event(&mut self, _caller: &Identity, _event: ClientEvent) -> Vec<Action> {
        Vec::new()
    }

    /// Hook `transform`: what the tenant's sockets receive for a canonical event.
    fn transform(&mut self, _event: &Event) -> Vec<Emit> {
        Vec::new()
    }

    /// Hook `bot`: react to a canonical event.
    fn on_event(&mut self, _event: &Event) -> Vec<Action> {
        Vec::new()
    }

    /// Hook `webhook` (contract 1.2): the body the tenant's webhook endpoints that take plugin
    /// bodies receive for a canonical event. Called when a delivery is made (again on a retry
    /// or a replay), apart from `transform`: a dialect shares its mapping between the two.
    fn webhook(&mut self, _event: &Event) -> WebhookBody {
        WebhookBody::Canonical
    }
}

/// Exports a [`Plugin`] implementation: `wagate:plugin/config` and every hook interface
/// (the host calls only the hooks `plugin.toml` lists; the rest answer with the defaults).
///
/// ```ignore
/// struct Echo;
/// impl wagate_plugin_sdk::Plugin for Echo {
///     type Config = wagate_plugin_sdk::config::NoConfig;
///     fn init(_: Self::Config) -> Result<Self, String> { Ok(Echo) }
/// }
/// wagate_plugin_sdk::export_plugin!(Echo);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::exports::wagate::plugin as __hooks;
            use $crate::bindings::wagate::plugin::types as __types;

            struct __WagateExport;

            ::std::thread_local! {
                static __STATE: ::std::cell::RefCell<Option<$plugin>> = const { ::std::cell::RefCell::new(None) };
            }

            impl __hooks::config::Guest for __WagateExport {
                fn init(config: String) -> Result<(), String> {
                    let plugin = $crate::__private::init::<$plugin>(&config)?;
                    __STATE.with(|s| *s.borrow_mut() = Some(plugin));
                    Ok(())
                }
                fn schema() -> Option<String> {
                    $crate::__private::config_schema::<$plugin>()
                }
            }
            impl __hooks::auth::Guest for __WagateExport {
                fn map_auth(claims: String, identity: __types::Identity) -> Result<__types::Identity, String> {
                    __STATE.with(|s| $crate::__private::map_auth(s.borrow_mut().as_mut(), &claims, identity))
                }
            }
            impl __hooks::client_events::Guest for __WagateExport {
                fn on_client_event(caller: __types::Identity, event: __types::ClientEvent) -> Vec<__types::Action> {
                    __STATE.with(|s| $crate::__private::on_client_event(s.borrow_mut().as_mut(), caller, event))
                }
            }
            impl __hooks::transform::Guest for __WagateExport {
                fn transform(event: __types::Event) -> Vec<__types::Emit> {
                    __STATE.with(|s| $crate::__private::transform(s.borrow_mut().as_mut(), event))
                }
                fn transform_batch(events: Vec<__types::Event>) -> Vec<Vec<__types::Emit>> {
                    __STATE.with(|s| $crate::__private::transform_batch(s.borrow_mut().as_mut(), events))
                }
            }
            impl __hooks::bot::Guest for __WagateExport {
                fn on_event(event: __types::Event) -> Vec<__types::Action> {
                    __STATE.with(|s| $crate::__private::on_event(s.borrow_mut().as_mut(), event))
                }
            }
            impl __hooks::webhook::Guest for __WagateExport {
                fn shape(event: __types::Event) -> __hooks::webhook::WebhookBody {
                    __STATE.with(|s| $crate::__private::webhook(s.borrow_mut().as_mut(), event))
                }
            }

    $crate::bindings::__export_plugin_world!(__WagateExport with_types_in $crate::bindings);
        };
    };
}
