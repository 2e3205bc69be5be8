//! Who is calling: operator admin key, tenant API keys, and user JWTs of a tenant.

mod directory;
mod jwt;
mod keys;
mod permissions;
mod revocations;

pub use directory::{KeyId, TenantDirectory, parse_public_key};
pub use jwt::{Identity, MintRequest, Minted, RESERVED_CLAIMS};
pub use keys::{AdminKey, hash_key, new_admin_key, new_api_key, new_jwt_secret};
pub use permissions::{ADMIN_ROLE, SESSIONS_ATTRIBUTE, SessionAccess};
pub use revocations::{Revocation, Revocations};

use thiserror::Error;

/// Why a credential was refused. The text is what the client sees (`connect_error` message,
/// REST error message), so it names the cause without echoing secrets.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum AuthError {
    #[error("missing token")]
    MissingToken,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token expired")]
    Expired,
    #[error("token not valid yet (nbf)")]
    NotYetValid,
    /// Every failure that depends on a tenant's secret or key (unknown tenant, signature,
    /// algorithm without a key): one answer, so an outsider learns nothing from it.
    #[error("invalid token")]
    Invalid,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("token names no tenant (claim '{0}')")]
    NoTenantClaim(String),
    #[error("unknown tenant")]
    UnknownTenant,
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("invalid admin key")]
    InvalidAdminKey,
    #[error("invalid public key: {0}")]
    InvalidPublicKey(String),
    /// A handshake field other than the token is not what it must be (`auth.lastSeq`, ...).
    #[error("{0}")]
    BadHandshake(String),
    /// A token from a cookie, sent by a page that is not trusted with it.
    #[error("{0}")]
    CookieOrigin(String),
    /// The tenant or user has as many sockets as its quota allows.
    #[error(transparent)]
    Quota(#[from] crate::quotas::QuotaExceeded),
    /// An auth-mapping plugin refused the socket; the text is the plugin's.
    #[error("{0}")]
    Refused(String),
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::Malformed(_) => "malformed_token",
            AuthError::Expired => "token_expired",
            AuthError::NotYetValid => "token_not_yet_valid",
            AuthError::Invalid => "invalid_token",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::NoTenantClaim(_) => "no_tenant_claim",
            AuthError::UnknownTenant => "unknown_tenant",
            AuthError::InvalidApiKey => "invalid_api_key",
            AuthError::InvalidAdminKey => "invalid_admin_key",
            AuthError::InvalidPublicKey(_) => "invalid_public_key",
            AuthError::CookieOrigin(_) => "cookie_origin_refused",
            AuthError::BadHandshake(_) => "invalid_handshake",
            AuthError::Quota(_) => "quota_exceeded",
            AuthError::Refused(_) => "refused",
        }
    }

    /// The one answer to a secret-dependent failure; the real cause goes to the debug log,
    /// where the operator (not the caller) can read it.
    pub(crate) fn uniform_failure(tenant: &str, cause: &str) -> Self {
        tracing::debug!(%tenant, cause, "token refused");
        AuthError::Invalid
    }

    /// `UnknownTenant` becomes the uniform answer; "no tenant claim at all" stays as it is
    /// (it says nothing about which tenants exist).
    pub(crate) fn uniform(self) -> Self {
        match self {
            AuthError::UnknownTenant => Self::uniform_failure("?", "unknown tenant"),
            other => other,
        }
    }
}
