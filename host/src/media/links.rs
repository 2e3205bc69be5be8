//! Short-lived signed links to a message's file, for browsers: an `<img src>` or a download
//! link sends no `Authorization` header. A link names the tenant, the session, the message
//! and when it expires, signed with the gateway's media-link key (HMAC-SHA256). The key is
//! made on first start and kept in the store, so every gateway sharing the store accepts the
//! links of the others. A link grants that one file until it expires, and only while the
//! tenant, the session and the message still exist.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

use crate::model::SessionKey;
use crate::store::{Store, StoreResult, settings};

const SETTING: &str = "media_link_key";
/// The longest a link may be asked to live.
pub const MAX_LINK_TTL_SECS: u64 = 24 * 3600;

#[derive(Debug, Error, PartialEq)]
pub enum LinkError {
    #[error("this media link has expired; ask for a new one")]
    Expired,
    #[error("this media link is not valid")]
    BadSignature,
}

/// A file's link: the path to serve it at and when it stops working.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaLink {
    pub path: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct MediaLinks {
    key: std::sync::Arc<[u8; 32]>,
}

impl MediaLinks {
    /// The stored key, or a new random one stored for the next start.
    pub async fn load(store: &Store) -> StoreResult<Self> {
        let stored = settings::get(store.pool(), SETTING).await?;
        let key = match stored.and_then(|text| URL_SAFE_NO_PAD.decode(text).ok()).and_then(|b| b.try_into().ok()) {
            Some(key) => key,
            None => {
                let key: [u8; 32] = rand::random();
                let mut w = store.begin_write().await?;
                settings::set(&mut w, SETTING, &URL_SAFE_NO_PAD.encode(key)).await?;
                w.commit().await?;
                key
            }
        };
        Ok(Self::with_key(key))
    }

    pub fn with_key(key: [u8; 32]) -> Self {
        Self { key: std::sync::Arc::new(key) }
    }

    fn mac(&self, tenant: &str, session: &str, message: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key[..]).expect("HMAC takes any key length");
        // Ids are path-safe (no '/' or newline), so the fields cannot run into each other.
        mac.update(format!("wagate-media-link/v1\n{tenant}\n{session}\n{message}\n{expires}").as_bytes());
        mac
    }

    pub fn sign(&self, key: &SessionKey, message_id: &str, expires_at: DateTime<Utc>) -> MediaLink {
        let expires = expires_at.timestamp();
        let signature =
            URL_SAFE_NO_PAD.encode(self.mac(&key.tenant, &key.session, message_id, expires).finalize().into_bytes());
        MediaLink {
            path: format!(
                "/api/v1/media/{}/{}/{message_id}?expires={expires}&signature={signature}",
                key.tenant, key.session
            ),
            expires_at: DateTime::from_timestamp(expires, 0).unwrap_or(expires_at),
        }
    }

    /// Whether a link is one of ours and still valid at `now`.
    pub fn verify(
        &self,
        key: &SessionKey,
        message_id: &str,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LinkError> {
        let given = URL_SAFE_NO_PAD.decode(signature).map_err(|_| LinkError::BadSignature)?;
        // The signature is checked first, so an expired forgery reads as a forgery.
        self.mac(&key.tenant, &key.session, message_id, expires)
            .verify_slice(&given)
            .map_err(|_| LinkError::BadSignature)?;
        if now.timestamp() >= expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(path: &str) -> (i64, String) {
        let query = path.split_once('?').unwrap().1;
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("expires", v) => expires = v.parse().unwrap(),
                ("signature", v) => signature = v.to_owned(),
                _ => unreachable!(),
            }
        }
        (expires, signature)
    }

    #[test]
    fn a_link_opens_its_file_only_and_only_until_it_expires() {
        let links = MediaLinks::with_key([7; 32]);
        let key = SessionKey::new("acme", "sales");
        let now = Utc::now();
        let link = links.sign(&key, "m1", now + chrono::Duration::seconds(60));
        assert!(link.path.starts_with("/api/v1/media/acme/sales/m1?expires="));
        let (expires, sig) = parts(&link.path);
        assert_eq!(links.verify(&key, "m1", expires, &sig, now), Ok(()));
        assert_eq!(
            links.verify(&key, "m1", expires, &sig, now + chrono::Duration::seconds(61)),
            Err(LinkError::Expired)
        );
        assert_eq!(links.verify(&key, "m2", expires, &sig, now), Err(LinkError::BadSignature));
        assert_eq!(
            links.verify(&SessionKey::new("acme", "other"), "m1", expires, &sig, now),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            links.verify(&SessionKey::new("evil", "sales"), "m1", expires, &sig, now),
            Err(LinkError::BadSignature)
        );
        // A later expiry cannot be written in.
        assert_eq!(links.verify(&key, "m1", expires + 3600, &sig, now), Err(LinkError::BadSignature));
        assert_eq!(links.verify(&key, "m1", expires, "not base64!", now), Err(LinkError::BadSignature));
        // Another gateway's key signs other links.
        let other = MediaLinks::with_key([8; 32]);
        assert_eq!(other.verify(&key, "m1", expires, &sig, now), Err(LinkError::BadSignature));
    }
}
