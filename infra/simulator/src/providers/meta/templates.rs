//! Meta's template endpoints: `/{version}/{waba_id}/message_templates` to
//! register (`POST`: `name`, `language`, `category`, `components`), list
//! (`GET`, filtered by `name`, `language`, `status`) and delete (`DELETE`,
//! `?name=` for every language of a name, plus `hsm_id=` for one template)
//! a WABA's templates, each `PENDING` → `APPROVED`/`REJECTED`/`PAUSED` as the
//! shared registry's review timeline says. A name already registered in that
//! language is 100 with subcode 2388024; deleting a name the WABA does not
//! have is 100 with subcode 2593002.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{bearer, check_version, error, invalid, refusal, text, Refusal};
use crate::rules::FailSpec;
use crate::templates::{Status, Template};
use crate::{ids, Provider, Sim};

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

/// What every template endpoint checks first: the `/{version}/` (2500),
/// then a Bearer token that the rules do not refuse for the WABA (190).
fn check_access(
    sim: &Sim,
    version: &str,
    waba_id: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<(), Refusal> {
    check_version(version)?;
    match bearer(headers, query) {
        Some(token) if !sim.credentials_refused(Provider::Meta, waba_id, &token) => Ok(()),
        _ => Err(refusal(190, None)),
    }
}

pub(super) async fn create_template(
    State(sim): State<Arc<Sim>>,
    Path((version, waba_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_access(&sim, &version, &waba_id, &headers, &query) {
        return refused.into_response();
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

pub(super) async fn list_templates(
    State(sim): State<Arc<Sim>>,
    Path((version, waba_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = check_access(&sim, &version, &waba_id, &headers, &query) {
        return refused.into_response();
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

/// `DELETE …/message_templates?name=[&hsm_id=]`: by name alone every
/// language of that name goes; with `hsm_id` only the template with that id
/// (and that name). Answers `{"success": true}`, or 100/2593002 when the
/// WABA has no such template.
pub(super) async fn delete_template(
    State(sim): State<Arc<Sim>>,
    Path((version, waba_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = check_access(&sim, &version, &waba_id, &headers, &query) {
        return refused.into_response();
    }
    let Some(name) = query.get("name").filter(|n| !n.is_empty()) else {
        return invalid("The parameter name is required.").into_response();
    };
    let hsm_id = query.get("hsm_id").filter(|id| !id.is_empty());
    let removed = sim.lock().templates.remove(|t| {
        t.provider == Provider::Meta
            && t.account == waba_id
            && &t.name == name
            && hsm_id.is_none_or(|id| &t.id == id)
    });
    if removed == 0 {
        return not_found(name);
    }
    Json(json!({"success": true})).into_response()
}

/// Meta's answer to deleting a template the WABA does not have: 100 with
/// subcode 2593002 (HTTP 400).
fn not_found(name: &str) -> Response {
    error(
        &FailSpec {
            code: 100,
            subcode: Some(2593002),
            message: Some("Template name does not exist".into()),
            ..FailSpec::default()
        },
        Some(format!(
            "The message template {name} wasn't found for this account."
        )),
    )
}
