//! {{name}}: a wagate plugin. See docs/plugins.md in the wagate repository.

use serde::Deserialize;
use wagate_plugin_sdk::{Emit, Event, EventBody, Plugin, host};

/// The binding's config: plugin.toml's `[config]` with the tenant's merged over it. A config
/// that does not decode is refused at bind time with the field's path.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    prefix: String,
}

pub struct {{Type}} {
    prefix: String,
}

impl Plugin for {{Type}} {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        if config.prefix.is_empty() {
            return Err("invalid config at 'prefix': must not be empty".into());
        }
        host::info(&format!("{{name}} ready with prefix {}", config.prefix));
        Ok(Self { prefix: config.prefix })
    }

    fn transform(&mut self, event: &Event) -> Vec<Emit> {
        // Events are typed: match on the kinds you care about; the rest (and kinds added
        // after this plugin was built, `EventBody::Other`) pass through renamed.
        if let EventBody::SessionQr(qr) = &event.body {
            host::info(&format!("QR {} of {} for {:?}", qr.attempt, qr.max_attempts, event.session_id));
        }
        vec![Emit::to_tenant(format!("{}:{}", self.prefix, event.name()), event.payload())]
    }
}

wagate_plugin_sdk::export_plugin!({{Type}});

#[cfg(test)]
mod tests {
    use super::*;
    use wagate_plugin_sdk::json;
    use wagate_plugin_sdk::model::events::SessionConnected;
    use wagate_plugin_sdk::testing::{Harness, event};

    #[test]
    fn renames_events() {
        let mut h = Harness::<{{Type}}>::new(json!({ "prefix": "demo" })).unwrap();
        let connected = SessionConnected { phone: Some("+15550000001".into()), display_name: None };
        let out = h.transform(&event("s1", EventBody::SessionConnected(connected)));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].event, "demo:session.connected");
        assert_eq!(out[0].payload["phone"], "+15550000001");
        assert_eq!(out[0].payload["sessionId"], "s1");
    }

    #[test]
    fn refuses_a_bad_config_naming_the_field() {
        let err = Harness::<{{Type}}>::new(json!({ "prefix": 7 })).err().unwrap();
        assert!(err.starts_with("invalid config at 'prefix'"), "{err}");
        assert!(Harness::<{{Type}}>::new(json!({})).is_err());
    }
}
