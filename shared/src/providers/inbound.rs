//! What provider callbacks say, in one vocabulary (SPEC §2 step 5, §5, §8, §10;
//! providers.md "Webhooks", "Status callback", "Callbacks"). No I/O: each provider's
//! `webhook` module ([`super::meta::webhook`], [`super::twilio::webhook`],
//! [`super::gupshup::webhook`], [`super::gateway::webhook`]) checks a callback's
//! authenticity and parses it into the [`Inbound`] events defined here; a status is
//! applied only when [`MessageStatus::advances`] says so. Gupshup and gateways sign
//! nothing: their callbacks carry a per-account URL secret, [`verify_url_secret`].

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::TemplateStatus;
use crate::sending::MessageStatus;

/// One event of a callback. A callback may hold several (Meta batches them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A status of a message we sent.
    Status(StatusUpdate),
    /// A message from a customer.
    Reply(Reply),
    /// A template's review status changed (Meta `message_template_status_update`).
    TemplateStatus(TemplateStatusUpdate),
    /// Something that is not ours to act on (another event kind, a status we do not
    /// track); answered 200 and dropped.
    Ignored { why: String },
}

/// A provider's status for one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The id the provider gave at send (gateway: the `user_id` the send chose, see
    /// [`crate::providers::gateway::user_id`]).
    pub provider_message_id: String,
    pub status: MessageStatus,
    /// The provider's own name for it (`sent`, `SENT_OK`, `enqueued`, …).
    pub provider_status: String,
    /// RFC 3339, UTC; `None` when the provider gives no time (Twilio).
    pub at: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Our id echoed back (Meta `biz_opaque_callback_data`).
    pub correlation: Option<String>,
}

/// A customer's message.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    /// E.164 with `+`.
    pub from_phone: String,
    pub provider_message_id: String,
    pub kind: ReplyKind,
    /// The text, a button's title, a media caption, a reaction's emoji.
    pub text: Option<String>,
    pub media: Vec<Media>,
    /// A quick-reply button's payload (Meta `button.payload`, interactive reply id,
    /// Twilio `ButtonPayload`, Gupshup `postbackText`).
    pub button_payload: Option<String>,
    /// The provider id of the message this answers (Meta `context.id`, Twilio
    /// `OriginalRepliedMessageSid`, Gupshup `context.gsId`).
    pub replied_to: Option<String>,
    /// RFC 3339, UTC.
    pub at: Option<String>,
}

/// Phones stay out of logs: a reply's `Debug` masks the sender.
impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("from_phone", &crate::phone::mask(&self.from_phone))
            .field("provider_message_id", &self.provider_message_id)
            .field("kind", &self.kind)
            .field("text", &self.text)
            .field("media", &self.media)
            .field("button_payload", &self.button_payload)
            .field("replied_to", &self.replied_to)
            .field("at", &self.at)
            .finish()
    }
}

impl Reply {
    /// Whether this reply asks to stop messages (SPEC §8): its text is an opt-out
    /// word, or its button payload is `stop` or an opt-out word.
    pub fn is_opt_out(&self, words: &[&str]) -> bool {
        let by_text = self.text.as_deref().is_some_and(|t| is_opt_out(t, words));
        let by_button = self
            .button_payload
            .as_deref()
            .is_some_and(|p| is_opt_out(p, &["stop"]) || is_opt_out(p, words));
        by_text || by_button
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    Text,
    /// A quick-reply or interactive button / list choice.
    Button,
    Media,
    Reaction,
    Location,
    /// Anything else a customer can send (contacts, orders, unsupported types): kept,
    /// never dropped (SPEC §5).
    Other,
}

/// A media attachment: the provider's id (Meta) or URL (Twilio, Gupshup).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Media {
    pub id: Option<String>,
    pub url: Option<String>,
    pub mime: Option<String>,
}

/// A template's new review status (Meta `message_template_status_update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateStatusUpdate {
    pub provider_template_id: String,
    pub name: String,
    pub language: String,
    /// Meta's `event` as sent (`APPROVED`, `REJECTED`, `FLAGGED`, …).
    pub event: String,
    /// Ours, for the events that name one of our statuses; `None` for the others
    /// (`FLAGGED`, `IN_APPEAL`, `PENDING_DELETION`, …): no change of ours.
    pub status: Option<TemplateStatus>,
    /// Meta's reason, absent when `NONE`.
    pub reason: Option<String>,
}

/// A callback that could not be read: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InboundError {
    pub field: String,
    pub reason: String,
}

pub(crate) fn bad(field: impl Into<String>, reason: impl Into<String>) -> InboundError {
    InboundError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Why a callback is not authentic (answer 401/403 and change nothing, SPEC §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the callback carries no signature or secret")]
    Missing,
    #[error("the callback's signature or secret does not match")]
    Mismatch,
}

/// Compares a secret in constant time (over SHA-256 digests, so the length does not
/// leak either). An empty expected secret matches nothing.
pub fn secret_eq(given: &str, expected: &str) -> bool {
    if expected.is_empty() {
        return false;
    }
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

/// Gupshup and the SMS gateway sign nothing (providers.md): each account's callback
/// URL carries a long random secret, checked here in constant time.
pub fn verify_url_secret(given: Option<&str>, expected: &str) -> Result<(), AuthError> {
    match given {
        None | Some("") => Err(AuthError::Missing),
        Some(g) if secret_eq(g, expected) => Ok(()),
        Some(_) => Err(AuthError::Mismatch),
    }
}

/// A signature header's value, trimmed, when there is one to check and a key to check
/// it with: no header is [`AuthError::Missing`]; an empty key is
/// [`AuthError::Mismatch`] (nothing is signed with nothing).
pub(crate) fn signed<'h>(header: Option<&'h str>, key: &str) -> Result<&'h str, AuthError> {
    let header = header.map(str::trim).filter(|h| !h.is_empty());
    let header = header.ok_or(AuthError::Missing)?;
    if key.is_empty() {
        return Err(AuthError::Mismatch);
    }
    Ok(header)
}

/// A new URL secret for an account's callback URL: 64 hex characters.
pub fn new_url_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The opt-out words of SPEC §8, used when a tenant configures none.
pub const DEFAULT_OPT_OUT_WORDS: &[&str] = &["STOP", "BAJA", "CANCELAR", "UNSUBSCRIBE"];

/// Whether `text` is an opt-out word (SPEC §8): the whole message, trimmed, without
/// case or accents, and without surrounding punctuation (`¡Baja!`, `stop.`).
pub fn is_opt_out(text: &str, words: &[&str]) -> bool {
    let said = crate::validate::fold(text.trim_matches(|c: char| {
        c.is_whitespace() || matches!(c, '.' | ',' | ';' | ':' | '!' | '¡' | '?' | '¿' | '"')
    }));
    !said.is_empty() && words.iter().any(|w| crate::validate::fold(w) == said)
}

/// `56962000001`, `+56962000001` or `whatsapp:+56962000001` → `+56962000001`.
pub(crate) fn e164(field: &str, raw: &str) -> Result<String, InboundError> {
    let d = raw.trim();
    let d = d.strip_prefix("whatsapp:").unwrap_or(d);
    let d = d.strip_prefix('+').unwrap_or(d);
    if d.is_empty() || d.len() > 15 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(field, "not a phone number"));
    }
    Ok(format!("+{d}"))
}

/// Unix seconds → RFC 3339 (UTC).
pub(crate) fn rfc3339_from_secs(secs: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Unix milliseconds → RFC 3339 (UTC).
pub(crate) fn rfc3339_from_millis(ms: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// A non-empty string.
pub(crate) fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_out_words_ignore_case_accents_spaces_and_punctuation() {
        let w = DEFAULT_OPT_OUT_WORDS;
        for t in [
            "STOP",
            "stop",
            "  Baja ",
            "báJA",
            "Cancelar",
            "unsubscribe\n",
            "¡Baja!",
        ] {
            assert!(is_opt_out(t, w), "{t:?}");
        }
        for t in [
            "",
            "  ",
            "no quiero la baja",
            "stopp",
            "Hola, ya pagué",
            "STOP ya",
        ] {
            assert!(!is_opt_out(t, w), "{t:?}");
        }
    }

    #[test]
    fn tenant_words_replace_the_defaults_and_are_folded_too() {
        assert!(is_opt_out("no más", &["NO MAS"]));
        assert!(is_opt_out("No  Más", &["no más"]));
        assert!(!is_opt_out("STOP", &["NO MAS"]));
    }

    fn reply(text: Option<&str>, payload: Option<&str>) -> Reply {
        Reply {
            from_phone: "+56962000001".into(),
            provider_message_id: "m".into(),
            kind: ReplyKind::Button,
            text: text.map(str::to_string),
            media: vec![],
            button_payload: payload.map(str::to_string),
            replied_to: None,
            at: None,
        }
    }

    #[test]
    fn a_stop_button_payload_opts_out_whatever_the_words() {
        assert!(reply(Some("No quiero recibir más"), Some("STOP")).is_opt_out(&["BAJA"]));
        assert!(reply(None, Some("stop")).is_opt_out(&[]));
        assert!(reply(Some("Baja"), None).is_opt_out(DEFAULT_OPT_OUT_WORDS));
        assert!(!reply(Some("Sí, pagaré"), Some("PAY_TOMORROW")).is_opt_out(DEFAULT_OPT_OUT_WORDS));
    }

    #[test]
    fn a_reply_debug_masks_the_phone() {
        let d = format!("{:?}", reply(Some("x"), None));
        assert!(!d.contains("56962000001"), "{d}");
    }

    #[test]
    fn url_secrets_compare_whole() {
        let s = new_url_secret();
        assert_eq!(s.len(), 64);
        assert_eq!(verify_url_secret(Some(&s), &s), Ok(()));
        assert_eq!(
            verify_url_secret(Some(&s[..63]), &s),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_url_secret(Some(&format!("{s}0")), &s),
            Err(AuthError::Mismatch)
        );
        assert_eq!(verify_url_secret(None, &s), Err(AuthError::Missing));
        assert_eq!(verify_url_secret(Some(""), &s), Err(AuthError::Missing));
        // An account without a configured secret accepts nothing.
        assert_eq!(verify_url_secret(Some(""), ""), Err(AuthError::Missing));
        assert_eq!(verify_url_secret(Some("x"), ""), Err(AuthError::Mismatch));
        assert_ne!(new_url_secret(), s);
    }

    #[test]
    fn phones_and_times_are_normalised() {
        assert_eq!(e164("f", "56962000001").unwrap(), "+56962000001");
        assert_eq!(e164("f", "whatsapp:+56962000001").unwrap(), "+56962000001");
        assert_eq!(e164("From", "Movistar").unwrap_err().field, "From");
        assert!(e164("f", "+").is_err());
        assert_eq!(
            rfc3339_from_secs(1763800000).as_deref(),
            Some("2025-11-22T08:26:40Z")
        );
        assert_eq!(
            rfc3339_from_millis(1763800000123).as_deref(),
            Some("2025-11-22T08:26:40.123Z")
        );
    }
}
