use std::fmt;

use thiserror::Error;

const MAX_ID_LEN: usize = 128;

#[derive(Debug, Error, PartialEq)]
pub enum IdError {
    #[error("id must not be empty")]
    Empty,
    #[error("id is longer than {MAX_ID_LEN} characters")]
    TooLong,
    #[error("id may only contain letters, digits, '-', '_' and '.'")]
    BadCharacter,
    #[error("id must not start with '.'")]
    LeadingDot,
}

/// Client-chosen ids (tenants, sessions) share one alphabet. It excludes '/' so the host can
/// build room names like `t/<tenant>/s/<session>` that no id can forge. An id never starts
/// with '.', so none is `.`, `..` or a hidden name where ids become paths (plugin folders,
/// device stores).
pub fn validate_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(IdError::BadCharacter);
    }
    if id.starts_with('.') {
        return Err(IdError::LeadingDot);
    }
    Ok(())
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Sessions are unique per tenant only (two tenants may both call a number `1`), so every
/// lookup carries both halves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    pub tenant: String,
    pub session: String,
}

impl SessionKey {
    pub fn new(tenant: &str, session: &str) -> Self {
        Self { tenant: tenant.to_owned(), session: session.to_owned() }
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_seed_shaped_ids() {
        assert_eq!(validate_id("1"), Ok(()));
        assert_eq!(validate_id("da59c719-6c71-439f-b222-ac0366048b0b-ini-wg-baru-1752508259121"), Ok(()));
        assert_eq!(validate_id("org_123.main"), Ok(()));
    }

    #[test]
    fn refuses_bad_ids() {
        assert_eq!(validate_id(""), Err(IdError::Empty));
        assert_eq!(validate_id("a/b"), Err(IdError::BadCharacter));
        assert_eq!(validate_id("a b"), Err(IdError::BadCharacter));
        assert_eq!(validate_id(&"x".repeat(129)), Err(IdError::TooLong));
        for dots in [".", "..", "...", ".hidden"] {
            assert_eq!(validate_id(dots), Err(IdError::LeadingDot));
        }
    }
}
