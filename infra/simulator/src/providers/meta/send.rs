//! Meta's send (providers.md, "Meta WhatsApp Business Cloud API"):
//! `POST /{version}/{phone_number_id}/messages` with a Bearer token, the
//! template body (`template.name`, `language.code`, `components` with header
//! media and body text parameters, `biz_opaque_callback_data`) or free-form
//! `type: text`, answered with the documented success body or Meta's error
//! body. Validation is Meta's: missing fields and a bad `to` are 100, an
//! unknown or unapproved template 132001, a paused one 132015, a disabled one
//! 132016, the wrong number of body parameters 132000, a header of the wrong
//! format 132012, throughput 130429 with HTTP 429, bad token 190 with HTTP 401.
//! An accepted message's statuses go to the webhook registered for the
//! `phone_number_id` ([`super::callbacks`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::callbacks::MetaTarget;
use super::{bearer, check_version, code, error, invalid, refusal, text, Refusal};
use crate::callbacks::{self, Target};
use crate::conn::DropHandle;
use crate::sim::{Admission, NewMessage, Verdict};
use crate::templates::{self, Status, Template};
use crate::{ids, phone, Provider, Sim};

/// A template message checked against the registered template.
struct TemplateSend {
    content: Value,
}

fn check_template(sim: &Sim, template: &Value) -> Result<TemplateSend, Refusal> {
    let name = text(template, "name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("The parameter template['name'] is required."))?;
    let language = template
        .get("language")
        .and_then(|l| text(l, "code"))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| invalid("The parameter template['language']['code'] is required."))?;
    let components = match template.get("components") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(_) => return Err(invalid("template['components'] must be an array")),
    };

    let Components {
        header,
        params,
        named,
    } = read_components(&components)?;

    let state = sim.lock();
    let registered: &Template = state
        .templates
        .by_name(Provider::Meta, name, language)
        .ok_or_else(|| {
            refusal(
                132001,
                Some(format!(
                    "template name ({name}) does not exist in {language}"
                )),
            )
        })?;
    match registered.status().map(|(s, _)| s) {
        Some(Status::Approved) => {}
        Some(Status::Paused) => return Err(refusal(132015, None)),
        Some(Status::Disabled) => return Err(refusal(132016, None)),
        _ => {
            return Err(refusal(
                132001,
                Some(format!(
                    "template name ({name}) in {language} is not approved"
                )),
            ))
        }
    }
    let expected = registered.placeholders();
    if params.len() != expected {
        return Err(refusal(132000,
            Some(format!(
                "body: number of localizable_params ({}) does not match the expected number of params ({expected})",
                params.len()
            )),
        ));
    }
    check_header(registered.header.as_deref(), header.as_ref())?;
    let rendered = templates::render(&registered.body, &params, &named);
    Ok(TemplateSend {
        content: json!({
            "type": "template",
            "name": name,
            "language": language,
            "header": header,
            "parameters": params,
            "rendered": rendered,
        }),
    })
}

/// What a template send's `components` give: the header parameter and the
/// body parameters, in order and by `parameter_name`.
struct Components {
    header: Option<Value>,
    params: Vec<String>,
    named: Vec<(String, String)>,
}

fn read_components(components: &[Value]) -> Result<Components, Refusal> {
    let mut header: Option<Value> = None;
    let mut params: Vec<String> = Vec::new();
    let mut named: Vec<(String, String)> = Vec::new();
    for component in components {
        let kind = text(component, "type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let parameters = component
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match kind.as_str() {
            "header" => header = parameters.first().cloned(),
            "body" => {
                for p in &parameters {
                    let value = body_value(p)?;
                    if let Some(pname) = text(p, "parameter_name") {
                        named.push((pname.to_string(), value.clone()));
                    }
                    params.push(value);
                }
            }
            "button" | "footer" => {}
            other => {
                return Err(invalid(format!("unknown component type '{other}'")));
            }
        }
    }
    Ok(Components {
        header,
        params,
        named,
    })
}

/// One body parameter's value: `text`, or a currency's or date's fallback.
fn body_value(p: &Value) -> Result<String, Refusal> {
    let value = match text(p, "type").unwrap_or_default() {
        "text" => text(p, "text").map(str::to_string),
        "currency" => p
            .pointer("/currency/fallback_value")
            .and_then(Value::as_str)
            .map(str::to_string),
        "date_time" => p
            .pointer("/date_time/fallback_value")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => {
            return Err(refusal(
                132012,
                Some("body: parameter type must be text, currency or date_time".into()),
            ))
        }
    };
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| refusal(131008, Some("body: a text parameter is empty".into())))
}

/// A media header (`IMAGE`, `VIDEO`, `DOCUMENT`) needs a parameter of that
/// type with a `link` or an `id`.
fn check_header(format: Option<&str>, header: Option<&Value>) -> Result<(), Refusal> {
    if let Some(format) = format {
        let format = format.to_ascii_lowercase();
        if matches!(format.as_str(), "image" | "video" | "document") {
            let given = header.and_then(|h| text(h, "type")).unwrap_or("");
            let media = header.and_then(|h| h.get(given));
            let has_media =
                media.is_some_and(|m| text(m, "link").is_some() || text(m, "id").is_some());
            if given != format || !has_media {
                return Err(refusal(
                    132012,
                    Some(format!(
                        "header: Format mismatch, expected {}, received {}",
                        format.to_uppercase(),
                        if given.is_empty() {
                            "UNKNOWN".to_string()
                        } else {
                            given.to_uppercase()
                        }
                    )),
                ));
            }
        }
    }
    Ok(())
}

pub(super) async fn send(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(conn): ConnectInfo<DropHandle>,
    Path((version, phone_number_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_version(&version) {
        return refused.into_response();
    }
    let Some(token) = bearer(&headers, &query) else {
        sim.refuse(Provider::Meta, 1);
        return error(&code(190), None);
    };
    let (recipient, to, content, correlation) = match parse_send(&sim, &body) {
        Ok(parsed) => parsed,
        Err(refusal) => {
            sim.refuse(Provider::Meta, 1);
            return refusal.into_response();
        }
    };

    let wamid = ids::wamid(recipient.trim_start_matches('+'));
    let verdict = sim
        .admit(Admission {
            provider: Provider::Meta,
            sender: phone_number_id.clone(),
            credential: token,
            messages: vec![NewMessage {
                recipient: recipient.clone(),
                provider_message_id: wamid.clone(),
                content,
                correlation,
                ports: None,
            }],
        })
        .await;
    match verdict {
        Verdict::Accepted { messages, drop } => {
            if let Some(hook) = sim.webhook(Provider::Meta, &phone_number_id) {
                for message in messages {
                    callbacks::schedule(
                        sim.clone(),
                        Target::Meta(MetaTarget { hook: hook.clone() }),
                        message,
                        true,
                    );
                }
            }
            if drop {
                conn.drop_connection();
            }
            Json(json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": recipient.trim_start_matches('+')}],
                "messages": [{"id": wamid, "message_status": "accepted"}],
            }))
            .into_response()
        }
        Verdict::BadCredentials => error(&code(190), None),
        Verdict::Throttled => error(
            &code(130429),
            Some("Cloud API message throughput has been reached.".into()),
        ),
        Verdict::Failed(fail) => error(&fail, None),
    }
}

/// Recipient (+E164), `to` as given, content and correlation of a send body.
type Parsed = (String, String, Value, Option<Value>);

fn parse_send(sim: &Sim, body: &[u8]) -> Result<Parsed, Refusal> {
    let body: Value =
        serde_json::from_slice(body).map_err(|_| invalid("The request body is not valid JSON."))?;
    if text(&body, "messaging_product") != Some("whatsapp") {
        return Err(invalid(
            "The parameter messaging_product is required and must be 'whatsapp'.",
        ));
    }
    if let Some(rt) = body.get("recipient_type") {
        if rt.as_str() != Some("individual") {
            return Err(invalid("recipient_type must be 'individual'."));
        }
    }
    let to = text(&body, "to")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("The parameter to is required."))?;
    let recipient = phone::to_e164(to)
        .filter(|_| {
            to.trim_start_matches('+')
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .ok_or_else(|| invalid(format!("Invalid value for parameter 'to': {to}")))?;
    let correlation = match body.get("biz_opaque_callback_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 512 => {
            Some(json!({ "biz_opaque_callback_data": s }))
        }
        Some(_) => {
            return Err(invalid(
                "biz_opaque_callback_data must be a string of at most 512 characters.",
            ))
        }
    };
    let kind = text(&body, "type").unwrap_or("text");
    let content = match kind {
        "text" => {
            let text_body = body
                .get("text")
                .and_then(|t| text(t, "body"))
                .filter(|b| !b.is_empty())
                .ok_or_else(|| invalid("The parameter text['body'] is required."))?;
            if text_body.chars().count() > 4096 {
                return Err(invalid("text['body'] is longer than 4096 characters."));
            }
            json!({"type": "text", "body": text_body})
        }
        "template" => {
            let template = body
                .get("template")
                .filter(|t| t.is_object())
                .ok_or_else(|| invalid("The parameter template is required."))?;
            check_template(sim, template)?.content
        }
        "image" | "video" | "document" | "audio" | "sticker" | "interactive" | "location"
        | "contacts" | "reaction" => {
            let object = body
                .get(kind)
                .filter(|o| o.is_object())
                .ok_or_else(|| invalid(format!("The parameter {kind} is required.")))?;
            json!({"type": kind, kind: object})
        }
        other => return Err(invalid(format!("Unsupported message type '{other}'."))),
    };
    Ok((recipient, to.to_string(), content, correlation))
}
