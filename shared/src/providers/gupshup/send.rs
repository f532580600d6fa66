//! Gupshup WhatsApp API (providers.md, "Gupshup"): a template message is a form-encoded
//! `POST /wa/api/v1/template/msg` with an `apikey` header, the template as JSON
//! `{"id","params"}`; free text goes to `/wa/api/v1/msg`. Success is
//! `{"status":"submitted","messageId"}`; errors `{"status":"error","message"}`.

use crate::providers::{
    by_status, digits, Accepted, Content, HttpReply, HttpRequest, Outgoing, ProviderError,
};
use serde_json::{json, Value};

/// Builds the send request. `source` is the business number, `app_name` the Gupshup app.
pub fn send_request(
    base: &str,
    api_key: &str,
    app_name: &str,
    source: &str,
    m: &Outgoing<'_>,
) -> Result<HttpRequest, ProviderError> {
    let base = base.trim_end_matches('/');
    let dest = digits(m.to);
    let source = digits(source);
    let (path, extra): (&str, Vec<(&str, String)>) = match &m.content {
        Content::Template {
            params,
            header_image,
            provider_template_id,
            ..
        } => {
            let id = provider_template_id.ok_or_else(|| ProviderError::Rejected {
                code: "no_template_id".into(),
                message: "the template has no Gupshup template id yet (not registered)".into(),
            })?;
            let mut extra = vec![("template", json!({"id": id, "params": params}).to_string())];
            if let Some(link) = header_image {
                extra.push((
                    "message",
                    json!({"type": "image", "image": {"link": link}}).to_string(),
                ));
            }
            ("/wa/api/v1/template/msg", extra)
        }
        Content::Text { body } => (
            "/wa/api/v1/msg",
            vec![
                ("channel", "whatsapp".to_string()),
                ("message", json!({"type": "text", "text": body}).to_string()),
            ],
        ),
    };
    let mut pairs: Vec<(&str, String)> = vec![
        ("source", source.to_string()),
        ("destination", dest.to_string()),
        ("src.name", app_name.to_string()),
    ];
    pairs.extend(extra);
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(HttpRequest {
        method: "POST",
        url: format!("{base}{path}"),
        headers: vec![
            ("apikey".into(), api_key.to_string()),
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
    let message = v["message"]
        .as_str()
        .unwrap_or("no error message")
        .to_string();
    if (200..300).contains(&reply.status) {
        return match (v["status"].as_str(), v["messageId"].as_str()) {
            (Some("submitted"), Some(id)) => Ok(Accepted {
                provider_message_id: id.to_string(),
            }),
            // Gupshup answers some refusals with 200 and `"status":"error"`.
            (Some("error"), _) => Err(ProviderError::Rejected {
                code: "gupshup_error".into(),
                message,
            }),
            _ => Err(crate::providers::success_without_id("messageId")),
        };
    }
    if let Some(e) = crate::providers::from_intermediary(reply.status, &v) {
        return Err(e);
    }
    Err(by_status(
        reply.status,
        format!("http_{}", reply.status),
        message,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_send_is_the_documented_form() {
        let params = vec!["María".to_string(), "$12.500".to_string()];
        let m = Outgoing {
            to: "+56962000001",
            content: Content::Template {
                name: "aviso",
                language: "es",
                params: &params,
                header_image: None,
                provider_template_id: Some("a1b2c3"),
            },
            correlation: "msg_1",
            status_callback: None,
        };
        let r = send_request(
            "https://api.gupshup.io",
            "KEY",
            "DemoApp",
            "+15550001111",
            &m,
        )
        .unwrap();
        assert_eq!(r.url, "https://api.gupshup.io/wa/api/v1/template/msg");
        assert!(r.headers.contains(&("apikey".into(), "KEY".into())));
        let f: Vec<(String, String)> = form_urlencoded::parse(&r.body).into_owned().collect();
        assert_eq!(f[0], ("source".into(), "15550001111".into()));
        assert_eq!(f[1], ("destination".into(), "56962000001".into()));
        assert_eq!(f[2], ("src.name".into(), "DemoApp".into()));
        let t: Value = serde_json::from_str(&f[3].1).unwrap();
        assert_eq!(t, json!({"id": "a1b2c3", "params": ["María", "$12.500"]}));
    }

    #[test]
    fn documented_answers_are_read() {
        let ok = br#"{"status":"submitted","messageId":"ee4a68a0-1203-4c85-8dc3-49d0b3226a35"}"#;
        assert_eq!(
            read_send_reply(HttpReply {
                status: 202,
                body: ok
            })
            .unwrap()
            .provider_message_id,
            "ee4a68a0-1203-4c85-8dc3-49d0b3226a35"
        );
        let err = br#"{"status":"error","message":"Invalid Destination"}"#;
        assert!(matches!(
            read_send_reply(HttpReply {
                status: 400,
                body: err
            }),
            Err(ProviderError::Rejected { .. })
        ));
        assert!(matches!(
            read_send_reply(HttpReply {
                status: 401,
                body: err
            }),
            Err(ProviderError::Auth { .. })
        ));
        assert!(matches!(
            read_send_reply(HttpReply {
                status: 429,
                body: err
            }),
            Err(ProviderError::Throttled { .. })
        ));
    }
}
