//! WhatsApp templates through the Content API (content.twilio.com): a template is a
//! Content resource (`POST /v1/Content`, JSON, Basic auth) whose `HX…` SID is what a send
//! names as `ContentSid`; WhatsApp's review starts with
//! `POST /v1/Content/{sid}/ApprovalRequests/whatsapp` (`name`, `category`) and its
//! outcome is read from `GET /v1/Content/{sid}/ApprovalRequests` (`whatsapp.status`,
//! `whatsapp.rejection_reason`).

use crate::model::{NewTemplate, TemplateStatus};
use crate::providers::TemplateState;
use crate::providers::{basic, by_status, HttpReply, HttpRequest, ProviderError};
use serde_json::Value;

fn content_json(
    method: &'static str,
    url: String,
    account_sid: &str,
    auth_token: &str,
    body: Option<Value>,
) -> HttpRequest {
    let mut headers = vec![("authorization".into(), basic(account_sid, auth_token))];
    if body.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    HttpRequest {
        method,
        url,
        headers,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
    }
}

/// Creates the template's content: `twilio/text` with the body, or `twilio/media` with
/// the body and the header image when the header is an image. A text header has no
/// place in either type: it opens the body, on its own line. `variables` gives a sample
/// for each `{{n}}` (WhatsApp's review needs them).
pub fn create_content_request(
    content_base: &str,
    account_sid: &str,
    auth_token: &str,
    t: &NewTemplate,
) -> HttpRequest {
    let body = match &t.header {
        Some(h) if h.kind == "text" => match &h.text {
            Some(text) => format!("{text}\n{}", t.body),
            None => t.body.clone(),
        },
        _ => t.body.clone(),
    };
    let image = t
        .header
        .as_ref()
        .filter(|h| h.kind == "image")
        .and_then(|h| h.link.clone());
    let types = match image {
        Some(link) => serde_json::json!({"twilio/media": {"body": body, "media": [link]}}),
        None => serde_json::json!({"twilio/text": {"body": body}}),
    };
    let variables: serde_json::Map<String, Value> = t
        .review_examples()
        .into_iter()
        .enumerate()
        .map(|(i, e)| ((i + 1).to_string(), Value::from(e)))
        .collect();
    content_json(
        "POST",
        format!("{}/v1/Content", content_base.trim_end_matches('/')),
        account_sid,
        auth_token,
        Some(serde_json::json!({
            "friendly_name": t.name,
            "language": t.language,
            "variables": variables,
            "types": types,
        })),
    )
}

/// Submits the content to WhatsApp's review, under the template's name and category.
pub fn approval_request(
    content_base: &str,
    account_sid: &str,
    auth_token: &str,
    content_sid: &str,
    t: &NewTemplate,
) -> HttpRequest {
    let category = t
        .category
        .map(|c| serde_json::to_value(c).expect("json"))
        .unwrap_or(Value::from("UTILITY"));
    content_json(
        "POST",
        format!(
            "{}/v1/Content/{content_sid}/ApprovalRequests/whatsapp",
            content_base.trim_end_matches('/')
        ),
        account_sid,
        auth_token,
        Some(serde_json::json!({"name": t.name, "category": category})),
    )
}

/// The content's WhatsApp approval status.
pub fn approval_status_request(
    content_base: &str,
    account_sid: &str,
    auth_token: &str,
    content_sid: &str,
) -> HttpRequest {
    content_json(
        "GET",
        format!(
            "{}/v1/Content/{content_sid}/ApprovalRequests",
            content_base.trim_end_matches('/')
        ),
        account_sid,
        auth_token,
        None,
    )
}

/// Deletes the content (`DELETE /v1/Content/{sid}`), and with it its WhatsApp approval.
pub fn delete_content_request(
    content_base: &str,
    account_sid: &str,
    auth_token: &str,
    content_sid: &str,
) -> HttpRequest {
    content_json(
        "DELETE",
        format!(
            "{}/v1/Content/{content_sid}",
            content_base.trim_end_matches('/')
        ),
        account_sid,
        auth_token,
        None,
    )
}

/// Reads the answer to a delete: 204. A content Twilio does not know (404) is already
/// deleted.
pub fn read_delete_reply(reply: HttpReply<'_>) -> Result<(), ProviderError> {
    if (200..300).contains(&reply.status) || reply.status == 404 {
        return Ok(());
    }
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    Err(content_error(reply, &v))
}

fn content_error(reply: HttpReply<'_>, v: &Value) -> ProviderError {
    let message = v["message"]
        .as_str()
        .unwrap_or("no error message")
        .to_string();
    let code = v["code"]
        .as_i64()
        .map_or_else(|| format!("http_{}", reply.status), |c| c.to_string());
    by_status(reply.status, code, message)
}

/// Reads the answer to the content's creation: its SID (`HX…`).
pub fn read_content_reply(reply: HttpReply<'_>) -> Result<String, ProviderError> {
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    if !(200..300).contains(&reply.status) {
        return Err(content_error(reply, &v));
    }
    v["sid"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ProviderError::Retry {
            reason: "a created content without sid".into(),
        })
}

/// Reads the answer to an approval request (`{"name","category","status":"received",…}`)
/// or to the approval fetch (`{"sid",…,"whatsapp":{"status","rejection_reason",…}}`) of
/// the content `content_sid`.
pub fn read_approval_reply(
    reply: HttpReply<'_>,
    content_sid: &str,
) -> Result<TemplateState, ProviderError> {
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    if !(200..300).contains(&reply.status) {
        return Err(content_error(reply, &v));
    }
    let w = if v["whatsapp"].is_object() {
        &v["whatsapp"]
    } else {
        &v
    };
    let status = TemplateStatus::from_review(w["status"].as_str().unwrap_or("pending"));
    Ok(TemplateState::reported(
        Some(content_sid),
        status,
        w["rejection_reason"].as_str(),
    ))
}

#[cfg(test)]
mod template_tests {
    use super::*;
    use crate::model::{TemplateCategory, TemplateHeader};
    use serde_json::json;

    fn spec(header: Option<TemplateHeader>) -> NewTemplate {
        NewTemplate {
            name: "aviso_cobranza".into(),
            channel: crate::validate::Channel::Whatsapp,
            language: "es".into(),
            category: Some(TemplateCategory::Marketing),
            body: "Hola {{1}}, debes {{2}}".into(),
            params: 2,
            header,
            department: None,
            examples: Vec::new(),
        }
    }

    fn json_of(r: &HttpRequest) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn a_text_template_is_twilio_text_content_with_samples_for_its_variables() {
        let r = create_content_request("https://content.twilio.com/", "AC1", "tok", &spec(None));
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "https://content.twilio.com/v1/Content");
        // Basic base64("AC1:tok")
        assert!(r
            .headers
            .contains(&("authorization".into(), "Basic QUMxOnRvaw==".into())));
        assert!(r
            .headers
            .contains(&("content-type".into(), "application/json".into())));
        assert_eq!(
            json_of(&r),
            json!({"friendly_name": "aviso_cobranza", "language": "es",
                   "variables": {"1": "ejemplo 1", "2": "ejemplo 2"},
                   "types": {"twilio/text": {"body": "Hola {{1}}, debes {{2}}"}}})
        );
    }

    #[test]
    fn an_image_header_makes_twilio_media_and_a_text_header_opens_the_body() {
        let image = spec(Some(TemplateHeader {
            kind: "image".into(),
            text: None,
            link: Some("https://cdn.example.com/promo.png".into()),
        }));
        let b = json_of(&create_content_request("https://c", "AC1", "t", &image));
        assert_eq!(
            b["types"],
            json!({"twilio/media": {"body": "Hola {{1}}, debes {{2}}", "media": ["https://cdn.example.com/promo.png"]}})
        );
        let text = spec(Some(TemplateHeader {
            kind: "text".into(),
            text: Some("Aviso".into()),
            link: None,
        }));
        let b = json_of(&create_content_request("https://c", "AC1", "t", &text));
        assert_eq!(
            b["types"]["twilio/text"]["body"],
            "Aviso\nHola {{1}}, debes {{2}}"
        );
    }

    #[test]
    fn the_approval_is_requested_and_fetched_at_the_documented_paths() {
        let r = approval_request("https://content.twilio.com", "AC1", "t", "HX1", &spec(None));
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.url,
            "https://content.twilio.com/v1/Content/HX1/ApprovalRequests/whatsapp"
        );
        assert_eq!(
            json_of(&r),
            json!({"name": "aviso_cobranza", "category": "MARKETING"})
        );
        let r = approval_status_request("https://content.twilio.com", "AC1", "t", "HX1");
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.url,
            "https://content.twilio.com/v1/Content/HX1/ApprovalRequests"
        );
        assert!(r.body.is_empty());
    }

    #[test]
    fn documented_answers_give_the_sid_and_the_approval_state() {
        let created = br#"{"sid":"HXb5b62575e6e4ff6129ad7c8efe1f983e","account_sid":"ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX","friendly_name":"aviso_cobranza","language":"es","variables":{"1":"ejemplo 1"},"types":{"twilio/text":{"body":"Hola {{1}}"}},"url":"https://content.twilio.com/v1/Content/HXb5b62575e6e4ff6129ad7c8efe1f983e","links":{}}"#;
        assert_eq!(
            read_content_reply(HttpReply {
                status: 201,
                body: created
            })
            .unwrap(),
            "HXb5b62575e6e4ff6129ad7c8efe1f983e"
        );
        let submitted = br#"{"name":"aviso_cobranza","category":"UTILITY","content_type":"twilio/text","status":"received","rejection_reason":"","allow_category_change":true}"#;
        let s = read_approval_reply(
            HttpReply {
                status: 201,
                body: submitted,
            },
            "HX1",
        )
        .unwrap();
        assert_eq!(s.status, TemplateStatus::Pending);
        assert_eq!(s.provider_template_id.as_deref(), Some("HX1"));
        let fetched = |status: &str, reason: &str| {
            let b = json!({"sid": "HX1", "account_sid": "AC1", "url": "https://content.twilio.com/v1/Content/HX1/ApprovalRequests",
                "whatsapp": {"type": "whatsapp", "name": "aviso_cobranza", "category": "UTILITY", "content_type": "twilio/text",
                             "status": status, "rejection_reason": reason, "allow_category_change": true, "flows": null}})
            .to_string();
            read_approval_reply(
                HttpReply {
                    status: 200,
                    body: b.as_bytes(),
                },
                "HX1",
            )
            .unwrap()
        };
        assert_eq!(fetched("approved", "").status, TemplateStatus::Approved);
        assert_eq!(fetched("approved", "").rejected_reason, None);
        assert_eq!(fetched("pending", "").status, TemplateStatus::Pending);
        assert_eq!(fetched("unsubmitted", "").status, TemplateStatus::Pending);
        assert_eq!(fetched("paused", "").status, TemplateStatus::Paused);
        let rejected = fetched("rejected", "INVALID_FORMAT");
        assert_eq!(rejected.status, TemplateStatus::Rejected);
        assert_eq!(rejected.rejected_reason.as_deref(), Some("INVALID_FORMAT"));
    }

    #[test]
    fn content_api_errors_carry_the_retry_decision() {
        let err = |status, code: i64| {
            let b = json!({"code": code, "message": "m", "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status}).to_string();
            read_approval_reply(
                HttpReply {
                    status,
                    body: b.as_bytes(),
                },
                "HX1",
            )
            .unwrap_err()
        };
        assert!(matches!(err(401, 20003), ProviderError::Auth { .. }));
        assert_eq!(
            err(404, 20404),
            ProviderError::Rejected {
                code: "20404".into(),
                message: "m".into()
            }
        );
        assert!(matches!(err(429, 20429), ProviderError::Throttled { .. }));
        assert!(matches!(err(503, 20500), ProviderError::Retry { .. }));
        let b = br#"{"code":20001,"message":"Missing required parameter types","status":400}"#;
        assert!(matches!(
            read_content_reply(HttpReply {
                status: 400,
                body: b
            }),
            Err(ProviderError::Rejected { .. })
        ));
    }

    #[test]
    fn a_delete_is_the_contents_path_and_a_404_counts_as_deleted() {
        let r = delete_content_request("https://content.twilio.com", "AC1", "tok", "HX1");
        assert_eq!(r.method, "DELETE");
        assert_eq!(r.url, "https://content.twilio.com/v1/Content/HX1");
        let reply = |status, body: &str| {
            read_delete_reply(HttpReply {
                status,
                body: body.as_bytes(),
            })
        };
        assert_eq!(reply(204, ""), Ok(()));
        assert_eq!(
            reply(404, r#"{"code":20404,"message":"not found","status":404}"#),
            Ok(())
        );
        let auth = r#"{"code":20003,"message":"Authenticate","status":401}"#;
        assert!(matches!(reply(401, auth), Err(ProviderError::Auth { .. })));
    }
}
