//! Reading JWT claims by name, as auth plugins need to for every frontend's token shape.

use serde_json::Value;

/// A claim by dotted path (`realm_access.roles`); a top-level claim whose name contains dots
/// wins over the path.
pub fn get<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    path.split('.').try_fold(claims, |v, key| v.get(key))
}

/// A claim as text: strings as they are, integers printed; `None` for anything else or empty.
pub fn text(claims: &Value, path: &str) -> Option<String> {
    match get(claims, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first of `paths` present as text.
pub fn first_text(claims: &Value, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| text(claims, p))
}

/// A claim as a list of strings: an array of strings, or one string (split on spaces, the
/// way `scope` claims are written).
pub fn strings(claims: &Value, path: &str) -> Vec<String> {
    match get(claims, path) {
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_claims_by_path() {
        let c = json!({"sub": "u1", "org": {"id": 7}, "a.b": "dotted", "roles": ["x", "y"], "scope": "r w"});
        assert_eq!(text(&c, "sub").as_deref(), Some("u1"));
        assert_eq!(text(&c, "org.id").as_deref(), Some("7"));
        assert_eq!(text(&c, "a.b").as_deref(), Some("dotted"));
        assert_eq!(text(&c, "org"), None);
        assert_eq!(first_text(&c, &["userId", "sub"]).as_deref(), Some("u1"));
        assert_eq!(strings(&c, "roles"), vec!["x", "y"]);
        assert_eq!(strings(&c, "scope"), vec!["r", "w"]);
        assert!(strings(&c, "missing").is_empty());
    }
}
