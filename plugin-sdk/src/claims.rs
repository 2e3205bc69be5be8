//! Reading JWT claims by name, as auth plugins need to for every frontend's token shape.

use serde_json::Value;

use crate::{Identity, host};

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

/// A value a frontend knows the whole tenant by (an organization id, a subscription id),
/// carried by its users' tokens and needed again for events no socket sent (`tenant.stats`).
/// Dialect plugins share this rule; it needs the `kv` capability.
pub struct TenantAttribute<'a> {
    /// The identity attribute (and kv key) it is kept under, say `organizationId`.
    pub name: &'a str,
    /// The claim (dotted path) tokens carry it in.
    pub claim: &'a str,
    /// The value the tenant's config fixes, if any.
    pub configured: Option<&'a str>,
}

impl TenantAttribute<'_> {
    /// The socket's value, recorded in its attributes: what an earlier auth plugin set, else
    /// the token's claim (remembered for [`Self::for_tenant`] unless the config fixes one),
    /// else [`Self::for_tenant`].
    pub fn adopt(&self, token: &Value, identity: &mut Identity) -> String {
        let claimed = identity.attribute(self.name).map(str::to_owned).or_else(|| text(token, self.claim));
        let value = match claimed {
            Some(value) => {
                // A handshake writes only when the value changes.
                if self.configured.is_none() && host::kv_get(self.name).as_deref() != Some(value.as_str()) {
                    let _ = host::kv_set(self.name, &value);
                }
                value
            }
            None => self.for_tenant(&identity.tenant),
        };
        identity.attributes.insert(self.name.to_owned(), value.clone().into());
        value
    }

    /// The value for the tenant as a whole: the configured one, else the one its tokens
    /// carried last, else the tenant id.
    pub fn for_tenant(&self, tenant: &str) -> String {
        self.configured
            .map(str::to_owned)
            .or_else(|| host::kv_get(self.name))
            .unwrap_or_else(|| tenant.to_owned())
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

    #[test]
    fn a_tenant_attribute_comes_from_the_identity_the_claim_the_config_or_the_tenant() {
        use crate::testing::{Harness, identity};
        struct Nothing;
        impl crate::Plugin for Nothing {
            type Config = Value;
            fn init(_: Value) -> Result<Self, String> {
                Ok(Nothing)
            }
        }
        let h = Harness::<Nothing>::new(json!({})).unwrap();
        let org = TenantAttribute { name: "organizationId", claim: "org.id", configured: None };
        assert_eq!(org.for_tenant("t1"), "t1", "nothing known: the tenant");
        let mut me = identity("u");
        assert_eq!(org.adopt(&json!({"org": {"id": 7}}), &mut me), "7");
        assert_eq!(me.attribute("organizationId"), Some("7"));
        assert_eq!(org.for_tenant("t1"), "7", "remembered from the token");
        let mut earlier = identity("u");
        earlier.attributes.insert("organizationId".into(), "from-plugin".into());
        assert_eq!(org.adopt(&json!({"org": {"id": 7}}), &mut earlier), "from-plugin");
        let mut anonymous = identity("u");
        assert_eq!(org.adopt(&json!({}), &mut anonymous), "from-plugin", "no claim: the tenant's");
        let fixed = TenantAttribute { configured: Some("cfg"), ..org };
        assert_eq!(fixed.adopt(&json!({}), &mut identity("u")), "cfg");
        assert_eq!(fixed.adopt(&json!({"org": {"id": 9}}), &mut identity("u")), "9");
        assert_eq!(h.host(|h| h.kv.get("organizationId").cloned()).as_deref(), Some("from-plugin"), "a fixed config remembers nothing");
    }
}
