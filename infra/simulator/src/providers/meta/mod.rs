//! Plays Meta's WhatsApp Business Cloud API (providers.md, "Meta WhatsApp
//! Business Cloud API"): sending ([`send`]: `POST /{version}/{phone_number_id}/
//! messages`), the WABA's `message_templates` ([`templates`]: create, list,
//! delete), the `statuses` webhook ([`callbacks`]) and the `messages` webhook
//! for a customer's reply ([`inbound`]), both signed with
//! `X-Hub-Signature-256`. This file holds the routes and what those share:
//! Meta's error body
//! `{"error":{message,type,code,error_subcode,error_data,fbtrace_id}}`
//! (texts in [`errors`]), the Bearer token, the `/{version}/` check and the
//! signed `whatsapp_business_account` webhook request.

pub mod callbacks;
pub mod errors;
pub mod inbound;
pub mod send;
pub mod templates;

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::delivery::Prepared;
use crate::rules::FailSpec;
use crate::sim::Webhook;
use crate::{ids, signing, Sim};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/{version}/{phone_number_id}/messages", post(send::send))
        .route(
            "/{version}/{waba_id}/message_templates",
            get(templates::list_templates)
                .post(templates::create_template)
                .delete(templates::delete_template),
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
        190 => errors::text(190).to_string(),
        c => format!("(#{c}) {}", errors::text(c)),
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

/// Meta's answer to a path whose `/{version}/` is not `v` and a number:
/// 2500 with HTTP 404, the first check of every endpoint (the send and the
/// templates').
fn check_version(version: &str) -> Result<(), Refusal> {
    if valid_version(version) {
        return Ok(());
    }
    Err(Refusal {
        fail: FailSpec {
            code: 2500,
            status: Some(404),
            ..FailSpec::default()
        },
        details: None,
    })
}

/// `metadata.display_phone_number` of the business number `phone_number_id`:
/// the registration's, else the id itself.
fn display_number(hook: &Webhook, phone_number_id: &str) -> String {
    hook.display_phone_number
        .clone()
        .unwrap_or_else(|| phone_number_id.to_string())
}

/// The request Meta posts to a registered webhook, for a message's statuses
/// ([`callbacks`]) and a customer's message ([`inbound`]) alike: the
/// `whatsapp_business_account` object with one entry for the WABA
/// (`waba_id`, default `"0"`) and one `messages` change, whose `value` is
/// the business number's `messaging_product` and `metadata` plus `fields`
/// (`statuses`, or `contacts` and `messages`); signed with
/// `X-Hub-Signature-256` when the registration has an `app_secret`.
fn webhook_request(hook: &Webhook, phone_number_id: &str, fields: Value) -> Prepared {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_number(hook, phone_number_id),
            "phone_number_id": phone_number_id,
        },
    });
    if let (Some(value), Value::Object(fields)) = (value.as_object_mut(), fields) {
        value.extend(fields);
    }
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": hook.waba_id.clone().unwrap_or_else(|| "0".into()),
            "changes": [{"value": value, "field": "messages"}],
        }],
    });
    let mut prepared = Prepared::json(&body);
    if let Some(secret) = &hook.app_secret {
        let signature = signing::meta_signature(secret, &prepared.body);
        prepared.headers.push(("X-Hub-Signature-256", signature));
    }
    prepared
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}
