//! The gateway's results: `POST /api/query_sms_result` with `user_id`,
//! `number`, `port` filters answered `{"error_code":200,"sn","result":[{"port",
//! "number","user_id","time","status","count","succ_count","ref_id","imsi"}]}`
//! with status `SENDING` → `SENT_OK` → `DELIVERED` (or `FAILED`), read from
//! the message's age at the moment asked (a `callbacks` rule's `delay_ms` sets
//! the step, its `fail` ends in `FAILED`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use time::macros::format_description;
use time::OffsetDateTime;

use super::{answer, unauthorised, SN};
use crate::sim::Message;
use crate::wire::{basic_auth, segments};
use crate::{Provider, Sim};

/// The status a message shows at the moment asked.
fn status_of(message: &Message) -> &'static str {
    let spec = message.callbacks.clone().unwrap_or_default();
    let step = Duration::from_millis(spec.delay_ms.unwrap_or(100));
    let age = message.accepted_instant.elapsed();
    if age < step {
        "SENDING"
    } else if spec.fail.is_some() {
        "FAILED"
    } else if age < step * 5 {
        "SENT_OK"
    } else {
        "DELIVERED"
    }
}

fn gateway_time(ms: u64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

fn list_of<T>(
    body: &Value,
    key: &str,
    item: impl Fn(&Value) -> Option<T>,
) -> Result<Option<Vec<T>>, i64> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list)) => list
            .iter()
            .map(item)
            .collect::<Option<Vec<T>>>()
            .map(Some)
            .ok_or(400),
        Some(_) => Err(400),
    }
}

pub(super) async fn query_sms_result(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((account, _)) = basic_auth(&headers) else {
        return unauthorised();
    };
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return answer(StatusCode::OK, 400),
        }
    };
    let filters = (|| {
        let user_ids = list_of(&body, "user_id", Value::as_u64)?;
        let numbers = list_of(&body, "number", |v| v.as_str().map(str::to_string))?;
        let ports = list_of(&body, "port", |v| v.as_u64().map(|p| p as u32))?;
        if numbers.as_ref().is_some_and(|n| n.len() > 32) {
            return Err(413);
        }
        Ok((user_ids, numbers, ports))
    })();
    let (user_ids, numbers, ports) = match filters {
        Ok(f) => f,
        Err(code) => return answer(StatusCode::OK, code),
    };
    let state = sim.lock();
    let result: Vec<Value> = state
        .messages
        .iter()
        .filter(|m| m.provider == Provider::Gateway && m.sender == account)
        .filter(|m| {
            user_ids.as_ref().is_none_or(|ids| {
                m.content["user_id"]
                    .as_u64()
                    .is_some_and(|u| ids.contains(&u))
            })
        })
        .filter(|m| {
            numbers.as_ref().is_none_or(|ns| {
                m.content["number"]
                    .as_str()
                    .is_some_and(|n| ns.iter().any(|x| x == n))
            })
        })
        .filter(|m| {
            ports
                .as_ref()
                .is_none_or(|ps| m.port.is_some_and(|p| ps.contains(&p)))
        })
        .map(|m| {
            let status = status_of(m);
            let count = segments(m.content["text"].as_str().unwrap_or_default());
            json!({
                "port": m.port,
                "number": m.content["number"],
                "user_id": m.content["user_id"],
                "time": gateway_time(m.accepted_at_ms),
                "status": status,
                "count": count,
                "succ_count": if matches!(status, "SENT_OK" | "DELIVERED") { count } else { 0 },
                "ref_id": m.seq % 256,
                "imsi": "",
            })
        })
        .collect();
    Json(json!({"error_code": 200, "sn": SN, "result": result})).into_response()
}
