//! The DynamoDB fault switch: DynamoDB Local sits behind this loopback proxy, which
//! forwards every request unchanged unless a fault rule matches it; a matching request
//! is answered as DynamoDB answers when it cannot take it (throttling, an internal
//! error), without reaching DynamoDB Local. A test turns a fault on for its own
//! records only, for a bounded time or number of requests, and sees what the functions
//! do (SPEC §10: nothing lost, nothing applied twice).
//!
//! - `POST /_pregon/faults` `{"error", "actions", "contains", "seconds", "count"}` adds a
//!   rule: requests whose action (`PutItem`, `BatchWriteItem`, …; any when `actions`
//!   is absent) is listed and whose body contains `contains` (a tenant or account id)
//!   are answered `error` — `ProvisionedThroughputExceededException` (400, the
//!   default), `ThrottlingException` (400) or `InternalServerError` (500) — for
//!   `seconds` (at most 300), or for the first `count` of them. Answers `{"id"}`.
//! - `GET /_pregon/faults` lists the rules with how many requests each has refused.
//! - `DELETE /_pregon/faults/{id}` ends a rule at once.

use anyhow::Result;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest a rule lasts: every fault stops by itself.
const MAX_SECONDS: u64 = 300;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRule {
    #[serde(default = "throttled")]
    error: String,
    #[serde(default)]
    actions: Option<Vec<String>>,
    contains: String,
    #[serde(default)]
    seconds: Option<u64>,
    #[serde(default)]
    count: Option<u64>,
}

fn throttled() -> String {
    "ProvisionedThroughputExceededException".into()
}

struct Rule {
    id: u64,
    error: String,
    actions: Option<Vec<String>>,
    contains: String,
    until: Instant,
    count: Option<u64>,
    refused: u64,
}

impl Rule {
    fn live(&self) -> bool {
        Instant::now() < self.until && self.count.is_none_or(|c| self.refused < c)
    }
}

#[derive(Default)]
struct Rules {
    next: u64,
    rules: Vec<Rule>,
}

struct Proxy {
    target: String,
    http: reqwest::Client,
    rules: Mutex<Rules>,
}

/// Starts the fault proxy in front of `target`; its URL.
pub async fn start(target: String) -> Result<String> {
    let proxy = Arc::new(Proxy {
        target,
        http: crate::proxy::client()?,
        rules: Mutex::new(Rules::default()),
    });
    let app = axum::Router::new()
        .route("/_pregon/faults", axum::routing::post(add).get(list))
        .route("/_pregon/faults/{id}", axum::routing::delete(end))
        .fallback(forward)
        .with_state(proxy);
    crate::proxy::serve(app).await
}

async fn add(State(p): State<Arc<Proxy>>, body: Bytes) -> Response {
    let r: NewRule = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    if !matches!(
        r.error.as_str(),
        "ProvisionedThroughputExceededException" | "ThrottlingException" | "InternalServerError"
    ) || r.contains.is_empty()
    {
        return (
            StatusCode::BAD_REQUEST,
            "error: ProvisionedThroughputExceededException, ThrottlingException or InternalServerError; contains: not empty",
        )
            .into_response();
    }
    let seconds = r.seconds.unwrap_or(MAX_SECONDS).min(MAX_SECONDS);
    let mut rules = p.rules.lock().expect("rules");
    rules.next += 1;
    let id = rules.next;
    rules.rules.retain(Rule::live);
    rules.rules.push(Rule {
        id,
        error: r.error,
        actions: r.actions,
        contains: r.contains,
        until: Instant::now() + Duration::from_secs(seconds),
        count: r.count,
        refused: 0,
    });
    axum::Json(json!({ "id": id })).into_response()
}

async fn list(State(p): State<Arc<Proxy>>) -> Response {
    let rules = p.rules.lock().expect("rules");
    let items: Vec<Value> = rules
        .rules
        .iter()
        .map(|r| {
            json!({"id": r.id, "error": r.error, "actions": r.actions, "contains": r.contains,
                "live": r.live(), "refused": r.refused})
        })
        .collect();
    axum::Json(json!({ "items": items })).into_response()
}

async fn end(State(p): State<Arc<Proxy>>, Path(id): Path<u64>) -> Response {
    let mut rules = p.rules.lock().expect("rules");
    match rules.rules.iter_mut().find(|r| r.id == id) {
        Some(r) => {
            r.until = Instant::now();
            StatusCode::NO_CONTENT.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The fault a request meets, if any (counted on its rule).
fn fault(p: &Proxy, action: &str, body: &[u8]) -> Option<String> {
    let mut rules = p.rules.lock().expect("rules");
    if rules.rules.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(body);
    let rule = rules.rules.iter_mut().find(|r| {
        r.live()
            && r.actions
                .as_ref()
                .is_none_or(|a| a.iter().any(|x| x == action))
            && text.contains(r.contains.as_str())
    })?;
    rule.refused += 1;
    Some(rule.error.clone())
}

async fn forward(
    State(p): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let action = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split_once('.'))
        .map(|(_, a)| a.to_string())
        .unwrap_or_default();
    if let Some(error) = fault(&p, &action, &body) {
        // As DynamoDB answers it: the SDK reads `__type` and retries throttling.
        let status = if error == "InternalServerError" {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        };
        let body = json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{error}"),
            "message": "refused by the local stack's fault switch (infra/local/src/faults.rs)",
        });
        return Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amzn-requestid", "fault")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response());
    }
    match crate::proxy::forward(&p.http, &p.target, method, &uri, &headers, body).await {
        Ok(answer) => answer.into_response(),
        Err(refused) => refused,
    }
}
