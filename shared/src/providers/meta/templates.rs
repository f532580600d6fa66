//! The WhatsApp Business account's templates (providers.md, "Templates"): registration
//! through `message_templates` and its review status.

use crate::providers::{by_status, HttpReply, HttpRequest, ProviderError};
use serde_json::{json, Value};
/// Registration of a template with the WhatsApp Business account:
/// `POST {graph}/{waba_id}/message_templates` (providers.md, "Templates").
pub fn register_template_request(
    graph: &str,
    access_token: &str,
    waba_id: &str,
    t: &crate::model::NewTemplate,
) -> HttpRequest {
    let examples = t.review_examples();
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
    let GetOrDelete { url, headers } = templates_url(graph, access_token, waba_id, name);
    HttpRequest {
        method: "GET",
        url,
        headers,
        body: Vec::new(),
    }
}

/// The WABA's `message_templates?name=` and its Bearer header.
struct GetOrDelete {
    url: String,
    headers: Vec<(String, String)>,
}

fn templates_url(graph: &str, access_token: &str, waba_id: &str, name: &str) -> GetOrDelete {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", name)
        .finish();
    GetOrDelete {
        url: format!(
            "{}/{waba_id}/message_templates?{q}",
            graph.trim_end_matches('/')
        ),
        headers: vec![("authorization".into(), format!("Bearer {access_token}"))],
    }
}

pub use crate::providers::TemplateState;

/// Deletes the template named `name` from the WhatsApp Business account: `DELETE
/// /{waba_id}/message_templates?name=` (every language of that name, as Meta does; the
/// other languages are other Pregón templates only if registered under the same name).
pub fn delete_template_request(
    graph: &str,
    access_token: &str,
    waba_id: &str,
    name: &str,
) -> HttpRequest {
    let GetOrDelete { url, headers } = templates_url(graph, access_token, waba_id, name);
    HttpRequest {
        method: "DELETE",
        url,
        headers,
        body: Vec::new(),
    }
}

/// Reads the answer to a delete: `{"success": true}`. A name Meta does not know (error
/// 100 with subcode 2593002, "message template not found", or a message saying it does
/// not exist) is already deleted.
pub fn read_delete_reply(reply: HttpReply<'_>) -> Result<(), ProviderError> {
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    if (200..300).contains(&reply.status) && v["success"] != false {
        return Ok(());
    }
    let e = &v["error"];
    let gone = e["code"] == 100
        && (e["error_subcode"] == 2593002
            || e["message"]
                .as_str()
                .is_some_and(|m| m.to_lowercase().contains("does not exist")));
    if gone {
        return Ok(());
    }
    Err(graph_error(reply, &v))
}

/// Meta's error body as a provider error (`error.code`, `error.message`).
fn graph_error(reply: HttpReply<'_>, v: &Value) -> ProviderError {
    let message = v["error"]["message"]
        .as_str()
        .unwrap_or("no error message")
        .to_string();
    let code = v["error"]["code"]
        .as_i64()
        .map_or_else(|| format!("http_{}", reply.status), |c| c.to_string());
    by_status(reply.status, code, message)
}

/// Reads the answer to a registration (`{"id","status","category"}`) or to a status
/// query (`{"data":[{"name","language","status","id",…}]}`) for `language`.
pub fn read_template_reply(
    reply: HttpReply<'_>,
    language: &str,
) -> Result<TemplateState, ProviderError> {
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    if !(200..300).contains(&reply.status) {
        return Err(graph_error(reply, &v));
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
        status: crate::model::TemplateStatus::from_review(
            entry["status"].as_str().unwrap_or("PENDING"),
        ),
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
            department: None,
            examples: Vec::new(),
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
        assert_eq!(
            TemplateStatus::from_review("DISABLED"),
            TemplateStatus::Paused
        );
    }

    #[test]
    fn a_delete_names_the_template_and_a_missing_one_counts_as_deleted() {
        let r = delete_template_request(
            "https://graph.facebook.com/v21.0",
            "tok",
            "waba1",
            "aviso cobranza",
        );
        assert_eq!(r.method, "DELETE");
        assert_eq!(
            r.url,
            "https://graph.facebook.com/v21.0/waba1/message_templates?name=aviso+cobranza"
        );
        let reply = |status, body: &str| {
            read_delete_reply(HttpReply {
                status,
                body: body.as_bytes(),
            })
        };
        assert_eq!(reply(200, r#"{"success":true}"#), Ok(()));
        let missing = r#"{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2593002,"fbtrace_id":"A"}}"#;
        assert_eq!(reply(400, missing), Ok(()));
        let expired = r#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"fbtrace_id":"A"}}"#;
        assert!(matches!(
            reply(401, expired),
            Err(ProviderError::Auth { .. })
        ));
    }
}
