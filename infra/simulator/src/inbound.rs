//! Plays a customer's inbound message (a reply) the way each provider delivers
//! it (providers.md: Meta's `messages` webhook with `messages[]` and
//! `contacts`, Twilio's form-encoded "Inbound message", Gupshup's version-2
//! `"type": "message"` callback), signed as that provider signs (Meta
//! `X-Hub-Signature-256` with the registration's `app_secret`, Twilio
//! `X-Twilio-Signature` with its `auth_token` over the URL exactly as
//! registered plus the sorted parameters; Gupshup unsigned, its URL carries
//! our secret) and posted once to the URL `POST /_sim/webhooks` registered for
//! that provider and business sender. `POST /_sim/inbound` answers with the
//! webhook's status and the start of its body, synchronously, so a test knows
//! at once whether our webhook took the message; every attempt is logged in
//! `/_sim/callbacks` with status `inbound`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::callbacks::Prepared;
use crate::sim::{Delivery, Webhook};
use crate::{ids, now_ms, phone, rfc3339, signing, wire, Provider, Sim};

/// How much of the webhook's answer `POST /_sim/inbound` hands back.
const BODY_CHARS: usize = 500;
/// Gupshup's media links expire a week after the message (its docs' example).
const GUPSHUP_URL_LIFETIME_MS: u64 = 7 * 24 * 3600 * 1000;

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
enum MediaKind {
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
    fn meta(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
        }
    }

    /// Gupshup's `payload.type` (documents are `file`).
    fn gupshup(self) -> &'static str {
        match self {
            MediaKind::Document => "file",
            other => other.meta(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Content {
    Text(String),
    Button {
        text: String,
        payload: String,
        /// Gupshup's `quick_reply` shape instead of `button_reply`.
        quick_reply: bool,
    },
    Media {
        kind: MediaKind,
        url: Option<String>,
        /// The provider's media id (given, or fresh in its shape).
        id: String,
        mime: String,
        caption: Option<String>,
    },
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
    whatsapp: bool,
    content: Content,
    reply_to: Option<String>,
    name: String,
    /// The inbound message's id (Meta `wamid.IN…`, Twilio `SM…`/`MM…`,
    /// Gupshup `ABEG…`).
    pub id: String,
    at_ms: u64,
}

fn digits(e164: &str) -> &str {
    e164.trim_start_matches('+')
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
                Content::Media {
                    kind: MediaKind::from_mime(&mime),
                    url: non_empty(media.url),
                    id,
                    mime,
                    caption: text,
                }
            }
            (None, None) => Content::Text(text.ok_or("text, button or media is required")?),
        };
        let id = match (provider, &content) {
            (Provider::Meta, _) => ids::inbound_wamid(digits(&from)),
            (Provider::Twilio, Content::Media { .. }) => ids::twilio_sid("MM"),
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

    /// The request the provider would post to `hook`, signed as it signs.
    pub(crate) fn prepare(&self, hook: &Webhook) -> Result<Prepared, String> {
        match self.provider {
            Provider::Meta => {
                let body = serde_json::to_vec(&self.meta_body(hook)).unwrap_or_default();
                let headers = hook
                    .app_secret
                    .as_deref()
                    .map(|secret| {
                        vec![(
                            "X-Hub-Signature-256",
                            signing::meta_signature(secret, &body),
                        )]
                    })
                    .unwrap_or_default();
                Ok(Prepared {
                    body,
                    content_type: "application/json",
                    headers,
                })
            }
            Provider::Twilio => {
                let (Some(token), Some(account_sid)) =
                    (hook.auth_token.as_deref(), hook.account_sid.as_deref())
                else {
                    return Err("the twilio registration has no auth_token or account_sid".into());
                };
                let params = self.twilio_params(account_sid);
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params.iter())
                    .finish()
                    .into_bytes();
                Ok(Prepared {
                    body,
                    content_type: "application/x-www-form-urlencoded",
                    headers: vec![(
                        "X-Twilio-Signature",
                        signing::twilio_signature(token, &hook.url, &params),
                    )],
                })
            }
            Provider::Gupshup => Ok(Prepared {
                body: serde_json::to_vec(&self.gupshup_body(hook)).unwrap_or_default(),
                content_type: "application/json",
                headers: Vec::new(),
            }),
            Provider::Gateway => Ok(Prepared {
                body: serde_json::to_vec(&self.gateway_body(hook)).unwrap_or_default(),
                content_type: "application/json",
                headers: Vec::new(),
            }),
        }
    }

    /// A Dinstar-kind gateway's push of a received SMS (its HTTP API manual, "Receive
    /// SMS": `sn` and `sms[]` of `incoming_sms_id`, `port`, `number`, `smsc`,
    /// `timestamp` in the gateway's local time `YYYY-MM-DD HH:MM:SS`, `text`); the
    /// registration's `sender` is the gateway's serial number. Unsigned: the URL
    /// carries our secret.
    fn gateway_body(&self, hook: &Webhook) -> Value {
        let text = match &self.content {
            Content::Text(text) => text.clone(),
            _ => String::new(),
        };
        let at = rfc3339(self.at_ms);
        let timestamp = at.get(..19).unwrap_or(&at).replace('T', " ");
        json!({
            "sn": hook.sender,
            "sms": [{
                "incoming_sms_id": self.id.parse::<u64>().unwrap_or(1),
                "port": 0,
                "number": digits(&self.from),
                "smsc": "+56900000000",
                "timestamp": timestamp,
                "text": text,
            }],
        })
    }

    /// Meta's `whatsapp_business_account` webhook with one `messages[]` entry
    /// and its `contacts[]`.
    fn meta_body(&self, hook: &Webhook) -> Value {
        let from = digits(&self.from);
        let display = hook
            .display_phone_number
            .clone()
            .unwrap_or_else(|| hook.sender.clone());
        let mut message = json!({
            "from": from,
            "id": self.id,
            "timestamp": (self.at_ms / 1000).to_string(),
        });
        if let Some(id) = &self.reply_to {
            message["context"] = json!({"from": display, "id": id});
        }
        match &self.content {
            Content::Text(text) => {
                message["type"] = json!("text");
                message["text"] = json!({ "body": text });
            }
            Content::Button { text, payload, .. } => {
                message["type"] = json!("button");
                message["button"] = json!({"payload": payload, "text": text});
            }
            Content::Media {
                kind,
                url,
                id,
                mime,
                caption,
            } => {
                // `sha256` is the file's hash in reality; here a stand-in
                // derived from the link or id, stable for the same media.
                let source = url.as_deref().unwrap_or(id);
                let mut media = json!({
                    "mime_type": mime,
                    "sha256": hex::encode(Sha256::digest(source.as_bytes())),
                    "id": id,
                });
                if let Some(caption) = caption {
                    media["caption"] = json!(caption);
                }
                if let Some(url) = url {
                    media["url"] = json!(url);
                }
                message["type"] = json!(kind.meta());
                message[kind.meta()] = media;
            }
        }
        json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": hook.waba_id.clone().unwrap_or_else(|| "0".into()),
                "changes": [{
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": display,
                            "phone_number_id": hook.sender,
                        },
                        "contacts": [{"profile": {"name": self.name}, "wa_id": from}],
                        "messages": [message],
                    },
                    "field": "messages",
                }],
            }],
        })
    }

    /// Twilio's incoming-message form fields, in the order Twilio tends to
    /// send them (the signature sorts them anyway).
    fn twilio_params(&self, account_sid: &str) -> Vec<(String, String)> {
        let business = self
            .sender
            .strip_prefix("whatsapp:")
            .unwrap_or(&self.sender)
            .trim();
        let business = phone::to_e164(business).unwrap_or_else(|| business.to_string());
        let prefix = if self.whatsapp { "whatsapp:" } else { "" };
        let from = format!("{prefix}{}", self.from);
        let to = format!("{prefix}{business}");
        let body = match &self.content {
            Content::Text(text) => text.clone(),
            Content::Button { text, .. } => text.clone(),
            Content::Media { caption, .. } => caption.clone().unwrap_or_default(),
        };
        let segments = if self.whatsapp {
            1
        } else {
            wire::segments(&body)
        };
        let num_media = matches!(self.content, Content::Media { .. }) as u8;
        let mut params: Vec<(String, String)> = vec![
            ("SmsMessageSid".into(), self.id.clone()),
            ("NumMedia".into(), num_media.to_string()),
        ];
        if self.whatsapp {
            params.push(("ProfileName".into(), self.name.clone()));
            let kind = match &self.content {
                Content::Text(_) => "text",
                Content::Button { .. } => "button",
                Content::Media { kind, .. } => kind.meta(),
            };
            params.push(("MessageType".into(), kind.into()));
        }
        params.push(("SmsSid".into(), self.id.clone()));
        if self.whatsapp {
            params.push(("WaId".into(), digits(&self.from).to_string()));
        }
        params.extend([
            ("SmsStatus".to_string(), "received".to_string()),
            ("Body".into(), body),
            ("To".into(), to.clone()),
            ("NumSegments".into(), segments.to_string()),
            ("MessageSid".into(), self.id.clone()),
            ("AccountSid".into(), account_sid.to_string()),
            ("From".into(), from),
            ("ApiVersion".into(), "2010-04-01".into()),
        ]);
        if let Content::Media { url, id, mime, .. } = &self.content {
            let url = url.clone().unwrap_or_else(|| {
                format!(
                    "https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Messages/{}/Media/{id}",
                    self.id
                )
            });
            params.push(("MediaContentType0".into(), mime.clone()));
            params.push(("MediaUrl0".into(), url));
        }
        if let Content::Button { text, payload, .. } = &self.content {
            params.push(("ButtonText".into(), text.clone()));
            params.push(("ButtonPayload".into(), payload.clone()));
        }
        if let Some(sid) = &self.reply_to {
            params.push(("OriginalRepliedMessageSender".into(), to));
            params.push(("OriginalRepliedMessageSid".into(), sid.clone()));
        }
        params
    }

    /// Gupshup's version-2 `message` callback.
    fn gupshup_body(&self, hook: &Webhook) -> Value {
        let from = digits(&self.from);
        let (kind, payload) = match &self.content {
            Content::Text(text) => ("text", json!({ "text": text })),
            Content::Button {
                text,
                payload,
                quick_reply: false,
            } => (
                "button_reply",
                json!({"title": text, "id": payload, "postbackText": payload}),
            ),
            Content::Button {
                text,
                payload,
                quick_reply: true,
            } => (
                "quick_reply",
                json!({"text": text, "type": "button", "postbackText": payload}),
            ),
            Content::Media {
                kind,
                url,
                id,
                mime,
                caption,
            } => {
                let url = url.clone().unwrap_or_else(|| {
                    format!("https://filemanager.gupshup.io/wa/media/{id}?download=false")
                });
                let mut media = json!({
                    "url": url,
                    "contentType": mime,
                    "urlExpiry": self.at_ms + GUPSHUP_URL_LIFETIME_MS,
                });
                if let Some(caption) = caption {
                    media["caption"] = json!(caption);
                }
                (kind.gupshup(), media)
            }
        };
        let mut message = json!({
            "id": self.id,
            "source": from,
            "type": kind,
            "payload": payload,
            "sender": {"phone": from, "name": self.name},
        });
        if let Some(id) = &self.reply_to {
            // Gupshup gives the replied message's WhatsApp id (`id`) and its
            // own messageId (`gsId`); the simulator knows only one of them.
            message["context"] = json!({"id": id, "gsId": id});
        }
        json!({
            "app": hook.app.clone().unwrap_or_else(|| "DemoApp".into()),
            "timestamp": self.at_ms,
            "version": 2,
            "type": "message",
            "payload": message,
        })
    }
}

/// The registration for `sender`: as given, then Twilio's number without
/// `whatsapp:` (one URL for both channels), Meta's and Gupshup's without `+`.
pub fn find_hook(sim: &Sim, provider: Provider, sender: &str) -> Option<Webhook> {
    let other = match provider {
        Provider::Twilio => sender.strip_prefix("whatsapp:").map(str::trim),
        _ => sender.strip_prefix('+'),
    };
    sim.webhook(provider, sender)
        .or_else(|| other.and_then(|s| sim.webhook(provider, s)))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// `POST /_sim/inbound`: builds, signs and posts one inbound message, then
/// answers `{"status", "provider_message_id", "body"}` (502 with `error` when
/// the webhook could not be reached).
pub async fn play(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let request: InboundRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")),
    };
    let inbound = match Inbound::new(request, now_ms()) {
        Ok(i) => i,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let Some(hook) = find_hook(&sim, inbound.provider, &inbound.sender) else {
        let provider = json!(inbound.provider);
        let provider = provider.as_str().unwrap_or_default();
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "no webhook registered for provider {provider} and sender {:?}; register one with POST /_sim/webhooks",
                inbound.sender
            ),
        );
    };
    let prepared = match inbound.prepare(&hook) {
        Ok(p) => p,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let mut request = sim
        .http
        .post(&hook.url)
        .header("Content-Type", prepared.content_type)
        .body(prepared.body);
    for (name, value) in &prepared.headers {
        request = request.header(*name, value);
    }
    let (http_status, answer, failure) = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            (
                Some(status),
                text.chars().take(BODY_CHARS).collect::<String>(),
                None,
            )
        }
        Err(e) => (None, String::new(), Some(e.to_string())),
    };
    sim.lock().deliveries.push(Delivery {
        provider: inbound.provider,
        provider_message_id: inbound.id.clone(),
        recipient: inbound.from.clone(),
        status: "inbound".into(),
        url: hook.url.clone(),
        attempt: 1,
        duplicate: false,
        http_status,
        error: failure.clone(),
        at: rfc3339(now_ms()),
    });
    match (http_status, failure) {
        (Some(status), _) => Json(json!({
            "status": status,
            "provider_message_id": inbound.id,
            "body": answer,
        }))
        .into_response(),
        (None, failure) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({
                "status": null,
                "provider_message_id": inbound.id,
                "body": "",
                "error": failure.unwrap_or_default(),
            })),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    //! Field names are written from providers.md (and the providers' docs it
    //! points to), not from any Pregón parser.

    use std::collections::BTreeSet;

    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

    use super::*;

    const AT_MS: u64 = 1_763_800_100_000;

    fn request(provider: &str, sender: &str, extra: Value) -> InboundRequest {
        let mut body = json!({"provider": provider, "sender": sender, "from": "+56962000001"});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        serde_json::from_value(body).expect("a valid request")
    }

    fn inbound(provider: &str, sender: &str, extra: Value) -> Inbound {
        Inbound::new(request(provider, sender, extra), AT_MS).expect("accepted")
    }

    fn refused(provider: &str, sender: &str, extra: Value) -> String {
        Inbound::new(request(provider, sender, extra), AT_MS).expect_err("refused")
    }

    fn hook(provider: &str, sender: &str, extra: Value) -> Webhook {
        let mut body = json!({"provider": provider, "sender": sender, "url": "http://127.0.0.1:9/v1/webhooks/acc_x"});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        serde_json::from_value(body).expect("a valid registration")
    }

    fn meta_hook() -> Webhook {
        hook(
            "meta",
            "106540352242922",
            json!({"app_secret": "test_app_secret", "waba_id": "102290129340398",
                   "display_phone_number": "15550001111"}),
        )
    }

    fn twilio_hook(sender: &str) -> Webhook {
        hook(
            "twilio",
            sender,
            json!({"auth_token": "12345", "account_sid": "AC0000000000000000000000000000000a",
                   "url": "https://example.test/v1/webhooks/acc_x/twilio?k=1&z=2"}),
        )
    }

    fn keys(value: &Value) -> BTreeSet<&str> {
        value
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
        names.iter().copied().collect()
    }

    fn json_body(prepared: &Prepared) -> Value {
        serde_json::from_slice(&prepared.body).expect("a JSON body")
    }

    fn form(prepared: &Prepared) -> Vec<(String, String)> {
        form_urlencoded::parse(&prepared.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn header<'a>(prepared: &'a Prepared, name: &str) -> Option<&'a str> {
        prepared
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// What our webhook does (providers.md, Meta "Authenticity"): HMAC-SHA256
    /// of the raw bytes with the app secret, compared in constant time.
    fn meta_verifies(secret: &str, body: &[u8], header: &str) -> bool {
        let Some(hex_mac) = header.strip_prefix("sha256=") else {
            return false;
        };
        let Ok(expected) = hex::decode(hex_mac) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    }

    #[test]
    fn meta_check_used_here_accepts_the_providers_md_vector() {
        assert!(meta_verifies(
            "test_app_secret",
            br#"{"object":"whatsapp_business_account","entry":[]}"#,
            "sha256=dec6a680679a968e7e0319355b23599cbfc54502c0784668e9618baa0c633756"
        ));
    }

    #[test]
    fn meta_inbound_body_is_signed_with_the_app_secret() {
        let prepared = inbound("meta", "106540352242922", json!({"text": "Hola, ya pagué"}))
            .prepare(&meta_hook())
            .unwrap();
        let signature = header(&prepared, "X-Hub-Signature-256").expect("signed");
        assert!(meta_verifies("test_app_secret", &prepared.body, signature));
        assert!(!meta_verifies("another_secret", &prepared.body, signature));
        let mut tampered = prepared.body.clone();
        tampered.push(b' ');
        assert!(!meta_verifies("test_app_secret", &tampered, signature));
        assert_eq!(prepared.content_type, "application/json");
    }

    #[test]
    fn meta_without_an_app_secret_is_unsigned() {
        let prepared = inbound("meta", "106540352242922", json!({"text": "hola"}))
            .prepare(&hook("meta", "106540352242922", json!({})))
            .unwrap();
        assert!(prepared.headers.is_empty());
    }

    #[test]
    fn meta_text_reply_has_the_documented_fields() {
        let message = inbound(
            "meta",
            "106540352242922",
            json!({"text": "Hola, ya pagué", "reply_to": "wamid.HBgLOUT", "name": "María"}),
        );
        let body = json_body(&message.prepare(&meta_hook()).unwrap());
        assert_eq!(keys(&body), set(&["object", "entry"]));
        assert_eq!(body["object"], "whatsapp_business_account");
        let entry = &body["entry"][0];
        assert_eq!(keys(entry), set(&["id", "changes"]));
        assert_eq!(entry["id"], "102290129340398");
        let change = &entry["changes"][0];
        assert_eq!(keys(change), set(&["field", "value"]));
        assert_eq!(change["field"], "messages");
        let value = &change["value"];
        assert_eq!(
            keys(value),
            set(&["messaging_product", "metadata", "contacts", "messages"])
        );
        assert_eq!(value["messaging_product"], "whatsapp");
        assert_eq!(
            value["metadata"],
            json!({"display_phone_number": "15550001111", "phone_number_id": "106540352242922"})
        );
        assert_eq!(
            value["contacts"],
            json!([{"profile": {"name": "María"}, "wa_id": "56962000001"}])
        );
        let m = &value["messages"][0];
        assert_eq!(
            keys(m),
            set(&["from", "id", "timestamp", "type", "text", "context"])
        );
        assert_eq!(m["from"], "56962000001");
        assert_eq!(m["id"], message.id);
        assert!(message.id.starts_with("wamid.IN"));
        assert_eq!(m["timestamp"], "1763800100");
        assert_eq!(m["type"], "text");
        assert_eq!(m["text"], json!({"body": "Hola, ya pagué"}));
        assert_eq!(
            m["context"],
            json!({"from": "15550001111", "id": "wamid.HBgLOUT"})
        );
    }

    #[test]
    fn meta_button_and_image_have_the_documented_fields() {
        let button = inbound(
            "meta",
            "106540352242922",
            json!({"button": {"text": "Stop promotions", "payload": "stop"}}),
        );
        let body = json_body(&button.prepare(&meta_hook()).unwrap());
        let m = &body["entry"][0]["changes"][0]["value"]["messages"][0];
        assert_eq!(keys(m), set(&["from", "id", "timestamp", "type", "button"]));
        assert_eq!(m["type"], "button");
        assert_eq!(
            m["button"],
            json!({"payload": "stop", "text": "Stop promotions"})
        );

        let image = inbound(
            "meta",
            "106540352242922",
            json!({"text": "el comprobante", "media": {"id": "1013859600285441", "mime": "image/png"}}),
        );
        let body = json_body(&image.prepare(&meta_hook()).unwrap());
        let m = &body["entry"][0]["changes"][0]["value"]["messages"][0];
        assert_eq!(keys(m), set(&["from", "id", "timestamp", "type", "image"]));
        assert_eq!(m["type"], "image");
        assert_eq!(
            keys(&m["image"]),
            set(&["caption", "mime_type", "sha256", "id"])
        );
        assert_eq!(m["image"]["id"], "1013859600285441");
        assert_eq!(m["image"]["mime_type"], "image/png");
        assert_eq!(m["image"]["caption"], "el comprobante");
        assert_eq!(m["image"]["sha256"].as_str().map(str::len), Some(64));
    }

    #[test]
    fn twilio_signature_covers_the_registered_url_and_the_sorted_params() {
        let hook = twilio_hook("+15550003333");
        let prepared = inbound("twilio", "+15550003333", json!({"text": "Hola, ya pagué"}))
            .prepare(&hook)
            .unwrap();
        assert_eq!(prepared.content_type, "application/x-www-form-urlencoded");
        let params = form(&prepared);
        let signature = header(&prepared, "X-Twilio-Signature").expect("signed");
        // What our webhook computes from the request it got (providers.md).
        assert_eq!(
            signature,
            signing::twilio_signature("12345", &hook.url, &params)
        );
        let mut reversed = params.clone();
        reversed.reverse();
        assert_eq!(
            signature,
            signing::twilio_signature("12345", &hook.url, &reversed),
            "the order the fields arrive in does not matter"
        );
        assert_ne!(
            signature,
            signing::twilio_signature(
                "12345",
                "https://example.test/v1/webhooks/acc_x/twilio",
                &params
            ),
            "the query string is part of the signed URL"
        );
        assert_ne!(
            signature,
            signing::twilio_signature("54321", &hook.url, &params)
        );
    }

    #[test]
    fn twilio_sms_has_the_documented_fields() {
        let message = inbound("twilio", "+15550003333", json!({"text": "Hola, ya pagué"}));
        let params = form(&message.prepare(&twilio_hook("+15550003333")).unwrap());
        let names: BTreeSet<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            set(&[
                "MessageSid",
                "SmsMessageSid",
                "SmsSid",
                "AccountSid",
                "From",
                "To",
                "Body",
                "NumMedia",
                "NumSegments",
                "SmsStatus",
                "ApiVersion"
            ])
        );
        assert!(message.id.starts_with("SM") && message.id.len() == 34);
        assert_eq!(get(&params, "MessageSid"), Some(message.id.as_str()));
        assert_eq!(
            get(&params, "AccountSid"),
            Some("AC0000000000000000000000000000000a")
        );
        assert_eq!(get(&params, "From"), Some("+56962000001"));
        assert_eq!(get(&params, "To"), Some("+15550003333"));
        assert_eq!(get(&params, "Body"), Some("Hola, ya pagué"));
        assert_eq!(get(&params, "NumMedia"), Some("0"));
        assert_eq!(get(&params, "SmsStatus"), Some("received"));
    }

    #[test]
    fn twilio_whatsapp_button_reply_has_the_documented_fields() {
        let message = inbound(
            "twilio",
            "whatsapp:+15550003333",
            json!({"button": {"text": "Stop promotions", "payload": "stop"},
                   "reply_to": "SM0123456789abcdef0123456789abcdef", "name": "María"}),
        );
        let params = form(
            &message
                .prepare(&twilio_hook("whatsapp:+15550003333"))
                .unwrap(),
        );
        for name in [
            "MessageSid",
            "AccountSid",
            "From",
            "To",
            "Body",
            "NumMedia",
            "WaId",
            "ProfileName",
            "ButtonText",
            "ButtonPayload",
            "OriginalRepliedMessageSid",
        ] {
            assert!(get(&params, name).is_some(), "{name} in {params:?}");
        }
        assert_eq!(get(&params, "From"), Some("whatsapp:+56962000001"));
        assert_eq!(get(&params, "To"), Some("whatsapp:+15550003333"));
        assert_eq!(get(&params, "WaId"), Some("56962000001"));
        assert_eq!(get(&params, "ProfileName"), Some("María"));
        assert_eq!(get(&params, "Body"), Some("Stop promotions"));
        assert_eq!(get(&params, "ButtonText"), Some("Stop promotions"));
        assert_eq!(get(&params, "ButtonPayload"), Some("stop"));
        assert_eq!(get(&params, "MessageType"), Some("button"));
        assert_eq!(
            get(&params, "OriginalRepliedMessageSid"),
            Some("SM0123456789abcdef0123456789abcdef")
        );
    }

    #[test]
    fn twilio_media_uses_an_mm_sid_and_media_url_0() {
        let message = inbound(
            "twilio",
            "whatsapp:+15550003333",
            json!({"media": {"url": "https://example.test/boleta.jpg", "mime": "image/jpeg"}}),
        );
        assert!(message.id.starts_with("MM"));
        let params = form(
            &message
                .prepare(&twilio_hook("whatsapp:+15550003333"))
                .unwrap(),
        );
        assert_eq!(get(&params, "NumMedia"), Some("1"));
        assert_eq!(
            get(&params, "MediaUrl0"),
            Some("https://example.test/boleta.jpg")
        );
        assert_eq!(get(&params, "MediaContentType0"), Some("image/jpeg"));
        assert_eq!(get(&params, "Body"), Some(""));
    }

    #[test]
    fn gupshup_text_reply_has_the_documented_fields() {
        let message = inbound(
            "gupshup",
            "15550001111",
            json!({"text": "Hola, ya pagué", "reply_to": "ee4a68a0-0000-4000-8000-000000000001", "name": "María"}),
        );
        let prepared = message
            .prepare(&hook("gupshup", "15550001111", json!({"app": "DemoApp"})))
            .unwrap();
        assert!(prepared.headers.is_empty(), "Gupshup signs nothing");
        let body = json_body(&prepared);
        assert_eq!(
            keys(&body),
            set(&["app", "timestamp", "version", "type", "payload"])
        );
        assert_eq!(body["app"], "DemoApp");
        assert_eq!(body["timestamp"], AT_MS);
        assert_eq!(body["version"], 2);
        assert_eq!(body["type"], "message");
        let p = &body["payload"];
        assert_eq!(
            keys(p),
            set(&["id", "source", "type", "payload", "sender", "context"])
        );
        assert_eq!(p["id"], message.id);
        assert_eq!(p["source"], "56962000001");
        assert_eq!(p["type"], "text");
        assert_eq!(p["payload"], json!({"text": "Hola, ya pagué"}));
        assert_eq!(
            p["sender"],
            json!({"phone": "56962000001", "name": "María"})
        );
        assert_eq!(
            p["context"],
            json!({"gsId": "ee4a68a0-0000-4000-8000-000000000001",
                   "id": "ee4a68a0-0000-4000-8000-000000000001"})
        );
    }

    #[test]
    fn gupshup_buttons_and_media_have_the_documented_fields() {
        let hook = hook("gupshup", "15550001111", json!({}));
        let body = json_body(
            &inbound(
                "gupshup",
                "15550001111",
                json!({"button": {"text": "Stop promotions", "payload": "stop"}}),
            )
            .prepare(&hook)
            .unwrap(),
        );
        assert_eq!(body["payload"]["type"], "button_reply");
        assert_eq!(
            body["payload"]["payload"],
            json!({"title": "Stop promotions", "id": "stop", "postbackText": "stop"})
        );

        let body = json_body(
            &inbound(
                "gupshup",
                "15550001111",
                json!({"button": {"text": "Stop promotions", "payload": "stop", "gupshup_type": "quick_reply"}}),
            )
            .prepare(&hook)
            .unwrap(),
        );
        assert_eq!(body["payload"]["type"], "quick_reply");
        assert_eq!(
            body["payload"]["payload"],
            json!({"text": "Stop promotions", "type": "button", "postbackText": "stop"})
        );

        let body = json_body(
            &inbound(
                "gupshup",
                "15550001111",
                json!({"media": {"url": "https://example.test/boleta.jpg"}, "text": "boleta"}),
            )
            .prepare(&hook)
            .unwrap(),
        );
        assert_eq!(body["payload"]["type"], "image");
        assert_eq!(
            body["payload"]["payload"],
            json!({"url": "https://example.test/boleta.jpg", "contentType": "image/jpeg",
                   "urlExpiry": AT_MS + GUPSHUP_URL_LIFETIME_MS, "caption": "boleta"})
        );
    }

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
