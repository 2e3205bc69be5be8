use std::collections::HashMap;
use std::sync::Arc;

use crate::store::Pool;
use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use jsonwebtoken::{AlgorithmFamily, DecodingKey, EncodingKey};

use super::{AuthError, SessionAccess};
use crate::quotas::Limits;
use crate::store::StoreResult;
use crate::store::tenants::{self, TenantAuthRecord};

/// Names the key a token was verified with (a digest of it, never the key), so that a socket
/// can be told apart by the key that admitted it when that key is rotated away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyId(String);

impl KeyId {
    fn of(material: &str) -> Self {
        KeyId(super::hash_key(material)[..16].to_owned())
    }
}

/// A verification key and the id of what it was made from.
pub(super) struct Verifier {
    pub key: DecodingKey,
    pub id: KeyId,
}

/// Verification material of one tenant, parsed once.
pub(super) struct TenantKeys {
    pub hs: Verifier,
    pub hs_encode: EncodingKey,
    /// The secret the current one replaced, accepted until the instant beside it.
    pub hs_previous: Option<(Verifier, DateTime<Utc>)>,
    pub public: Option<(AlgorithmFamily, Verifier)>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub tenant_claim: String,
    pub session_access: SessionAccess,
    /// The configured defaults with the tenant's overrides applied.
    pub limits: Limits,
}

/// Whose API key a digest is, and until when for a key rotated away.
struct KeyOwner {
    tenant: String,
    until: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub(super) struct Snapshot {
    pub tenants: HashMap<String, Arc<TenantKeys>>,
    /// Digests of every tenant's API key (and the previous one during its grace), so a REST
    /// call is admitted without a database read.
    api_keys: HashMap<String, KeyOwner>,
    /// Distinct claim names tenants are identified by (usually just `tenant`).
    pub claim_names: Vec<String>,
}

/// In-memory copy of every tenant's token settings, swapped whole on change so a handshake
/// never waits for the database.
#[derive(Clone, Default)]
pub struct TenantDirectory {
    pub(super) snapshot: Arc<ArcSwap<Snapshot>>,
    /// Quotas of every tenant before its overrides.
    defaults: Limits,
}

impl TenantKeys {
    /// The previous secret, while its grace period lasts.
    pub fn previous_secret(&self) -> Option<&Verifier> {
        self.hs_previous.as_ref().filter(|(_, until)| *until > Utc::now()).map(|(v, _)| v)
    }

    /// Whether a token verified with `id` would still be accepted now.
    fn accepts(&self, id: &KeyId) -> bool {
        self.hs.id == *id
            || self.previous_secret().is_some_and(|v| v.id == *id)
            || self.public.as_ref().is_some_and(|(_, v)| v.id == *id)
    }
}

/// Parses a PEM public key as RSA first, then EC.
pub fn parse_public_key(pem: &str) -> Result<(AlgorithmFamily, DecodingKey), AuthError> {
    if let Ok(k) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
        return Ok((AlgorithmFamily::Rsa, k));
    }
    DecodingKey::from_ec_pem(pem.as_bytes())
        .map(|k| (AlgorithmFamily::Ec, k))
        .map_err(|_| AuthError::InvalidPublicKey("expected an RSA or EC public key in PEM form".into()))
}

impl TenantDirectory {
    pub async fn load(pool: &Pool, defaults: Limits) -> StoreResult<Self> {
        let dir = Self { defaults, ..Self::default() };
        dir.reload(pool).await?;
        Ok(dir)
    }

    /// Re-reads all tenants; called after every tenant create/update/delete.
    pub async fn reload(&self, pool: &Pool) -> StoreResult<()> {
        let records = tenants::auth_records(pool).await?;
        let mut snap = Snapshot::default();
        for r in records {
            if !snap.claim_names.contains(&r.tenant_claim) {
                snap.claim_names.push(r.tenant_claim.clone());
            }
            snap.api_keys.insert(r.api_key_hash.clone(), KeyOwner { tenant: r.id.clone(), until: None });
            if let (Some(hash), Some(until)) = (&r.previous_api_key_hash, r.previous_api_key_until) {
                snap.api_keys.insert(hash.clone(), KeyOwner { tenant: r.id.clone(), until: Some(until) });
            }
            snap.tenants.insert(r.id.clone(), Arc::new(keys_of(r, &self.defaults)));
        }
        if snap.claim_names.is_empty() {
            snap.claim_names.push("tenant".into());
        }
        self.snapshot.store(Arc::new(snap));
        Ok(())
    }

    /// Whether an identity admitted by key `id` of `tenant` would still be admitted: false once
    /// the tenant is gone or that key was rotated away (grace period over) or replaced.
    pub fn still_accepts(&self, tenant: &str, id: &KeyId) -> bool {
        self.get(tenant).is_some_and(|k| k.accepts(id))
    }

    /// The tenant whose API key this is: its current key, or the one before a rotation while
    /// the rotation's grace lasts.
    pub fn tenant_of_api_key(&self, presented: &str) -> Option<String> {
        let snap = self.snapshot.load();
        let owner = snap.api_keys.get(&super::hash_key(presented))?;
        owner.until.is_none_or(|until| until > Utc::now()).then(|| owner.tenant.clone())
    }

    /// Every tenant's id.
    pub fn ids(&self) -> Vec<String> {
        self.snapshot.load().tenants.keys().cloned().collect()
    }

    pub fn contains(&self, tenant: &str) -> bool {
        self.snapshot.load().tenants.contains_key(tenant)
    }

    /// The tenant's session access setting; `None` for an unknown (or just deleted) tenant.
    pub fn session_access(&self, tenant: &str) -> Option<SessionAccess> {
        self.get(tenant).map(|k| k.session_access)
    }

    /// The tenant's quotas (the defaults for a tenant the directory does not know).
    pub fn limits(&self, tenant: &str) -> Limits {
        self.get(tenant).map(|k| k.limits).unwrap_or(self.defaults)
    }

    pub(super) fn get(&self, tenant: &str) -> Option<Arc<TenantKeys>> {
        self.snapshot.load().tenants.get(tenant).cloned()
    }
}

fn keys_of(r: TenantAuthRecord, defaults: &Limits) -> TenantKeys {
    let public = r.jwt_public_key.as_deref().and_then(|pem| match parse_public_key(pem) {
        Ok((family, key)) => Some((family, Verifier { key, id: KeyId::of(pem) })),
        Err(e) => {
            // The API refuses bad keys, so this only happens to hand-edited databases.
            tracing::warn!(tenant = %r.id, error = %e, "ignoring unusable stored public key");
            None
        }
    });
    let secret = |s: &str| Verifier { key: DecodingKey::from_secret(s.as_bytes()), id: KeyId::of(s) };
    let hs_previous = match (&r.previous_jwt_secret, r.previous_jwt_secret_until) {
        (Some(old), Some(until)) => Some((secret(old), until)),
        _ => None,
    };
    TenantKeys {
        hs: secret(&r.jwt_secret),
        hs_encode: EncodingKey::from_secret(r.jwt_secret.as_bytes()),
        hs_previous,
        public,
        issuer: r.jwt_issuer,
        audience: r.jwt_audience,
        tenant_claim: r.tenant_claim,
        session_access: SessionAccess::from_stored(&r.session_access),
        limits: defaults.with(&tenants::overrides_of(r.quotas.as_deref())),
    }
}
