//! A binding's config, decoded into the plugin's own type with the field that failed named.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The config of a plugin that takes none: only `{}` is accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoConfig {}

/// The JSON Schema of config type `C`, as text.
pub fn schema<C: schemars::JsonSchema>() -> String {
    serde_json::to_string(&schemars::schema_for!(C)).expect("a schema serialises")
}

/// Decodes a config given as JSON text (what the host hands `init`). Read as a value
/// first, so the message names the field rather than a column of the host's text.
pub fn decode_text<C: DeserializeOwned>(config: &str) -> Result<C, String> {
    let value = serde_json::from_str(config).map_err(|e| format!("config is not JSON: {e}"))?;
    decode(value)
}

/// Decodes a config given as a JSON value (native tests).
pub fn decode<C: DeserializeOwned>(config: serde_json::Value) -> Result<C, String> {
    serde_path_to_error::deserialize(config).map_err(explain)
}

fn explain<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> String {
    match e.path().to_string().as_str() {
        "." => format!("invalid config: {}", e.inner()),
        path => format!("invalid config at '{path}': {}", e.inner()),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Config {
        #[serde(default)]
        qr_format: Format,
        rules: Vec<Rule>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase")]
    enum Format {
        #[default]
        Raw,
        DataUrl,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Rule {
        reply: String,
    }

    #[test]
    fn errors_name_the_field_and_what_was_expected() {
        let err = super::decode::<Config>(json!({ "qrFormat": "png", "rules": [] })).unwrap_err();
        assert!(err.starts_with("invalid config at 'qrFormat': unknown variant `png`"), "{err}");
        let err = super::decode::<Config>(json!({ "rules": [{ "reply": "a" }, { "reply": 7 }] })).unwrap_err();
        assert!(err.starts_with("invalid config at 'rules[1].reply': invalid type: integer `7`, expected a string"), "{err}");
        let err = super::decode_text::<Config>(r#"{"rules": [], "colour": 1}"#).unwrap_err();
        assert!(err.contains("unknown field `colour`"), "{err}");
        let err = super::decode_text::<Config>("{}").unwrap_err();
        assert_eq!(err, "invalid config: missing field `rules`");
        assert!(super::decode_text::<Config>(r#"{"rules": [], "qrFormat": "dataUrl"}"#).is_ok());
        assert!(super::decode_text::<super::NoConfig>("{}").is_ok());
        let schema: serde_json::Value = serde_json::from_str(&super::schema::<super::NoConfig>()).unwrap();
        assert_eq!(schema["additionalProperties"], false, "{schema}");
        let err = super::decode_text::<super::NoConfig>(r#"{"x": 1}"#).unwrap_err();
        assert!(err.starts_with("invalid config at 'x': unknown field `x`"), "{err}");
    }
}
