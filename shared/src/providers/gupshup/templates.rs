//! WhatsApp templates through Gupshup's partner API (partner.gupshup.io): the partner
//! token buys an app access token (`GET /partner/app/{appId}/token/`, header
//! `Authorization: {partner token}` → `{"status":"success","token":{"token":…}}`), which
//! authorises `POST /partner/app/{appId}/templates` (form: `elementName`, `languageCode`,
//! `category`, `templateType`, `content`, `example`, `vertical`, optional `header`) and
//! `GET /partner/app/{appId}/templates` (`{"status":"success","templates":[…]}`, each with
//! `id`, `elementName`, `languageCode`, `status`, and `reason` when rejected).

use crate::model::{NewTemplate, TemplateStatus};
use crate::providers::TemplateState;
use crate::providers::{by_status, HttpReply, HttpRequest, ProviderError};
use serde_json::Value;

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

/// Deletes the app's template by its element name (`DELETE
/// /partner/app/{app_id}/template/{element_name}`, the app token as `Authorization`).
pub fn delete_template_request(
    partner_base: &str,
    app_id: &str,
    app_token: &str,
    element_name: &str,
) -> HttpRequest {
    let name: String = form_urlencoded::byte_serialize(element_name.as_bytes()).collect();
    HttpRequest {
        method: "DELETE",
        url: format!(
            "{}/partner/app/{app_id}/template/{name}",
            partner_base.trim_end_matches('/')
        ),
        headers: vec![("authorization".into(), app_token.to_string())],
        body: Vec::new(),
    }
}

/// Reads the answer to a delete: `{"status":"success"}`. "Template Does not exists."
/// means it is already deleted.
pub fn read_delete_reply(reply: HttpReply<'_>) -> Result<(), ProviderError> {
    let v: Value = serde_json::from_slice(reply.body).unwrap_or(Value::Null);
    if (200..300).contains(&reply.status) && v["status"] != "error" {
        return Ok(());
    }
    let gone = v["message"]
        .as_str()
        .is_some_and(|m| m.to_lowercase().contains("does not exist"));
    if gone {
        return Ok(());
    }
    Err(partner_error(reply, &v))
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
    let example = crate::model::render(&t.body, &t.review_examples());
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
        body: crate::providers::form(&borrowed),
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
    let status = TemplateStatus::from_review(entry["status"].as_str().unwrap_or("PENDING"));
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
            department: None,
            examples: Vec::new(),
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
        assert_eq!(
            TemplateStatus::from_review("FAILED"),
            TemplateStatus::Rejected
        );
        assert_eq!(
            TemplateStatus::from_review("DISABLED"),
            TemplateStatus::Paused
        );
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

    #[test]
    fn a_delete_is_the_element_names_path_and_a_missing_one_counts_as_deleted() {
        let r = delete_template_request(
            "https://partner.gupshup.io",
            "app1",
            "sk_tok",
            "aviso_cobranza",
        );
        assert_eq!(r.method, "DELETE");
        assert_eq!(
            r.url,
            "https://partner.gupshup.io/partner/app/app1/template/aviso_cobranza"
        );
        assert!(r
            .headers
            .contains(&("authorization".into(), "sk_tok".into())));
        let reply = |status, body: &str| {
            read_delete_reply(HttpReply {
                status,
                body: body.as_bytes(),
            })
        };
        assert_eq!(reply(200, r#"{"status":"success"}"#), Ok(()));
        let missing = r#"{"status":"error","message":"Template Does not exists."}"#;
        assert_eq!(reply(400, missing), Ok(()));
        let live =
            r#"{"status":"error","message":"Delete Operation is not allowed for sandbox apps"}"#;
        assert!(reply(400, live).is_err());
    }
}
