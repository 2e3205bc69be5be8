//! Request extractors whose failures render as our JSON errors, and the two kinds of caller.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;

use super::error::ApiError;
use super::state::AppState;
use crate::auth::{AuthError, hash_key};
use crate::model::SessionKey;
use crate::store::tenants;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

fn bearer(parts: &Parts) -> Result<&str, AuthError> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(AuthError::MissingToken)?
        .to_str()
        .map_err(|_| AuthError::Malformed("Authorization header is not text".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| AuthError::Malformed("expected 'Authorization: Bearer <key or token>'".into()))?
        .trim();
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    Ok(token)
}

/// The operator, proven by the admin key.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts)?;
        if state.admin_key.matches(key) { Ok(Admin) } else { Err(AuthError::InvalidAdminKey.into()) }
    }
}

/// How a tenant caller proved itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Via {
    ApiKey,
    Jwt { user: Option<String> },
}

/// A caller acting for one tenant, by API key or by a user JWT of that tenant.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: String,
    pub via: Via,
}

impl Caller {
    pub fn session(&self, id: &str) -> SessionKey {
        SessionKey::new(&self.tenant, id)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        // A JWT has three dot-separated parts; API keys have none.
        if token.matches('.').count() == 2 {
            let identity = state.directory.verify(token, state.config.auth.leeway_secs)?;
            return Ok(Caller { tenant: identity.tenant, via: Via::Jwt { user: identity.user } });
        }
        let tenant = tenants::find_by_api_key_hash(state.store.pool(), &hash_key(token))
            .await?
            .ok_or(AuthError::InvalidApiKey)?;
        Ok(Caller { tenant, via: Via::ApiKey })
    }
}
