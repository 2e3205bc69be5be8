//! Conversions between the WIT types and the SDK's, used by `export_plugin!`.
#![cfg(target_arch = "wasm32")]

use crate::bindings::exports::wagate::plugin::webhook::WebhookBody as WitWebhookBody;
use crate::bindings::wagate::plugin::types as wit;
use crate::{Action, ClientEvent, Emit, Event, Identity, Plugin, Target, WebhookBody};
use serde_json::Value;

/// `serde_json::to_string` writes bytes straight into a buffer; `Value::to_string` goes
/// through `fmt::Write` token by token, which costs ~3x more inside wasm (indirect calls).
fn json_text(value: &Value) -> String {
    serde_json::to_string(value).expect("a JSON value always serialises")
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or(Value::Null)
}

pub fn init<P: Plugin>(config: &str) -> Result<P, String> {
    P::init(crate::config::decode_text(config)?)
}

pub fn config_schema<P: Plugin>() -> Option<String> {
    Some(crate::config::schema::<P::Config>())
}

fn not_initialised() -> ! {
    panic!("wagate plugin hook called before init")
}

fn identity_in(i: wit::Identity) -> Identity {
    let attributes = match parse(&i.attributes) {
        Value::Object(map) => map,
        _ => Default::default(),
    };
    Identity { tenant: i.tenant, user: i.user, roles: i.roles, rooms: i.rooms, attributes }
}

fn identity_out(i: Identity) -> wit::Identity {
    let attributes = json_text(&Value::Object(i.attributes));
    wit::Identity { tenant: i.tenant, user: i.user, roles: i.roles, rooms: i.rooms, attributes }
}

fn event_in(e: wit::Event) -> Event {
    crate::decode_event(e.name, e.tenant, e.session, e.seq, &e.payload)
}

fn emit_out(e: Emit) -> wit::Emit {
    let target = match e.target {
        Target::Room(r) => wit::Target::Room(r),
        Target::Session(s) => wit::Target::Session(s),
        Target::Tenant => wit::Target::Tenant,
        Target::Caller => wit::Target::Caller,
    };
    wit::Emit { event: e.event, payload: json_text(&e.payload), target }
}

fn action_out(a: Action) -> wit::Action {
    match a {
        Action::Emit(e) => wit::Action::Emit(emit_out(e)),
        Action::Join(r) => wit::Action::Join(r),
        Action::Leave(r) => wit::Action::Leave(r),
        Action::SendText { session, to, text } => wit::Action::SendText(wit::SendText { session, to, text }),
        Action::MarkRead { session, chat } => wit::Action::MarkRead(wit::MarkRead { session, chat }),
    }
}

pub fn map_auth<P: Plugin>(p: Option<&mut P>, claims: &str, identity: wit::Identity) -> Result<wit::Identity, String> {
    let p = p.unwrap_or_else(|| not_initialised());
    p.map_auth(&parse(claims), identity_in(identity)).map(identity_out)
}

pub fn on_client_event<P: Plugin>(
    p: Option<&mut P>,
    caller: wit::Identity,
    event: wit::ClientEvent,
) -> Vec<wit::Action> {
    let p = p.unwrap_or_else(|| not_initialised());
    let event = ClientEvent { payload: parse(&event.payload), name: event.name };
    p.on_client_event(&identity_in(caller), event).into_iter().map(action_out).collect()
}

pub fn transform<P: Plugin>(p: Option<&mut P>, event: wit::Event) -> Vec<wit::Emit> {
    let p = p.unwrap_or_else(|| not_initialised());
    p.transform(&event_in(event)).into_iter().map(emit_out).collect()
}

/// The batch is the plugin's `transform` on each event in turn: authors write one hook and
/// the host saves a call per event when events queue up.
pub fn transform_batch<P: Plugin>(p: Option<&mut P>, events: Vec<wit::Event>) -> Vec<Vec<wit::Emit>> {
    let p = p.unwrap_or_else(|| not_initialised());
    events.into_iter().map(|e| transform(Some(&mut *p), e)).collect()
}

pub fn on_event<P: Plugin>(p: Option<&mut P>, event: wit::Event) -> Vec<wit::Action> {
    let p = p.unwrap_or_else(|| not_initialised());
    p.on_event(&event_in(event)).into_iter().map(action_out).collect()
}

pub fn webhook<P: Plugin>(p: Option<&mut P>, event: wit::Event) -> WitWebhookBody {
    let p = p.unwrap_or_else(|| not_initialised());
    match p.webhook(&event_in(event)) {
        WebhookBody::Canonical => WitWebhookBody::Canonical,
        WebhookBody::Skip => WitWebhookBody::Skip,
        WebhookBody::Json(body) => WitWebhookBody::Body(json_text(&body)),
    }
}
