use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, Header, Validation};
use serde_json::{Map, Value};

use super::directory::TenantKeys;
use super::{AuthError, TenantDirectory};

/// A verified caller: which tenant, which user, and every claim the token carried (plugins
/// map these to roles and rooms later).
#[derive(Debug, Clone)]
pub struct Identity {
    pub tenant: String,
    pub user: Option<String>,
    pub claims: Value,
    /// Set by auth-mapping plugins.
    pub roles: Vec<String>,
    /// Plugin rooms the socket joins at connect (set by auth-mapping plugins).
    pub rooms: Vec<String>,
    /// A JSON object auth-mapping plugins fill (say `organizationId`); handed back to
    /// client-event plugins with every event of the socket.
    pub attributes: Value,
}

impl Identity {
    pub fn new(tenant: String, user: Option<String>, claims: Value) -> Self {
        Self { tenant, user, claims, roles: Vec::new(), rooms: Vec::new(), attributes: Value::Object(Map::new()) }
    }
}

pub struct MintRequest {
    pub sub: String,
    pub claims: Map<String, Value>,
    pub ttl_secs: u64,
}

pub struct Minted {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Claims the gateway sets itself; a mint request may not override them.
pub const RESERVED_CLAIMS: &[&str] = &["sub", "exp", "iat", "nbf", "iss", "aud", "jti"];

impl TenantDirectory {
    pub fn verify(&self, token: &str, leeway_secs: u64) -> Result<Identity, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        let unverified: Value =
            jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        let (tenant, keys) = self.tenant_of(&unverified)?;

        let key = match header.alg.family() {
            AlgorithmFamily::Hmac => &keys.hs_decode,
            family => match &keys.public {
                Some((f, k)) if *f == family => k,
                _ => return Err(AuthError::AlgorithmNotAllowed(format!("{:?}", header.alg))),
            },
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = leeway_secs;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_aud = keys.audience.is_some();
        if let Some(aud) = &keys.audience {
            validation.set_audience(&[aud]);
        }
        if let Some(iss) = &keys.issuer {
            validation.set_issuer(&[iss]);
        }
        let data = jsonwebtoken::decode::<Value>(token, key, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
            ErrorKind::InvalidAudience => AuthError::WrongAudience,
            ErrorKind::InvalidAlgorithm => AuthError::AlgorithmNotAllowed(format!("{:?}", header.alg)),
            ErrorKind::MissingRequiredClaim(c) => AuthError::Malformed(format!("missing claim '{c}'")),
            _ => AuthError::Malformed(e.to_string()),
        })?;
        let user = match data.claims.get("sub") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Ok(Identity::new(tenant, user, data.claims))
    }

    /// Which tenant a token claims to belong to, before its signature is checked with that
    /// tenant's key. The claim name is per tenant, so every name in use is tried.
    fn tenant_of(&self, claims: &Value) -> Result<(String, std::sync::Arc<TenantKeys>), AuthError> {
        let snap = self.snapshot.load();
        let mut named_any = false;
        for name in &snap.claim_names {
            let Some(Value::String(id)) = claims.get(name) else { continue };
            named_any = true;
            if let Some(keys) = snap.tenants.get(id)
                && keys.tenant_claim == *name
            {
                return Ok((id.clone(), keys.clone()));
            }
        }
        if named_any {
            Err(AuthError::UnknownTenant)
        } else {
            Err(AuthError::NoTenantClaim(snap.claim_names.join("' or '")))
        }
    }

    /// Signs an HS256 user token for a tenant with the tenant's own secret.
    pub fn mint(&self, tenant: &str, req: MintRequest) -> Result<Minted, AuthError> {
        let keys = self.get(tenant).ok_or(AuthError::UnknownTenant)?;
        let now = Utc::now();
        let expires_at = now + chrono::Duration::seconds(req.ttl_secs as i64);
        let mut claims = req.claims;
        claims.insert("sub".into(), Value::String(req.sub));
        claims.insert(keys.tenant_claim.clone(), Value::String(tenant.to_owned()));
        claims.insert("iat".into(), now.timestamp().into());
        claims.insert("exp".into(), expires_at.timestamp().into());
        if let Some(iss) = &keys.issuer {
            claims.insert("iss".into(), Value::String(iss.clone()));
        }
        if let Some(aud) = &keys.audience {
            claims.insert("aud".into(), Value::String(aud.clone()));
        }
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.hs_encode)
            .map_err(|e| AuthError::Malformed(e.to_string()))?;
        Ok(Minted { token, expires_at })
    }

    pub fn tenant_claim(&self, tenant: &str) -> Option<String> {
        self.get(tenant).map(|k| k.tenant_claim.clone())
    }
}
