//! A customer's inbound message as every provider's shape needs it: the
//! `POST /_sim/inbound` request, its checks and the checked [`Inbound`] with
//! its fresh provider message id (what it carries: [`Content`] — text, a
//! button tap or a [`Media`] of some [`MediaKind`]). The handler that posts
//! it is in `inbound`; how each provider shapes and signs it is in
//! `providers/<provider>/inbound.rs`. Both import this file, and it imports
//! neither.

use serde::Deserialize;

use crate::{ids, phone, Provider};

/// `POST /_sim/inbound`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundRequest {
    pub provider: Provider,
    /// Our business sender as registered: Meta `phone_number_id`, Twilio
    /// number (`+15550003333`; `whatsapp:+1…` makes it a WhatsApp message),
    /// Gupshup `source`.
    pub sender: String,
    /// The customer, in any spelling `phone::to_e164` takes.
    pub from: String,
    #[serde(default)]
    pub text: Option<String>,
    /// The provider message id of the message being answered.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// A quick-reply button tap instead of text.
    #[serde(default)]
    pub button: Option<ButtonTap>,
    /// An attachment; `text` becomes its caption.
    #[serde(default)]
    pub media: Option<MediaSpec>,
    /// The customer's WhatsApp profile name (default `Cliente`).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonTap {
    pub text: String,
    /// Default: the text.
    #[serde(default)]
    pub payload: Option<String>,
    /// Gupshup only: `button_reply` (default; `title`, `id`, `postbackText`)
    /// or `quick_reply` (`text`, `type: "button"`, `postbackText`), the shape
    /// Gupshup documents for a tap on a template's quick-reply button.
    #[serde(default)]
    pub gupshup_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSpec {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    /// Default `image/jpeg`; `image/*`, `video/*`, `audio/*`, anything else
    /// a document.
    #[serde(default)]
    pub mime: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
}

impl MediaKind {
    fn from_mime(mime: &str) -> MediaKind {
        match mime.split('/').next().unwrap_or_default() {
            "image" => MediaKind::Image,
            "video" => MediaKind::Video,
            "audio" => MediaKind::Audio,
            _ => MediaKind::Document,
        }
    }

    /// Meta's `type` (and Twilio's WhatsApp `MessageType`).
    pub(crate) fn meta(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
        }
    }
}

/// What the customer sent, as every provider's shape needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    Text(String),
    Button {
        text: String,
        payload: String,
        /// Gupshup's `quick_reply` shape instead of `button_reply`.
        quick_reply: bool,
    },
    Media(Media),
}

/// An attachment the customer sent, as every provider's shape needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Media {
    pub(crate) kind: MediaKind,
    pub(crate) url: Option<String>,
    /// The provider's media id (given, or fresh in its shape).
    pub(crate) id: String,
    pub(crate) mime: String,
    pub(crate) caption: Option<String>,
}

/// An inbound message, checked, with its fresh provider message id.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub provider: Provider,
    /// As the request gave it, trimmed.
    pub sender: String,
    /// `+E164`.
    pub from: String,
    /// Twilio: the sender had `whatsapp:` (Meta and Gupshup always are).
    pub(crate) whatsapp: bool,
    pub(crate) content: Content,
    pub(crate) reply_to: Option<String>,
    pub(crate) name: String,
    /// The inbound message's id (Meta `wamid.IN…`, Twilio `SM…`/`MM…`,
    /// Gupshup `ABEG…`).
    pub id: String,
    pub(crate) at_ms: u64,
}

/// The value unless it is missing or blank (kept as written: a customer's
/// text reaches the webhook untouched).
fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl Inbound {
    /// Checks a request and gives the message its id; the error is for a 400.
    pub fn new(request: InboundRequest, at_ms: u64) -> Result<Inbound, String> {
        let provider = request.provider;
        let sender = request.sender.trim().to_string();
        if sender.is_empty() {
            return Err("sender is required".into());
        }
        let from = phone::to_e164(&request.from)
            .ok_or_else(|| format!("from {:?} is not a phone number", request.from))?;
        let whatsapp = match provider {
            Provider::Twilio => sender.starts_with("whatsapp:"),
            Provider::Gateway => false,
            _ => true,
        };
        let reply_to = non_empty(request.reply_to);
        if reply_to.is_some() && !whatsapp {
            return Err(
                "an SMS carries no reply context: reply_to needs a whatsapp: sender".into(),
            );
        }
        let text = non_empty(request.text);
        let content = match (request.button, request.media) {
            (Some(_), Some(_)) => return Err("give a button or media, not both".into()),
            (Some(button), None) => {
                if text.is_some() {
                    return Err("a button tap has no text of its own: give button.text".into());
                }
                if !whatsapp {
                    return Err("buttons are WhatsApp only: use a whatsapp: sender".into());
                }
                let quick_reply = match button.gupshup_type.as_deref() {
                    None | Some("button_reply") => false,
                    Some("quick_reply") => true,
                    Some(other) => {
                        return Err(format!(
                            "gupshup_type is button_reply or quick_reply, not {other:?}"
                        ))
                    }
                };
                if button.gupshup_type.is_some() && provider != Provider::Gupshup {
                    return Err("gupshup_type is for provider gupshup".into());
                }
                let text = non_empty(Some(button.text)).ok_or("button.text is required")?;
                let payload = non_empty(button.payload).unwrap_or_else(|| text.clone());
                Content::Button {
                    text,
                    payload,
                    quick_reply,
                }
            }
            (None, Some(_)) if provider == Provider::Gateway => {
                return Err("a GSM gateway receives text SMS only: no media".into())
            }
            (None, Some(media)) => {
                let mime = non_empty(media.mime).unwrap_or_else(|| "image/jpeg".into());
                let id = non_empty(media.id).unwrap_or_else(|| match provider {
                    Provider::Twilio => ids::twilio_sid("ME"),
                    Provider::Gupshup => ids::uuid(),
                    _ => ids::numeric_id(),
                });
                Content::Media(Media {
                    kind: MediaKind::from_mime(&mime),
                    url: non_empty(media.url),
                    id,
                    mime,
                    caption: text,
                })
            }
            (None, None) => Content::Text(text.ok_or("text, button or media is required")?),
        };
        let id = match (provider, &content) {
            (Provider::Meta, _) => ids::inbound_wamid(phone::digits(&from)),
            (Provider::Twilio, Content::Media(_)) => ids::twilio_sid("MM"),
            (Provider::Twilio, _) => ids::twilio_sid("SM"),
            (Provider::Gateway, _) => ids::numeric_id(),
            _ => ids::gupshup_inbound_id(),
        };
        Ok(Inbound {
            provider,
            sender,
            from,
            whatsapp,
            content,
            reply_to,
            name: non_empty(request.name).unwrap_or_else(|| "Cliente".into()),
            id,
            at_ms,
        })
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Requests and registrations for the tests here and in each provider's
    //! `inbound.rs`.

    use std::collections::BTreeSet;

    use serde_json::{json, Value};

    use super::{Inbound, InboundRequest};
    use crate::delivery::Prepared;
    use crate::sim::Webhook;

    pub(crate) const AT_MS: u64 = 1_763_800_100_000;

    pub(crate) fn request(provider: &str, sender: &str, extra: Value) -> InboundRequest {
        let mut body = json!({"provider": provider, "sender": sender, "from": "+56962000001"});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        serde_json::from_value(body).expect("a valid request")
    }

    pub(crate) fn inbound(provider: &str, sender: &str, extra: Value) -> Inbound {
        Inbound::new(request(provider, sender, extra), AT_MS).expect("accepted")
    }

    pub(crate) fn refused(provider: &str, sender: &str, extra: Value) -> String {
        Inbound::new(request(provider, sender, extra), AT_MS).expect_err("refused")
    }

    pub(crate) fn hook(provider: &str, sender: &str, extra: Value) -> Webhook {
        let mut body = json!({"provider": provider, "sender": sender, "url": "http://127.0.0.1:9/v1/webhooks/acc_x"});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        serde_json::from_value(body).expect("a valid registration")
    }

    pub(crate) fn keys(value: &Value) -> BTreeSet<&str> {
        value
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    pub(crate) fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
        names.iter().copied().collect()
    }

    pub(crate) fn json_body(prepared: &Prepared) -> Value {
        serde_json::from_slice(&prepared.body).expect("a JSON body")
    }

    pub(crate) fn header<'a>(prepared: &'a Prepared, name: &str) -> Option<&'a str> {
        prepared
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::test_support::{inbound, refused, AT_MS};
    use super::*;

    #[test]
    fn requests_that_no_provider_would_send_are_refused() {
        assert!(refused("meta", "1", json!({})).contains("text, button or media"));
        assert!(
            refused("meta", "1", json!({"text": "a", "button": {"text": "b"}})).contains("button")
        );
        assert!(
            refused("twilio", "+15550003333", json!({"button": {"text": "b"}}))
                .contains("WhatsApp only")
        );
        assert!(refused(
            "twilio",
            "+15550003333",
            json!({"text": "a", "reply_to": "SM1"})
        )
        .contains("reply_to"));
        assert!(refused(
            "meta",
            "1",
            json!({"button": {"text": "b", "gupshup_type": "quick_reply"}})
        )
        .contains("gupshup"));
        assert!(refused(
            "gateway",
            "user",
            json!({"media": {"url": "https://x.io/a.jpg"}})
        )
        .contains("gateway"));
        let bad_from = Inbound::new(
            serde_json::from_value(
                json!({"provider": "meta", "sender": "1", "from": "abc", "text": "a"}),
            )
            .unwrap(),
            AT_MS,
        );
        assert!(bad_from.is_err());
        assert!(serde_json::from_value::<InboundRequest>(
            json!({"provider": "meta", "sender": "1", "from": "+56962000001", "txt": "a"})
        )
        .is_err());
    }

    #[test]
    fn fresh_ids_have_each_providers_shape() {
        let a = inbound("meta", "1", json!({"text": "a"}));
        let b = inbound("meta", "1", json!({"text": "a"}));
        assert_ne!(a.id, b.id);
        assert!(inbound("gupshup", "1", json!({"text": "a"}))
            .id
            .starts_with("ABEG"));
        assert!(inbound("twilio", "+15550003333", json!({"text": "a"}))
            .id
            .starts_with("SM"));
    }
}
