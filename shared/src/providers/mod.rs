//! Provider adapters (SPEC §9, providers.md), one folder per provider: `meta/`,
//! `twilio/`, `gupshup/`, `gateway/`, each with `send.rs` (a message becomes an HTTP
//! request, the provider's answer an outcome), `webhook.rs` (its callbacks checked and
//! read into [`inbound::Inbound`] events) and, where the provider has them,
//! `templates.rs`. [`Adapter`] is the one place that picks the provider from an
//! account's [`Credentials`]; what every provider shares (requests and replies, the
//! retry decision, credentials, endpoints) is defined here once.
//!
//! No I/O: the functions' one transport sends the [`HttpRequest`] and hands back the
//! [`HttpReply`]. Every adapter answers in the same terms: [`Accepted`] with the
//! provider's message id, or a [`ProviderError`] that carries the retry decision, so
//! what happens next (retry through the queue, back off, fail the message, stop the
//! account) is decided in one place for every provider.

pub mod adapter;
pub mod gateway;
pub mod gupshup;
pub mod inbound;
pub mod meta;
pub mod twilio;

pub use adapter::{Adapter, Callback, TemplateCallError, TemplateOp};

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
    /// The provider may have taken the message: a success answer without the message's
    /// id, or a 502/504 from an intermediary (no provider error body). Like a cut
    /// connection, it is never sent again on a guess: the claim stays and the message is
    /// settled from the provider's callbacks, else as `outcome_unknown`.
    #[error("outcome unknown: {reason}")]
    Unknown { reason: String },
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
            ProviderError::Unknown { reason } => {
                (crate::sending::OUTCOME_UNKNOWN.into(), reason.clone())
            }
        }
    }
}

/// What a provider's refusal says of the recipient's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptOut {
    /// The recipient unsubscribed from this sender (Twilio 21610, "STOP"): nothing more
    /// may go to them; the phone joins the tenant's do-not-contact list.
    Everything,
    /// The recipient stopped marketing messages (Meta 131050): MARKETING templates are
    /// refused for them from now on; utility and authentication ones still go.
    Marketing,
}

/// The opt-out a send's error code means, if any (providers.md).
pub fn opt_out(provider: crate::model::ProviderKind, code: &str) -> Option<OptOut> {
    use crate::model::ProviderKind;
    match (provider, code) {
        (ProviderKind::Twilio, "21610") => Some(OptOut::Everything),
        (ProviderKind::Meta, "131050") => Some(OptOut::Marketing),
        _ => None,
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

impl<'a> Content<'a> {
    /// What a send job sends (SPEC §3, §9): its own text (a ticket's reply, a text
    /// campaign); else its `template`, rendered to text where the account sends SMS
    /// (`sms`: gateways and SMS accounts), or sent as the template, with the campaign's
    /// own image (`campaign_image`) in place of the template's header image. `rendered`
    /// holds the rendered text. A job with neither is refused `no_content`.
    pub fn of_job(
        job: &'a crate::sending::SendJob,
        template: Option<&'a crate::model::Template>,
        sms: bool,
        campaign_image: Option<&'a str>,
        rendered: &'a mut String,
    ) -> Result<Self, ProviderError> {
        match (&job.text, template) {
            (Some(text), _) => Ok(Content::Text { body: text }),
            (None, Some(t)) if sms => {
                *rendered = crate::model::render(&t.spec.body, &job.params);
                Ok(Content::Text { body: rendered })
            }
            (None, Some(t)) => Ok(Content::Template {
                name: &t.spec.name,
                language: &t.spec.language,
                params: &job.params,
                header_image: t.image_header().map(|l| campaign_image.unwrap_or(l)),
                provider_template_id: t.provider_template_id.as_deref(),
            }),
            (None, None) => Err(ProviderError::Rejected {
                code: "no_content".into(),
                message: match &job.template {
                    Some(t) => format!("the message's template {t} no longer exists"),
                    None => "the message has neither a template nor a text".into(),
                },
            }),
        }
    }
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

/// A success answer that names no message: the provider may have taken it.
pub(crate) fn success_without_id(what: &str) -> ProviderError {
    ProviderError::Unknown {
        reason: format!("a success answer without {what}"),
    }
}

/// A 502 or 504 whose body is not the provider's (an HTML page or nothing, from a load
/// balancer or proxy in between): the request may have reached the provider.
pub(crate) fn from_intermediary(status: u16, body: &Value) -> Option<ProviderError> {
    (matches!(status, 502 | 504) && !body.is_object()).then(|| ProviderError::Unknown {
        reason: format!("HTTP {status} from an intermediary, without the provider's answer"),
    })
}

/// An error answer with the provider's own error `code` (when it gave one) that none of
/// its specific codes explains: a 4xx other than 429 that names a code refuses this
/// message; anything else is read by its status ([`by_status`]).
pub(crate) fn by_code(status: u16, has_code: bool, code: String, message: String) -> ProviderError {
    if has_code && status < 500 && status != 429 {
        ProviderError::Rejected { code, message }
    } else {
        by_status(status, code, message)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(status: u16, body: &[u8]) -> Vec<Result<Accepted, ProviderError>> {
        let r = HttpReply { status, body };
        vec![
            meta::read_send_reply(r),
            twilio::read_send_reply(r),
            gupshup::read_send_reply(r),
            gateway::read_send_reply(r, 7),
        ]
    }

    #[test]
    fn twilio_21610_is_an_unsubscribe_and_meta_131050_a_marketing_opt_out() {
        use crate::model::ProviderKind;
        let e = twilio::read_send_reply(HttpReply {
            status: 400,
            body: br#"{"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}"#,
        })
        .unwrap_err();
        let (code, _) = e.code_and_message();
        assert_eq!(
            opt_out(ProviderKind::Twilio, &code),
            Some(OptOut::Everything)
        );
        let e = meta::read_send_reply(HttpReply {
            status: 400,
            body: br#"{"error":{"code":131050,"message":"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business."}}"#,
        })
        .unwrap_err();
        assert!(!e.retriable());
        let (code, _) = e.code_and_message();
        assert_eq!(opt_out(ProviderKind::Meta, &code), Some(OptOut::Marketing));
        assert_eq!(opt_out(ProviderKind::Meta, "131026"), None);
        assert_eq!(opt_out(ProviderKind::Gupshup, "21610"), None);
    }

    #[test]
    fn a_success_answer_without_the_message_id_is_an_unknown_outcome_for_every_provider() {
        for (i, got) in read_all(200, br#"{}"#).into_iter().take(3).enumerate() {
            assert!(
                matches!(got, Err(ProviderError::Unknown { .. })),
                "provider {i}: {got:?}"
            );
            assert!(!got.unwrap_err().retriable(), "provider {i}");
        }
    }

    #[test]
    fn a_502_or_504_from_an_intermediary_is_unknown_but_the_providers_own_5xx_is_a_retry() {
        for status in [502, 504] {
            for got in read_all(status, b"<html><body>Bad Gateway</body></html>") {
                let e = got.unwrap_err();
                assert!(matches!(e, ProviderError::Unknown { .. }), "{e:?}");
                assert_eq!(e.code_and_message().0, "outcome_unknown");
            }
            for got in read_all(status, b"") {
                assert!(matches!(got, Err(ProviderError::Unknown { .. })), "{got:?}");
            }
        }
        // The provider's own error body: it did not take the message.
        let meta = meta::read_send_reply(HttpReply {
            status: 502,
            body: br#"{"error":{"code":131000,"message":"Something went wrong"}}"#,
        });
        assert!(matches!(meta, Err(ProviderError::Retry { .. })), "{meta:?}");
        let twilio = twilio::read_send_reply(HttpReply {
            status: 503,
            body: b"<html>Service Unavailable</html>",
        });
        assert!(
            matches!(twilio, Err(ProviderError::Retry { .. })),
            "{twilio:?}"
        );
    }
}
