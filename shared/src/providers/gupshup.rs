//! Gupshup WhatsApp API (providers.md, "Gupshup"): a template message is a form-encoded
//! `POST /wa/api/v1/template/msg` with an `apikey` header, the template as JSON
//! `{"id","params"}`; free text goes to `/wa/api/v1/msg`. Success is
//! `{"status":"submitted","messageId"}`; errors `{"status":"error","message"}`.

use super::{
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
        body: super::form(&borrowed),
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
            _ => Err(super::success_without_id("messageId")),
        };
    }
    if let Some(e) = super::from_intermediary(reply.status, &v) {
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

// WhatsApp templates through Gupshup's partner API (partner.gupshup.io): the partner
// token buys an app access token (`GET /partner/app/{appId}/token/`, header
// `Authorization: {partner token}` → `{"status":"success","token":{"token":…}}`), which
// authorises `POST /partner/app/{appId}/templates` (form: `elementName`, `languageCode`,
// `category`, `templateType`, `content`, `example`, `vertical`, optional `header`) and
// `GET /partner/app/{appId}/templates` (`{"status":"success","templates":[…]}`, each with
// `id`, `elementName`, `languageCode`, `status`, and `reason` when rejected).

use super::TemplateState;
use crate::model::{NewTemplate, TemplateStatus};

/// The app access token's request, authorised by the partner token.
pub fn app_token_request(partner_base: &str, app_id: &str, partner_token: &str) -> HttpRequest {
    HttpRequest {
        method: "GET",
        url: format!(
            "{}/partner/app/{app_id}/token/",
            partner_base.trim_end_matches('/')
        ),
        headers: vec![("authorization".into(), partner_token.to_string())],
        body: Vec::new(),
    }
}

fn partner_error(reply: HttpReply<'_>, v: &Value) -> ProviderError {
    let message = v["message"]
        .as_str()
        .unwrap_or("no error message")
        .to_string();
    by_status(reply.status, format!("http_{}", reply.status), message)
}

/// Reads the app access token (`token.token`).
pub fn read_app_token_reply(reply: HttpReply<'_>) -> Result<String, ProviderError> {
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    if !(200..300).contains(&reply.status) || v["status"] == "error" {
        return Err(partner_error(reply, &v));
    }
    v["token"]["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ProviderError::Retry {
            reason: "a token answer without token.token".into(),
        })
}

/// Applies for the template: its body as `content` with `{{n}}` as written, and the body
/// with sample values as `example`; `templateType` `TEXT`, with a text header as
/// `header`, or `IMAGE` for an image header.
pub fn apply_template_request(
    partner_base: &str,
    app_id: &str,
    app_token: &str,
    t: &NewTemplate,
) -> HttpRequest {
    let category = t
        .category
        .and_then(|c| serde_json::to_value(c).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "UTILITY".into());
    let example = crate::model::render(&t.body, &super::examples(t.params));
    let image = t.header.as_ref().is_some_and(|h| h.kind == "image");
    let mut pairs: Vec<(&str, String)> = vec![
        ("elementName", t.name.clone()),
        ("languageCode", t.language.clone()),
        ("category", category),
        ("templateType", if image { "IMAGE" } else { "TEXT" }.into()),
        ("vertical", t.name.clone()),
        ("content", t.body.clone()),
        ("example", example),
    ];
    if let Some(text) = t
        .header
        .as_ref()
        .filter(|h| h.kind == "text")
        .and_then(|h| h.text.clone())
    {
        pairs.push(("header", text));
    }
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    HttpRequest {
        method: "POST",
        url: format!(
            "{}/partner/app/{app_id}/templates",
            partner_base.trim_end_matches('/')
        ),
        headers: vec![
            ("authorization".into(), app_token.to_string()),
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
        ],
        body: super::form(&borrowed),
    }
}

/// The app's templates, to find one's status.
pub fn list_templates_request(partner_base: &str, app_id: &str, app_token: &str) -> HttpRequest {
    HttpRequest {
        method: "GET",
        url: format!(
            "{}/partner/app/{app_id}/templates",
            partner_base.trim_end_matches('/')
        ),
        headers: vec![("authorization".into(), app_token.to_string())],
        body: Vec::new(),
    }
}

/// Gupshup's template statuses in ours: `APPROVED`; `REJECTED` and `FAILED` (it will
/// never be sendable); `PAUSED` and `DISABLED` (paused); anything else is waiting.
pub fn template_status(s: &str) -> TemplateStatus {
    match s.to_ascii_uppercase().as_str() {
        "APPROVED" => TemplateStatus::Approved,
        "REJECTED" | "FAILED" => TemplateStatus::Rejected,
        "PAUSED" | "DISABLED" => TemplateStatus::Paused,
        _ => TemplateStatus::Pending,
    }
}

/// Reads the answer to an application (`{"status":"success","template":{…}}`) or to the
/// list (`{"status":"success","templates":[…]}`), where the template is the one with
/// `id`, or, without an id, the one named `name` in `language`.
pub fn read_template_reply(
    reply: HttpReply<'_>,
    id: Option<&str>,
    name: &str,
    language: &str,
) -> Result<TemplateState, ProviderError> {
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    if !(200..300).contains(&reply.status) || v["status"] == "error" {
        return Err(partner_error(reply, &v));
    }
    let entry = match v["templates"].as_array() {
        Some(list) => list
            .iter()
            .find(|t| match id {
                Some(id) => t["id"].as_str() == Some(id),
                None => {
                    t["elementName"].as_str() == Some(name)
                        && t["languageCode"].as_str() == Some(language)
                }
            })
            .ok_or_else(|| ProviderError::Rejected {
                code: "template_not_found".into(),
                message: "the provider has no such template".into(),
            })?,
        None => &v["template"],
    };
    let Some(template_id) = entry["id"].as_str() else {
        return Err(ProviderError::Retry {
            reason: "a template answer without template.id".into(),
        });
    };
    let status = template_status(entry["status"].as_str().unwrap_or("PENDING"));
    Ok(TemplateState::reported(
        Some(template_id),
        status,
        entry["reason"].as_str(),
    ))
}

#[cfg(test)]
mod template_tests {
    use super::*;
    use crate::model::{TemplateCategory, TemplateHeader};

    fn spec(header: Option<TemplateHeader>) -> NewTemplate {
        NewTemplate {
            name: "aviso_cobranza".into(),
            channel: crate::validate::Channel::Whatsapp,
            language: "es".into(),
            category: Some(TemplateCategory::Utility),
            body: "Hola {{1}}, debes {{2}}".into(),
            params: 2,
            header,
        }
    }

    fn form_of(body: &[u8]) -> Vec<(String, String)> {
        form_urlencoded::parse(body).into_owned().collect()
    }

    #[test]
    fn the_app_token_is_asked_with_the_partner_token_and_read_from_token_token() {
        let r = app_token_request("https://partner.gupshup.io/", "app-1", "PTOKEN");
        assert_eq!(r.method, "GET");
        assert_eq!(r.url, "https://partner.gupshup.io/partner/app/app-1/token/");
        assert_eq!(r.headers, vec![("authorization".into(), "PTOKEN".into())]);
        let ok = br#"{"status":"success","token":{"token":"sk_2a5f","authoriserId":"app-1","requestorId":"1","createdOn":1,"modifiedOn":1,"expiresOn":0,"active":true}}"#;
        assert_eq!(
            read_app_token_reply(HttpReply {
                status: 200,
                body: ok
            })
            .unwrap(),
            "sk_2a5f"
        );
        let bad = br#"{"status":"error","message":"Authentication Failed"}"#;
        assert!(matches!(
            read_app_token_reply(HttpReply {
                status: 401,
                body: bad
            }),
            Err(ProviderError::Auth { .. })
        ));
    }

    #[test]
    fn a_template_is_applied_for_with_the_documented_form() {
        let r = apply_template_request("https://partner.gupshup.io", "app-1", "sk_1", &spec(None));
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.url,
            "https://partner.gupshup.io/partner/app/app-1/templates"
        );
        assert!(r.headers.contains(&("authorization".into(), "sk_1".into())));
        let f = form_of(&r.body);
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("elementName"), Some("aviso_cobranza"));
        assert_eq!(get("languageCode"), Some("es"));
        assert_eq!(get("category"), Some("UTILITY"));
        assert_eq!(get("templateType"), Some("TEXT"));
        assert_eq!(get("content"), Some("Hola {{1}}, debes {{2}}"));
        assert_eq!(get("example"), Some("Hola ejemplo 1, debes ejemplo 2"));
        assert_eq!(get("header"), None);
        let with_header = apply_template_request(
            "https://p",
            "a",
            "t",
            &spec(Some(TemplateHeader {
                kind: "text".into(),
                text: Some("Aviso".into()),
                link: None,
            })),
        );
        assert!(form_of(&with_header.body).contains(&("header".into(), "Aviso".into())));
        let image = apply_template_request(
            "https://p",
            "a",
            "t",
            &spec(Some(TemplateHeader {
                kind: "image".into(),
                text: None,
                link: Some("https://cdn.example.com/a.png".into()),
            })),
        );
        assert!(form_of(&image.body).contains(&("templateType".into(), "IMAGE".into())));
        let list = list_templates_request("https://partner.gupshup.io", "app-1", "sk_1");
        assert_eq!(list.method, "GET");
        assert_eq!(
            list.url,
            "https://partner.gupshup.io/partner/app/app-1/templates"
        );
    }

    #[test]
    fn the_application_and_the_list_give_the_template_state() {
        let applied = br#"{"status":"success","template":{"appId":"app-1","category":"UTILITY","createdOn":1,"data":"Hola {{1}}","elementName":"aviso_cobranza","id":"9e97650d-add3-4557-9535-4cdf47c3fa68","languageCode":"es","status":"PENDING","templateType":"TEXT"}}"#;
        let s = read_template_reply(
            HttpReply {
                status: 200,
                body: applied,
            },
            None,
            "aviso_cobranza",
            "es",
        )
        .unwrap();
        assert_eq!(s.status, TemplateStatus::Pending);
        assert_eq!(
            s.provider_template_id.as_deref(),
            Some("9e97650d-add3-4557-9535-4cdf47c3fa68")
        );
        let listed = br#"{"status":"success","templates":[
            {"id":"u1","elementName":"aviso_cobranza","languageCode":"en_US","status":"APPROVED"},
            {"id":"u2","elementName":"aviso_cobranza","languageCode":"es","status":"REJECTED","reason":"INVALID_FORMAT"},
            {"id":"u3","elementName":"otro","languageCode":"es","status":"APPROVED"}]}"#;
        let read = |id: Option<&str>| {
            read_template_reply(
                HttpReply {
                    status: 200,
                    body: listed,
                },
                id,
                "aviso_cobranza",
                "es",
            )
        };
        let by_id = read(Some("u1")).unwrap();
        assert_eq!(by_id.status, TemplateStatus::Approved);
        assert_eq!(by_id.provider_template_id.as_deref(), Some("u1"));
        let by_name = read(None).unwrap();
        assert_eq!(by_name.status, TemplateStatus::Rejected);
        assert_eq!(by_name.provider_template_id.as_deref(), Some("u2"));
        assert_eq!(by_name.rejected_reason.as_deref(), Some("INVALID_FORMAT"));
        assert!(matches!(
            read(Some("gone")),
            Err(ProviderError::Rejected { .. })
        ));
        assert_eq!(template_status("FAILED"), TemplateStatus::Rejected);
        assert_eq!(template_status("DISABLED"), TemplateStatus::Paused);
        let invalid = br#"{"status":"error","message":"Invalid category provided, kindly use category from these option AUTHENTICATION, MARKETING, UTILITY"}"#;
        assert!(matches!(
            read_template_reply(
                HttpReply {
                    status: 400,
                    body: invalid
                },
                None,
                "a",
                "es"
            ),
            Err(ProviderError::Rejected { .. })
        ));
        let throttled = br#"{"status":"error","message":"Too Many Requests"}"#;
        assert!(matches!(
            read_template_reply(
                HttpReply {
                    status: 429,
                    body: throttled
                },
                None,
                "a",
                "es"
            ),
            Err(ProviderError::Throttled { .. })
        ));
    }
}
