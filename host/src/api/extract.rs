//! Request extractors whose failures render as our JSON errors, and the two kinds of caller.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;

use axum::http::StatusCode;

use super::error::{ApiError, ApiResult};
use super::state::AppState;
use crate::audit::Actor;
use crate::auth::{ADMIN_ROLE, AuthError, Identity, SessionAccess};
use crate::model::{Session, SessionKey};
use crate::sessions::SessionError;

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
#[derive(Debug, Clone)]
pub enum Via {
    /// The tenant API key: the tenant's administrator.
    ApiKey,
    /// A user token, verified and then shaped by the tenant's auth plugins.
    Jwt(Identity),
}

/// A caller acting for one tenant, by API key or by a user JWT of that tenant. What it may do
/// is asked of it (`require_admin`, `use_session`), never read off `via` by a handler.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: String,
    pub via: Via,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        match &self.via {
            Via::ApiKey => true,
            Via::Jwt(identity) => identity.is_admin(),
        }
    }

    /// The user a token names; none for the API key.
    pub fn user(&self) -> Option<&str> {
        match &self.via {
            Via::ApiKey => None,
            Via::Jwt(identity) => identity.user.as_deref(),
        }
    }

    /// Who this caller is, as the audit log names it.
    pub fn actor(&self) -> Actor {
        match &self.via {
            Via::ApiKey => Actor::ApiKey,
            Via::Jwt(identity) => Actor::User { user: identity.user.clone() },
        }
    }

    /// Administration (sessions' lifecycle, plugin bindings, tenant settings, the simulator)
    /// needs the API key or a user token with the `admin` role.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.is_admin() {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("needs the tenant API key or a user token with the role '{ADMIN_ROLE}'"),
        ))
    }

    /// Only the API key itself (minting tokens, rotating credentials).
    pub fn require_api_key(&self, what: &str) -> ApiResult<()> {
        match self.via {
            Via::ApiKey => Ok(()),
            Via::Jwt(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "api_key_required",
                format!("only the tenant API key may {what}"),
            )),
        }
    }

    /// Whether the caller may read and send from `session` (the tenant's `sessionAccess`).
    pub fn may_use(&self, st: &AppState, session: &Session) -> bool {
        match &self.via {
            Via::ApiKey => true,
            Via::Jwt(identity) => {
                let access = st.directory.session_access(&self.tenant).unwrap_or(SessionAccess::Listed);
                identity.may_use(access, session)
            }
        }
    }

    /// One of the tenant's sessions that the caller may use. A session it may not use looks
    /// exactly like a missing one, as another tenant's does.
    pub async fn use_session(&self, st: &AppState, id: &str) -> ApiResult<Session> {
        let session = st.sessions.get(&SessionKey::new(&self.tenant, id)).await?;
        if self.may_use(st, &session) { Ok(session) } else { Err(SessionError::NotFound.into()) }
    }

    /// The key of a session the caller administers (checked before anything is looked up).
    pub fn administered_session(&self, id: &str) -> ApiResult<SessionKey> {
        self.require_admin()?;
        Ok(SessionKey::new(&self.tenant, id))
    }
}

/// The identity pipeline every tenant request goes through, as every socket handshake does:
/// the credential is verified, then a user token's identity passes the tenant's auth plugins
/// (a refusal answers 401 with the plugin's message); permissions are asked of the result.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        // A JWT has three dot-separated parts; API keys have none.
        let caller = if token.matches('.').count() == 2 {
            let identity = state.directory.verify(token, state.config.auth.leeway_secs)?;
            let identity = state.plugins.map_auth(identity).await.map_err(AuthError::Refused)?;
            Caller { tenant: identity.tenant.clone(), via: Via::Jwt(identity) }
        } else {
            let tenant = state.directory.tenant_of_api_key(token).ok_or(AuthError::InvalidApiKey)?;
            Caller { tenant, via: Via::ApiKey }
        };
        // Counted per credential after it proved itself: nobody can spend another's budget.
        let key = match &caller.via {
            Via::ApiKey => format!("rest/{}/key", caller.tenant),
            Via::Jwt(identity) => format!("rest/{}/user/{}", caller.tenant, identity.user.as_deref().unwrap_or("")),
        };
        let per_minute = state.directory.limits(&caller.tenant).requests_per_minute;
        state.rates.check("REST requests per minute", &key, per_minute)?;
        Ok(caller)
    }
}
