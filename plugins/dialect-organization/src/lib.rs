//! The organization protocol of seed 002 (see README.md). A tenant is one organization.

use serde::Deserialize;
use wagate_plugin_sdk::{
    Action, ClientEvent, Emit, Event, Identity, Plugin, Value, claims, export_plugin, host, ids, json, serde_json,
};

/// The one room of the organization's sockets (rooms are per tenant already).
const ROOM: &str = "organization";
const ORGANIZATION_KEY: &str = "organizationId";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
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
    /// The organization id the frontend knows: the config's, else the one the tenant's tokens
    /// carry (remembered at the handshake), else the tenant id.
    fn organization(&self, tenant: &str) -> String {
        self.config
            .organization_id
            .clone()
            .or_else(|| host::kv_get(ORGANIZATION_KEY))
            .unwrap_or_else(|| tenant.to_owned())
    }
}

fn error(message: &str, code: &str) -> Vec<Action> {
    vec![Emit::to_caller("error", json!({ "message": message, "code": code })).into()]
}

/// Seed 002's reasons: logged_out, connection_lost, session_expired, manual, error. An
/// unscanned QR is the login expiring.
fn reason(canonical: Option<&str>) -> &'static str {
    match canonical {
        Some("logged_out") => "logged_out",
        Some("connection_lost") => "connection_lost",
        Some("session_expired" | "qr_timeout") => "session_expired",
        Some("manual") => "manual",
        _ => "error",
    }
}

/// Seed 002's content types: text, image, audio, video, document.
fn content_type(kind: Option<&str>) -> &'static str {
    match kind {
        Some("image" | "sticker") => "image",
        Some("audio") => "audio",
        Some("video") => "video",
        Some("document") => "document",
        _ => "text",
    }
}

impl Plugin for DialectOrganization {
    fn init(config: Value) -> Result<Self, String> {
        let config = serde_json::from_value(config).map_err(|e| format!("invalid config: {e}"))?;
        Ok(Self { config })
    }

    fn map_auth(&mut self, token: &Value, mut identity: Identity) -> Result<Identity, String> {
        let claimed = identity
            .attribute("organizationId")
            .map(str::to_owned)
            .or_else(|| claims::text(token, &self.config.organization_claim));
        let org = match claimed {
            Some(org) => {
                if self.config.organization_id.is_none() && host::kv_get(ORGANIZATION_KEY).as_deref() != Some(&org) {
                    let _ = host::kv_set(ORGANIZATION_KEY, &org);
                }
                org
            }
            None => self.organization(&identity.tenant),
        };
        identity.attributes.insert("organizationId".into(), org.into());
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
                    .unwrap_or_else(|| self.organization(&caller.tenant));
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
        let Some(instance) = event.session.as_deref() else {
            return Vec::new();
        };
        let ts = event.get("timestamp");
        let (name, payload) = match event.name.as_str() {
            "session.qr" => ("whatsapp:qr", json!({ "instanceId": instance, "qr": event.get("qr"), "timestamp": ts })),
            "session.pairing_code" => (
                "whatsapp:pairing-code",
                json!({ "instanceId": instance, "pairingCode": event.get("code"), "expiresAt": event.get("expiresAt"), "timestamp": ts }),
            ),
            "session.connected" => (
                "whatsapp:connected",
                json!({ "instanceId": instance, "organizationId": self.organization(&event.tenant), "phoneNumber": event.get("phone"), "timestamp": ts }),
            ),
            "session.disconnected" => (
                "whatsapp:disconnected",
                json!({ "instanceId": instance, "reason": reason(event.str("reason")), "timestamp": ts }),
            ),
            "message.received" => {
                let (m, chat) = (event.get("message"), event.get("chat"));
                let mut message = json!({
                    "id": m["waMessageId"].as_str().or(m["id"].as_str()),
                    "content": m["content"],
                    "contentType": content_type(m["type"].as_str()),
                    "direction": "incoming",
                    "timestamp": m["timestamp"],
                });
                if let Some(url) = m["mediaUrl"].as_str() {
                    message["mediaUrl"] = url.into();
                }
                (
                    "whatsapp:message",
                    json!({ "conversationId": chat["id"], "contactId": chat["jid"], "message": message }),
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
    use wagate_plugin_sdk::testing::{Harness, event, identity};
    use wagate_plugin_sdk::{Target, json};

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
        let out = h.transform(&event("session.connected", json!({"sessionId": "i1", "phone": "+1"})));
        assert_eq!(out[0].payload["organizationId"], "org-1", "the organization the tenant's tokens name");
        assert_eq!(
            h.client_event(&anonymous, "join-organization", json!("org-1")),
            vec![Action::Join("organization".into())]
        );
    }

    #[test]
    fn maps_events() {
        let mut h = Harness::<DialectOrganization>::new(json!({"organizationId": "org-1"})).unwrap();
        let out = h.transform(&event("session.connected", json!({"sessionId": "i1", "phone": "+1"})));
        assert_eq!(out[0].target, Target::Room("organization".into()));
        assert_eq!(out[0].payload["organizationId"], "org-1");
        let out = h.transform(&event("session.disconnected", json!({"sessionId": "i1", "reason": "qr_timeout"})));
        assert_eq!(out[0].payload["reason"], "session_expired");
        let m = json!({"sessionId": "i1", "message": {"id": "m", "waMessageId": "W", "content": "hi", "type": "sticker", "timestamp": "t", "mediaUrl": null}, "chat": {"id": "c", "jid": "1@s.whatsapp.net"}});
        let out = h.transform(&event("message.received", m));
        assert_eq!(
            out[0].payload,
            json!({"conversationId": "c", "contactId": "1@s.whatsapp.net", "message": {"id": "W", "content": "hi", "contentType": "image", "direction": "incoming", "timestamp": "t"}})
        );
    }
}
