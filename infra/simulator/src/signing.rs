//! Plays the providers' webhook signers (providers.md, "Authenticity"):
//! Meta's `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the app
//! secret, hex, prefixed `sha256=`) and Twilio's `X-Twilio-Signature`
//! (Base64 of HMAC-SHA1 with the auth token over the full URL followed by every
//! POST parameter, sorted by name, as name then value). Gupshup documents no
//! signature, so it has nothing here.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// The `X-Hub-Signature-256` header value Meta sends with a webhook body.
pub fn meta_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The `X-Twilio-Signature` header value for a form POST to `url` (the URL
/// exactly as requested, query string included) with `params`.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_signature_matches_the_providers_md_vector() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        assert_eq!(
            meta_signature("test_app_secret", body),
            "sha256=dec6a680679a968e7e0319355b23599cbfc54502c0784668e9618baa0c633756"
        );
    }

    #[test]
    fn twilio_signature_matches_twilios_published_vector() {
        let params: Vec<(String, String)> = [
            ("To", "+18005551212"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }

    #[test]
    fn twilio_signature_changes_with_the_url() {
        let params = vec![("A".to_string(), "1".to_string())];
        assert_ne!(
            twilio_signature("t", "http://x/a", &params),
            twilio_signature("t", "http://x/b", &params)
        );
    }
}
