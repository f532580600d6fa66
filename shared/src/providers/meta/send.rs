//! Meta WhatsApp Business Cloud API (providers.md, "Meta"): a template message is a
//! JSON `POST {graph}/{phone_number_id}/messages` with a Bearer token; the message id is
//! `messages[0].id`; errors are `{"error":{"code",…}}` with the codes below.

use crate::providers::{
    by_code, digits, Accepted, Content, HttpReply, HttpRequest, Outgoing, ProviderError,
};
use serde_json::{json, Value};

/// Builds the send request. `graph` is the Graph API base with its version.
pub fn send_request(
    graph: &str,
    access_token: &str,
    phone_number_id: &str,
    m: &Outgoing<'_>,
) -> HttpRequest {
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": digits(m.to),
        "biz_opaque_callback_data": m.correlation,
    });
    match &m.content {
        Content::Template {
            name,
            language,
            params,
            header_image,
            ..
        } => {
            let mut components = Vec::new();
            if let Some(link) = header_image {
                components.push(json!({"type": "header", "parameters": [{"type": "image", "image": {"link": link}}]}));
            }
            if !params.is_empty() {
                let p: Vec<Value> = params
                    .iter()
                    .map(|t| json!({"type": "text", "text": t}))
                    .collect();
                components.push(json!({"type": "body", "parameters": p}));
            }
            body["type"] = json!("template");
            body["template"] =
                json!({"name": name, "language": {"code": language}, "components": components});
        }
        Content::Text { body: text } => {
            body["type"] = json!("text");
            body["text"] = json!({"body": text});
        }
    }
    HttpRequest {
        method: "POST",
        url: format!("{}/{phone_number_id}/messages", graph.trim_end_matches('/')),
        headers: vec![
            ("authorization".into(), format!("Bearer {access_token}")),
            ("content-type".into(), "application/json".into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

/// Reads the answer to a send.
pub fn read_send_reply(reply: HttpReply<'_>) -> Result<Accepted, ProviderError> {
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    if (200..300).contains(&reply.status) {
        return match v["messages"][0]["id"].as_str() {
            Some(id) => Ok(Accepted {
                provider_message_id: id.to_string(),
            }),
            None => Err(crate::providers::success_without_id("messages[0].id")),
        };
    }
    if let Some(e) = crate::providers::from_intermediary(reply.status, &v) {
        return Err(e);
    }
    let code = v["error"]["code"].as_i64();
    let message = v["error"]["message"]
        .as_str()
        .unwrap_or("no error message")
        .to_string();
    let code_s = code.map_or_else(|| format!("http_{}", reply.status), |c| c.to_string());
    match code {
        // Throughput, pair rate, WABA/app rate limits: back off.
        Some(130429 | 131056 | 80007 | 4) => Err(ProviderError::Throttled { code: code_s }),
        // "Something went wrong" / service unavailable.
        Some(131000 | 131016) => Err(ProviderError::Retry {
            reason: format!("{code_s}: {message}"),
        }),
        Some(190) => Err(ProviderError::Auth {
            code: code_s,
            message,
        }),
        // Account restricted or locked: nothing of this account can go.
        Some(368 | 131031) => Err(ProviderError::Auth {
            code: code_s,
            message,
        }),
        _ => Err(by_code(reply.status, code.is_some(), code_s, message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing<'a>(params: &'a [String]) -> Outgoing<'a> {
        Outgoing {
            to: "+56962000001",
            content: Content::Template {
                name: "aviso_cobranza",
                language: "es",
                params,
                header_image: Some("https://cdn.example.com/promo.png"),
                provider_template_id: None,
            },
            correlation: "msg_1",
            status_callback: None,
        }
    }

    #[test]
    fn a_template_send_is_the_documented_request() {
        let params = vec!["María".to_string(), "$12.500".to_string()];
        let r = send_request(
            "https://graph.facebook.com/v21.0/",
            "TOKEN",
            "PHONE_NUMBER_ID",
            &outgoing(&params),
        );
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.url,
            "https://graph.facebook.com/v21.0/PHONE_NUMBER_ID/messages"
        );
        assert!(r
            .headers
            .contains(&("authorization".into(), "Bearer TOKEN".into())));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        // providers.md's example, field by field.
        assert_eq!(
            body,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "56962000001",
             "type": "template",
             "template": {"name": "aviso_cobranza", "language": {"code": "es"},
               "components": [
                 {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/promo.png"}}]},
                 {"type": "body", "parameters": [{"type": "text", "text": "María"}, {"type": "text", "text": "$12.500"}]}]},
             "biz_opaque_callback_data": "msg_1"})
        );
    }

    #[test]
    fn the_documented_success_gives_the_message_id() {
        let body = br#"{"messaging_product":"whatsapp","contacts":[{"input":"56962000001","wa_id":"56962000001"}],"messages":[{"id":"wamid.HBgLNTY5","message_status":"accepted"}]}"#;
        assert_eq!(
            read_send_reply(HttpReply { status: 200, body }).unwrap(),
            Accepted {
                provider_message_id: "wamid.HBgLNTY5".into()
            }
        );
    }

    fn error(status: u16, code: i64) -> ProviderError {
        let body = json!({"error":{"message":"m","type":"OAuthException","code":code,"error_subcode":2494010,"error_data":{"details":"d"},"fbtrace_id":"A1"}}).to_string();
        read_send_reply(HttpReply {
            status,
            body: body.as_bytes(),
        })
        .unwrap_err()
    }

    #[test]
    fn documented_errors_carry_the_retry_decision() {
        assert!(matches!(
            error(429, 130429),
            ProviderError::Throttled { .. }
        ));
        assert!(matches!(
            error(400, 131056),
            ProviderError::Throttled { .. }
        ));
        assert!(matches!(error(500, 131000), ProviderError::Retry { .. }));
        assert!(matches!(error(503, 1), ProviderError::Retry { .. }));
        assert!(matches!(error(401, 190), ProviderError::Auth { .. }));
        assert!(matches!(error(400, 368), ProviderError::Auth { .. }));
        for code in [
            100, 131026, 131047, 131049, 131050, 132000, 132001, 132012, 132015, 132016,
        ] {
            assert_eq!(
                error(400, code),
                ProviderError::Rejected {
                    code: code.to_string(),
                    message: "m".into()
                },
                "{code}"
            );
        }
    }
}
