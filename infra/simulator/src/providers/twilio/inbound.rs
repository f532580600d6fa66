//! How Twilio delivers a customer's message (providers.md, "Inbound
//! message"): a form POST to the number's "A message comes in" URL
//! (`MessageSid`, `From`, `To`, `Body`, `NumMedia` and `MediaUrl0`, and on
//! WhatsApp `ProfileName`, `WaId`, `MessageType`, `ButtonText`,
//! `ButtonPayload`, `OriginalRepliedMessageSid`), signed with
//! `X-Twilio-Signature` and the registration's `auth_token` over the URL
//! exactly as registered plus the sorted parameters.

use super::signed_form;
use crate::delivery::Prepared;
use crate::message::{Content, Inbound};
use crate::sim::Webhook;
use crate::{phone, wire};

/// The request Twilio would post to `hook`, signed with its `auth_token`; an
/// error when the registration lacks the token or the account.
pub(crate) fn prepare(inbound: &Inbound, hook: &Webhook) -> Result<Prepared, String> {
    let (Some(token), Some(account_sid)) =
        (hook.auth_token.as_deref(), hook.account_sid.as_deref())
    else {
        return Err("the twilio registration has no auth_token or account_sid".into());
    };
    Ok(signed_form(&hook.url, token, &params(inbound, account_sid)))
}

/// Twilio's incoming-message form fields, in the order Twilio tends to
/// send them (the signature sorts them anyway).
fn params(inbound: &Inbound, account_sid: &str) -> Vec<(String, String)> {
    let business = inbound
        .sender
        .strip_prefix("whatsapp:")
        .unwrap_or(&inbound.sender)
        .trim();
    let business = phone::to_e164(business).unwrap_or_else(|| business.to_string());
    let prefix = if inbound.whatsapp { "whatsapp:" } else { "" };
    let from = format!("{prefix}{}", inbound.from);
    let to = format!("{prefix}{business}");
    let body = match &inbound.content {
        Content::Text(text) => text.clone(),
        Content::Button { text, .. } => text.clone(),
        Content::Media(media) => media.caption.clone().unwrap_or_default(),
    };
    let segments = if inbound.whatsapp {
        1
    } else {
        wire::segments(&body)
    };
    let num_media = matches!(inbound.content, Content::Media(_)) as u8;
    let mut params: Vec<(String, String)> = vec![
        ("SmsMessageSid".into(), inbound.id.clone()),
        ("NumMedia".into(), num_media.to_string()),
    ];
    if inbound.whatsapp {
        params.push(("ProfileName".into(), inbound.name.clone()));
        let kind = match &inbound.content {
            Content::Text(_) => "text",
            Content::Button { .. } => "button",
            Content::Media(media) => media.kind.meta(),
        };
        params.push(("MessageType".into(), kind.into()));
    }
    params.push(("SmsSid".into(), inbound.id.clone()));
    if inbound.whatsapp {
        params.push(("WaId".into(), phone::digits(&inbound.from).to_string()));
    }
    params.extend([
        ("SmsStatus".to_string(), "received".to_string()),
        ("Body".into(), body),
        ("To".into(), to.clone()),
        ("NumSegments".into(), segments.to_string()),
        ("MessageSid".into(), inbound.id.clone()),
        ("AccountSid".into(), account_sid.to_string()),
        ("From".into(), from),
        ("ApiVersion".into(), "2010-04-01".into()),
    ]);
    if let Content::Media(media) = &inbound.content {
        let url = media.url.clone().unwrap_or_else(|| {
            format!(
                "https://api.twilio.com/2010-04-01/Accounts/{account_sid}/Messages/{}/Media/{}",
                inbound.id, media.id
            )
        });
        params.push(("MediaContentType0".into(), media.mime.clone()));
        params.push(("MediaUrl0".into(), url));
    }
    if let Content::Button { text, payload, .. } = &inbound.content {
        params.push(("ButtonText".into(), text.clone()));
        params.push(("ButtonPayload".into(), payload.clone()));
    }
    if let Some(sid) = &inbound.reply_to {
        params.push(("OriginalRepliedMessageSender".into(), to));
        params.push(("OriginalRepliedMessageSid".into(), sid.clone()));
    }
    params
}

#[cfg(test)]
mod tests {
    //! Field names are written from providers.md (and the providers' docs it
    //! points to), not from any Pregón parser.

    use std::collections::BTreeSet;

    use serde_json::json;

    use crate::delivery::Prepared;
    use crate::message::test_support::{header, hook, inbound, set};
    use crate::signing;
    use crate::sim::Webhook;

    fn twilio_hook(sender: &str) -> Webhook {
        hook(
            "twilio",
            sender,
            json!({"auth_token": "12345", "account_sid": "AC0000000000000000000000000000000a",
                   "url": "https://example.test/v1/webhooks/acc_x/twilio?k=1&z=2"}),
        )
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
}
