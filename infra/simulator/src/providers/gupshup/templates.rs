//! Gupshup's partner API for templates, as Gupshup's partner docs
//! (partner-docs.gupshup.io) give it: `POST /partner/account/login` (partner
//! token), `GET /partner/app/{appId}/token` (app token), `POST` and `GET
//! /partner/app/{appId}/templates` (`elementName`, `languageCode`,
//! `category`, `templateType`, `content`, `example`; statuses
//! `PENDING`/`APPROVED`/`REJECTED` with `reason`) and `DELETE
//! /partner/app/{appId}/template/{elementName}` (every language of it).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{error, unauthorised};
use crate::templates::{Status, Template};
use crate::wire::Form;
use crate::{ids, Provider, Sim};

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Answers a `/partner/app/{appId}/…` call with `answer` (given the app id)
/// when it carries a token in `Authorization` (the partner token for
/// `/token`, the app token elsewhere) that the rules do not refuse for the
/// app, with Gupshup's 401 otherwise: what every app endpoint checks first.
fn for_app(
    sim: &Sim,
    app_id: String,
    headers: &HeaderMap,
    answer: impl FnOnce(String) -> Response,
) -> Response {
    match authorization(headers) {
        Some(token) if !sim.credentials_refused(Provider::Gupshup, &app_id, token) => {
            answer(app_id)
        }
        _ => unauthorised(),
    }
}

pub(super) async fn login(body: Bytes) -> Response {
    let form = Form::parse(&body);
    let (Some(email), Some(_)) = (form.get("email"), form.get("password")) else {
        return error(400, "email and password are required");
    };
    Json(json!({
        "token": ids::token("ptok_"),
        "id": 1,
        "name": "simulator",
        "email": email,
        "admin": true,
    }))
    .into_response()
}

pub(super) async fn app_token(
    State(sim): State<Arc<Sim>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    for_app(&sim, app_id, &headers, |app_id| {
        let now = crate::now_ms();
        Json(json!({
            "status": "success",
            "token": {
                "token": ids::token("sk_"),
                "authoriserId": app_id,
                "requestorId": "1",
                "createdOn": now,
                "modifiedOn": now,
                "expiresOn": 0,
                "active": true,
            },
        }))
        .into_response()
    })
}

fn template_view(t: &Template) -> Value {
    let (status, reason) = t.status().unwrap_or((Status::Pending, None));
    let mut view = json!({
        "appId": t.account,
        "category": t.category,
        "createdOn": t.created_at_ms,
        "data": t.body,
        "elementName": t.name,
        "externalId": t.definition["externalId"],
        "id": t.id,
        "languageCode": t.language,
        "languagePolicy": "deterministic",
        "meta": json!({"example": t.definition["example"]}).to_string(),
        "modifiedOn": t.created_at_ms,
        "namespace": "simulator",
        "status": status.upper(),
        "templateType": t.definition["templateType"],
        "vertical": t.definition["vertical"],
    });
    if let Some(reason) = reason {
        view["reason"] = json!(reason);
    }
    view
}

pub(super) async fn apply_template(
    State(sim): State<Arc<Sim>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    for_app(&sim, app_id, &headers, |app_id| {
        let form = Form::parse(&body);
        let Some(name) = form.get("elementName") else {
            return error(400, "elementName is required");
        };
        let Some(content) = form.get("content") else {
            return error(400, "content is required");
        };
        let category = form
            .get("category")
            .unwrap_or_default()
            .to_ascii_uppercase();
        if !matches!(
            category.as_str(),
            "AUTHENTICATION" | "MARKETING" | "UTILITY"
        ) {
            return error(
                400,
                "Invalid category provided, kindly use category from these option AUTHENTICATION, MARKETING, UTILITY",
            );
        }
        let language = form.get("languageCode").unwrap_or("en_US").to_string();
        let template_type = form
            .get("templateType")
            .unwrap_or("TEXT")
            .to_ascii_uppercase();
        let approve_after = sim.approve_after();
        let mut state = sim.lock();
        let state = &mut *state;
        if state
            .templates
            .of_account(Provider::Gupshup, &app_id)
            .iter()
            .any(|t| t.name == name && t.language == language)
        {
            return error(
                400,
                "Template Already exists with same namespace and elementName and languageCode",
            );
        }
        let mut template = Template::new(Provider::Gupshup, ids::uuid(), app_id, name.to_string());
        template.language = language;
        template.category = category;
        template.body = content.to_string();
        template.header = (template_type != "TEXT").then(|| template_type.clone());
        template.definition = json!({
            "templateType": template_type,
            "example": form.get("example"),
            "vertical": form.get("vertical"),
            "externalId": ids::numeric_id(),
        });
        template.submit(&mut state.rules, approve_after);
        let view = template_view(&template);
        state.templates.insert(template);
        Json(json!({"status": "success", "template": view})).into_response()
    })
}

pub(super) async fn list_templates(
    State(sim): State<Arc<Sim>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    for_app(&sim, app_id, &headers, |app_id| {
        let state = sim.lock();
        let templates: Vec<Value> = state
            .templates
            .of_account(Provider::Gupshup, &app_id)
            .into_iter()
            .map(template_view)
            .collect();
        Json(json!({"status": "success", "templates": templates})).into_response()
    })
}

/// `DELETE /partner/app/{appId}/template/{elementName}`: every language of
/// that element name in the app goes; `{"status":"success"}`, or 400
/// "Template Does not exists." when the app has none by that name.
pub(super) async fn delete_template(
    State(sim): State<Arc<Sim>>,
    Path((app_id, element_name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    for_app(&sim, app_id, &headers, |app_id| {
        let removed = sim.lock().templates.remove(|t| {
            t.provider == Provider::Gupshup && t.account == app_id && t.name == element_name
        });
        if removed == 0 {
            return error(400, "Template Does not exists.");
        }
        Json(json!({"status": "success"})).into_response()
    })
}
