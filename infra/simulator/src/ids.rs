//! Identifiers in each provider's documented shape (providers.md): Meta's
//! `wamid.…` message ids and numeric template ids, Twilio SIDs (two letters
//! and 32 hex digits: `SM…`, `MM…`, `HX…`), Gupshup's UUID `messageId`s and
//! template ids.

use base64::Engine;
use rand::Rng;

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

/// A Meta message id: `wamid.` and Base64, as in the webhook fixtures.
pub fn wamid(recipient_digits: &str) -> String {
    let raw = format!("{recipient_digits}:{}", random_hex(10).to_uppercase());
    format!(
        "wamid.HBgL{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A Meta id for a message a customer sent (inbound): `wamid.IN` and Base64,
/// so it can never be mistaken for the id of a message we sent.
pub fn inbound_wamid(sender_digits: &str) -> String {
    let raw = format!("{sender_digits}:{}", random_hex(10).to_uppercase());
    format!(
        "wamid.IN{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Gupshup's inbound `payload.id` (the WhatsApp message id it relays, e.g.
/// `ABEGkYaYVSEEAhAL3SLAWwHKeKrt6s3FKB0c` in its docs).
pub fn gupshup_inbound_id() -> String {
    let mut b = [0u8; 24];
    rand::rng().fill(&mut b);
    format!(
        "ABEG{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

/// A Meta numeric id (templates, media).
pub fn numeric_id() -> String {
    let n: u64 = rand::rng().random_range(100_000_000_000_000..999_999_999_999_999);
    n.to_string()
}

/// A Twilio SID: `prefix` and 32 lowercase hex digits.
pub fn twilio_sid(prefix: &str) -> String {
    format!("{prefix}{}", random_hex(16))
}

/// A random (version 4) UUID, Gupshup's `messageId` and template id shape.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Meta's `fbtrace_id` shape.
pub fn fbtrace_id() -> String {
    let mut b = [0u8; 8];
    rand::rng().fill(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// An opaque token (Gupshup partner and app tokens).
pub fn token(prefix: &str) -> String {
    format!("{prefix}{}", random_hex(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_providers_shapes() {
        let sid = twilio_sid("SM");
        assert_eq!(sid.len(), 34);
        assert!(sid[2..].bytes().all(|b| b.is_ascii_hexdigit()));
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(wamid("56962000001").starts_with("wamid."));
        assert!(inbound_wamid("56962000001").starts_with("wamid.IN"));
        assert!(gupshup_inbound_id().starts_with("ABEG"));
        assert!(numeric_id().bytes().all(|b| b.is_ascii_digit()));
    }
}
