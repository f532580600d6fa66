//! How Meta delivers a customer's message (providers.md, "Webhooks"): the
//! `whatsapp_business_account` webhook with one `messages[]` entry (text,
//! button tap or media, with `context` when it answers a message) and its
//! `contacts[]`, signed with `X-Hub-Signature-256` when the registration has
//! an `app_secret`.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{display_number, webhook_request};
use crate::delivery::Prepared;
use crate::message::{Content, Inbound};
use crate::phone::digits;
use crate::sim::Webhook;

/// The request Meta would post to `hook`, signed with its `app_secret`.
pub(crate) fn prepare(inbound: &Inbound, hook: &Webhook) -> Prepared {
    webhook_request(hook, &hook.sender, fields(inbound, hook))
}

/// What Meta's `whatsapp_business_account` webhook carries for a customer's
/// message: one `messages[]` entry and its `contacts[]`.
fn fields(inbound: &Inbound, hook: &Webhook) -> Value {
    let from = digits(&inbound.from);
    let mut message = json!({
        "from": from,
        "id": inbound.id,
        "timestamp": (inbound.at_ms / 1000).to_string(),
    });
    if let Some(id) = &inbound.reply_to {
        message["context"] = json!({"from": display_number(hook, &hook.sender), "id": id});
    }
    match &inbound.content {
        Content::Text(text) => {
            message["type"] = json!("text");
            message["text"] = json!({ "body": text });
        }
        Content::Button { text, payload, .. } => {
            message["type"] = json!("button");
            message["button"] = json!({"payload": payload, "text": text});
        }
        Content::Media(media) => {
            // `sha256` is the file's hash in reality; here a stand-in
            // derived from the link or id, stable for the same media.
            let source = media.url.as_deref().unwrap_or(&media.id);
            let mut object = json!({
                "mime_type": media.mime,
                "sha256": hex::encode(Sha256::digest(source.as_bytes())),
                "id": media.id,
            });
            if let Some(caption) = &media.caption {
                object["caption"] = json!(caption);
            }
            if let Some(url) = &media.url {
                object["url"] = json!(url);
            }
            message["type"] = json!(media.kind.meta());
            message[media.kind.meta()] = object;
        }
    }
    json!({
        "contacts": [{"profile": {"name": inbound.name}, "wa_id": from}],
        "messages": [message],
    })
}

#[cfg(test)]
mod tests {
    //! Field names are written from providers.md (and the providers' docs it
    //! points to), not from any Pregón parser.

    use hmac::{Hmac, KeyInit, Mac};
    use serde_json::json;
    use sha2::Sha256;

    use crate::message::test_support::{header, hook, inbound, json_body, keys, set};
    use crate::sim::Webhook;

    fn meta_hook() -> Webhook {
        hook(
            "meta",
            "106540352242922",
            json!({"app_secret": "test_app_secret", "waba_id": "102290129340398",
                   "display_phone_number": "15550001111"}),
        )
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
}
