//! Provider adapters (SPEC §9, providers.md): for each provider, how a message becomes an
//! HTTP request and how the provider's answer becomes an outcome. No I/O here: the
//! sender function's one transport sends the [`HttpRequest`] and hands back the
//! [`HttpReply`]; the webhook function will share the same adapters to read callbacks.
//!
//! Every adapter answers in the same terms: [`Accepted`] with the provider's message
//! id, or a [`ProviderError`] that carries the retry decision, so what happens next
//! (retry through the queue, back off, fail the message, stop the account) is decided
//! in one place for every provider.

pub mod gateway;
pub mod gupshup;
pub mod inbound;
pub mod meta;
pub mod twilio;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An HTTP request to make, exactly as the provider documents it.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the provider answered.
#[derive(Debug, Clone, Copy)]
pub struct HttpReply<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

/// The provider took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub provider_message_id: String,
}

/// Why a send did not succeed, and so what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// A transient failure (5xx, "something went wrong", a timeout before the request
    /// was sent): try again later, through the queue.
    #[error("provider unavailable: {reason}")]
    Retry { reason: String },
    /// Over the provider's rate: back off, then try again.
    #[error("throttled by the provider ({code})")]
    Throttled { code: String },
    /// Refused for good (invalid number, template paused, …): the message fails at once.
    #[error("refused by the provider: {code} {message}")]
    Rejected { code: String, message: String },
    /// The credentials were refused: no message of this account can go until fixed.
    #[error("the provider refused the credentials: {code} {message}")]
    Auth { code: String, message: String },
}

impl ProviderError {
    /// Whether trying the same request again later can succeed.
    pub fn retriable(&self) -> bool {
        matches!(
            self,
            ProviderError::Retry { .. } | ProviderError::Throttled { .. }
        )
    }

    /// The error code and message recorded on a failed message.
    pub fn code_and_message(&self) -> (String, String) {
        match self {
            ProviderError::Retry { reason } => ("provider_unavailable".into(), reason.clone()),
            ProviderError::Throttled { code } => (code.clone(), "throttled".into()),
            ProviderError::Rejected { code, message } | ProviderError::Auth { code, message } => {
                (code.clone(), message.clone())
            }
        }
    }
}

/// A message ready to send: the recipient, the content, and what lets the provider's
/// callbacks find it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing<'a> {
    /// E.164, with `+`.
    pub to: &'a str,
    pub content: Content<'a>,
    /// Our message id: Meta echoes it as `biz_opaque_callback_data`.
    pub correlation: &'a str,
    /// Where the provider should post this message's statuses (Twilio `StatusCallback`).
    pub status_callback: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Content<'a> {
    /// An approved template and its parameters `{{1}}`…`{{n}}`.
    Template {
        name: &'a str,
        language: &'a str,
        params: &'a [String],
        /// A public https link to the header image, for templates with an image header.
        header_image: Option<&'a str>,
        /// The provider's own template id where it sends by id (Gupshup's template
        /// uuid, Twilio's Content SID).
        provider_template_id: Option<&'a str>,
    },
    /// A free text (SMS; WhatsApp only inside the 24-hour window).
    Text { body: &'a str },
}

/// The account's credentials, read from its secret, by provider kind (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum Credentials {
    Meta {
        access_token: String,
        app_secret: String,
        verify_token: String,
        phone_number_id: String,
        waba_id: String,
    },
    Twilio {
        account_sid: String,
        auth_token: String,
    },
    Gupshup {
        api_key: String,
        app_name: String,
        app_id: String,
        partner_token: String,
    },
    SmsGateway {
        url: String,
        user: String,
        password: String,
    },
}

impl Credentials {
    /// The credentials of a provider kind (`meta`, `twilio`, `gupshup`, `sms_gateway`)
    /// from the secret's JSON object; names each missing field.
    pub fn from_secret(provider: &str, secret: &Map<String, Value>) -> Result<Self, String> {
        let mut tagged = secret.clone();
        tagged.insert("provider".into(), Value::from(provider));
        serde_json::from_value(Value::Object(tagged)).map_err(|e| e.to_string())
    }
}

/// Where each provider's API lives: the real hosts, or one base URL for all of them
/// (the local stack's simulator, `PROVIDER_BASE_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub meta: String,
    pub twilio: String,
    /// Twilio's Content API (WhatsApp templates): content.twilio.com.
    pub twilio_content: String,
    pub gupshup: String,
    /// Gupshup's partner API (templates): partner.gupshup.io.
    pub gupshup_partner: String,
}

/// The Graph API version the Meta adapter speaks.
pub const META_GRAPH_VERSION: &str = "v21.0";

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            meta: format!("https://graph.facebook.com/{META_GRAPH_VERSION}"),
            twilio: "https://api.twilio.com".into(),
            twilio_content: "https://content.twilio.com".into(),
            gupshup: "https://api.gupshup.io".into(),
            gupshup_partner: "https://partner.gupshup.io".into(),
        }
    }
}

impl Endpoints {
    /// Every provider at one base URL (a simulator that serves the real paths).
    pub fn all_at(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Endpoints {
            meta: format!("{base}/{META_GRAPH_VERSION}"),
            twilio: base.to_string(),
            twilio_content: base.to_string(),
            gupshup: base.to_string(),
            gupshup_partner: base.to_string(),
        }
    }
}

/// A template as its provider sees it, in our terms: the provider's id for it (Meta
/// template id, Twilio Content SID `HX…`, Gupshup template uuid), its approval status,
/// and why it was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateState {
    pub provider_template_id: Option<String>,
    pub status: crate::model::TemplateStatus,
    pub rejected_reason: Option<String>,
}

impl TemplateState {
    /// A state as a provider reports it: the reason is kept only for a rejection, and
    /// only when the provider gave one (not empty, not Meta's `NONE`).
    pub fn reported(
        provider_template_id: Option<&str>,
        status: crate::model::TemplateStatus,
        reason: Option<&str>,
    ) -> Self {
        TemplateState {
            provider_template_id: provider_template_id.map(str::to_string),
            status,
            rejected_reason: reason
                .filter(|r| {
                    !r.is_empty()
                        && *r != "NONE"
                        && status == crate::model::TemplateStatus::Rejected
                })
                .map(str::to_string),
        }
    }
}

/// Example values for a template's `{{1}}`…`{{n}}`, as providers require for review.
pub(crate) fn examples(params: usize) -> Vec<String> {
    (1..=params).map(|n| format!("ejemplo {n}")).collect()
}

/// `+56962000001` → `56962000001`, as Meta, Gupshup and gateways write numbers.
pub(crate) fn digits(e164: &str) -> &str {
    e164.trim_start_matches('+')
}

/// Form-encodes `pairs` as `application/x-www-form-urlencoded`.
pub(crate) fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

/// HTTP Basic credentials.
pub(crate) fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// The common reading of an answer none of a provider's specific codes explains.
pub(crate) fn by_status(status: u16, code: String, message: String) -> ProviderError {
    match status {
        429 => ProviderError::Throttled { code },
        401 | 403 => ProviderError::Auth { code, message },
        500..=599 => ProviderError::Retry {
            reason: format!("HTTP {status}: {message}"),
        },
        _ => ProviderError::Rejected { code, message },
    }
}
