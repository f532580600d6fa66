//! The gateway's send: `POST /api/send_sms` with HTTP Basic and JSON
//! `{"text","port":[…],"param":[{"number","text_param","user_id"}]}`
//! (`#param#` in `text` replaced by `text_param` in turn; at most 128 numbers
//! and 1,500 bytes of text, else 413) answered
//! `{"error_code":202,"sn","sms_in_queue","task_id"}`. Each message goes out
//! on the next of the request's ports in turn (0,1,2,3,0,…; ports 0–3 when
//! none is given), and the port is recorded.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{answer, unauthorised, SN};
use crate::conn::DropHandle;
use crate::sim::{Admission, NewMessage, Verdict};
use crate::wire::basic_auth;
use crate::{phone, Provider, Sim};

const DEFAULT_PORTS: [u32; 4] = [0, 1, 2, 3];

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

pub(super) async fn send_sms(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(conn): ConnectInfo<DropHandle>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((account, password)) = basic_auth(&headers) else {
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
            credential: password,
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
