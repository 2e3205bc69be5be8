//! Identifiers shaped like WhatsApp's own, so frontends and tests see realistic values.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::{Rng, RngCore};

fn b64(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    STANDARD.encode(buf)
}

/// `2@<ref>,<noise key>,<identity key>,<adv secret>`, the layout WhatsApp Web's QR carries.
pub fn qr_payload() -> String {
    format!("2@{},{},{},{}", b64(36), b64(32), b64(32), b64(32))
}

/// Pairing codes use WhatsApp's 8-character alphabet (no 0, O, I, U).
pub fn pairing_code() -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTVWXYZ";
    let mut rng = rand::rng();
    (0..8).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

pub fn wa_message_id() -> String {
    let mut buf = [0u8; 8];
    rand::rng().fill_bytes(&mut buf);
    format!("3EB0{}", hex::encode_upper(buf))
}

pub fn device_token() -> String {
    b64(24)
}

/// Group jids are `120363` and twelve more digits.
pub fn group_jid() -> String {
    format!("120363{:012}@g.us", rand::rng().random_range(0..1_000_000_000_000u64))
}

/// Invite codes are 22 letters and digits (`https://chat.whatsapp.com/<code>`).
pub fn invite_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..22).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}
