//! Ids as frontends send and expect them: `"abc"`, `1`, or `{ "<field>": ... }`.

use serde_json::Value;

/// Longest id accepted from a client; longer ones are refused rather than looked up.
pub const MAX_ID: usize = 128;

/// The id a client sent: a non-empty string or an integer, directly or as `payload[field]`.
/// `None` for anything else (wrong type, empty, longer than [`MAX_ID`], control characters).
pub fn id_in(payload: &Value, field: &str) -> Option<String> {
    let v = match payload {
        Value::Object(map) => map.get(field)?,
        other => other,
    };
    let id = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => return None,
    };
    (!id.is_empty() && id.len() <= MAX_ID && !id.chars().any(char::is_control)).then_some(id)
}

/// A session id the way a frontend that numbers its WhatsApp numbers expects it: a JSON
/// number when the id is a plain integer (`"7"` -> `7`), the string otherwise.
pub fn id_value(id: &str) -> Value {
    let numeric = !id.is_empty()
        && id.len() <= 15
        && id.bytes().all(|b| b.is_ascii_digit())
        && (id == "0" || !id.starts_with('0'));
    match id.parse::<u64>() {
        Ok(n) if numeric => Value::from(n),
        _ => Value::from(id),
    }
}

/// An optional non-negative integer field within `0..=max`; `Err` names the field.
pub fn uint_in(payload: &Value, field: &str, default: u32, max: u32) -> Result<u32, String> {
    match payload.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| *n <= u64::from(max))
            .map(|n| n as u32)
            .ok_or_else(|| format!("{field} must be an integer from 0 to {max}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_from_clients() {
        assert_eq!(id_in(&json!("abc"), "sessionId").as_deref(), Some("abc"));
        assert_eq!(id_in(&json!(7), "sessionId").as_deref(), Some("7"));
        assert_eq!(id_in(&json!({"sessionId": "s"}), "sessionId").as_deref(), Some("s"));
        for bad in [json!(""), json!(1.5), json!(null), json!(["a"]), json!({"other": 1}), json!("x".repeat(129))] {
            assert_eq!(id_in(&bad, "sessionId"), None, "{bad}");
        }
    }

    #[test]
    fn numeric_ids_become_numbers() {
        assert_eq!(id_value("7"), json!(7));
        assert_eq!(id_value("007"), json!("007"));
        assert_eq!(id_value("sales"), json!("sales"));
        assert_eq!(id_value("0"), json!(0));
    }

    #[test]
    fn bounded_integers() {
        assert_eq!(uint_in(&json!({}), "limit", 50, 500), Ok(50));
        assert_eq!(uint_in(&json!({"limit": 10}), "limit", 50, 500), Ok(10));
        assert!(uint_in(&json!({"limit": "10"}), "limit", 50, 500).is_err());
        assert!(uint_in(&json!({"limit": 501}), "limit", 50, 500).is_err());
        assert!(uint_in(&json!({"limit": -1}), "limit", 50, 500).is_err());
    }
}
