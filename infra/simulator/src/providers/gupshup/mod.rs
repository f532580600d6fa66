//! Plays Gupshup's WhatsApp API (providers.md, "Gupshup WhatsApp API"):
//! sending ([`send`]: `POST /wa/api/v1/template/msg` and `POST
//! /wa/api/v1/msg`), the partner API's tokens and templates ([`templates`]),
//! version-2 `message-event` status callbacks ([`callbacks`]) and the
//! version-2 `message` callback for a customer's message ([`inbound`]), both
//! unsigned (the registered URL carries our secret). This file holds the
//! routes and what those share: Gupshup's error body `{"status":"error",
//! "message"}` and its 401.

pub mod callbacks;
pub mod inbound;
pub mod send;
pub mod templates;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::Sim;

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/wa/api/v1/template/msg", post(send::send_template))
        .route("/wa/api/v1/msg", post(send::send_message))
        .route("/partner/account/login", post(templates::login))
        .route("/partner/app/{app_id}/token", get(templates::app_token))
        .route("/partner/app/{app_id}/token/", get(templates::app_token))
        .route(
            "/partner/app/{app_id}/templates",
            get(templates::list_templates).post(templates::apply_template),
        )
        .route(
            "/partner/app/{app_id}/template/{element_name}",
            delete(templates::delete_template),
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

fn unauthorised() -> Response {
    error(401, "Authentication Failed")
}
