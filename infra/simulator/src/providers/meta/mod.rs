//! Plays Meta's WhatsApp Business Cloud API (providers.md, "Meta WhatsApp
//! Business Cloud API"): sending ([`send`]: `POST /{version}/{phone_number_id}/
//! messages`), the WABA's `message_templates` ([`templates`]), the `statuses`
//! webhook ([`callbacks`]) and the `messages` webhook for a customer's reply
//! ([`inbound`]), both signed with `X-Hub-Signature-256`. This file holds the
//! routes and what those share: Meta's error body
//! `{"error":{message,type,code,error_subcode,error_data,fbtrace_id}}` (texts
//! in [`errors`]), the Bearer token and the `/{version}/` check.

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

use crate::rules::FailSpec;
use crate::{ids, Sim};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/{version}/{phone_number_id}/messages", post(send::send))
        .route(
            "/{version}/{waba_id}/message_templates",
            get(templates::list_templates).post(templates::create_template),
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

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}
