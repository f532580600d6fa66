//! Gupshup callbacks (providers.md, "Gupshup", "Callbacks"): JSON, format version 2,
//! one event per POST: `message-event` (statuses of our messages) or `message` (a
//! customer's message). Gupshup signs nothing: check the account's URL secret with
//! [`crate::providers::inbound::verify_url_secret`] first.

use serde_json::Value;

use crate::providers::inbound::{
    bad, non_empty, rfc3339_from_millis, rfc3339_from_secs, Inbound, InboundError, Media, Reply,
    ReplyKind, StatusUpdate,
};
use crate::sending::MessageStatus;

/// Reads one callback into its event.
pub fn parse(body: &[u8]) -> Result<Vec<Inbound>, InboundError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| bad("body", e.to_string()))?;
    if !v.is_object() {
        return Err(bad("body", "not a JSON object"));
    }
    let event = match v["type"].as_str() {
        Some("message-event") => message_event(&v)?,
        Some("message") => message(&v)?,
        Some(other) => Inbound::Ignored {
            why: format!("Gupshup event '{other}'"),
        },
        None => return Err(bad("type", "missing")),
    };
    Ok(vec![event])
}

fn message_event(v: &Value) -> Result<Inbound, InboundError> {
    let p = payload(v)?;
    let name = string(p, "type", "payload")?;
    // Gupshup's `enqueued` means it took the message: our `sent`.
    let status = match name {
        "enqueued" | "sent" => MessageStatus::Sent,
        "delivered" => MessageStatus::Delivered,
        "read" => MessageStatus::Read,
        "failed" => MessageStatus::Failed,
        other => {
            return Ok(Inbound::Ignored {
                why: format!("Gupshup status '{other}'"),
            })
        }
    };
    // `gsId` is the id we got at send; on `enqueued` the `id` itself is it.
    let id = match non_empty(p["gsId"].as_str()) {
        Some(gs) => gs,
        None => string(p, "id", "payload")?.to_string(),
    };
    let inner = &p["payload"];
    let error_code = match &inner["code"] {
        Value::Number(n) if status == MessageStatus::Failed => Some(n.to_string()),
        Value::String(s) if status == MessageStatus::Failed => non_empty(Some(s)),
        _ => None,
    };
    let error_message = if status == MessageStatus::Failed {
        non_empty(inner["reason"].as_str())
    } else {
        None
    };
    let at = match inner["ts"].as_i64() {
        Some(ts) => rfc3339_from_secs(ts),
        None => time_of(v)?,
    };
    Ok(Inbound::Status(StatusUpdate {
        provider_message_id: id,
        status,
        provider_status: name.to_string(),
        at,
        error_code,
        error_message,
        correlation: None,
    }))
}

fn message(v: &Value) -> Result<Inbound, InboundError> {
    let p = payload(v)?;
    let from = match p["sender"]["phone"].as_str() {
        Some(phone) => crate::providers::inbound::e164("payload.sender.phone", phone)?,
        None => crate::providers::inbound::e164("payload.source", string(p, "source", "payload")?)?,
    };
    let inner = &p["payload"];
    let mut reply = Reply {
        from_phone: from,
        provider_message_id: string(p, "id", "payload")?.to_string(),
        kind: ReplyKind::Other,
        text: None,
        media: Vec::new(),
        button_payload: None,
        replied_to: non_empty(p["context"]["gsId"].as_str())
            .or(non_empty(p["context"]["id"].as_str())),
        at: time_of(v)?,
    };
    match string(p, "type", "payload")? {
        "text" => {
            reply.kind = ReplyKind::Text;
            reply.text = Some(string(inner, "text", "payload.payload")?.to_string());
        }
        "button_reply" | "quick_reply" => {
            reply.kind = ReplyKind::Button;
            reply.text = non_empty(inner["title"].as_str()).or(non_empty(inner["text"].as_str()));
            reply.button_payload =
                non_empty(inner["postbackText"].as_str()).or(non_empty(inner["id"].as_str()));
        }
        "image" | "file" | "audio" | "video" | "sticker" => {
            reply.kind = ReplyKind::Media;
            reply.text = non_empty(inner["caption"].as_str());
            reply.media.push(Media {
                id: None,
                url: Some(string(inner, "url", "payload.payload")?.to_string()),
                mime: non_empty(inner["contentType"].as_str()),
            });
        }
        "location" => {
            reply.kind = ReplyKind::Location;
            let coord = |k: &str| match &inner[k] {
                Value::String(s) => s.parse::<f64>().ok(),
                other => other.as_f64(),
            };
            if let (Some(lat), Some(lon)) = (coord("latitude"), coord("longitude")) {
                reply.text = Some(format!("{lat},{lon}"));
            }
        }
        _ => {}
    }
    Ok(Inbound::Reply(reply))
}

fn payload(v: &Value) -> Result<&Value, InboundError> {
    let p = &v["payload"];
    if p.is_object() {
        Ok(p)
    } else {
        Err(bad("payload", "missing or not an object"))
    }
}

/// The callback's `timestamp`: unix milliseconds.
fn time_of(v: &Value) -> Result<Option<String>, InboundError> {
    match &v["timestamp"] {
        Value::Null => Ok(None),
        t => t
            .as_i64()
            .and_then(rfc3339_from_millis)
            .map(Some)
            .ok_or_else(|| bad("timestamp", "not unix milliseconds")),
    }
}

fn string<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a str, InboundError> {
    v[key]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(format!("{at}.{key}"), "missing or not a string"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::inbound::DEFAULT_OPT_OUT_WORDS;

    const EVENTS: &str = include_str!("../../../tests/fixtures/gupshup_events.jsonl");

    fn events() -> Vec<Inbound> {
        EVENTS
            .lines()
            .filter(|l| !l.trim().is_empty())
            .flat_map(|l| parse(l.as_bytes()).unwrap())
            .collect()
    }

    const GS_ID: &str = "ee4a68a0-1203-4c85-8dc3-49d0b3226a35";

    #[test]
    fn the_documented_statuses_name_the_send_id() {
        let all = events();
        assert_eq!(all.len(), 6);
        let statuses: Vec<(&str, MessageStatus, Option<&str>)> = all[..4]
            .iter()
            .map(|e| match e {
                Inbound::Status(s) => (s.provider_message_id.as_str(), s.status, s.at.as_deref()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            statuses,
            [
                (GS_ID, MessageStatus::Sent, Some("2025-11-22T08:26:40Z")),
                (GS_ID, MessageStatus::Sent, Some("2025-11-22T08:26:41Z")),
                (
                    GS_ID,
                    MessageStatus::Delivered,
                    Some("2025-11-22T08:26:43Z")
                ),
                (GS_ID, MessageStatus::Read, Some("2025-11-22T08:26:49Z")),
            ]
        );
        // enqueued then sent: the second changes nothing.
        assert!(!statuses[0].1.advances(statuses[1].1));
    }

    #[test]
    fn a_failed_event_carries_code_and_reason() {
        let Inbound::Status(s) = &events()[4] else {
            panic!()
        };
        assert_eq!(
            s.provider_message_id,
            "5f1e0c2a-9a77-4d8b-8e3c-0b6f8e2d1a11"
        );
        assert_eq!(s.status, MessageStatus::Failed);
        assert_eq!(s.error_code.as_deref(), Some("1002"));
        assert_eq!(
            s.error_message.as_deref(),
            Some("Number Does Not Exists On WhatsApp")
        );
        // No `ts` in a failed event: the callback's own time.
        assert_eq!(s.at.as_deref(), Some("2025-11-22T08:26:50Z"));
    }

    #[test]
    fn a_text_message_is_a_reply_to_the_send_id() {
        let Inbound::Reply(r) = &events()[5] else {
            panic!()
        };
        assert_eq!(r.from_phone, "+56962000021");
        assert_eq!(r.provider_message_id, "ABEGVpYgAAAhAgo-sHc2BTmWgVqN");
        assert_eq!(r.kind, ReplyKind::Text);
        assert_eq!(r.text.as_deref(), Some("¿Puedo pagar mañana?"));
        assert_eq!(r.replied_to.as_deref(), Some(GS_ID));
        assert_eq!(r.at.as_deref(), Some("2025-11-22T08:28:20Z"));
        assert!(!r.is_opt_out(DEFAULT_OPT_OUT_WORDS));
    }

    #[test]
    fn a_quick_reply_and_an_image_are_read() {
        let quick = r#"{"app":"DemoApp","timestamp":1763800100000,"version":2,"type":"message","payload":{"id":"q1","source":"56962000021","type":"quick_reply","payload":{"title":"Dejar de recibir","postbackText":"stop"},"sender":{"phone":"56962000021"}}}"#;
        let Inbound::Reply(r) = parse(quick.as_bytes()).unwrap().remove(0) else {
            panic!()
        };
        assert_eq!(r.kind, ReplyKind::Button);
        assert_eq!(r.text.as_deref(), Some("Dejar de recibir"));
        assert_eq!(r.button_payload.as_deref(), Some("stop"));
        assert!(r.is_opt_out(&[]));
        let image = r#"{"app":"DemoApp","timestamp":1763800100000,"version":2,"type":"message","payload":{"id":"i1","source":"56962000021","type":"image","payload":{"url":"https://filemanager.gupshup.io/x.jpg","contentType":"image/jpeg","caption":"pago"},"sender":{"phone":"56962000021"}}}"#;
        let Inbound::Reply(r) = parse(image.as_bytes()).unwrap().remove(0) else {
            panic!()
        };
        assert_eq!(r.kind, ReplyKind::Media);
        assert_eq!(r.text.as_deref(), Some("pago"));
        assert_eq!(
            r.media[0].url.as_deref(),
            Some("https://filemanager.gupshup.io/x.jpg")
        );
        assert_eq!(r.media[0].mime.as_deref(), Some("image/jpeg"));
    }

    #[test]
    fn other_events_and_statuses_are_ignored() {
        for body in [
            r#"{"app":"DemoApp","timestamp":1,"version":2,"type":"user-event","payload":{"phone":"569","type":"opted-in"}}"#,
            r#"{"app":"DemoApp","timestamp":1,"version":2,"type":"billing-event","payload":{}}"#,
            r#"{"app":"DemoApp","timestamp":1,"version":2,"type":"message-event","payload":{"id":"x","gsId":"y","type":"deleted","payload":{}}}"#,
        ] {
            assert!(
                matches!(
                    parse(body.as_bytes()).unwrap()[..],
                    [Inbound::Ignored { .. }]
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn malformed_callbacks_name_the_field() {
        let field = |b: &str| parse(b.as_bytes()).unwrap_err().field;
        assert_eq!(field("{"), "body");
        assert_eq!(field(r#"{"payload":{}}"#), "type");
        assert_eq!(field(r#"{"type":"message-event"}"#), "payload");
        assert_eq!(
            field(r#"{"type":"message-event","payload":{"id":"x"}}"#),
            "payload.type"
        );
        assert_eq!(
            field(r#"{"type":"message-event","payload":{"type":"sent"}}"#),
            "payload.id"
        );
        assert_eq!(
            field(
                r#"{"type":"message","payload":{"id":"x","type":"text","payload":{},"sender":{"phone":"569"}}}"#
            ),
            "payload.payload.text"
        );
        assert_eq!(
            field(
                r#"{"type":"message","payload":{"id":"x","type":"text","payload":{"text":"a"},"sender":{"phone":"Ana"}}}"#
            ),
            "payload.sender.phone"
        );
        assert_eq!(
            field(
                r#"{"type":"message","timestamp":"soon","payload":{"id":"x","type":"text","payload":{"text":"a"},"sender":{"phone":"569"}}}"#
            ),
            "timestamp"
        );
    }
}
