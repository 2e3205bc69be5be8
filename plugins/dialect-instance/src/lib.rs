//! The instance protocol of seeds 000 and 004 (see README.md): an instance is a session.

use serde::Deserialize;
use wagate_plugin_sdk::claims::TenantAttribute;
use wagate_plugin_sdk::{
    Action, ClientEvent, Emit, Event, EventBody, Identity, Plugin, SessionStatus, Value, export_plugin, host, ids,
    json, model::time::iso,
};

#[derive(Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
enum QrFormat {
    /// The raw QR payload (seed 000's client renders it with `QRCode.toDataURL`).
    Raw,
    /// A PNG data URL, ready for `<img src>`.
    DataUrl,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
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

pub struct DialectInstance {
    config: Config,
}

impl DialectInstance {
    /// The subscription a socket belongs to, remembered from the tenant's tokens so the stats
    /// are pushed with the id the frontend knows even when the config names none.
    fn subscription(&self) -> TenantAttribute<'_> {
        TenantAttribute {
            name: "subscriptionId",
            claim: &self.config.subscription_claim,
            configured: self.config.subscription_id.as_deref(),
        }
    }
}

/// Seed 000's statuses. PAIRING (the scan was accepted, or a pairing code is shown) is still
/// "the user has to link the device" there, so it reads QR_REQUIRED.
fn status(canonical: Option<SessionStatus>) -> Value {
    match canonical {
        Some(SessionStatus::Pairing) => json!("QR_REQUIRED"),
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
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        Ok(Self { config })
    }

    fn map_auth(&mut self, token: &Value, mut identity: Identity) -> Result<Identity, String> {
        let subscription = self.subscription().adopt(token, &mut identity);
        identity.rooms.push(format!("subscription:{subscription}"));
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
            Ok(list) if list.iter().any(|s| s.id == instance) => vec![Action::Join(room(&instance))],
            Ok(_) => refuse(Some(&instance), "INSTANCE_NOT_FOUND", "instance not found"),
            Err(e) => refuse(Some(&instance), "INTERNAL", &e.to_string()),
        }
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        let Some(instance) = event.session_id.as_deref() else {
            return match &event.body {
                EventBody::TenantStats(t) => {
                    let id = self.subscription().for_tenant(&event.tenant_id);
                    vec![Emit::to_tenant("subscription:stats:updated", json!({ "subscriptionId": id, "stats": t.stats }))]
                }
                _ => Vec::new(),
            };
        };
        let (name, payload) = match &event.body {
            EventBody::SessionStatus(s) => {
                let (old, new) = (status(s.previous_status), status(Some(s.status)));
                if old == new {
                    return Vec::new();
                }
                let metadata = json!({
                    "reason": s.reason,
                    "phone": s.phone,
                    "displayName": s.display_name,
                    "timestamp": iso(event.timestamp),
                });
                (
                    "instance:status:changed",
                    json!({ "instanceId": instance, "oldStatus": old, "newStatus": new, "metadata": metadata }),
                )
            }
            EventBody::SessionQr(q) => {
                let qr = match self.config.qr_format {
                    QrFormat::Raw => &q.qr,
                    QrFormat::DataUrl => &q.data_url,
                };
                let payload = json!({ "instanceId": instance, "qrCode": qr, "expiry": iso(q.expires_at), "attempt": q.attempt });
                ("instance:qr:generated", payload)
            }
            EventBody::SessionConnected(c) => (
                "instance:connected",
                json!({ "instanceId": instance, "phone": c.phone, "displayName": c.display_name }),
            ),
            EventBody::SessionDisconnected(d) => {
                ("instance:disconnected", json!({ "instanceId": instance, "reason": d.reason }))
            }
            EventBody::SessionError(e) => {
                ("instance:error", json!({ "instanceId": instance, "error": e.message, "code": e.code }))
            }
            _ => return Vec::new(),
        };
        vec![Emit::to_room(room(instance), name, payload)]
    }
}

export_plugin!(DialectInstance);

#[cfg(test)]
mod tests {
    use super::*;
    use wagate_plugin_sdk::model::events::{SessionStatusChanged, TenantStatsUpdated};
    use wagate_plugin_sdk::testing::{FakeHost, Harness, at, event, identity, qr, session, tenant_event};
    use wagate_plugin_sdk::{Target, TenantStats};

    fn harness(config: Value) -> Harness<DialectInstance> {
        let host = FakeHost { sessions: vec![session("inst-1")], ..Default::default() };
        Harness::with_host(host, config).unwrap()
    }

    fn status_change(previous: SessionStatus, status: SessionStatus) -> EventBody {
        EventBody::SessionStatus(SessionStatusChanged {
            status,
            previous_status: Some(previous),
            reason: None,
            phone: Some("+1".into()),
            display_name: Some("D".into()),
        })
    }

    #[test]
    fn joins_the_subscription_room() {
        let mut h = harness(json!({}));
        let id = h.map_auth(json!({"subscriptionId": 42}), identity("u")).unwrap();
        assert_eq!(id.rooms, vec!["subscription:42"]);
        let h2 = &mut harness(json!({}));
        let id = h2.map_auth(json!({}), identity("u")).unwrap();
        assert_eq!(id.rooms, vec!["subscription:t1"], "no claim: the tenant is the subscription");
    }

    #[test]
    fn refuses_a_bad_config_naming_the_field() {
        let err = Harness::<DialectInstance>::new(json!({"qrFormat": "png"})).err().unwrap();
        assert!(err.starts_with("invalid config at 'qrFormat': unknown variant `png`"), "{err}");
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
        let q = wagate_plugin_sdk::model::events::SessionQr { attempt: 2, ..qr() };
        let out = h.transform(&event("inst-1", EventBody::SessionQr(q.clone())));
        assert_eq!(out[0].event, "instance:qr:generated");
        assert_eq!(out[0].target, Target::Room("instance:inst-1".into()));
        assert_eq!(
            out[0].payload,
            json!({"instanceId": "inst-1", "qrCode": q.data_url, "expiry": "2026-01-15T10:31:00.000Z", "attempt": 2})
        );
        let st = h.transform(&event("inst-1", status_change(SessionStatus::Pairing, SessionStatus::Connected)));
        assert_eq!(st[0].payload["oldStatus"], "QR_REQUIRED");
        assert_eq!(st[0].payload["newStatus"], "CONNECTED");
        assert_eq!(st[0].payload["metadata"]["phone"], "+1");
        assert_eq!(st[0].payload["metadata"]["timestamp"], iso(at()));
        let same = h.transform(&event("inst-1", status_change(SessionStatus::QrRequired, SessionStatus::Pairing)));
        assert!(same.is_empty());
        let stats = |sessions| EventBody::TenantStats(TenantStatsUpdated { stats: TenantStats { sessions, ..Default::default() } });
        let out = h.transform(&tenant_event(stats(1)));
        assert_eq!(out[0].payload["subscriptionId"], "t1");
        assert_eq!(out[0].payload["stats"]["sessions"], 1);
        h.map_auth(json!({"subscriptionId": "S-9"}), identity("u")).unwrap();
        let out = h.transform(&tenant_event(stats(0)));
        assert_eq!(out[0].payload["subscriptionId"], "S-9", "the id the tokens carry");
        assert_eq!(out[0].target, Target::Tenant);
    }
}
