//! The organization protocol of seed 002 (see README.md). A tenant is one organization.

use serde::Deserialize;
use wagate_plugin_sdk::claims::TenantAttribute;
use wagate_plugin_sdk::{
    Action, ClientEvent, DisconnectReason, Emit, Event, EventBody, Identity, MessageType, Plugin, Value, export_plugin,
    host, ids, json, model::time::iso,
};

/// The one room of the organization's sockets (rooms are per tenant already).
const ROOM: &str = "organization";

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Claim (dotted path) naming the caller's organization.
    #[serde(default = "organization_claim")]
    organization_claim: String,
    /// The organization id the frontend knows this tenant by; the tenant id when absent.
    organization_id: Option<String>,
}

fn organization_claim() -> String {
    "organizationId".into()
}

pub struct DialectOrganization {
    config: Config,
}

impl DialectOrganization {
    /// The organization id the frontend knows: the caller's claim, else the config's, else
    /// the one the tenant's tokens carry (remembered at the handshake), else the tenant id.
    fn organization(&self) -> TenantAttribute<'_> {
        TenantAttribute {
            name: "organizationId",
            claim: &self.config.organization_claim,
            configured: self.config.organization_id.as_deref(),
        }
    }
}

fn error(message: &str, code: &str) -> Vec<Action> {
    vec![Emit::to_caller("error", json!({ "message": message, "code": code })).into()]
}

/// Seed 002's reasons: logged_out, connection_lost, session_expired, manual, error. An
/// unscanned QR is the login expiring.
fn reason(canonical: DisconnectReason) -> &'static str {
    match canonical {
        DisconnectReason::LoggedOut => "logged_out",
        // A connection the watchdog found dead is, to the seed, a lost connection.
        DisconnectReason::ConnectionLost | DisconnectReason::Stale => "connection_lost",
        DisconnectReason::SessionExpired | DisconnectReason::QrTimeout => "session_expired",
        DisconnectReason::Manual => "manual",
        DisconnectReason::Error => "error",
    }
}

/// Seed 002's content types: text, image, audio, video, document.
fn content_type(kind: MessageType) -> &'static str {
    match kind {
        MessageType::Image | MessageType::Sticker => "image",
        MessageType::Audio => "audio",
        MessageType::Video => "video",
        MessageType::Document => "document",
        _ => "text",
    }
}

impl Plugin for DialectOrganization {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        Ok(Self { config })
    }

    fn map_auth(&mut self, token: &Value, mut identity: Identity) -> Result<Identity, String> {
        self.organization().adopt(token, &mut identity);
        Ok(identity)
    }

    fn on_client_event(&mut self, caller: &Identity, event: ClientEvent) -> Vec<Action> {
        match event.name.as_str() {
            "join-organization" => {
                let Some(org) = ids::id_in(&event.payload, "organizationId") else {
                    return error("join-organization expects an organization id", "INVALID_PAYLOAD");
                };
                let own = caller
                    .attribute("organizationId")
                    .map(str::to_owned)
                    .unwrap_or_else(|| self.organization().for_tenant(&caller.tenant));
                if org != own {
                    return error("Organization not found or access denied", "FORBIDDEN");
                }
                vec![Action::Join(ROOM.into())]
            }
            "leave-organization" => vec![Action::Leave(ROOM.into())],
            _ => Vec::new(),
        }
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        let Some(instance) = event.session_id.as_deref() else {
            return Vec::new();
        };
        let ts = iso(event.timestamp);
        let (name, payload) = match &event.body {
            EventBody::SessionQr(q) => ("whatsapp:qr", json!({ "instanceId": instance, "qr": q.qr, "timestamp": ts })),
            EventBody::SessionPairingCode(p) => (
                "whatsapp:pairing-code",
                json!({ "instanceId": instance, "pairingCode": p.code, "expiresAt": iso(p.expires_at), "timestamp": ts }),
            ),
            EventBody::SessionConnected(c) => (
                "whatsapp:connected",
                json!({ "instanceId": instance, "organizationId": self.organization().for_tenant(&event.tenant_id), "phoneNumber": c.phone, "timestamp": ts }),
            ),
            EventBody::SessionDisconnected(d) => (
                "whatsapp:disconnected",
                json!({ "instanceId": instance, "reason": reason(d.reason), "timestamp": ts }),
            ),
            EventBody::MessageReceived(r) => {
                let m = &r.message;
                let mut message = json!({
                    "id": m.wa_message_id.as_deref().unwrap_or(&m.id),
                    "content": m.content,
                    "contentType": content_type(m.kind),
                    "direction": "incoming",
                    "timestamp": iso(m.timestamp),
                });
                if let Some(url) = host::browser_media_url(m) {
                    message["mediaUrl"] = url.into();
                }
                (
                    "whatsapp:message",
                    json!({ "conversationId": r.chat.id, "contactId": r.chat.jid, "message": message }),
                )
            }
            _ => return Vec::new(),
        };
        vec![Emit::to_room(ROOM, name, payload)]
    }
}

export_plugin!(DialectOrganization);

#[cfg(test)]
mod tests {
    use super::*;
    use wagate_plugin_sdk::model::events::{MessageEvent, SessionConnected, SessionDisconnected};
    use wagate_plugin_sdk::testing::{Harness, at, chat, event, identity, message};
    use wagate_plugin_sdk::{Message, Target, json};

    fn connected() -> EventBody {
        EventBody::SessionConnected(SessionConnected { phone: Some("+1".into()), display_name: None })
    }

    #[test]
    fn joins_only_its_own_organization() {
        let mut h = Harness::<DialectOrganization>::new(json!({})).unwrap();
        let me = h.map_auth(json!({"organizationId": "org-1"}), identity("u")).unwrap();
        assert_eq!(h.client_event(&me, "join-organization", json!("org-1")), vec![Action::Join("organization".into())]);
        let out = h.client_event(&me, "join-organization", json!("org-2"));
        let Action::Emit(e) = &out[0] else { panic!() };
        assert_eq!((e.event.as_str(), &e.payload["code"]), ("error", &json!("FORBIDDEN")));
        let out = h.client_event(&me, "join-organization", json!(["org-1"]));
        let Action::Emit(e) = &out[0] else { panic!() };
        assert_eq!(e.payload["code"], "INVALID_PAYLOAD");
        let anonymous = h.map_auth(json!({}), identity("u")).unwrap();
        let out = h.transform(&event("i1", connected()));
        assert_eq!(out[0].payload["organizationId"], "org-1", "the organization the tenant's tokens name");
        assert_eq!(
            h.client_event(&anonymous, "join-organization", json!("org-1")),
            vec![Action::Join("organization".into())]
        );
    }

    #[test]
    fn maps_events() {
        let mut h = Harness::<DialectOrganization>::new(json!({"organizationId": "org-1"})).unwrap();
        let out = h.transform(&event("i1", connected()));
        assert_eq!(out[0].target, Target::Room("organization".into()));
        assert_eq!(out[0].payload["organizationId"], "org-1");
        let gone = SessionDisconnected { reason: DisconnectReason::QrTimeout, message: None, will_reconnect: false };
        let out = h.transform(&event("i1", EventBody::SessionDisconnected(gone)));
        assert_eq!(out[0].payload["reason"], "session_expired");
        let m = Message { wa_message_id: Some("W".into()), kind: MessageType::Sticker, ..message("i1", "c", "hi") };
        let received = EventBody::MessageReceived(MessageEvent { message: m, chat: chat("i1", "c") });
        let out = h.transform(&event("i1", received));
        assert_eq!(
            out[0].payload,
            json!({"conversationId": "c", "contactId": "15551234567@s.whatsapp.net", "message": {"id": "W", "content": "hi", "contentType": "image", "direction": "incoming", "timestamp": iso(at())}})
        );
        // A stored file goes out as a link the browser loads without a token.
        h.host(|host| host.media_links.insert("m-c".into(), "/api/v1/media/t1/i1/m-c?expires=1&signature=s".into()));
        let m = Message { kind: MessageType::Image, media_url: Some("/api/v1/sessions/i1/messages/m-c/media".into()), ..message("i1", "c", "") };
        let out = h.transform(&event("i1", EventBody::MessageReceived(MessageEvent { message: m, chat: chat("i1", "c") })));
        assert_eq!(out[0].payload["message"]["mediaUrl"], "/api/v1/media/t1/i1/m-c?expires=1&signature=s");
    }
}
