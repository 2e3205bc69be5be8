//! Who is calling: operator admin key, tenant API keys, and user JWTs of a tenant.

mod directory;
mod jwt;
mod keys;

pub use directory::{TenantDirectory, parse_public_key};
pub use jwt::{Identity, MintRequest, Minted, RESERVED_CLAIMS};
pub use keys::{AdminKey, hash_key, new_admin_key, new_api_key, new_jwt_secret};

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
    #[error("bad signature")]
    BadSignature,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("algorithm {0} is not accepted for this tenant")]
    AlgorithmNotAllowed(String),
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
            AuthError::BadSignature => "bad_signature",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            AuthError::NoTenantClaim(_) => "no_tenant_claim",
            AuthError::UnknownTenant => "unknown_tenant",
            AuthError::InvalidApiKey => "invalid_api_key",
            AuthError::InvalidAdminKey => "invalid_admin_key",
            AuthError::InvalidPublicKey(_) => "invalid_public_key",
            AuthError::Refused(_) => "refused",
        }
    }
}
