//! The instance protocol of seeds 000 and 004 (see README.md): an instance is a session.

use serde::Deserialize;
use wagate_plugin_sdk::{
    Action, ClientEvent, Emit, Event, Identity, Plugin, Value, claims, export_plugin, host, ids, json, serde_json,
};

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
enum QrFormat {
    /// The raw QR payload (seed 000's client renders it with `QRCode.toDataURL`).
    Raw,
    /// A PNG data URL, ready for `<img src>`.
    DataUrl,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    #[serde(default = "raw")]
    qr_format: QrFormat,
    /// Claim (dotted path) naming the socket's subscription.
    #[serde(default = "subscription_claim")]
    subscription_claim: String,
    /// The subscription this tenant is, for `subscription:stats:updated`; the tenant id when absent.
    subscription_id: Option<String>,
}

fn raw() -> QrFormat {
    QrFormat::Raw
}

fn subscription_claim() -> String {
    "subscriptionId".into()
}

/// The subscription id the tenant's tokens carry, remembered at the handshake: the stats are
/// pushed with the id the frontend knows even when the config names none.
const SUBSCRIPTION_KEY: &str = "subscriptionId";

/// Stores `value` under `key` unless it is already there (a handshake costs a write only once).
fn remember(key: &str, value: &str) {
    if host::kv_get(key).as_deref() != Some(value) {
        let _ = host::kv_set(key, value);
    }
}

pub struct DialectInstance {
    config: Config,
}

/// Seed 000's statuses. PAIRING (the scan was accepted, or a pairing code is shown) is still
/// "the user has to link the device" there, so it reads QR_REQUIRED.
fn status(canonical: &Value) -> Value {
    match canonical.as_str() {
        Some("PAIRING") => json!("QR_REQUIRED"),
        Some(s) => json!(s),
        None => Value::Null,
    }
}

fn room(instance: &str) -> String {
    format!("instance:{instance}")
}

fn refuse(instance: Option<&str>, code: &str, error: &str) -> Vec<Action> {
    vec![Emit::to_caller("instance:error", json!({ "instanceId": instance, "error": error, "code": code })).into()]
}

impl Plugin for DialectInstance {
    fn init(config: Value) -> Result<Self, String> {
        let config = serde_json::from_value(config).map_err(|e| format!("invalid config: {e}"))?;
        Ok(Self { config })
    }

    fn map_auth(&mut self, token: &Value, mut identity: Identity) -> Result<Identity, String> {
        let subscription = identity
            .attribute("subscriptionId")
            .map(str::to_owned)
            .or_else(|| claims::text(token, &self.config.subscription_claim))
            .or_else(|| self.config.subscription_id.clone())
            .unwrap_or_else(|| identity.tenant.clone());
        remember(SUBSCRIPTION_KEY, &subscription);
        identity.rooms.push(format!("subscription:{subscription}"));
        identity.attributes.insert("subscriptionId".into(), subscription.into());
        Ok(identity)
    }

    fn on_client_event(&mut self, _caller: &Identity, event: ClientEvent) -> Vec<Action> {
        let subscribe = match event.name.as_str() {
            "subscribe:instance" => true,
            "unsubscribe:instance" => false,
            _ => return Vec::new(),
        };
        let Some(instance) = ids::id_in(&event.payload, "instanceId") else {
            return refuse(None, "INVALID_PAYLOAD", &format!("{} expects an instanceId", event.name));
        };
        if !subscribe {
            return vec![Action::Leave(room(&instance))];
        }
        match host::sessions() {
            Ok(Value::Array(list)) if list.iter().any(|s| s["id"] == instance.as_str()) => {
                vec![Action::Join(room(&instance))]
            }
            Ok(_) => refuse(Some(&instance), "INSTANCE_NOT_FOUND", "instance not found"),
            Err(e) => refuse(Some(&instance), "INTERNAL", &e),
        }
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        let Some(instance) = event.session.as_deref() else {
            return match event.name.as_str() {
                "tenant.stats" => {
                    let id = self
                        .config
                        .subscription_id
                        .clone()
                        .or_else(|| host::kv_get(SUBSCRIPTION_KEY))
                        .unwrap_or_else(|| event.tenant.clone());
                    vec![Emit::to_tenant(
                        "subscription:stats:updated",
                        json!({ "subscriptionId": id, "stats": event.get("stats") }),
                    )]
                }
                _ => Vec::new(),
            };
        };
        let (name, payload) = match event.name.as_str() {
            "session.status" => {
                let (old, new) = (status(event.get("previousStatus")), status(event.get("status")));
                if old == new {
                    return Vec::new();
                }
                let metadata = json!({
                    "reason": event.get("reason"),
                    "phone": event.get("phone"),
                    "displayName": event.get("displayName"),
                    "timestamp": event.get("timestamp"),
                });
                (
                    "instance:status:changed",
                    json!({ "instanceId": instance, "oldStatus": old, "newStatus": new, "metadata": metadata }),
                )
            }
            "session.qr" => {
                let qr = match self.config.qr_format {
                    QrFormat::Raw => event.get("qr"),
                    QrFormat::DataUrl => event.get("dataUrl"),
                };
                let payload = json!({ "instanceId": instance, "qrCode": qr, "expiry": event.get("expiresAt"), "attempt": event.get("attempt") });
                ("instance:qr:generated", payload)
            }
            "session.connected" => (
                "instance:connected",
                json!({ "instanceId": instance, "phone": event.get("phone"), "displayName": event.get("displayName") }),
            ),
            "session.disconnected" => {
                ("instance:disconnected", json!({ "instanceId": instance, "reason": event.get("reason") }))
            }
            "session.error" => (
                "instance:error",
                json!({ "instanceId": instance, "error": event.get("message"), "code": event.get("code") }),
            ),
            _ => return Vec::new(),
        };
        vec![Emit::to_room(room(instance), name, payload)]
    }
}

export_plugin!(DialectInstance);

#[cfg(test)]
mod tests {
    use super::*;
    use wagate_plugin_sdk::testing::{FakeHost, Harness, event, identity};
    use wagate_plugin_sdk::{Target, json};

    fn harness(config: Value) -> Harness<DialectInstance> {
        let host = FakeHost { sessions: json!([{"id": "inst-1"}]), ..Default::default() };
        Harness::with_host(host, config).unwrap()
    }

    #[test]
    fn joins_the_subscription_room() {
        let mut h = harness(json!({}));
        let id = h.map_auth(json!({"subscriptionId": 42}), identity("u")).unwrap();
        assert_eq!(id.rooms, vec!["subscription:42"]);
        let id = h.map_auth(json!({}), identity("u")).unwrap();
        assert_eq!(id.rooms, vec!["subscription:t1"], "no claim: the tenant is the subscription");
    }

    #[test]
    fn subscribes_only_to_known_instances() {
        let mut h = harness(json!({}));
        let me = identity("u");
        assert_eq!(
            h.client_event(&me, "subscribe:instance", json!("inst-1")),
            vec![Action::Join("instance:inst-1".into())]
        );
        assert_eq!(
            h.client_event(&me, "unsubscribe:instance", json!("inst-1")),
            vec![Action::Leave("instance:inst-1".into())]
        );
        let refused = h.client_event(&me, "subscribe:instance", json!("other"));
        let Action::Emit(e) = &refused[0] else { panic!() };
        assert_eq!((e.event.as_str(), &e.payload["code"]), ("instance:error", &json!("INSTANCE_NOT_FOUND")));
        let refused = h.client_event(&me, "subscribe:instance", json!({"nope": true}));
        let Action::Emit(e) = &refused[0] else { panic!() };
        assert_eq!(e.payload["code"], "INVALID_PAYLOAD");
    }

    #[test]
    fn maps_lifecycle_events() {
        let mut h = harness(json!({"qrFormat": "dataUrl"}));
        let qr = h.transform(&event("session.qr", json!({"sessionId": "inst-1", "qr": "2@x", "dataUrl": "data:image/png;base64,AA", "expiresAt": "t", "attempt": 2})));
        assert_eq!(qr[0].event, "instance:qr:generated");
        assert_eq!(qr[0].target, Target::Room("instance:inst-1".into()));
        assert_eq!(
            qr[0].payload,
            json!({"instanceId": "inst-1", "qrCode": "data:image/png;base64,AA", "expiry": "t", "attempt": 2})
        );
        let st = h.transform(&event("session.status", json!({"sessionId": "inst-1", "status": "CONNECTED", "previousStatus": "PAIRING", "reason": null, "phone": "+1", "displayName": "D"})));
        assert_eq!(st[0].payload["oldStatus"], "QR_REQUIRED");
        assert_eq!(st[0].payload["newStatus"], "CONNECTED");
        assert_eq!(st[0].payload["metadata"]["phone"], "+1");
        let same = h.transform(&event(
            "session.status",
            json!({"sessionId": "inst-1", "status": "PAIRING", "previousStatus": "QR_REQUIRED"}),
        ));
        assert!(same.is_empty());
        let stats = h.transform(&event("tenant.stats", json!({"stats": {"sessions": 1}})));
        assert_eq!(stats[0].payload, json!({"subscriptionId": "t1", "stats": {"sessions": 1}}));
        h.map_auth(json!({"subscriptionId": "S-9"}), identity("u")).unwrap();
        let stats = h.transform(&event("tenant.stats", json!({"stats": {}})));
        assert_eq!(stats[0].payload["subscriptionId"], "S-9", "the id the tokens carry");
        assert_eq!(stats[0].target, Target::Tenant);
    }
}
