//! Who may do what inside a tenant, for REST and Socket.IO alike (docs/auth.md is the table).
//!
//! The tenant API key is the tenant's administrator. A user token administers nothing unless
//! its identity carries the role `admin`; which sessions it may read and send from is the
//! tenant's [`SessionAccess`] setting.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::Identity;
use crate::model::Session;

/// The role that makes a user token the tenant's administrator.
pub const ADMIN_ROLE: &str = "admin";

/// The claim or identity attribute that lists the sessions of a user under
/// [`SessionAccess::Listed`].
pub const SESSIONS_ATTRIBUTE: &str = "sessions";

/// Which sessions a user token without the `admin` role may read, send from and subscribe to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionAccess {
    /// Every session of the tenant (what frontends written for a single-user backend expect).
    #[default]
    All,
    /// Sessions whose `owner` is the user (`sub`).
    Owned,
    /// Sessions the identity names in `sessions` (an auth plugin's attribute, else the claim).
    Listed,
}

impl SessionAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionAccess::All => "all",
            SessionAccess::Owned => "owned",
            SessionAccess::Listed => "listed",
        }
    }

    /// Stored values are written by `as_str`; anything else (a hand-edited row) grants least.
    pub fn from_stored(s: &str) -> Self {
        match s {
            "all" => SessionAccess::All,
            "owned" => SessionAccess::Owned,
            _ => SessionAccess::Listed,
        }
    }
}

/// The string array at `key` of a JSON object, if it is one.
fn strings<'a>(v: &'a Value, key: &str) -> Option<Vec<&'a str>> {
    v.get(key)?.as_array()?.iter().map(Value::as_str).collect()
}

impl Identity {
    /// Roles a token carries by itself, before any auth plugin: the `roles` claim (array of
    /// strings) or the `role` claim (one string).
    pub fn roles_from_claims(claims: &Value) -> Vec<String> {
        if let Some(list) = strings(claims, "roles") {
            return list.into_iter().map(str::to_owned).collect();
        }
        claims.get("role").and_then(Value::as_str).map(|r| vec![r.to_owned()]).unwrap_or_default()
    }

    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }

    /// Whether this identity may read, send from and subscribe to `session` under `access`.
    pub fn may_use(&self, access: SessionAccess, session: &Session) -> bool {
        if self.is_admin() || access == SessionAccess::All {
            return true;
        }
        match access {
            SessionAccess::All => true,
            SessionAccess::Owned => self.user.is_some() && session.owner == self.user,
            SessionAccess::Listed => {
                // An auth plugin's answer wins over what the token itself says.
                let listed = strings(&self.attributes, SESSIONS_ATTRIBUTE)
                    .or_else(|| strings(&self.claims, SESSIONS_ATTRIBUTE))
                    .unwrap_or_default();
                listed.contains(&session.id.as_str())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SessionStatus;
    use serde_json::json;

    fn session(id: &str, owner: Option<&str>) -> Session {
        let now = chrono::Utc::now();
        Session {
            id: id.into(),
            tenant_id: "acme".into(),
            name: None,
            owner: owner.map(Into::into),
            connector: "sim".into(),
            status: SessionStatus::Init,
            phone: None,
            display_name: None,
            last_connected_at: None,
            disconnect_reason: None,
            last_error: None,
            linked: false,
            created_at: now,
            updated_at: now,
        }
    }

    fn user(sub: &str, claims: Value) -> Identity {
        let mut i = Identity::new("acme".into(), Some(sub.into()), claims.clone());
        i.roles = Identity::roles_from_claims(&claims);
        i
    }

    #[test]
    fn each_setting_decides_as_documented() {
        let mine = session("s1", Some("ana"));
        let theirs = session("s2", Some("bob"));
        let unowned = session("s3", None);
        let ana = user("ana", json!({ "sessions": ["s2"] }));
        for s in [&mine, &theirs, &unowned] {
            assert!(ana.may_use(SessionAccess::All, s));
        }
        assert!(ana.may_use(SessionAccess::Owned, &mine));
        assert!(!ana.may_use(SessionAccess::Owned, &theirs));
        assert!(!ana.may_use(SessionAccess::Owned, &unowned));
        assert!(!ana.may_use(SessionAccess::Listed, &mine));
        assert!(ana.may_use(SessionAccess::Listed, &theirs));
        let admin = user("root", json!({ "role": "admin" }));
        assert!(admin.is_admin());
        assert!(admin.may_use(SessionAccess::Listed, &theirs) && admin.may_use(SessionAccess::Owned, &unowned));
    }

    #[test]
    fn an_auth_plugins_list_wins_over_the_claim() {
        let mut ana = user("ana", json!({ "sessions": ["s1"] }));
        ana.attributes = json!({ "sessions": ["s2"] });
        assert!(!ana.may_use(SessionAccess::Listed, &session("s1", None)));
        assert!(ana.may_use(SessionAccess::Listed, &session("s2", None)));
    }

    #[test]
    fn roles_come_from_roles_or_role_and_nothing_else() {
        assert_eq!(Identity::roles_from_claims(&json!({ "roles": ["admin", "agent"] })), ["admin", "agent"]);
        assert_eq!(Identity::roles_from_claims(&json!({ "role": "agent" })), ["agent"]);
        assert!(Identity::roles_from_claims(&json!({ "roles": "admin" })).is_empty(), "not an array");
        assert!(Identity::roles_from_claims(&json!({ "roles": ["admin", 1] })).is_empty(), "not all strings");
        assert!(!user("x", json!({ "admin": true })).is_admin());
    }
}
