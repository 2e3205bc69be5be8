use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, Header, Validation};
use serde_json::{Map, Value};

use super::directory::{KeyId, TenantKeys, Verifier};
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
    /// The tenant key the token was verified with; `None` for identities no token proved
    /// (development mode).
    pub admitted_by: Option<KeyId>,
    /// When the token stops being valid (its `exp` plus the allowed clock skew).
    pub expires_at: Option<DateTime<Utc>>,
}

impl Identity {
    pub fn new(tenant: String, user: Option<String>, claims: Value) -> Self {
        Self {
            tenant,
            user,
            claims,
            roles: Vec::new(),
            rooms: Vec::new(),
            attributes: Value::Object(Map::new()),
            admitted_by: None,
            expires_at: None,
        }
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
        // RFC 7515 4.1.11: a `crit` extension the verifier does not understand must fail.
        if header.crit.is_some() {
            return Err(AuthError::Malformed("critical header parameters ('crit') are not supported".into()));
        }
        let unverified: Value =
            jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        // From here on, every failure that depends on a tenant's secret or key reads the
        // same to the caller: which tenants exist, and which have a public key, stay unknown.
        let (tenant, keys) = self.tenant_of(&unverified).map_err(|e| e.uniform())?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = leeway_secs;
        validation.validate_nbf = true;
        // A configured issuer or audience is required, not only checked when present.
        let mut required = vec!["exp"];
        validation.validate_aud = keys.audience.is_some();
        if let Some(aud) = &keys.audience {
            validation.set_audience(&[aud]);
            required.push("aud");
        }
        if let Some(iss) = &keys.issuer {
            validation.set_issuer(&[iss]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        // HS tokens: the current secret, then the one it replaced while its grace lasts.
        let candidates: Vec<&Verifier> = match header.alg.family() {
            AlgorithmFamily::Hmac => std::iter::once(&keys.hs).chain(keys.previous_secret()).collect(),
            family => match &keys.public {
                Some((f, v)) if *f == family => vec![v],
                _ => return Err(AuthError::uniform_failure(&tenant, "algorithm has no key")),
            },
        };
        let mut outcome = Err(AuthError::uniform_failure(&tenant, "no key"));
        for verifier in candidates {
            outcome = jsonwebtoken::decode::<Value>(token, &verifier.key, &validation)
                .map(|data| (data, verifier.id.clone()))
                .map_err(|e| match e.kind() {
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                        AuthError::uniform_failure(&tenant, "bad signature")
                    }
                    ErrorKind::ExpiredSignature => AuthError::Expired,
                    ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                    ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                    ErrorKind::InvalidAudience => AuthError::WrongAudience,
                    ErrorKind::MissingRequiredClaim(c) if c == "iss" => AuthError::WrongIssuer,
                    ErrorKind::MissingRequiredClaim(c) if c == "aud" => AuthError::WrongAudience,
                    ErrorKind::MissingRequiredClaim(c) => AuthError::Malformed(format!("missing claim '{c}'")),
                    _ => AuthError::Malformed(e.to_string()),
                });
            if !matches!(outcome, Err(AuthError::Invalid)) {
                break;
            }
        }
        let (data, key_id) = outcome?;
        let user = match data.claims.get("sub") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let expires_at = data
            .claims
            .get("exp")
            .and_then(Value::as_i64)
            .and_then(|exp| DateTime::from_timestamp(exp.saturating_add(leeway_secs as i64), 0));
        let mut identity = Identity::new(tenant, user, data.claims);
        identity.roles = Identity::roles_from_claims(&identity.claims);
        identity.admitted_by = Some(key_id);
        identity.expires_at = expires_at;
        Ok(identity)
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
        let expires_at = i64::try_from(req.ttl_secs)
            .ok()
            .and_then(chrono::TimeDelta::try_seconds)
            .and_then(|ttl| now.checked_add_signed(ttl))
            .ok_or_else(|| AuthError::Malformed(format!("token lifetime of {} s is out of range", req.ttl_secs)))?;
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
