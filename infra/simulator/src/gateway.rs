//! Plays an SMS gateway of the Dinstar kind (providers.md, "SMS gateway of
//! the Dinstar kind"), as Dinstar's "HTTP API for SMS" (new-version API) and
//! its compatible manuals give it: `POST /api/send_sms` with HTTP Basic and
//! JSON `{"text","port":[…],"param":[{"number","text_param","user_id"}]}`
//! (`#param#` in `text` replaced by `text_param` in turn; at most 128 numbers
//! and 1,500 bytes of text, else 413) answered
//! `{"error_code":202,"sn","sms_in_queue","task_id"}`; and
//! `POST /api/query_sms_result` with `user_id`, `number`, `port` filters
//! answered `{"error_code":200,"sn","result":[{"port","number","user_id",
//! "time","status","count","succ_count","ref_id","imsi"}]}` with status
//! `SENDING` → `SENT_OK` → `DELIVERED` (or `FAILED`). Each message goes out on
//! the next of the request's ports in turn (0,1,2,3,0,…; ports 0–3 when none
//! is given), and the port is recorded. Answers carry the documented
//! `error_code` with HTTP 200; the API documents no throttling code, so the
//! simulator throttles with HTTP 429 and `{"error_code":429}`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::conn::DropHandle;
use crate::sim::{Admission, Message, NewMessage, Verdict};
use crate::wire::{basic_auth, segments};
use crate::{phone, Provider, Sim};

const SN: &str = "SIM0-0000-0000-0001";
const DEFAULT_PORTS: [u32; 4] = [0, 1, 2, 3];

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/api/send_sms", post(send_sms))
        .route("/api/query_sms_result", post(query_sms_result))
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

/// One `param` entry, checked.
struct Param {
    number: String,
    recipient: String,
    text: String,
    user_id: Option<u64>,
}

fn parse_send(body: &[u8]) -> Result<(Vec<Param>, Vec<u32>), i64> {
    let body: Value = serde_json::from_slice(body).map_err(|_| 400)?;
    let text = body["text"].as_str().filter(|t| !t.is_empty()).ok_or(400)?;
    let params = body["param"]
        .as_array()
        .filter(|p| !p.is_empty())
        .ok_or(400)?;
    if params.len() > 128 || text.len() > 1500 {
        return Err(413);
    }
    let ports = match body.get("port") {
        None | Some(Value::Null) => DEFAULT_PORTS.to_vec(),
        Some(Value::Array(list)) => {
            let ports: Option<Vec<u32>> = list
                .iter()
                .map(|p| p.as_u64().filter(|p| *p <= 31).map(|p| p as u32))
                .collect();
            match ports {
                Some(p) if p.is_empty() => DEFAULT_PORTS.to_vec(),
                Some(p) => p,
                None => return Err(400),
            }
        }
        Some(_) => return Err(400),
    };
    let mut out = Vec::with_capacity(params.len());
    for param in params {
        let number = param["number"]
            .as_str()
            .filter(|n| !n.is_empty() && n.len() <= 24)
            .ok_or(400)?;
        let recipient = phone::to_e164(number).ok_or(400)?;
        let values: Vec<&str> = match param.get("text_param") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(Value::as_str)
                .collect::<Option<_>>()
                .ok_or(400)?,
            Some(_) => return Err(400),
        };
        let user_id = match param.get("user_id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or(400)?),
        };
        let mut rendered = text.to_string();
        for value in values {
            match rendered.find("#param#") {
                Some(at) => rendered.replace_range(at..at + "#param#".len(), value),
                None => break,
            }
        }
        out.push(Param {
            number: number.to_string(),
            recipient,
            text: rendered,
            user_id,
        });
    }
    Ok((out, ports))
}

async fn send_sms(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(conn): ConnectInfo<DropHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((account, _)) = basic_auth(&headers) else {
        sim.refuse(Provider::Gateway, 1);
        return unauthorised();
    };
    let (params, ports) = match parse_send(&body) {
        Ok(parsed) => parsed,
        Err(code) => {
            sim.refuse(Provider::Gateway, 1);
            return answer(StatusCode::OK, code);
        }
    };
    let n = params.len() as u64;
    let task_id = {
        let mut state = sim.lock();
        state.gateway_task += 1;
        state.gateway_task
    };
    let messages = params
        .into_iter()
        .enumerate()
        .map(|(i, p)| NewMessage {
            recipient: p.recipient,
            provider_message_id: format!("{task_id}-{i}"),
            content: json!({
                "text": p.text,
                "number": p.number,
                "user_id": p.user_id,
                "task_id": task_id,
            }),
            correlation: p.user_id.map(|id| json!({ "user_id": id })),
            ports: Some(ports.clone()),
        })
        .collect();
    let verdict = sim
        .admit(Admission {
            provider: Provider::Gateway,
            sender: account,
            messages,
        })
        .await;
    match verdict {
        Verdict::Accepted { drop, .. } => {
            if drop {
                conn.drop_connection();
            }
            Json(json!({
                "error_code": 202,
                "sn": SN,
                "sms_in_queue": n,
                "task_id": task_id,
            }))
            .into_response()
        }
        Verdict::BadCredentials => unauthorised(),
        Verdict::Throttled => answer(StatusCode::TOO_MANY_REQUESTS, 429),
        Verdict::Failed(fail) => {
            let http = fail
                .status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            answer(http, fail.code)
        }
    }
}

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

async fn query_sms_result(
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
