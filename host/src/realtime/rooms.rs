//! Room names are built only here. Ids cannot contain '/', so no tenant can name a room of
//! another tenant, whatever string a client sends.

use crate::model::SessionKey;

pub fn tenant(tenant: &str) -> String {
    format!("t/{tenant}")
}

/// A room named by a plugin, inside its tenant.
pub fn plugin(tenant: &str, name: &str) -> String {
    format!("t/{tenant}/r/{name}")
}

pub fn session(key: &SessionKey) -> String {
    format!("t/{}/s/{}", key.tenant, key.session)
}

/// The session a room belongs to, for rooms built by `session`.
pub fn parse_session(room: &str) -> Option<SessionKey> {
    let (tenant, session) = room.strip_prefix("t/")?.split_once("/s/")?;
    (!tenant.contains('/') && !session.contains('/')).then(|| SessionKey::new(tenant, session))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_rooms_parse_back_and_nothing_else_does() {
        let key = SessionKey::new("acme", "s.1");
        assert_eq!(parse_session(&session(&key)), Some(key));
        assert_eq!(parse_session(&tenant("acme")), None);
        assert_eq!(parse_session(&plugin("acme", "x/s/y")), None);
        assert_eq!(parse_session("t/a/r/s/x"), None);
    }
}
