//! Meta WhatsApp Business Cloud API (providers.md, "Meta"): a template message is a
//! JSON `POST {graph}/{phone_number_id}/messages` with a Bearer token; the message id is
//! `messages[0].id`; errors are `{"error":{"code",…}}` with the codes below.

use super::{
    by_status, digits, Accepted, Content, HttpReply, HttpRequest, Outgoing, ProviderError,
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
            None => Err(super::success_without_id("messages[0].id")),
        };
    }
    if let Some(e) = super::from_intermediary(reply.status, &v) {
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
        Some(_) if reply.status < 500 && reply.status != 429 => Err(ProviderError::Rejected {
            code: code_s,
            message,
        }),
        _ => Err(by_status(reply.status, code_s, message)),
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

/// Registration of a template with the WhatsApp Business account:
/// `POST {graph}/{waba_id}/message_templates` (providers.md, "Templates").
pub fn register_template_request(
    graph: &str,
    access_token: &str,
    waba_id: &str,
    t: &crate::model::NewTemplate,
) -> HttpRequest {
    let examples = super::examples(t.params);
    let mut body_component = json!({"type": "BODY", "text": t.body});
    if !examples.is_empty() {
        body_component["example"] = json!({"body_text": [examples]});
    }
    let mut components = Vec::new();
    if let Some(h) = &t.header {
        match (h.kind.as_str(), &h.text, &h.link) {
            ("text", Some(text), _) => {
                components.push(json!({"type": "HEADER", "format": "TEXT", "text": text}))
            }
            ("image", _, Some(link)) => components.push(
                json!({"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [link]}}),
            ),
            _ => {}
        }
    }
    components.push(body_component);
    let category = t
        .category
        .map(|c| serde_json::to_value(c).expect("json"))
        .unwrap_or(json!("UTILITY"));
    let body = json!({"name": t.name, "language": t.language, "category": category, "components": components});
    HttpRequest {
        method: "POST",
        url: format!(
            "{}/{waba_id}/message_templates",
            graph.trim_end_matches('/')
        ),
        headers: vec![
            ("authorization".into(), format!("Bearer {access_token}")),
            ("content-type".into(), "application/json".into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

/// A template's current status: `GET {graph}/{waba_id}/message_templates?name=…`.
pub fn template_status_request(
    graph: &str,
    access_token: &str,
    waba_id: &str,
    name: &str,
) -> HttpRequest {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", name)
        .finish();
    HttpRequest {
        method: "GET",
        url: format!(
            "{}/{waba_id}/message_templates?{q}",
            graph.trim_end_matches('/')
        ),
        headers: vec![("authorization".into(), format!("Bearer {access_token}"))],
        body: Vec::new(),
    }
}

pub use super::TemplateState;

/// Meta's template statuses in ours: `APPROVED`, `PENDING`, `REJECTED`, `PAUSED` and
/// `DISABLED` (which cannot be sent either: paused).
pub fn template_status(s: &str) -> crate::model::TemplateStatus {
    use crate::model::TemplateStatus as T;
    match s.to_ascii_uppercase().as_str() {
        "APPROVED" => T::Approved,
        "REJECTED" => T::Rejected,
        "PAUSED" | "DISABLED" => T::Paused,
        _ => T::Pending,
    }
}

/// Reads the answer to a registration (`{"id","status","category"}`) or to a status
/// query (`{"data":[{"name","language","status","id",…}]}`) for `language`.
pub fn read_template_reply(
    reply: HttpReply<'_>,
    language: &str,
) -> Result<TemplateState, ProviderError> {
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    if !(200..300).contains(&reply.status) {
        let message = v["error"]["message"]
            .as_str()
            .unwrap_or("no error message")
            .to_string();
        let code = v["error"]["code"]
            .as_i64()
            .map_or_else(|| format!("http_{}", reply.status), |c| c.to_string());
        return Err(by_status(reply.status, code, message));
    }
    let entry = match v["data"].as_array() {
        Some(list) => list
            .iter()
            .find(|t| t["language"].as_str().is_none_or(|l| l == language))
            .cloned()
            .ok_or_else(|| ProviderError::Rejected {
                code: "template_not_found".into(),
                message: "the provider has no such template".into(),
            })?,
        None => v,
    };
    Ok(TemplateState {
        provider_template_id: entry["id"].as_str().map(str::to_string),
        status: template_status(entry["status"].as_str().unwrap_or("PENDING")),
        rejected_reason: entry["rejected_reason"]
            .as_str()
            .filter(|r| !r.is_empty() && *r != "NONE")
            .map(str::to_string),
    })
}

#[cfg(test)]
mod template_tests {
    use super::*;
    use crate::model::{NewTemplate, TemplateCategory, TemplateStatus};

    #[test]
    fn a_template_is_registered_with_examples_for_its_variables() {
        let t = NewTemplate {
            name: "aviso_cobranza".into(),
            channel: crate::validate::Channel::Whatsapp,
            language: "es".into(),
            category: Some(TemplateCategory::Utility),
            body: "Hola {{1}}, debes {{2}}".into(),
            params: 2,
            header: None,
        };
        let r = register_template_request("https://graph.facebook.com/v21.0", "T", "WABA", &t);
        assert_eq!(
            r.url,
            "https://graph.facebook.com/v21.0/WABA/message_templates"
        );
        let b: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(b["name"], "aviso_cobranza");
        assert_eq!(b["category"], "UTILITY");
        assert_eq!(b["components"][0]["type"], "BODY");
        assert_eq!(
            b["components"][0]["example"]["body_text"][0]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn statuses_are_read_from_both_answers() {
        let created = br#"{"id":"594425479261596","status":"PENDING","category":"UTILITY"}"#;
        let s = read_template_reply(
            HttpReply {
                status: 200,
                body: created,
            },
            "es",
        )
        .unwrap();
        assert_eq!(s.status, TemplateStatus::Pending);
        assert_eq!(s.provider_template_id.as_deref(), Some("594425479261596"));
        let listed = br#"{"data":[{"name":"aviso","language":"en_US","status":"APPROVED","id":"1"},{"name":"aviso","language":"es","status":"REJECTED","rejected_reason":"INVALID_FORMAT","id":"2"}]}"#;
        let s = read_template_reply(
            HttpReply {
                status: 200,
                body: listed,
            },
            "es",
        )
        .unwrap();
        assert_eq!(s.status, TemplateStatus::Rejected);
        assert_eq!(s.rejected_reason.as_deref(), Some("INVALID_FORMAT"));
        assert_eq!(template_status("DISABLED"), TemplateStatus::Paused);
    }
}
