//! The Content API (content.twilio.com in reality, same base URL here):
//! templates (content) and their WhatsApp approval — `/v1/Content` (create,
//! list), `/v1/Content/{sid}` (fetch, delete), `/v1/Content/{sid}/
//! ApprovalRequests/whatsapp` (submit) and `/v1/Content/{sid}/
//! ApprovalRequests` (fetch), as Twilio's OpenAPI spec (twilio/twilio-oai)
//! and changelog describe them. HTTP Basic, the user being the account.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{code, error, rfc2822, with_message};
use crate::templates::Template;
use crate::wire::basic_auth;
use crate::{ids, Provider, Sim};

fn content_view(t: &Template) -> Value {
    let mut view = t.definition.clone();
    let url = format!("https://content.twilio.com/v1/Content/{}", t.id);
    view["sid"] = json!(t.id);
    view["account_sid"] = json!(t.account);
    view["date_created"] = json!(rfc2822(t.created_at_ms));
    view["date_updated"] = json!(rfc2822(t.created_at_ms));
    view["url"] = json!(url);
    view["links"] = json!({
        "approval_create": format!("{url}/ApprovalRequests/whatsapp"),
        "approval_fetch": format!("{url}/ApprovalRequests"),
    });
    view
}

fn approval_view(t: &Template) -> Value {
    let content_type = t.definition["types"]
        .as_object()
        .and_then(|types| types.keys().next().cloned())
        .unwrap_or_default();
    let (status, reason) = match t.status() {
        None => ("unsubmitted".to_string(), None),
        Some((s, reason)) => (s.lower().to_string(), reason),
    };
    json!({
        "type": "whatsapp",
        "name": if t.submitted() { t.name.clone() } else { String::new() },
        "category": t.category,
        "content_type": content_type,
        "status": status,
        "rejection_reason": reason.unwrap_or_default(),
        "allow_category_change": t.definition.get("allow_category_change").cloned().unwrap_or(json!(false)),
        "flows": null,
    })
}

/// Answers a Content API call with `answer` for the caller's account (the
/// Basic-auth user, whose auth token the rules do not refuse), with
/// Twilio's 20003 otherwise: what every Content endpoint checks first.
fn for_account(
    sim: &Sim,
    headers: &HeaderMap,
    answer: impl FnOnce(String) -> Response,
) -> Response {
    match basic_auth(headers) {
        Some((user, secret)) if !sim.credentials_refused(Provider::Twilio, &user, &secret) => {
            answer(user)
        }
        _ => error(&code(20003)),
    }
}

/// The two reads of one content (the content itself and its WhatsApp
/// approval): `view` of the content `sid` when the caller's account owns
/// it, 20404 when it does not.
fn read_content(
    sim: &Sim,
    headers: &HeaderMap,
    sid: &str,
    view: impl FnOnce(&Template) -> Response,
) -> Response {
    for_account(sim, headers, |account| {
        let state = sim.lock();
        match state
            .templates
            .by_id(Provider::Twilio, sid)
            .filter(|t| t.account == account)
        {
            Some(t) => view(t),
            None => not_found(sid),
        }
    })
}

fn not_found(sid: &str) -> Response {
    error(&with_message(
        20404,
        format!("The requested resource /Content/{sid} was not found"),
    ))
}

pub(super) async fn create_content(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    for_account(&sim, &headers, |account| {
        let Ok(definition) = serde_json::from_slice::<Value>(&body) else {
            return error(&with_message(
                20001,
                "Request body is not valid JSON".into(),
            ));
        };
        let Some(types) = definition["types"].as_object().filter(|t| !t.is_empty()) else {
            return error(&with_message(
                20001,
                "Missing required parameter types".into(),
            ));
        };
        let Some(language) = definition["language"].as_str().filter(|l| !l.is_empty()) else {
            return error(&with_message(
                20001,
                "Missing required parameter language".into(),
            ));
        };
        let body_text = types
            .values()
            .find_map(|t| t["body"].as_str())
            .unwrap_or_default()
            .to_string();
        let header = types
            .values()
            .any(|t| t.get("media").is_some())
            .then(|| "IMAGE".to_string());
        let friendly = definition["friendly_name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut template =
            Template::new(Provider::Twilio, ids::twilio_sid("HX"), account, friendly);
        template.language = language.to_string();
        template.body = body_text;
        template.header = header;
        template.definition = json!({
            "friendly_name": definition["friendly_name"],
            "language": language,
            "variables": definition.get("variables").cloned().unwrap_or(json!({})),
            "types": types,
        });
        let view = content_view(&template);
        sim.lock().templates.insert(template);
        (StatusCode::CREATED, Json(view)).into_response()
    })
}

pub(super) async fn list_content(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    for_account(&sim, &headers, |account| {
        let state = sim.lock();
        let contents: Vec<Value> = state
            .templates
            .of_account(Provider::Twilio, &account)
            .into_iter()
            .map(content_view)
            .collect();
        let url = "https://content.twilio.com/v1/Content?PageSize=50&Page=0";
        Json(json!({
            "contents": contents,
            "meta": {
                "page": 0,
                "page_size": 50,
                "first_page_url": url,
                "previous_page_url": null,
                "url": url,
                "next_page_url": null,
                "key": "contents",
            },
        }))
        .into_response()
    })
}

pub(super) async fn fetch_content(
    State(sim): State<Arc<Sim>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    read_content(&sim, &headers, &sid, |t| {
        Json(content_view(t)).into_response()
    })
}

/// `DELETE /v1/Content/{sid}`: the content and its WhatsApp approval go;
/// 204 with no body, 20404 when the caller's account has no such content.
pub(super) async fn delete_content(
    State(sim): State<Arc<Sim>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    for_account(&sim, &headers, |account| {
        let removed = sim
            .lock()
            .templates
            .remove(|t| t.provider == Provider::Twilio && t.id == sid && t.account == account);
        if removed == 0 {
            return not_found(&sid);
        }
        StatusCode::NO_CONTENT.into_response()
    })
}

pub(super) async fn create_approval(
    State(sim): State<Arc<Sim>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    for_account(&sim, &headers, |account| {
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let Some(name) = request["name"].as_str().filter(|n| !n.is_empty()) else {
            return error(&with_message(
                20001,
                "Missing required parameter name".into(),
            ));
        };
        let category = request["category"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_uppercase();
        if !matches!(
            category.as_str(),
            "MARKETING" | "UTILITY" | "AUTHENTICATION"
        ) {
            return error(&with_message(20001, "Invalid category".into()));
        }
        let approve_after = sim.approve_after();
        let mut state = sim.lock();
        let state = &mut *state;
        let Some(template) = state
            .templates
            .by_id_mut(Provider::Twilio, &sid)
            .filter(|t| t.account == account)
        else {
            return not_found(&sid);
        };
        template.name = name.to_string();
        template.category = category;
        if let Some(allow) = request.get("allow_category_change") {
            template.definition["allow_category_change"] = allow.clone();
        }
        template.submit(&mut state.rules, approve_after);
        let mut view = approval_view(template);
        view["status"] = json!("received");
        if let Some(fields) = view.as_object_mut() {
            fields.remove("type");
            fields.remove("flows");
        }
        (StatusCode::CREATED, Json(view)).into_response()
    })
}

pub(super) async fn fetch_approval(
    State(sim): State<Arc<Sim>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    read_content(&sim, &headers, &sid, |t| {
        Json(json!({
            "sid": t.id,
            "account_sid": t.account,
            "url": format!("https://content.twilio.com/v1/Content/{}/ApprovalRequests", t.id),
            "whatsapp": approval_view(t),
        }))
        .into_response()
    })
}
