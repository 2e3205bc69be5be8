use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use jsonwebtoken::{AlgorithmFamily, DecodingKey, EncodingKey};
use sqlx::SqlitePool;

use super::AuthError;
use crate::store::StoreResult;
use crate::store::tenants::{self, TenantAuthRecord};

/// Verification material of one tenant, parsed once.
pub(super) struct TenantKeys {
    pub hs_decode: DecodingKey,
    pub hs_encode: EncodingKey,
    pub public: Option<(AlgorithmFamily, DecodingKey)>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub tenant_claim: String,
}

#[derive(Default)]
pub(super) struct Snapshot {
    pub tenants: HashMap<String, Arc<TenantKeys>>,
    /// Distinct claim names tenants are identified by (usually just `tenant`).
    pub claim_names: Vec<String>,
}

/// In-memory copy of every tenant's token settings, swapped whole on change so a handshake
/// never waits for the database.
#[derive(Clone, Default)]
pub struct TenantDirectory {
    pub(super) snapshot: Arc<ArcSwap<Snapshot>>,
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
    pub async fn load(pool: &SqlitePool) -> StoreResult<Self> {
        let dir = Self::default();
        dir.reload(pool).await?;
        Ok(dir)
    }

    /// Re-reads all tenants; called after every tenant create/update/delete.
    pub async fn reload(&self, pool: &SqlitePool) -> StoreResult<()> {
        let records = tenants::auth_records(pool).await?;
        let mut snap = Snapshot::default();
        for r in records {
            if !snap.claim_names.contains(&r.tenant_claim) {
                snap.claim_names.push(r.tenant_claim.clone());
            }
            snap.tenants.insert(r.id.clone(), Arc::new(keys_of(r)));
        }
        if snap.claim_names.is_empty() {
            snap.claim_names.push("tenant".into());
        }
        self.snapshot.store(Arc::new(snap));
        Ok(())
    }

    pub fn contains(&self, tenant: &str) -> bool {
        self.snapshot.load().tenants.contains_key(tenant)
    }

    pub(super) fn get(&self, tenant: &str) -> Option<Arc<TenantKeys>> {
        self.snapshot.load().tenants.get(tenant).cloned()
    }
}

fn keys_of(r: TenantAuthRecord) -> TenantKeys {
    let public = r.jwt_public_key.as_deref().and_then(|pem| match parse_public_key(pem) {
        Ok(k) => Some(k),
        Err(e) => {
            // The API refuses bad keys, so this only happens to hand-edited databases.
            tracing::warn!(tenant = %r.id, error = %e, "ignoring unusable stored public key");
            None
        }
    });
    TenantKeys {
        hs_decode: DecodingKey::from_secret(r.jwt_secret.as_bytes()),
        hs_encode: EncodingKey::from_secret(r.jwt_secret.as_bytes()),
        public,
        issuer: r.jwt_issuer,
        audience: r.jwt_audience,
        tenant_claim: r.tenant_claim,
    }
}
