//! Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`), so a
//! receiver verifies with any of the specification's published libraries. During a secret's
//! rotation overlap both secrets sign, space-separated, as the specification allows.

use base64::Engine;
use rand::RngCore;
use standardwebhooks::Webhook;

/// A new endpoint secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// The `webhook-signature` value of a body under each of `secrets`.
pub fn signature(secrets: &[&str], msg_id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        // Every stored secret was made by `new_secret`, so it always reads.
        .filter_map(|s| Webhook::new(s).ok())
        .filter_map(|w| w.sign(msg_id, timestamp, body.as_bytes()).ok())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_the_reference_library_under_either_secret() {
        let (old, new) = (new_secret(), new_secret());
        assert!(old.starts_with("whsec_") && old != new);
        let ts = chrono::Utc::now().timestamp();
        let sig = signature(&[&new, &old], "evt_acme_7", ts, r#"{"type":"x"}"#);
        assert_eq!(sig.split(' ').count(), 2);
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", "evt_acme_7".parse().unwrap());
        headers.insert("webhook-timestamp", ts.to_string().parse().unwrap());
        headers.insert("webhook-signature", sig.parse().unwrap());
        for secret in [&old, &new] {
            Webhook::new(secret).unwrap().verify(br#"{"type":"x"}"#, &headers).unwrap();
        }
        assert!(Webhook::new(&new_secret()).unwrap().verify(br#"{"type":"x"}"#, &headers).is_err());
        assert!(Webhook::new(&new).unwrap().verify(br#"{"type":"y"}"#, &headers).is_err());
    }
}
