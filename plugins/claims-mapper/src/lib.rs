//! Auth mapping driven by config, so each frontend's existing tokens work unchanged.

use std::collections::BTreeMap;

use serde::Deserialize;
use wagate_plugin_sdk::{Identity, Plugin, Value, claims, export_plugin};

/// Claims tried for the user when `userClaim` is not set, in order.
const USER_CLAIMS: &[&str] = &["userId", "user_id", "sub", "id", "uid"];
/// Attributes recorded when `attributes` is not set: attribute -> claims tried in order.
const DEFAULT_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("organizationId", &["organizationId", "organization_id", "orgId", "org_id"]),
    ("subscriptionId", &["subscriptionId", "subscription_id"]),
];

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Claim (dotted path) naming the user; the built-in list when absent.
    user_claim: Option<String>,
    /// Claims (dotted paths) whose strings become roles.
    #[serde(default = "default_role_claims")]
    role_claims: Vec<String>,
    /// Attribute name -> claim path.
    attributes: Option<BTreeMap<String, String>>,
    /// Rooms joined at connect; `{name}` is replaced by the attribute or claim `name`. A room
    /// whose placeholders cannot all be filled is skipped.
    #[serde(default)]
    rooms: Vec<String>,
    /// Claims a token must carry; a token without one is refused with a message naming it.
    #[serde(default)]
    required_claims: Vec<String>,
}

fn default_role_claims() -> Vec<String> {
    vec!["roles".into(), "role".into()]
}

pub struct ClaimsMapper {
    config: Config,
}

impl Plugin for ClaimsMapper {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        for (i, room) in config.rooms.iter().enumerate() {
            if room.is_empty() || room.matches('{').count() != room.matches('}').count() {
                return Err(format!("invalid config at 'rooms[{i}]': room template '{room}' has unbalanced braces"));
            }
        }
        Ok(Self { config })
    }

    fn map_auth(&mut self, token: &Value, mut identity: Identity) -> Result<Identity, String> {
        let c = &self.config;
        if let Some(missing) = c.required_claims.iter().find(|name| claims::get(token, name).is_none()) {
            return Err(format!("token lacks the claim '{missing}'"));
        }
        let user = match &c.user_claim {
            Some(path) => claims::text(token, path),
            None => claims::first_text(token, USER_CLAIMS),
        };
        if user.is_some() {
            identity.user = user;
        }
        for path in &c.role_claims {
            for role in claims::strings(token, path) {
                if !identity.roles.contains(&role) {
                    identity.roles.push(role);
                }
            }
        }
        match &c.attributes {
            Some(map) => {
                for (name, path) in map {
                    if let Some(v) = claims::get(token, path) {
                        identity.attributes.insert(name.clone(), v.clone());
                    }
                }
            }
            None => {
                for (name, paths) in DEFAULT_ATTRIBUTES {
                    if let Some(v) = claims::first_text(token, paths) {
                        identity.attributes.insert((*name).into(), v.into());
                    }
                }
            }
        }
        for template in &c.rooms {
            if let Some(room) = fill(template, &identity, token)
                && !identity.rooms.contains(&room)
            {
                identity.rooms.push(room);
            }
        }
        Ok(identity)
    }
}

/// `subscription:{subscriptionId}` -> `subscription:42`, looking in the attributes first,
/// then the claims, then `user`/`tenant`.
fn fill(template: &str, identity: &Identity, token: &Value) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = start + rest[start..].find('}')?;
        out.push_str(&rest[..start]);
        let name = &rest[start + 1..end];
        let value = match name {
            "user" => identity.user.clone(),
            "tenant" => Some(identity.tenant.clone()),
            _ => identity
                .attributes
                .get(name)
                .and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string())))
                .or_else(|| claims::text(token, name)),
        };
        out.push_str(&value?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

export_plugin!(ClaimsMapper);

#[cfg(test)]
mod tests {
    use super::*;
    use wagate_plugin_sdk::json;
    use wagate_plugin_sdk::testing::{Harness, identity};

    #[test]
    fn empty_config_reads_the_usual_claims() {
        let mut h = Harness::<ClaimsMapper>::new(json!({})).unwrap();
        let token = json!({"sub": "s", "userId": "u-9", "roles": ["admin"], "orgId": "org-1", "subscriptionId": 42});
        let id = h.map_auth(token, identity("s")).unwrap();
        assert_eq!(id.user.as_deref(), Some("u-9"));
        assert_eq!(id.roles, vec!["admin"]);
        assert_eq!(id.attribute("organizationId"), Some("org-1"));
        assert_eq!(id.attribute("subscriptionId"), Some("42"));
        assert!(id.rooms.is_empty());
    }

    #[test]
    fn configured_mapping_and_rooms() {
        let config = json!({
            "userClaim": "profile.uid",
            "roleClaims": ["realm_access.roles", "scope"],
            "attributes": {"subscriptionId": "sub_id"},
            "rooms": ["subscription:{subscriptionId}", "team:{team}", "user:{user}"],
            "requiredClaims": ["sub_id"]
        });
        let mut h = Harness::<ClaimsMapper>::new(config).unwrap();
        let token = json!({"profile": {"uid": "p1"}, "realm_access": {"roles": ["ops"]}, "scope": "read write", "sub_id": "S1"});
        let id = h.map_auth(token.clone(), identity("x")).unwrap();
        assert_eq!(id.user.as_deref(), Some("p1"));
        assert_eq!(id.roles, vec!["ops", "read", "write"]);
        assert_eq!(id.rooms, vec!["subscription:S1", "user:p1"], "team has no value: skipped");
        let err = h.map_auth(json!({"profile": {"uid": "p1"}}), identity("x")).unwrap_err();
        assert_eq!(err, "token lacks the claim 'sub_id'");
    }

    #[test]
    fn refuses_bad_config() {
        assert!(Harness::<ClaimsMapper>::new(json!({"rooms": ["a:{b"]})).err().unwrap().contains("unbalanced"));
        assert!(Harness::<ClaimsMapper>::new(json!({"userClaims": "x"})).err().unwrap().contains("invalid config"));
    }
}
