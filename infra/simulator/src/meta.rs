//! Plays Meta's WhatsApp Business Cloud API (providers.md, "Meta WhatsApp
//! Business Cloud API"): `POST /{version}/{phone_number_id}/messages` with a
//! Bearer token, the template body (`template.name`, `language.code`,
//! `components` with header media and body text parameters,
//! `biz_opaque_callback_data`) or free-form `type: text`, answered with the
//! documented success body or `{"error":{message,type,code,error_subcode,
//! error_data,fbtrace_id}}`; and `/{version}/{waba_id}/message_templates` to
//! register and list templates (`PENDING` → `APPROVED`/`REJECTED`/`PAUSED`).
//! Validation is Meta's: missing fields and a bad `to` are 100, an unknown or
//! unapproved template 132001, a paused one 132015, a disabled one 132016,
//! the wrong number of body parameters 132000, a header of the wrong format
//! 132012, throughput 130429 with HTTP 429, bad token 190 with HTTP 401.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::callbacks::{self, Target};
use crate::conn::DropHandle;
use crate::rules::FailSpec;
use crate::sim::{Admission, NewMessage, Verdict};
use crate::templates::{self, Status, Template};
use crate::{ids, phone, Provider, Sim};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/{version}/{phone_number_id}/messages", post(send))
        .route(
            "/{version}/{waba_id}/message_templates",
            get(list_templates).post(create_template),
        )
}

fn default_status(code: i64) -> u16 {
    match code {
        190 => 401,
        130429 => 429,
        131000 => 500,
        131016 => 503,
        _ => 400,
    }
}

/// Meta's error body.
pub fn error(fail: &FailSpec, details: Option<String>) -> Response {
    let status = fail.status.unwrap_or_else(|| default_status(fail.code));
    let message = fail.message.clone().unwrap_or_else(|| match fail.code {
        // OAuth errors carry no "(#code)" prefix.
        190 => crate::meta_errors::text(190).to_string(),
        c => format!("(#{c}) {}", crate::meta_errors::text(c)),
    });
    let mut err = json!({
        "message": message,
        "type": "OAuthException",
        "code": fail.code,
        "fbtrace_id": ids::fbtrace_id(),
    });
    if let Some(subcode) = fail.subcode {
        err["error_subcode"] = subcode.into();
    }
    if let Some(details) = details {
        err["error_data"] = json!({"messaging_product": "whatsapp", "details": details});
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(json!({ "error": err }))).into_response()
}

fn code(code: i64) -> FailSpec {
    FailSpec {
        code,
        ..FailSpec::default()
    }
}

/// A refusal decided while reading a request, answered with [`error`].
pub struct Refusal {
    fail: FailSpec,
    details: Option<String>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(&self.fail, self.details)
    }
}

fn refusal(c: i64, details: Option<String>) -> Refusal {
    Refusal {
        fail: code(c),
        details,
    }
}

fn invalid(details: impl Into<String>) -> Refusal {
    refusal(100, Some(details.into()))
}

fn bearer(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    let from_header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    from_header.or_else(|| query.get("access_token").filter(|t| !t.is_empty()).cloned())
}

fn valid_version(version: &str) -> bool {
    version
        .strip_prefix('v')
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

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

    let mut header: Option<Value> = None;
    let mut params: Vec<String> = Vec::new();
    let mut named: Vec<(String, String)> = Vec::new();
    for component in &components {
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
                                Some(
                                    "body: parameter type must be text, currency or date_time"
                                        .into(),
                                ),
                            ))
                        }
                    };
                    let value = value.filter(|v| !v.is_empty()).ok_or_else(|| {
                        refusal(131008, Some("body: a text parameter is empty".into()))
                    })?;
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
    if let Some(format) = registered.header.as_deref() {
        let format = format.to_ascii_lowercase();
        if matches!(format.as_str(), "image" | "video" | "document") {
            let given = header.as_ref().and_then(|h| text(h, "type")).unwrap_or("");
            let media = header.as_ref().and_then(|h| h.get(given));
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

async fn send(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(conn): ConnectInfo<DropHandle>,
    Path((version, phone_number_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !valid_version(&version) {
        return error(
            &FailSpec {
                code: 2500,
                status: Some(404),
                ..FailSpec::default()
            },
            None,
        );
    }
    if bearer(&headers, &query).is_none() {
        sim.refuse(Provider::Meta, 1);
        return error(&code(190), None);
    }
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
                        Target::Meta { hook: hook.clone() },
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

fn template_view(t: &Template) -> Value {
    let (status, reason) = t.status().unwrap_or((Status::Pending, None));
    let mut view = json!({
        "name": t.name,
        "language": t.language,
        "status": status.upper(),
        "category": t.category,
        "id": t.id,
        "components": t.definition.get("components").cloned().unwrap_or(json!([])),
    });
    if status == Status::Rejected {
        view["rejected_reason"] = json!(reason.unwrap_or_else(|| "NONE".into()));
    }
    view
}

async fn create_template(
    State(sim): State<Arc<Sim>>,
    Path((version, waba_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !valid_version(&version) {
        return error(
            &FailSpec {
                code: 2500,
                status: Some(404),
                ..FailSpec::default()
            },
            None,
        );
    }
    if bearer(&headers, &query).is_none() || sim.credentials_refused(Provider::Meta, &waba_id) {
        return error(&code(190), None);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return invalid("The request body is not valid JSON.").into_response();
    };
    let Some(name) = text(&body, "name").filter(|n| {
        !n.is_empty()
            && n.len() <= 512
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }) else {
        return invalid("name is required: lowercase letters, digits and underscores.")
            .into_response();
    };
    let Some(language) = text(&body, "language").filter(|l| !l.is_empty()) else {
        return invalid("The parameter language is required.").into_response();
    };
    let category = text(&body, "category")
        .unwrap_or_default()
        .to_ascii_uppercase();
    if !matches!(
        category.as_str(),
        "MARKETING" | "UTILITY" | "AUTHENTICATION"
    ) {
        return invalid("category must be MARKETING, UTILITY or AUTHENTICATION.").into_response();
    }
    let Some(components) = body
        .get("components")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
    else {
        return invalid("The parameter components is required.").into_response();
    };
    let find = |kind: &str| {
        components
            .iter()
            .find(|c| text(c, "type").is_some_and(|t| t.eq_ignore_ascii_case(kind)))
    };
    let Some(body_text) = find("BODY").and_then(|c| text(c, "text")) else {
        return invalid("components needs a BODY with text.").into_response();
    };

    let mut state = sim.lock();
    if state
        .templates
        .of_account(Provider::Meta, &waba_id)
        .iter()
        .any(|t| t.name == name && t.language == language)
    {
        drop(state);
        return error(
            &FailSpec {
                code: 100,
                subcode: Some(2388024),
                message: Some("(#100) Invalid parameter".into()),
                ..FailSpec::default()
            },
            Some(format!(
                "Content in this language already exists: {name} ({language})"
            )),
        );
    }
    let mut template = Template::new(
        Provider::Meta,
        ids::numeric_id(),
        waba_id.clone(),
        name.into(),
    );
    template.language = language.into();
    template.category = category.clone();
    template.body = body_text.into();
    template.header = find("HEADER")
        .and_then(|c| text(c, "format"))
        .map(str::to_ascii_uppercase);
    template.definition = body.clone();
    let approve_after = sim.approve_after();
    let state = &mut *state;
    template.submit(&mut state.rules, approve_after);
    let id = template.id.clone();
    state.templates.insert(template);
    Json(json!({"id": id, "status": "PENDING", "category": category})).into_response()
}

async fn list_templates(
    State(sim): State<Arc<Sim>>,
    Path((version, waba_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !valid_version(&version) {
        return error(
            &FailSpec {
                code: 2500,
                status: Some(404),
                ..FailSpec::default()
            },
            None,
        );
    }
    if bearer(&headers, &query).is_none() || sim.credentials_refused(Provider::Meta, &waba_id) {
        return error(&code(190), None);
    }
    let state = sim.lock();
    let data: Vec<Value> = state
        .templates
        .of_account(Provider::Meta, &waba_id)
        .into_iter()
        .filter(|t| {
            query
                .get("name")
                .is_none_or(|n| t.name.contains(n.as_str()))
        })
        .filter(|t| query.get("language").is_none_or(|l| &t.language == l))
        .map(template_view)
        .filter(|v| {
            query.get("status").is_none_or(|s| {
                v["status"]
                    .as_str()
                    .is_some_and(|vs| vs.eq_ignore_ascii_case(s))
            })
        })
        .collect();
    Json(json!({"data": data, "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}}))
        .into_response()
}
