//! Twilio Programmable Messaging (providers.md, "Twilio"): a form-encoded
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic auth; SMS with
//! `Body`, WhatsApp templates with `ContentSid` + `ContentVariables`; the message id is
//! `sid`; errors are `{"code","message","more_info","status"}`.

use crate::providers::{
    basic, by_code, Accepted, Content, HttpReply, HttpRequest, Outgoing, ProviderError,
};
use serde_json::Value;

/// Builds the send request. `whatsapp` prefixes both numbers with `whatsapp:`.
pub fn send_request(
    base: &str,
    account_sid: &str,
    auth_token: &str,
    from: &str,
    whatsapp: bool,
    m: &Outgoing<'_>,
) -> Result<HttpRequest, ProviderError> {
    let (to, from) = if whatsapp {
        (format!("whatsapp:{}", m.to), format!("whatsapp:{from}"))
    } else {
        (m.to.to_string(), from.to_string())
    };
    let sender_field = if from.trim_start_matches("whatsapp:").starts_with("MG") {
        "MessagingServiceSid"
    } else {
        "From"
    };
    let from = if sender_field == "MessagingServiceSid" {
        from.trim_start_matches("whatsapp:").to_string()
    } else {
        from
    };
    let mut pairs: Vec<(&str, String)> = vec![("To", to), (sender_field, from)];
    match &m.content {
        Content::Text { body } => pairs.push(("Body", body.to_string())),
        Content::Template {
            params,
            provider_template_id,
            header_image,
            ..
        } => {
            let sid = provider_template_id.ok_or_else(|| ProviderError::Rejected {
                code: "no_content_sid".into(),
                message: "the template has no Twilio Content SID yet (not registered)".into(),
            })?;
            let vars: serde_json::Map<String, Value> = params
                .iter()
                .enumerate()
                .map(|(i, p)| ((i + 1).to_string(), Value::from(p.as_str())))
                .collect();
            pairs.push(("ContentSid", sid.to_string()));
            pairs.push(("ContentVariables", Value::Object(vars).to_string()));
            if let Some(link) = header_image {
                pairs.push(("MediaUrl", link.to_string()));
            }
        }
    }
    if let Some(cb) = m.status_callback {
        pairs.push(("StatusCallback", cb.to_string()));
    }
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(HttpRequest {
        method: "POST",
        url: format!(
            "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
            base.trim_end_matches('/')
        ),
        headers: vec![
            ("authorization".into(), basic(account_sid, auth_token)),
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
        ],
        body: crate::providers::form(&borrowed),
    })
}

/// Reads the answer to a send.
pub fn read_send_reply(reply: HttpReply<'_>) -> Result<Accepted, ProviderError> {
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    if (200..300).contains(&reply.status) {
        return match v["sid"].as_str() {
            Some(sid) => Ok(Accepted {
                provider_message_id: sid.to_string(),
            }),
            None => Err(crate::providers::success_without_id("sid")),
        };
    }
    if let Some(e) = crate::providers::from_intermediary(reply.status, &v) {
        return Err(e);
    }
    let code = v["code"].as_i64();
    let message = v["message"]
        .as_str()
        .unwrap_or("no error message")
        .to_string();
    let code_s = code.map_or_else(|| format!("http_{}", reply.status), |c| c.to_string());
    match code {
        Some(20429 | 63018) => Err(ProviderError::Throttled { code: code_s }),
        Some(20003) => Err(ProviderError::Auth {
            code: code_s,
            message,
        }),
        _ => Err(by_code(reply.status, code.is_some(), code_s, message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_of(body: &[u8]) -> Vec<(String, String)> {
        form_urlencoded::parse(body).into_owned().collect()
    }

    #[test]
    fn an_sms_is_a_form_post_with_basic_auth_and_a_status_callback() {
        let m = Outgoing {
            to: "+56962000001",
            content: Content::Text {
                body: "Hola María, tu cuota vence mañana",
            },
            correlation: "msg_1",
            status_callback: Some("https://api.example.com/v1/webhooks/acc_1?m=msg_1"),
        };
        let r = send_request(
            "https://api.twilio.com",
            "AC123",
            "tok",
            "+15550001111",
            false,
            &m,
        )
        .unwrap();
        assert_eq!(
            r.url,
            "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
        );
        // Basic base64("AC123:tok")
        assert!(r
            .headers
            .contains(&("authorization".into(), "Basic QUMxMjM6dG9r".into())));
        assert_eq!(
            form_of(&r.body),
            [
                ("To".into(), "+56962000001".into()),
                ("From".into(), "+15550001111".into()),
                ("Body".into(), "Hola María, tu cuota vence mañana".into()),
                (
                    "StatusCallback".into(),
                    "https://api.example.com/v1/webhooks/acc_1?m=msg_1".into()
                ),
            ]
        );
    }

    #[test]
    fn a_whatsapp_template_goes_by_content_sid_with_variables_as_json() {
        let params = vec!["María".to_string(), "$12.500".to_string()];
        let m = Outgoing {
            to: "+56962000001",
            content: Content::Template {
                name: "aviso",
                language: "es",
                params: &params,
                header_image: None,
                provider_template_id: Some("HX123"),
            },
            correlation: "msg_1",
            status_callback: None,
        };
        let r = send_request("https://api.twilio.com", "AC1", "t", "MG999", true, &m).unwrap();
        let f = form_of(&r.body);
        assert_eq!(f[0], ("To".into(), "whatsapp:+56962000001".into()));
        assert_eq!(f[1], ("MessagingServiceSid".into(), "MG999".into()));
        assert_eq!(f[2], ("ContentSid".into(), "HX123".into()));
        let vars: Value = serde_json::from_str(&f[3].1).unwrap();
        assert_eq!(vars, serde_json::json!({"1": "María", "2": "$12.500"}));
    }

    #[test]
    fn documented_answers_are_read() {
        let ok = br#"{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued","num_segments":"1","error_code":null}"#;
        assert_eq!(
            read_send_reply(HttpReply {
                status: 201,
                body: ok
            })
            .unwrap()
            .provider_message_id,
            "SM0123456789abcdef0123456789abcdef"
        );
        let err = |status, code: i64| {
            let b = serde_json::json!({"code": code, "message": "m", "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status}).to_string();
            read_send_reply(HttpReply {
                status,
                body: b.as_bytes(),
            })
            .unwrap_err()
        };
        assert!(matches!(err(429, 20429), ProviderError::Throttled { .. }));
        assert!(matches!(err(401, 20003), ProviderError::Auth { .. }));
        assert!(matches!(err(400, 21211), ProviderError::Rejected { .. }));
        assert!(matches!(err(400, 21610), ProviderError::Rejected { .. }));
        assert!(matches!(err(503, 20500), ProviderError::Retry { .. }));
    }
}
