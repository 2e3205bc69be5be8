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
