//! Minting user tokens for a tenant (its backend or a developer asks with the API key).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, Caller};
use super::state::AppState;
use crate::auth::{MintRequest, RESERVED_CLAIMS};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_token))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateToken {
    /// The user the token is for.
    sub: String,
    /// Extra claims to carry (roles, organization, ...); registered claims are refused.
    #[schema(value_type = Option<Object>)]
    claims: Option<Map<String, Value>>,
    ttl_seconds: Option<u64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    token: String,
    #[serde(serialize_with = "crate::model::time::millis")]
    expires_at: DateTime<Utc>,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", security(("tenant" = [])),
    request_body = CreateToken,
    responses((status = 200, body = Token), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_token(
    caller: Caller,
    State(st): State<AppState>,
    ApiJson(req): ApiJson<CreateToken>,
) -> ApiResult<Json<Token>> {
    caller.require_api_key("mint tokens")?;
    if req.sub.trim().is_empty() || req.sub.len() > 256 {
        return Err(ApiError::unprocessable("invalid_sub", "sub must be 1 to 256 characters"));
    }
    let claims = req.claims.unwrap_or_default();
    let tenant_claim = st.directory.tenant_claim(&caller.tenant).unwrap_or_else(|| "tenant".into());
    if let Some(bad) = claims.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str()) || **k == tenant_claim) {
        return Err(ApiError::unprocessable("reserved_claim", format!("claim '{bad}' is set by the gateway")));
    }
    let auth = &st.config.auth;
    let ttl = req.ttl_seconds.unwrap_or(auth.default_token_ttl_secs);
    if ttl == 0 || ttl > auth.max_token_ttl_secs {
        return Err(ApiError::unprocessable(
            "invalid_ttl",
            format!("ttlSeconds must be between 1 and {}", auth.max_token_ttl_secs),
        ));
    }
    let minted = st.directory.mint(&caller.tenant, MintRequest { sub: req.sub, claims, ttl_secs: ttl })?;
    Ok(Json(Token { token: minted.token, expires_at: minted.expires_at }))
}
