//! Plays Twilio Programmable Messaging and the Content API (providers.md,
//! "Twilio Programmable Messaging"): sending ([`send`]: `POST /2010-04-01/
//! Accounts/{AccountSid}/Messages.json`), the Content API's templates and
//! their WhatsApp approval ([`templates`]), status callbacks to each
//! message's `StatusCallback` ([`callbacks`]) and the "A message comes in"
//! request for a customer's message ([`inbound`]), both signed with
//! `X-Twilio-Signature`. This file holds the routes and what those share:
//! Twilio's error body `{code,message,more_info,status}` with its default
//! texts and HTTP statuses, its RFC 2822 dates and its signed form POST.

pub mod callbacks;
pub mod inbound;
pub mod send;
pub mod templates;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;

use crate::delivery::Prepared;
use crate::rules::FailSpec;
use crate::{signing, Sim};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account_sid}/Messages.json",
            post(send::send),
        )
        .route(
            "/v1/Content",
            get(templates::list_content).post(templates::create_content),
        )
        .route(
            "/v1/Content/{sid}",
            get(templates::fetch_content).delete(templates::delete_content),
        )
        .route(
            "/v1/Content/{sid}/ApprovalRequests",
            get(templates::fetch_approval),
        )
        .route(
            "/v1/Content/{sid}/ApprovalRequests/whatsapp",
            post(templates::create_approval),
        )
}

fn default_message(code: i64) -> &'static str {
    match code {
        20003 => "Authenticate",
        20404 => "The requested resource was not found",
        20429 => "Too Many Requests",
        21211 => "Invalid 'To' Phone Number",
        21408 => "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
        21602 => "Message body is required.",
        21603 => "A 'From' phone number is required.",
        21604 => "A 'To' phone number is required.",
        21610 => "Attempt to send to unsubscribed recipient",
        21614 => "'To' number is not a valid mobile number",
        21617 => "The concatenated message body exceeds the 1600 character limit.",
        21654 => "ContentSid Required",
        21655 => "The ContentSid is Invalid",
        21656 => "The ContentVariables Parameter is invalid",
        63016 => "Failed to send freeform message because you are outside the allowed window.",
        63018 => "Rate limit exceeded for Channel",
        _ => "Twilio error",
    }
}

fn default_status(code: i64) -> u16 {
    match code {
        20003 => 401,
        20404 => 404,
        20429 => 429,
        _ => 400,
    }
}

/// Twilio's error body.
pub fn error(fail: &FailSpec) -> Response {
    let status = fail.status.unwrap_or_else(|| default_status(fail.code));
    let message = fail
        .message
        .clone()
        .unwrap_or_else(|| default_message(fail.code).to_string());
    let body = json!({
        "code": fail.code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{}", fail.code),
        "status": status,
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(body)).into_response()
}

fn code(code: i64) -> FailSpec {
    FailSpec {
        code,
        ..FailSpec::default()
    }
}

fn with_message(c: i64, message: String) -> FailSpec {
    FailSpec {
        code: c,
        message: Some(message),
        ..FailSpec::default()
    }
}

fn rfc2822(ms: u64) -> String {
    OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .ok()
        .and_then(|t| t.format(&Rfc2822).ok())
        .unwrap_or_default()
}

/// The form POST Twilio makes to `url`, for a status callback
/// ([`callbacks`]) and a customer's message ([`inbound`]) alike: `params`
/// form-encoded in their order, signed with `X-Twilio-Signature` over `url`
/// and the sorted params with `auth_token`.
fn signed_form(url: &str, auth_token: &str, params: &[(String, String)]) -> Prepared {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish()
        .into_bytes();
    Prepared {
        body,
        content_type: "application/x-www-form-urlencoded",
        headers: vec![(
            "X-Twilio-Signature",
            signing::twilio_signature(auth_token, url, params),
        )],
    }
}
