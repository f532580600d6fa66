//! Plays Gupshup's WhatsApp API (providers.md, "Gupshup WhatsApp API"):
//! `POST /wa/api/v1/template/msg` (header `apikey`, form `source`,
//! `destination`, `src.name`, `template={"id","params"}`, optional `message`
//! for a media header) and `POST /wa/api/v1/msg` (free-form `message`),
//! answered `{"status":"submitted","messageId":"<uuid>"}` with a 2xx (the docs
//! promise only "200 to 299"; 202 here), errors `{"status":"error",
//! "message"}` with 4xx (401 bad key, 429 rate). And the partner API for
//! templates, as Gupshup's partner docs (partner-docs.gupshup.io) give it:
//! `POST /partner/account/login` (partner token), `GET /partner/app/{appId}/
//! token` (app token), `POST` and `GET /partner/app/{appId}/templates`
//! (`elementName`, `languageCode`, `category`, `templateType`, `content`,
//! `example`; statuses `PENDING`/`APPROVED`/`REJECTED` with `reason`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
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
use crate::wire::Form;
use crate::{ids, phone, Provider, Sim};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/wa/api/v1/template/msg", post(send_template))
        .route("/wa/api/v1/msg", post(send_message))
        .route("/partner/account/login", post(login))
        .route("/partner/app/{app_id}/token", get(app_token))
        .route("/partner/app/{app_id}/token/", get(app_token))
        .route(
            "/partner/app/{app_id}/templates",
            get(list_templates).post(apply_template),
        )
}

/// Gupshup's error body with HTTP `status`.
pub fn error(status: u16, message: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        Json(json!({"status": "error", "message": message.into()})),
    )
        .into_response()
}

/// A refusal decided while reading a request, answered with [`error`].
pub struct Refusal {
    status: u16,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.status, self.message)
    }
}

fn refusal(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

fn failed(fail: &FailSpec) -> Response {
    let status = fail
        .status
        .unwrap_or(if fail.code == 429 { 429 } else { 400 });
    let message = fail
        .message
        .clone()
        .unwrap_or_else(|| format!("Request failed with code {}", fail.code));
    error(status, message)
}

fn unauthorised() -> Response {
    error(401, "Authentication Failed")
}

fn api_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// The fields both send endpoints share.
struct Common {
    source: String,
    recipient: String,
    app: String,
}

fn common(form: &Form) -> Result<Common, Refusal> {
    let source = form
        .get("source")
        .ok_or_else(|| refusal(400, "Missing source"))?
        .trim_start_matches('+')
        .to_string();
    let destination = form
        .get("destination")
        .ok_or_else(|| refusal(400, "Missing destination"))?
        .to_string();
    let digits_only = destination
        .trim_start_matches('+')
        .bytes()
        .all(|b| b.is_ascii_digit());
    let recipient = phone::to_e164(&destination)
        .filter(|_| digits_only)
        .ok_or_else(|| refusal(400, format!("Invalid destination: {destination}")))?;
    let app = form
        .get("src.name")
        .ok_or_else(|| refusal(400, "Missing src.name"))?
        .to_string();
    Ok(Common {
        source,
        recipient,
        app,
    })
}

fn template_content(sim: &Sim, form: &Form) -> Result<Value, Refusal> {
    let raw = form
        .get("template")
        .ok_or_else(|| refusal(400, "Missing template"))?;
    let template: Value =
        serde_json::from_str(raw).map_err(|_| refusal(400, "template is not valid JSON"))?;
    let id = template["id"]
        .as_str()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| refusal(400, "Missing template id"))?;
    let params: Vec<String> = match template.get("params") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|p| p.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| refusal(400, "template params must be strings"))?,
        Some(_) => return Err(refusal(400, "template params must be an array")),
    };
    let header = match form.get("message") {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<Value>(text)
                .map_err(|_| refusal(400, "message is not valid JSON"))?,
        ),
    };
    let state = sim.lock();
    let registered = state
        .templates
        .by_id(Provider::Gupshup, id)
        .ok_or_else(|| refusal(400, format!("Template not found: {id}")))?;
    if registered.status().map(|(s, _)| s) != Some(Status::Approved) {
        return Err(refusal(400, format!("Template is not approved: {id}")));
    }
    if params.len() != registered.placeholders() {
        return Err(refusal(
            400,
            format!(
                "Template params count mismatch: got {}, expected {}",
                params.len(),
                registered.placeholders()
            ),
        ));
    }
    Ok(json!({
        "type": "template",
        "template_id": id,
        "template_name": registered.name,
        "language": registered.language,
        "params": params,
        "header": header,
        "rendered": templates::render(&registered.body, &params, &[]),
    }))
}

fn message_content(form: &Form) -> Result<Value, Refusal> {
    if form.get("channel").is_some_and(|c| c != "whatsapp") {
        return Err(refusal(400, "Invalid channel"));
    }
    let raw = form
        .get("message")
        .ok_or_else(|| refusal(400, "Missing message"))?;
    let message = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(m)) => Value::Object(m),
        _ => json!({"type": "text", "text": raw}),
    };
    match message["type"].as_str() {
        Some("text") if message["text"].as_str().is_some_and(|t| !t.is_empty()) => Ok(message),
        Some("text") => Err(refusal(400, "Missing message text")),
        Some(_) => Ok(message),
        None => Err(refusal(400, "Missing message type")),
    }
}

async fn send_template(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(conn): ConnectInfo<DropHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    send(sim, conn, headers, body, true).await
}

async fn send_message(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(conn): ConnectInfo<DropHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    send(sim, conn, headers, body, false).await
}

async fn send(
    sim: Arc<Sim>,
    conn: DropHandle,
    headers: HeaderMap,
    body: Bytes,
    template: bool,
) -> Response {
    if api_key(&headers).is_none() {
        sim.refuse(Provider::Gupshup, 1);
        return unauthorised();
    }
    let form = Form::parse(&body);
    let parsed = common(&form).and_then(|c| {
        let content = if template {
            template_content(&sim, &form)?
        } else {
            message_content(&form)?
        };
        Ok((c, content))
    });
    let (common, content) = match parsed {
        Ok(p) => p,
        Err(refusal) => {
            sim.refuse(Provider::Gupshup, 1);
            return refusal.into_response();
        }
    };
    let message_id = ids::uuid();
    let verdict = sim
        .admit(Admission {
            provider: Provider::Gupshup,
            sender: common.source.clone(),
            messages: vec![NewMessage {
                recipient: common.recipient.clone(),
                provider_message_id: message_id.clone(),
                content,
                correlation: None,
                ports: None,
            }],
        })
        .await;
    match verdict {
        Verdict::Accepted { messages, drop } => {
            if let Some(hook) = sim.webhook(Provider::Gupshup, &common.source) {
                for message in messages {
                    let target = Target::Gupshup {
                        app: hook.app.clone().unwrap_or_else(|| common.app.clone()),
                        hook: hook.clone(),
                        whatsapp_message_id: format!("gBEG{}", ids::token("").to_uppercase()),
                        template,
                    };
                    callbacks::schedule(sim.clone(), target, message, true);
                }
            }
            if drop {
                conn.drop_connection();
            }
            (
                StatusCode::ACCEPTED,
                Json(json!({"status": "submitted", "messageId": message_id})),
            )
                .into_response()
        }
        Verdict::BadCredentials => unauthorised(),
        Verdict::Throttled => error(429, "Too Many Requests"),
        Verdict::Failed(fail) => failed(&fail),
    }
}

// The partner API: tokens and templates.

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

async fn login(body: Bytes) -> Response {
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

async fn app_token(
    State(sim): State<Arc<Sim>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if authorization(&headers).is_none() || sim.credentials_refused(Provider::Gupshup, &app_id) {
        return unauthorised();
    }
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

async fn apply_template(
    State(sim): State<Arc<Sim>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if authorization(&headers).is_none() || sim.credentials_refused(Provider::Gupshup, &app_id) {
        return unauthorised();
    }
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
}

async fn list_templates(
    State(sim): State<Arc<Sim>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if authorization(&headers).is_none() || sim.credentials_refused(Provider::Gupshup, &app_id) {
        return unauthorised();
    }
    let state = sim.lock();
    let templates: Vec<Value> = state
        .templates
        .of_account(Provider::Gupshup, &app_id)
        .into_iter()
        .map(template_view)
        .collect();
    Json(json!({"status": "success", "templates": templates})).into_response()
}
