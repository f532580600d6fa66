//! Twilio Programmable Messaging (providers.md, "Twilio"): a form-encoded
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic auth; SMS with
//! `Body`, WhatsApp templates with `ContentSid` + `ContentVariables`; the message id is
//! `sid`; errors are `{"code","message","more_info","status"}`.

use super::{basic, by_status, Accepted, Content, HttpReply, HttpRequest, Outgoing, ProviderError};
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
        body: super::form(&borrowed),
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
            None => Err(super::success_without_id("sid")),
        };
    }
    if let Some(e) = super::from_intermediary(reply.status, &v) {
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

// WhatsApp templates through the Content API (content.twilio.com): a template is a
// Content resource (`POST /v1/Content`, JSON, Basic auth) whose `HX…` SID is what a send
// names as `ContentSid`; WhatsApp's review starts with
// `POST /v1/Content/{sid}/ApprovalRequests/whatsapp` (`name`, `category`) and its
// outcome is read from `GET /v1/Content/{sid}/ApprovalRequests` (`whatsapp.status`,
// `whatsapp.rejection_reason`).

use super::TemplateState;
use crate::model::{NewTemplate, TemplateStatus};

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
    let variables: serde_json::Map<String, Value> = super::examples(t.params)
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

/// Twilio's WhatsApp approval statuses in ours: `approved`; `rejected`; `paused` and
/// `disabled` (which cannot be sent either: paused); anything else (`received`,
/// `pending`, `unsubmitted`, …) is still waiting.
pub fn approval_status(s: &str) -> TemplateStatus {
    match s.to_ascii_lowercase().as_str() {
        "approved" => TemplateStatus::Approved,
        "rejected" => TemplateStatus::Rejected,
        "paused" | "disabled" => TemplateStatus::Paused,
        _ => TemplateStatus::Pending,
    }
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
    let status = approval_status(w["status"].as_str().unwrap_or("pending"));
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
}
