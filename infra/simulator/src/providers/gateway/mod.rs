//! Plays an SMS gateway of the Dinstar kind (providers.md, "SMS gateway of
//! the Dinstar kind"), as Dinstar's "HTTP API for SMS" (new-version API) and
//! its compatible manuals give it: sending ([`send`]: `POST /api/send_sms`),
//! reading results ([`results`]: `POST /api/query_sms_result`, the gateway's
//! stand-in for status callbacks, which it does not push) and the push of a
//! received SMS ([`inbound`]). Answers carry the documented `error_code` with
//! HTTP 200; the API documents no throttling code, so the simulator throttles
//! with HTTP 429 and `{"error_code":429}`. This file holds the routes, the
//! gateway's serial number and the answers both endpoints give.

pub mod inbound;
pub mod results;
pub mod send;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use crate::Sim;

const SN: &str = "SIM0-0000-0000-0001";

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/api/send_sms", post(send::send_sms))
        .route("/api/query_sms_result", post(results::query_sms_result))
}

fn answer(http: StatusCode, error_code: i64) -> Response {
    (http, Json(json!({"error_code": error_code, "sn": SN}))).into_response()
}

fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"gateway\"")],
    )
        .into_response()
}
