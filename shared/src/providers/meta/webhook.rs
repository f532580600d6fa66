//! Meta WhatsApp Cloud API webhooks (providers.md, "Meta", "Webhooks"): the GET
//! verification handshake, `X-Hub-Signature-256` over the raw body, and the JSON
//! `entry[].changes[]` batches of `statuses`, `messages` and template status updates.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::providers::inbound::{
    bad, non_empty, rfc3339_from_secs, secret_eq, AuthError, Inbound, InboundError, Media, Reply,
    ReplyKind, StatusUpdate, TemplateStatusUpdate,
};
use crate::sending::MessageStatus;

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// `sha256=<hex HMAC-SHA256(app_secret, body)>`, as Meta signs a webhook.
pub fn signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks `X-Hub-Signature-256` over the raw body bytes, before any parsing, in
/// constant time.
pub fn verify_signature(
    app_secret: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), AuthError> {
    let header = crate::providers::inbound::signed(header, app_secret)?;
    let tag = header
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(AuthError::Mismatch)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| AuthError::Mismatch)
}

/// The GET verification handshake: `hub.mode=subscribe` and `hub.verify_token` equal
/// to the account's (constant time) → the `hub.challenge` to answer with 200; else
/// answer 403. `query` is the raw query string.
pub fn verify_subscription(query: &str, verify_token: &str) -> Result<String, AuthError> {
    let (mut mode, mut token, mut challenge) = (None, None, None);
    for (k, v) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
        match &*k {
            "hub.mode" => mode = Some(v.into_owned()),
            "hub.verify_token" => token = Some(v.into_owned()),
            "hub.challenge" => challenge = Some(v.into_owned()),
            _ => {}
        }
    }
    let (Some(mode), Some(token), Some(challenge)) = (mode, token, challenge) else {
        return Err(AuthError::Missing);
    };
    if mode == "subscribe" && secret_eq(&token, verify_token) {
        Ok(challenge)
    } else {
        Err(AuthError::Mismatch)
    }
}

/// Where a change of a webhook body belongs: Meta posts every number of an app to the
/// app's one callback URL, so each change names its number (`metadata.phone_number_id`)
/// and its business account (the entry's `id`, the WABA).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    pub phone_number_id: Option<String>,
    pub waba_id: Option<String>,
}

/// Reads a webhook body (after [`verify_signature`]) into its events, in order.
pub fn parse(body: &[u8]) -> Result<Vec<Inbound>, InboundError> {
    Ok(parse_routed(body)?.into_iter().map(|(_, e)| e).collect())
}

/// [`parse`], each event with the [`Route`] of the change it came in.
pub fn parse_routed(body: &[u8]) -> Result<Vec<(Route, Inbound)>, InboundError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| bad("body", e.to_string()))?;
    if !v.is_object() {
        return Err(bad("body", "not a JSON object"));
    }
    match v["object"].as_str() {
        Some("whatsapp_business_account") => {}
        other => {
            return Ok(vec![(
                Route::default(),
                Inbound::Ignored {
                    why: format!("object {}", other.unwrap_or("(none)")),
                },
            )])
        }
    }
    let entries = array(&v, "entry", "entry")?;
    let mut routed = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("entry[{i}]");
        let waba_id = match &entry["id"] {
            Value::String(id) => non_empty(Some(id)),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        for (j, change) in array(entry, "changes", &format!("{at}.changes"))?
            .iter()
            .enumerate()
        {
            let at = format!("{at}.changes[{j}]");
            let value = &change["value"];
            if !value.is_object() {
                return Err(bad(format!("{at}.value"), "missing or not an object"));
            }
            let route = Route {
                phone_number_id: non_empty(value["metadata"]["phone_number_id"].as_str()),
                waba_id: waba_id.clone(),
            };
            let mut out = Vec::new();
            match change["field"].as_str() {
                Some("messages") => read_messages_change(value, &format!("{at}.value"), &mut out)?,
                Some("message_template_status_update") => {
                    out.push(template_update(value, &format!("{at}.value"))?)
                }
                Some(other) => out.push(Inbound::Ignored {
                    why: format!("field {other}"),
                }),
                None => return Err(bad(format!("{at}.field"), "missing")),
            }
            routed.extend(out.into_iter().map(|e| (route.clone(), e)));
        }
    }
    Ok(routed)
}

fn read_messages_change(
    value: &Value,
    at: &str,
    out: &mut Vec<Inbound>,
) -> Result<(), InboundError> {
    let before = out.len();
    if let Some(statuses) = opt_array(value, "statuses", &format!("{at}.statuses"))? {
        for (k, s) in statuses.iter().enumerate() {
            out.push(status(s, &format!("{at}.statuses[{k}]"))?);
        }
    }
    if let Some(messages) = opt_array(value, "messages", &format!("{at}.messages"))? {
        for (k, m) in messages.iter().enumerate() {
            out.push(message(m, &format!("{at}.messages[{k}]"))?);
        }
    }
    if out.len() == before {
        out.push(Inbound::Ignored {
            why: "a messages change with no statuses or messages".into(),
        });
    }
    Ok(())
}

fn status(s: &Value, at: &str) -> Result<Inbound, InboundError> {
    let id = string(s, "id", at)?;
    let name = string(s, "status", at)?;
    let status = match name {
        "sent" => MessageStatus::Sent,
        "delivered" => MessageStatus::Delivered,
        "read" => MessageStatus::Read,
        "failed" => MessageStatus::Failed,
        other => {
            return Ok(Inbound::Ignored {
                why: format!("Meta status '{other}'"),
            })
        }
    };
    let error = &s["errors"][0];
    let error_code = match &error["code"] {
        Value::Number(n) => Some(n.to_string()),
        Value::String(c) => non_empty(Some(c)),
        _ => None,
    };
    let error_message = non_empty(error["message"].as_str()).or(non_empty(error["title"].as_str()));
    Ok(Inbound::Status(StatusUpdate {
        provider_message_id: id.to_string(),
        status,
        provider_status: name.to_string(),
        at: timestamp(s, at)?,
        error_code,
        error_message,
        correlation: non_empty(s["biz_opaque_callback_data"].as_str()),
    }))
}

fn message(m: &Value, at: &str) -> Result<Inbound, InboundError> {
    let kind_name = string(m, "type", at)?;
    if kind_name == "system" {
        return Ok(Inbound::Ignored {
            why: "a system message (the customer changed number)".into(),
        });
    }
    let from_phone =
        crate::providers::inbound::e164(&format!("{at}.from"), string(m, "from", at)?)?;
    let mut reply = Reply {
        from_phone,
        provider_message_id: string(m, "id", at)?.to_string(),
        kind: ReplyKind::Other,
        text: None,
        media: Vec::new(),
        button_payload: None,
        replied_to: non_empty(m["context"]["id"].as_str()),
        at: timestamp(m, at)?,
    };
    match kind_name {
        "text" => {
            reply.kind = ReplyKind::Text;
            reply.text = Some(string(&m["text"], "body", &format!("{at}.text"))?.to_string());
        }
        "button" => {
            reply.kind = ReplyKind::Button;
            reply.text = non_empty(m["button"]["text"].as_str());
            reply.button_payload = non_empty(m["button"]["payload"].as_str());
        }
        "interactive" => {
            let i = &m["interactive"];
            let choice = match i["type"].as_str() {
                Some("button_reply") => &i["button_reply"],
                Some("list_reply") => &i["list_reply"],
                _ => &Value::Null,
            };
            if choice.is_object() {
                reply.kind = ReplyKind::Button;
                reply.text = non_empty(choice["title"].as_str());
                reply.button_payload = non_empty(choice["id"].as_str());
            }
        }
        "image" | "audio" | "video" | "document" | "sticker" => {
            let media = &m[kind_name];
            reply.kind = ReplyKind::Media;
            reply.text = non_empty(media["caption"].as_str());
            reply.media.push(Media {
                id: Some(string(media, "id", &format!("{at}.{kind_name}"))?.to_string()),
                url: None,
                mime: non_empty(media["mime_type"].as_str()),
            });
        }
        "reaction" => {
            let r = &m["reaction"];
            let Some(emoji) = non_empty(r["emoji"].as_str()) else {
                return Ok(Inbound::Ignored {
                    why: "a reaction removed".into(),
                });
            };
            reply.kind = ReplyKind::Reaction;
            reply.text = Some(emoji);
            reply.replied_to = non_empty(r["message_id"].as_str()).or(reply.replied_to);
        }
        "location" => {
            let l = &m["location"];
            reply.kind = ReplyKind::Location;
            if let (Some(lat), Some(lon)) = (l["latitude"].as_f64(), l["longitude"].as_f64()) {
                reply.text = Some(format!("{lat},{lon}"));
            }
        }
        _ => {}
    }
    Ok(Inbound::Reply(reply))
}

fn template_update(value: &Value, at: &str) -> Result<Inbound, InboundError> {
    let event = string(value, "event", at)?;
    let id = match &value["message_template_id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => return Err(bad(format!("{at}.message_template_id"), "missing")),
    };
    let status = match event.to_ascii_uppercase().as_str() {
        e @ ("APPROVED" | "REJECTED" | "PENDING" | "PAUSED" | "DISABLED") => {
            Some(crate::model::TemplateStatus::from_review(e))
        }
        _ => None,
    };
    Ok(Inbound::TemplateStatus(TemplateStatusUpdate {
        provider_template_id: id,
        name: string(value, "message_template_name", at)?.to_string(),
        language: string(value, "message_template_language", at)?.to_string(),
        event: event.to_string(),
        status,
        reason: non_empty(value["reason"].as_str()).filter(|r| r != "NONE"),
    }))
}

/// Meta's `timestamp`: unix seconds as a string.
fn timestamp(v: &Value, at: &str) -> Result<Option<String>, InboundError> {
    let secs = match &v["timestamp"] {
        Value::Null => return Ok(None),
        Value::String(s) => s.parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    secs.and_then(rfc3339_from_secs)
        .map(Some)
        .ok_or_else(|| bad(format!("{at}.timestamp"), "not unix seconds"))
}

fn string<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a str, InboundError> {
    v[key]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(format!("{at}.{key}"), "missing or not a string"))
}

fn array<'a>(v: &'a Value, key: &str, field: &str) -> Result<&'a Vec<Value>, InboundError> {
    v[key]
        .as_array()
        .ok_or_else(|| bad(field, "missing or not an array"))
}

fn opt_array<'a>(
    v: &'a Value,
    key: &str,
    field: &str,
) -> Result<Option<&'a Vec<Value>>, InboundError> {
    match &v[key] {
        Value::Null => Ok(None),
        Value::Array(a) => Ok(Some(a)),
        _ => Err(bad(field, "not an array")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TemplateStatus;
    use crate::providers::inbound::DEFAULT_OPT_OUT_WORDS;

    const DELIVERED: &str = include_str!("../../../tests/fixtures/meta_status_delivered.json");
    const FAILED: &str = include_str!("../../../tests/fixtures/meta_status_failed.json");
    const TEXT_AND_READ: &str =
        include_str!("../../../tests/fixtures/meta_inbound_text_and_read.json");
    const BUTTON_STOP: &str = include_str!("../../../tests/fixtures/meta_inbound_button_stop.json");

    fn one(body: &str) -> Inbound {
        let mut all = parse(body.as_bytes()).unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    #[test]
    fn the_providers_md_signature_vector_verifies() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = "sha256=dec6a680679a968e7e0319355b23599cbfc54502c0784668e9618baa0c633756";
        assert_eq!(signature("test_app_secret", body), header);
        assert_eq!(
            verify_signature("test_app_secret", body, Some(header)),
            Ok(())
        );
    }

    #[test]
    fn a_wrong_secret_a_tampered_body_or_a_bad_header_is_refused() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = "sha256=dec6a680679a968e7e0319355b23599cbfc54502c0784668e9618baa0c633756";
        let tampered = br#"{"object":"whatsapp_business_account","entry":[ ]}"#;
        assert_eq!(
            verify_signature("other_secret", body, Some(header)),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_signature("test_app_secret", tampered, Some(header)),
            Err(AuthError::Mismatch)
        );
        for bad_header in [
            "dec6a680679a968e7e0319355b23599cbfc54502c0784668e9618baa0c633756",
            "sha1=dec6a680679a968e7e0319355b23599cbfc54502c0784668e9618baa0c633756",
            "sha256=dec6a680679a968e7e0319355b23599cbfc54502c0784668e9618baa0c6337",
            "sha256=zz",
        ] {
            assert_eq!(
                verify_signature("test_app_secret", body, Some(bad_header)),
                Err(AuthError::Mismatch),
                "{bad_header}"
            );
        }
        assert_eq!(
            verify_signature("test_app_secret", body, None),
            Err(AuthError::Missing)
        );
        assert_eq!(
            verify_signature("", body, Some(&signature("", body))),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn the_handshake_echoes_the_challenge_only_for_the_right_token() {
        let q = "hub.mode=subscribe&hub.verify_token=tok%20en&hub.challenge=1158201444";
        assert_eq!(
            verify_subscription(q, "tok en").as_deref(),
            Ok("1158201444")
        );
        assert_eq!(verify_subscription(q, "tok"), Err(AuthError::Mismatch));
        assert_eq!(
            verify_subscription(
                "hub.mode=unsubscribe&hub.verify_token=tok&hub.challenge=1",
                "tok"
            ),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_subscription("hub.mode=subscribe&hub.challenge=1", "tok"),
            Err(AuthError::Missing)
        );
        assert_eq!(
            verify_subscription("hub.mode=subscribe&hub.verify_token=&hub.challenge=1", ""),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn a_delivered_status_carries_the_correlation_and_time() {
        let Inbound::Status(s) = one(DELIVERED) else {
            panic!()
        };
        assert_eq!(
            s,
            StatusUpdate {
                provider_message_id: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDNjdFMDc0MkFBQjAxMzlEQUIA"
                    .into(),
                status: MessageStatus::Delivered,
                provider_status: "delivered".into(),
                at: Some("2025-11-22T08:26:40Z".into()),
                error_code: None,
                error_message: None,
                correlation: Some("c_01JD3Z7Q0000000000000000/e_000002".into()),
            }
        );
    }

    #[test]
    fn a_failed_status_carries_its_error() {
        let Inbound::Status(s) = one(FAILED) else {
            panic!()
        };
        assert_eq!(s.status, MessageStatus::Failed);
        assert_eq!(s.error_code.as_deref(), Some("131026"));
        assert_eq!(s.error_message.as_deref(), Some("Message undeliverable"));
        assert_eq!(s.correlation, None);
        assert_eq!(s.at.as_deref(), Some("2025-11-22T08:26:45Z"));
    }

    #[test]
    fn each_event_names_the_number_and_business_account_of_its_change() {
        // The documented payload: entry id = the WABA, metadata.phone_number_id.
        let all = parse_routed(TEXT_AND_READ.as_bytes()).unwrap();
        assert_eq!(all.len(), 2);
        for (route, _) in &all {
            assert_eq!(route.phone_number_id.as_deref(), Some("106540352242922"));
            assert_eq!(route.waba_id.as_deref(), Some("102290129340398"));
        }
        // Two changes of two numbers in one body: each event keeps its own.
        let two = r#"{"object":"whatsapp_business_account","entry":[
            {"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"A"},
                "statuses":[{"id":"w1","status":"sent","timestamp":"1763800090","recipient_id":"5691"}]}}]},
            {"id":"2","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"B"},
                "statuses":[{"id":"w2","status":"sent","timestamp":"1763800090","recipient_id":"5692"}]}}]}]}"#;
        let routes: Vec<_> = parse_routed(two.as_bytes())
            .unwrap()
            .into_iter()
            .map(|(r, _)| (r.phone_number_id.unwrap(), r.waba_id.unwrap()))
            .collect();
        assert_eq!(
            routes,
            [("A".to_string(), "1".to_string()), ("B".into(), "2".into())]
        );
    }

    #[test]
    fn a_batch_gives_every_status_and_message() {
        let all = parse(TEXT_AND_READ.as_bytes()).unwrap();
        assert_eq!(all.len(), 2);
        let Inbound::Status(s) = &all[0] else {
            panic!("{all:?}")
        };
        assert_eq!(s.status, MessageStatus::Read);
        let Inbound::Reply(r) = &all[1] else {
            panic!("{all:?}")
        };
        assert_eq!(r.from_phone, "+56962000001");
        assert_eq!(r.kind, ReplyKind::Text);
        assert_eq!(r.text.as_deref(), Some("Hola, ya pagué"));
        assert_eq!(
            r.replied_to.as_deref(),
            Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDNjdFMDc0MkFBQjAxMzlEQUIA")
        );
        assert_eq!(
            r.provider_message_id,
            "wamid.HBgLNTY5NjIwMDAwMDEVAgASGBQzQUZBQjBEQjQ0RDlFQjdCNjE1NgA="
        );
        assert_eq!(r.at.as_deref(), Some("2025-11-22T08:28:20Z"));
        assert!(!r.is_opt_out(DEFAULT_OPT_OUT_WORDS));
    }

    #[test]
    fn a_stop_button_is_an_opt_out_reply() {
        let Inbound::Reply(r) = one(BUTTON_STOP) else {
            panic!()
        };
        assert_eq!(r.kind, ReplyKind::Button);
        assert_eq!(r.text.as_deref(), Some("No quiero recibir más"));
        assert_eq!(r.button_payload.as_deref(), Some("STOP"));
        assert_eq!(r.from_phone, "+56962000002");
        assert_eq!(
            r.replied_to.as_deref(),
            Some("wamid.HBgLNTY5NjIwMDAwMDIVAgARGBI0QkZBQjJFMjQ2NUU5Q0U0QjEA")
        );
        assert!(r.is_opt_out(&["BAJA"]));
    }

    fn with_value(field: &str, value: &str) -> String {
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"{field}","value":{value}}}]}}]}}"#
        )
    }

    #[test]
    fn several_entries_and_statuses_come_out_in_order() {
        let body = r#"{"object":"whatsapp_business_account","entry":[
          {"id":"1","changes":[{"field":"messages","value":{"statuses":[
            {"id":"a","status":"sent","timestamp":"1763800000","recipient_id":"1"},
            {"id":"b","status":"delivered","timestamp":"1763800001","recipient_id":"1"}]}}]},
          {"id":"2","changes":[{"field":"messages","value":{"statuses":[
            {"id":"c","status":"read","timestamp":"1763800002","recipient_id":"1"}]}}]}]}"#;
        let ids: Vec<(String, MessageStatus)> = parse(body.as_bytes())
            .unwrap()
            .into_iter()
            .map(|e| match e {
                Inbound::Status(s) => (s.provider_message_id, s.status),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            ids,
            [
                ("a".into(), MessageStatus::Sent),
                ("b".into(), MessageStatus::Delivered),
                ("c".into(), MessageStatus::Read)
            ]
        );
    }

    #[test]
    fn interactive_media_and_reaction_replies_are_read() {
        let body = with_value(
            "messages",
            r#"{"messages":[
              {"from":"56962000001","id":"w1","timestamp":"1763800100","type":"interactive",
               "interactive":{"type":"button_reply","button_reply":{"id":"PAY","title":"Pagar"}}},
              {"from":"56962000001","id":"w2","timestamp":"1763800101","type":"image",
               "image":{"id":"MEDIA1","mime_type":"image/jpeg","caption":"comprobante"}},
              {"from":"56962000001","id":"w3","timestamp":"1763800102","type":"reaction",
               "reaction":{"message_id":"wamid.OUT","emoji":"👍"}},
              {"from":"56962000001","id":"w4","timestamp":"1763800103","type":"reaction",
               "reaction":{"message_id":"wamid.OUT"}},
              {"from":"56962000001","id":"w5","timestamp":"1763800104","type":"unsupported"}]}"#,
        );
        let all = parse(body.as_bytes()).unwrap();
        let Inbound::Reply(b) = &all[0] else { panic!() };
        assert_eq!(
            (b.kind, b.text.as_deref(), b.button_payload.as_deref()),
            (ReplyKind::Button, Some("Pagar"), Some("PAY"))
        );
        let Inbound::Reply(m) = &all[1] else { panic!() };
        assert_eq!(m.kind, ReplyKind::Media);
        assert_eq!(m.text.as_deref(), Some("comprobante"));
        assert_eq!(
            m.media,
            [Media {
                id: Some("MEDIA1".into()),
                url: None,
                mime: Some("image/jpeg".into())
            }]
        );
        let Inbound::Reply(r) = &all[2] else { panic!() };
        assert_eq!(
            (r.kind, r.text.as_deref(), r.replied_to.as_deref()),
            (ReplyKind::Reaction, Some("👍"), Some("wamid.OUT"))
        );
        assert!(matches!(all[3], Inbound::Ignored { .. }));
        let Inbound::Reply(o) = &all[4] else { panic!() };
        assert_eq!(o.kind, ReplyKind::Other);
    }

    #[test]
    fn template_status_updates_are_read() {
        let body = with_value(
            "message_template_status_update",
            r#"{"event":"REJECTED","message_template_id":594425479261596,"message_template_name":"aviso_cobranza","message_template_language":"es","reason":"INVALID_FORMAT"}"#,
        );
        let Inbound::TemplateStatus(t) = one(&body) else {
            panic!()
        };
        assert_eq!(
            t,
            TemplateStatusUpdate {
                provider_template_id: "594425479261596".into(),
                name: "aviso_cobranza".into(),
                language: "es".into(),
                event: "REJECTED".into(),
                status: Some(TemplateStatus::Rejected),
                reason: Some("INVALID_FORMAT".into()),
            }
        );
        let flagged = with_value(
            "message_template_status_update",
            r#"{"event":"FLAGGED","message_template_id":1,"message_template_name":"a","message_template_language":"es","reason":"NONE"}"#,
        );
        let Inbound::TemplateStatus(t) = one(&flagged) else {
            panic!()
        };
        assert_eq!((t.status, t.reason), (None, None));
    }

    #[test]
    fn other_objects_fields_and_statuses_are_ignored() {
        assert!(matches!(
            one(r#"{"object":"page","entry":[]}"#),
            Inbound::Ignored { .. }
        ));
        assert!(matches!(
            one(&with_value("account_update", r#"{"event":"x"}"#)),
            Inbound::Ignored { .. }
        ));
        assert!(matches!(
            one(&with_value(
                "messages",
                r#"{"statuses":[{"id":"a","status":"deleted","timestamp":"1"}]}"#
            )),
            Inbound::Ignored { .. }
        ));
        assert!(matches!(
            one(&with_value(
                "messages",
                r#"{"messaging_product":"whatsapp"}"#
            )),
            Inbound::Ignored { .. }
        ));
        assert_eq!(
            parse(br#"{"object":"whatsapp_business_account","entry":[]}"#).unwrap(),
            []
        );
    }

    #[test]
    fn malformed_callbacks_name_the_field() {
        let field = |body: &str| parse(body.as_bytes()).unwrap_err().field;
        assert_eq!(field("{not json"), "body");
        assert_eq!(field("[]"), "body");
        assert_eq!(field(r#"{"object":"whatsapp_business_account"}"#), "entry");
        assert_eq!(
            field(r#"{"object":"whatsapp_business_account","entry":[{"id":"1"}]}"#),
            "entry[0].changes"
        );
        assert_eq!(
            field(&with_value(
                "messages",
                r#"{"statuses":[{"status":"sent"}]}"#
            )),
            "entry[0].changes[0].value.statuses[0].id"
        );
        assert_eq!(
            field(&with_value(
                "messages",
                r#"{"statuses":[{"id":"a","status":"sent","timestamp":"soon"}]}"#
            )),
            "entry[0].changes[0].value.statuses[0].timestamp"
        );
        assert_eq!(
            field(&with_value(
                "messages",
                r#"{"messages":[{"from":"María","id":"w","type":"text","text":{"body":"x"}}]}"#
            )),
            "entry[0].changes[0].value.messages[0].from"
        );
        assert_eq!(
            field(&with_value(
                "messages",
                r#"{"messages":[{"from":"569","id":"w","type":"text"}]}"#
            )),
            "entry[0].changes[0].value.messages[0].text.body"
        );
        assert_eq!(
            field(&with_value("messages", r#"{"statuses":{}}"#)),
            "entry[0].changes[0].value.statuses"
        );
    }
}
