//! Request plumbing the providers share (providers.md): HTTP Basic
//! credentials (Twilio `AccountSid:AuthToken`, the gateway's user and
//! password), form-encoded bodies with repeated keys (Twilio `MediaUrl`,
//! Gupshup's fields), and the SMS segment count Twilio reports as
//! `num_segments` and the gateway as `count` (GSM-7: 160 per message, 153 per
//! part; otherwise UCS-2: 70 and 67).

use axum::http::HeaderMap;
use base64::Engine;

/// User and password of an `Authorization: Basic …` header, both non-empty.
pub fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty() && !password.is_empty()).then(|| (user.to_string(), password.to_string()))
}

/// A form-encoded body's pairs, in order, repeated keys kept.
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key`, when not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}

const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED: &str = "^{}\\[~]|€\x0c";

/// Number of SMS parts `text` needs.
pub fn segments(text: &str) -> usize {
    let mut septets = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        if GSM_BASIC.contains(c) {
            septets += 1;
        } else if GSM_EXTENDED.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    if gsm {
        if septets <= 160 {
            1
        } else {
            septets.div_ceil(153)
        }
    } else {
        let units: usize = text.chars().map(char::len_utf16).sum();
        if units <= 70 {
            1
        } else {
            units.div_ceil(67)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn basic_auth_needs_both_halves() {
        let mut headers = HeaderMap::new();
        let value = |s: &str| {
            HeaderValue::from_str(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            ))
            .unwrap()
        };
        headers.insert("authorization", value("AC1:tok"));
        assert_eq!(basic_auth(&headers), Some(("AC1".into(), "tok".into())));
        headers.insert("authorization", value("AC1:"));
        assert_eq!(basic_auth(&headers), None);
    }

    #[test]
    fn segments_follow_gsm7_and_ucs2_limits() {
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"€".repeat(80)), 1);
        assert_eq!(segments(&"€".repeat(81)), 2);
        assert_eq!(segments("Hola María, debes $12.500"), 1);
        assert_eq!(segments(&"ó".repeat(70)), 1);
        assert_eq!(segments(&"ó".repeat(71)), 2);
    }

    #[test]
    fn forms_keep_repeated_keys() {
        let form = Form::parse(b"To=%2B569&MediaUrl=a&MediaUrl=b&Body=");
        assert_eq!(form.get("To"), Some("+569"));
        assert_eq!(form.all("MediaUrl"), ["a", "b"]);
        assert_eq!(form.get("Body"), None);
    }
}
