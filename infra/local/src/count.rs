//! Counting proxies (`PREGON_COUNT_AWS=1`): each AWS server of the stack (DynamoDB
//! Local, moto, fauxqs) is put behind a loopback proxy that forwards every request
//! unchanged and counts it by service and action, with DynamoDB's write units, so a
//! benchmark can say how many AWS requests a campaign costs. `GET /_pregon/counts` on a
//! proxy answers its counts as JSON.
//!
//! Write units are counted as DynamoDB bills items of up to 1 KB: one per item a write
//! names (a PartiQL `UPDATE`/`INSERT`/`DELETE`, an item of a batch write, a put, update
//! or delete), two per item of a transaction; conditional writes count whether or not
//! they applied. SQS `ReceiveMessage` is split into calls that returned messages and
//! empty polls (a Lambda event source polls idle queues too; the local one polls every
//! second, the AWS one long-polls for 20 s).

use anyhow::Result;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Counts {
    requests: BTreeMap<String, u64>,
    write_units: BTreeMap<String, u64>,
}

struct Proxy {
    target: String,
    http: reqwest::Client,
    counts: Mutex<Counts>,
}

/// Starts a counting proxy in front of `target`; its URL.
pub async fn start(target: String) -> Result<String> {
    let proxy = Arc::new(Proxy {
        target,
        http: crate::proxy::client()?,
        counts: Mutex::new(Counts::default()),
    });
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    crate::proxy::serve(app).await
}

async fn forward(
    State(p): State<Arc<Proxy>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() == "/_pregon/counts" {
        let c = p.counts.lock().expect("counts");
        return axum::Json(json!({"requests": c.requests, "write_units": c.write_units}))
            .into_response();
    }
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let answer = match crate::proxy::forward(
        &p.http,
        &p.target,
        method.clone(),
        &uri,
        &headers,
        body.clone(),
    )
    .await
    {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    let (action, units) = classify(&method, target.as_deref(), &body, &answer.body);
    {
        let mut c = p.counts.lock().expect("counts");
        *c.requests.entry(action.clone()).or_default() += 1;
        if units > 0 {
            *c.write_units.entry(action).or_default() += units;
        }
    }
    answer.into_response()
}

/// `service.Action` and the write units of one request.
fn classify(method: &Method, target: Option<&str>, body: &[u8], answer: &[u8]) -> (String, u64) {
    let Some(target) = target else {
        // S3 (REST) through moto.
        return (format!("s3.{method}"), 0);
    };
    let (service, action) = target.split_once('.').unwrap_or(("?", target));
    // (DynamoDB Streams reads: the stream event source's polls, as Lambda's own.)
    let service = if service.starts_with("DynamoDBStreams") {
        "dynamodbstreams"
    } else if service.starts_with("DynamoDB") {
        "dynamodb"
    } else if service.starts_with("AmazonSQS") {
        "sqs"
    } else if service == "secretsmanager" {
        "secretsmanager"
    } else {
        service
    };
    // A poll that brought nothing is counted apart (idle event-source polls).
    let empty_poll = |list: &str| {
        !serde_json::from_slice::<Value>(answer)
            .ok()
            .and_then(|v| v[list].as_array().map(|m| !m.is_empty()))
            .unwrap_or(false)
    };
    let polled = match (service, action) {
        ("sqs", "ReceiveMessage") => Some("Messages"),
        ("dynamodbstreams", "GetRecords") => Some("Records"),
        _ => None,
    };
    if let Some(list) = polled {
        let empty = if empty_poll(list) { "(empty)" } else { "" };
        return (format!("{service}.{action}{empty}"), 0);
    }
    let units = if service == "dynamodb" {
        write_units(action, body)
    } else {
        0
    };
    (format!("{service}.{action}"), units)
}

fn write_units(action: &str, body: &[u8]) -> u64 {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let is_write = |sql: &str| {
        let head = sql.trim_start().get(..6).unwrap_or("").to_ascii_uppercase();
        head == "UPDATE" || head == "INSERT" || head == "DELETE"
    };
    match action {
        "PutItem" | "UpdateItem" | "DeleteItem" => 1,
        "ExecuteStatement" => v["Statement"].as_str().is_some_and(is_write) as u64,
        "BatchExecuteStatement" => v["Statements"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter(|s| s["Statement"].as_str().is_some_and(is_write))
                    .count() as u64
            })
            .unwrap_or(0),
        "BatchWriteItem" => v["RequestItems"]
            .as_object()
            .map(|t| {
                t.values()
                    .filter_map(|r| r.as_array())
                    .map(|r| r.len() as u64)
                    .sum()
            })
            .unwrap_or(0),
        "TransactWriteItems" => v["TransactItems"]
            .as_array()
            .map(|t| {
                2 * t
                    .iter()
                    .filter(|i| i.get("ConditionCheck").is_none())
                    .count() as u64
                    + t.iter()
                        .filter(|i| i.get("ConditionCheck").is_some())
                        .count() as u64
            })
            .unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partiql_writes_count_one_unit_each_and_selects_none() {
        let body = br#"{"Statements":[{"Statement":"UPDATE \"t\" SET a = ? WHERE pk = ?"},
            {"Statement":"  update \"t\" SET b = ?"},{"Statement":"SELECT * FROM \"t\""}]}"#;
        let (action, units) = classify(
            &Method::POST,
            Some("DynamoDB_20120810.BatchExecuteStatement"),
            body,
            b"{}",
        );
        assert_eq!(action, "dynamodb.BatchExecuteStatement");
        assert_eq!(units, 2);
    }

    #[test]
    fn receives_are_split_into_delivering_and_empty_polls() {
        let t = Some("AmazonSQS.ReceiveMessage");
        let (a, _) = classify(
            &Method::POST,
            t,
            b"{}",
            br#"{"Messages":[{"MessageId":"1"}]}"#,
        );
        assert_eq!(a, "sqs.ReceiveMessage");
        let (a, _) = classify(&Method::POST, t, b"{}", br#"{}"#);
        assert_eq!(a, "sqs.ReceiveMessage(empty)");
        let (a, _) = classify(&Method::PUT, None, b"", b"");
        assert_eq!(a, "s3.PUT");
    }
}
