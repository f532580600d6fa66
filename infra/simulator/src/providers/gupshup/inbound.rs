//! How Gupshup delivers a customer's message (providers.md, "Callbacks"):
//! its version-2 `"type": "message"` callback (text, `button_reply` or
//! `quick_reply`, media with an expiring link, `context` when it answers a
//! message). Unsigned: the registered URL carries our secret.

use serde_json::{json, Value};

use crate::delivery::Prepared;
use crate::message::{Content, Inbound, MediaKind};
use crate::phone::digits;
use crate::sim::Webhook;

/// Gupshup's media links expire a week after the message (its docs' example).
const URL_LIFETIME_MS: u64 = 7 * 24 * 3600 * 1000;

/// The request Gupshup would post to `hook` (unsigned).
pub(crate) fn prepare(inbound: &Inbound, hook: &Webhook) -> Prepared {
    Prepared::json(&body(inbound, hook))
}

/// Gupshup's `payload.type` for media (documents are `file`).
fn media_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Document => "file",
        other => other.meta(),
    }
}

/// Gupshup's version-2 `message` callback.
fn body(inbound: &Inbound, hook: &Webhook) -> Value {
    let from = digits(&inbound.from);
    let (kind, payload) = match &inbound.content {
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
        Content::Media(media) => {
            let url = media.url.clone().unwrap_or_else(|| {
                format!(
                    "https://filemanager.gupshup.io/wa/media/{}?download=false",
                    media.id
                )
            });
            let mut payload = json!({
                "url": url,
                "contentType": media.mime,
                "urlExpiry": inbound.at_ms + URL_LIFETIME_MS,
            });
            if let Some(caption) = &media.caption {
                payload["caption"] = json!(caption);
            }
            (media_type(media.kind), payload)
        }
    };
    let mut message = json!({
        "id": inbound.id,
        "source": from,
        "type": kind,
        "payload": payload,
        "sender": {"phone": from, "name": inbound.name},
    });
    if let Some(id) = &inbound.reply_to {
        // Gupshup gives the replied message's WhatsApp id (`id`) and its
        // own messageId (`gsId`); the simulator knows only one of them.
        message["context"] = json!({"id": id, "gsId": id});
    }
    json!({
        "app": hook.app.clone().unwrap_or_else(|| "DemoApp".into()),
        "timestamp": inbound.at_ms,
        "version": 2,
        "type": "message",
        "payload": message,
    })
}

#[cfg(test)]
mod tests {
    //! Field names are written from providers.md (and the providers' docs it
    //! points to), not from any Pregón parser.

    use serde_json::json;

    use super::URL_LIFETIME_MS as GUPSHUP_URL_LIFETIME_MS;
    use crate::message::test_support::{hook, inbound, json_body, keys, set, AT_MS};

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
}
