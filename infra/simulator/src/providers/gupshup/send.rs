//! Gupshup's send (providers.md, "Gupshup WhatsApp API"):
//! `POST /wa/api/v1/template/msg` (header `apikey`, form `source`,
//! `destination`, `src.name`, `template={"id","params"}`, optional `message`
//! for a media header) and `POST /wa/api/v1/msg` (free-form `message`),
//! answered `{"status":"submitted","messageId":"<uuid>"}` with a 2xx (the docs
//! promise only "200 to 299"; 202 here), errors `{"status":"error",
//! "message"}` with 4xx (401 bad key, 429 rate). An accepted message's events
//! go to the webhook registered for the `source` ([`super::callbacks`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::callbacks::GupshupTarget;
use super::{error, unauthorised};
use crate::callbacks::{self, Target};
use crate::conn::DropHandle;
use crate::rules::FailSpec;
use crate::sim::{Admission, NewMessage, Verdict};
use crate::templates::{self, Status};
use crate::wire::Form;
use crate::{ids, phone, Provider, Sim};

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

pub(super) async fn send_template(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(conn): ConnectInfo<DropHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    send(sim, conn, headers, body, true).await
}

pub(super) async fn send_message(
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
    let Some(key) = api_key(&headers).map(str::to_string) else {
        sim.refuse(Provider::Gupshup, 1);
        return unauthorised();
    };
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
            credential: key,
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
                    let target = Target::Gupshup(GupshupTarget {
                        app: hook.app.clone().unwrap_or_else(|| common.app.clone()),
                        hook: hook.clone(),
                        whatsapp_message_id: format!("gBEG{}", ids::token("").to_uppercase()),
                        template,
                    });
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
