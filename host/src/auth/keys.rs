use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

fn random_token(prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(buf))
}

/// Tenant API keys are 256-bit random; a plain SHA-256 is a sufficient one-way store for them
/// (no dictionary to attack), and lets the key itself be the lookup.
pub fn new_api_key() -> String {
    random_token("wgk_", 32)
}

pub fn new_admin_key() -> String {
    random_token("wga_", 32)
}

pub fn new_jwt_secret() -> String {
    random_token("", 48)
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The operator key, held only as its hash.
#[derive(Clone)]
pub struct AdminKey {
    hash: String,
}

impl AdminKey {
    pub fn from_hash(hash: String) -> Self {
        Self { hash }
    }

    pub fn from_plain(key: &str) -> Self {
        Self { hash: hash_key(key) }
    }

    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn matches(&self, presented: &str) -> bool {
        // Comparing digests of equal length: timing reveals nothing about the key.
        let given = hash_key(presented);
        given.len() == self.hash.len()
            && given.bytes().zip(self.hash.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_hash_stably() {
        let a = new_api_key();
        assert!(a.starts_with("wgk_") && a.len() > 40);
        assert_ne!(a, new_api_key());
        assert_eq!(hash_key(&a), hash_key(&a));
        let admin = AdminKey::from_plain("secret");
        assert!(admin.matches("secret"));
        assert!(!admin.matches("secreT"));
    }
}
