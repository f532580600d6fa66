//! Twilio webhooks (providers.md, "Twilio"): `X-Twilio-Signature` over the public URL
//! and the sorted form parameters; form-encoded status callbacks (`MessageStatus`)
//! and inbound messages (`Body`, `NumMedia`, `MediaUrl0…`, WhatsApp buttons).

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::providers::inbound::{
    bad, non_empty, AuthError, Inbound, InboundError, Media, Reply, ReplyKind, StatusUpdate,
};
use crate::sending::MessageStatus;

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// Base64(HMAC-SHA1(auth_token, url + every parameter's name and value, sorted by
/// name)), as Twilio signs a request.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac(auth_token, url, params).finalize().into_bytes())
}

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// Checks `X-Twilio-Signature` in constant time. `url` is this webhook's configured
/// public URL with the request's query string, exactly as given to Twilio (never
/// rebuilt from a `Host` header); `body` the raw form body.
pub fn verify_signature(
    auth_token: &str,
    url: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), AuthError> {
    let header = crate::providers::inbound::signed(header, auth_token)?;
    let tag = base64::engine::general_purpose::STANDARD
        .decode(header)
        .map_err(|_| AuthError::Mismatch)?;
    mac(auth_token, url, &form(body))
        .verify_slice(&tag)
        .map_err(|_| AuthError::Mismatch)
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// Reads a status callback or an inbound message (after [`verify_signature`]): one
/// event. Twilio gives no event time, so `at` is `None`; our correlation id, if any,
/// is in the callback URL's query, which the caller has.
pub fn parse(body: &[u8]) -> Result<Vec<Inbound>, InboundError> {
    let params = form(body);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let sid = non_empty(get("MessageSid"))
        .or(non_empty(get("SmsSid")))
        .ok_or_else(|| bad("MessageSid", "missing"))?;
    let status = get("MessageStatus").or(get("SmsStatus"));
    let inbound = match status {
        Some("received") => true,
        Some("receiving") => {
            return Ok(vec![Inbound::Ignored {
                why: "an inbound message still being received".into(),
            }])
        }
        Some(_) => false,
        None if get("Body").is_some() || get("NumMedia").is_some() => true,
        None => return Err(bad("MessageStatus", "missing")),
    };
    let event = if inbound {
        reply(&get, sid)?
    } else {
        status_update(&get, sid, status.unwrap_or_default())
    };
    Ok(vec![event])
}

fn status_update<'a>(get: &impl Fn(&str) -> Option<&'a str>, sid: String, name: &str) -> Inbound {
    // Twilio's `accepted`/`scheduled`/`queued`/`sending` all mean Twilio took the
    // message: our `sent` (SPEC §6: sent = accepted by the provider).
    let status = match name {
        "accepted" | "scheduled" | "queued" | "sending" | "sent" => MessageStatus::Sent,
        "delivered" => MessageStatus::Delivered,
        "read" => MessageStatus::Read,
        "undelivered" => MessageStatus::Undelivered,
        "failed" | "canceled" => MessageStatus::Failed,
        other => {
            return Inbound::Ignored {
                why: format!("Twilio status '{other}'"),
            }
        }
    };
    let error_code = non_empty(get("ErrorCode"));
    let error_message = match error_code.as_deref() {
        Some("30003") => Some("unreachable destination handset".to_string()),
        Some("30005") => Some("unknown destination handset".to_string()),
        Some("30006") => Some("landline or unreachable carrier".to_string()),
        Some("30007") => Some("carrier filtering".to_string()),
        Some("30008") => Some("unknown error".to_string()),
        _ if name == "canceled" => Some("canceled".to_string()),
        _ => non_empty(get("ErrorMessage")),
    };
    Inbound::Status(StatusUpdate {
        provider_message_id: sid,
        status,
        provider_status: name.to_string(),
        at: None,
        error_code,
        error_message,
        correlation: None,
    })
}

fn reply<'a>(get: &impl Fn(&str) -> Option<&'a str>, sid: String) -> Result<Inbound, InboundError> {
    let from = get("From").ok_or_else(|| bad("From", "missing"))?;
    let from_phone = crate::providers::inbound::e164("From", from)?;
    let num_media: usize = match get("NumMedia") {
        None | Some("") => 0,
        Some(n) => n.parse().map_err(|_| bad("NumMedia", "not a number"))?,
    };
    // Twilio sends at most 10 media per message.
    if num_media > 10 {
        return Err(bad("NumMedia", "more than 10"));
    }
    let mut media = Vec::with_capacity(num_media);
    for i in 0..num_media {
        let url = non_empty(get(&format!("MediaUrl{i}")))
            .ok_or_else(|| bad(format!("MediaUrl{i}"), "missing"))?;
        media.push(Media {
            id: None,
            url: Some(url),
            mime: non_empty(get(&format!("MediaContentType{i}"))),
        });
    }
    let button_payload = non_empty(get("ButtonPayload"));
    let kind = if button_payload.is_some() {
        ReplyKind::Button
    } else if !media.is_empty() {
        ReplyKind::Media
    } else {
        ReplyKind::Text
    };
    Ok(Inbound::Reply(Reply {
        from_phone,
        provider_message_id: sid,
        kind,
        text: non_empty(get("Body")).or(non_empty(get("ButtonText"))),
        media,
        button_payload,
        replied_to: non_empty(get("OriginalRepliedMessageSid")),
        at: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::inbound::DEFAULT_OPT_OUT_WORDS;

    const INBOUND_SMS: &str = include_str!("../../../tests/fixtures/twilio_inbound_sms.form");
    const DELIVERED: &str = include_str!("../../../tests/fixtures/twilio_status_delivered.form");
    const UNDELIVERED: &str =
        include_str!("../../../tests/fixtures/twilio_status_undelivered.form");

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn vector_params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ])
    }

    fn vector_body() -> Vec<u8> {
        // Deliberately not in sorted order: the signature sorts.
        crate::providers::form(&[
            ("To", "+18005551212"),
            ("Digits", "1234"),
            ("CallSid", "CA1234567890ABCDE"),
            ("From", "+12349013030"),
            ("Caller", "+12349013030"),
        ])
    }

    #[test]
    fn twilios_published_vector_verifies() {
        assert_eq!(
            signature("12345", URL, &vector_params()),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert_eq!(
            verify_signature(
                "12345",
                URL,
                &vector_body(),
                Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
            ),
            Ok(())
        );
    }

    #[test]
    fn a_wrong_token_url_body_or_header_is_refused() {
        let good = Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        let body = vector_body();
        assert_eq!(
            verify_signature("12346", URL, &body, good),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=3",
                &body,
                good
            ),
            Err(AuthError::Mismatch)
        );
        let mut tampered = body.clone();
        tampered.extend_from_slice(b"&Body=x");
        assert_eq!(
            verify_signature("12345", URL, &tampered, good),
            Err(AuthError::Mismatch)
        );
        let changed = String::from_utf8(body.clone())
            .unwrap()
            .replace("1234&", "1235&");
        assert_eq!(
            verify_signature("12345", URL, changed.as_bytes(), good),
            Err(AuthError::Mismatch)
        );
        for h in [
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ",
            "not base64!",
            "1/KCTR6DLpKmkAf8muzZqo1nDgQ=",
        ] {
            assert_eq!(
                verify_signature("12345", URL, &body, Some(h)),
                Err(AuthError::Mismatch),
                "{h}"
            );
        }
        assert_eq!(
            verify_signature("12345", URL, &body, None),
            Err(AuthError::Missing)
        );
        assert_eq!(
            verify_signature("", URL, &body, Some(&signature("", URL, &vector_params()))),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn a_signed_fixture_verifies_over_its_encoded_form() {
        let url = "https://hooks.example.com/v1/webhooks/twilio/acc_1?m=ten.cmp.1.2";
        let sig = signature("tok", url, &form(DELIVERED.trim().as_bytes()));
        assert_eq!(
            verify_signature("tok", url, DELIVERED.trim().as_bytes(), Some(&sig)),
            Ok(())
        );
        assert_eq!(
            verify_signature("tok", url, UNDELIVERED.trim().as_bytes(), Some(&sig)),
            Err(AuthError::Mismatch)
        );
    }

    fn one(body: &str) -> Inbound {
        let mut all = parse(body.trim().as_bytes()).unwrap();
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[test]
    fn a_delivered_callback_is_read() {
        assert_eq!(
            one(DELIVERED),
            Inbound::Status(StatusUpdate {
                provider_message_id: "SM5ef872f6da5a21de157d80997a64bd33".into(),
                status: MessageStatus::Delivered,
                provider_status: "delivered".into(),
                at: None,
                error_code: None,
                error_message: None,
                correlation: None,
            })
        );
    }

    #[test]
    fn an_undelivered_callback_carries_its_error_code() {
        let Inbound::Status(s) = one(UNDELIVERED) else {
            panic!()
        };
        assert_eq!(s.provider_message_id, "SM7f3c8e2a9b1d4e5f6a7b8c9d0e1f2a3b");
        assert_eq!(s.status, MessageStatus::Undelivered);
        assert_eq!(s.error_code.as_deref(), Some("30003"));
        assert_eq!(
            s.error_message.as_deref(),
            Some("unreachable destination handset")
        );
    }

    #[test]
    fn twilio_statuses_map_to_ours() {
        let status = |name: &str| match one(&format!("MessageSid=SM1&MessageStatus={name}")) {
            Inbound::Status(s) => Some(s.status),
            _ => None,
        };
        for (name, ours) in [
            ("accepted", Some(MessageStatus::Sent)),
            ("queued", Some(MessageStatus::Sent)),
            ("sending", Some(MessageStatus::Sent)),
            ("sent", Some(MessageStatus::Sent)),
            ("delivered", Some(MessageStatus::Delivered)),
            ("read", Some(MessageStatus::Read)),
            ("undelivered", Some(MessageStatus::Undelivered)),
            ("failed", Some(MessageStatus::Failed)),
            ("canceled", Some(MessageStatus::Failed)),
            ("receiving", None),
            ("partially_delivered", None),
        ] {
            assert_eq!(status(name), ours, "{name}");
        }
    }

    #[test]
    fn an_inbound_sms_is_a_reply_and_baja_opts_out() {
        let Inbound::Reply(r) = one(INBOUND_SMS) else {
            panic!()
        };
        assert_eq!(r.from_phone, "+56962000013");
        assert_eq!(r.provider_message_id, "SMa1b2c3d4e5f60718293a4b5c6d7e8f90");
        assert_eq!(r.kind, ReplyKind::Text);
        assert_eq!(r.text.as_deref(), Some("BAJA"));
        assert!(r.media.is_empty());
        assert_eq!(r.replied_to, None);
        assert!(r.is_opt_out(DEFAULT_OPT_OUT_WORDS));
    }

    #[test]
    fn a_whatsapp_reply_with_media_and_a_button_is_read() {
        let body = crate::providers::form(&[
            ("MessageSid", "MM1"),
            ("From", "whatsapp:+56962000001"),
            ("To", "whatsapp:+15550001111"),
            ("Body", ""),
            ("NumMedia", "2"),
            ("MediaUrl0", "https://api.twilio.com/m/0"),
            ("MediaContentType0", "image/jpeg"),
            ("MediaUrl1", "https://api.twilio.com/m/1"),
            ("ButtonText", "Detener"),
            ("ButtonPayload", "stop"),
            (
                "OriginalRepliedMessageSid",
                "SM5ef872f6da5a21de157d80997a64bd33",
            ),
        ]);
        let Inbound::Reply(r) = parse(&body).unwrap().remove(0) else {
            panic!()
        };
        assert_eq!(r.from_phone, "+56962000001");
        assert_eq!(r.kind, ReplyKind::Button);
        assert_eq!(r.text.as_deref(), Some("Detener"));
        assert_eq!(r.button_payload.as_deref(), Some("stop"));
        assert_eq!(
            r.replied_to.as_deref(),
            Some("SM5ef872f6da5a21de157d80997a64bd33")
        );
        assert_eq!(
            r.media,
            [
                Media {
                    id: None,
                    url: Some("https://api.twilio.com/m/0".into()),
                    mime: Some("image/jpeg".into())
                },
                Media {
                    id: None,
                    url: Some("https://api.twilio.com/m/1".into()),
                    mime: None
                },
            ]
        );
        assert!(r.is_opt_out(&[]));
    }

    #[test]
    fn malformed_callbacks_name_the_field() {
        let field = |b: &str| parse(b.as_bytes()).unwrap_err().field;
        assert_eq!(field("MessageStatus=delivered"), "MessageSid");
        assert_eq!(field("MessageSid=SM1"), "MessageStatus");
        assert_eq!(field("MessageSid=SM1&SmsStatus=received&Body=x"), "From");
        assert_eq!(
            field("MessageSid=SM1&From=%2B569&Body=x&NumMedia=two"),
            "NumMedia"
        );
        assert_eq!(field("MessageSid=SM1&From=%2B569&NumMedia=1"), "MediaUrl0");
        assert_eq!(field("MessageSid=SM1&From=Movistar&Body=x"), "From");
    }
}
