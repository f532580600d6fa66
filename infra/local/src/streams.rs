//! The DynamoDB stream event source mapping, played on DynamoDB Local's own streams
//! (its `DynamoDBStreams_20120810` JSON API): each shard read in order from
//! `TRIM_HORIZON` (up to 1,000 records a read, 4 reads a second when it has nothing
//! more), one batch at a time (Lambda's default parallelization of 1), the
//! template's `FilterCriteria` applied to each record before the function sees it,
//! a failed batch retried `MaximumRetryAttempts` times, then described on the
//! `OnFailure` queue (as Lambda does) and skipped.

use crate::lambda::Function;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// Records a `GetRecords` call reads (DynamoDB Streams' maximum).
const READ_LIMIT: usize = 1000;
/// A shard's polling interval when it has nothing more (Lambda: 4 times a second).
const POLL_EVERY: Duration = Duration::from_millis(250);

/// One `Type: DynamoDB` event of a function.
pub struct Mapping {
    pub dynamodb_url: String,
    pub stream_arn: String,
    pub batch: usize,
    pub retries: u32,
    /// `FilterCriteria.Filters[].Pattern`, parsed: a record passes if any matches
    /// (none: every record passes).
    pub filters: Vec<Value>,
    /// The `OnFailure` destination (queue URL) and the SQS client that holds it.
    pub on_failure: Option<(aws_sdk_sqs::Client, String)>,
    pub function: Function,
}

/// A DynamoDB Streams call. DynamoDB Local keeps a database per access key and region,
/// read from the request's credential scope; it checks no signature.
async fn call(http: &reqwest::Client, url: &str, op: &str, body: Value) -> anyhow::Result<Value> {
    let r = http
        .post(url)
        .header("x-amz-target", format!("DynamoDBStreams_20120810.{op}"))
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=local/20260101/{}/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                crate::template::REGION
            ),
        )
        .body(body.to_string())
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await?;
    if !status.is_success() {
        anyhow::bail!("{op}: {status} {v}");
    }
    Ok(v)
}

/// Finds the stream's shards (again every few seconds) and reads each new one — a
/// child shard once its parent's reader has ended, as Lambda keeps a key's records in
/// order.
pub async fn run(m: Mapping) {
    let m = std::sync::Arc::new(m);
    let http = reqwest::Client::new();
    let mut seen = HashSet::new();
    let ended = std::sync::Arc::new(std::sync::Mutex::new(HashSet::<String>::new()));
    loop {
        match call(
            &http,
            &m.dynamodb_url,
            "DescribeStream",
            json!({"StreamArn": m.stream_arn}),
        )
        .await
        {
            Ok(d) => {
                for shard in d["StreamDescription"]["Shards"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    let Some(id) = shard["ShardId"].as_str() else {
                        continue;
                    };
                    let parent_running = shard["ParentShardId"].as_str().is_some_and(|p| {
                        seen.contains(p) && !ended.lock().expect("ended").contains(p)
                    });
                    if !parent_running && seen.insert(id.to_string()) {
                        let (m, http, ended, id) =
                            (m.clone(), http.clone(), ended.clone(), id.to_string());
                        tokio::spawn(async move {
                            read_shard(m, http, id.clone()).await;
                            ended.lock().expect("ended").insert(id);
                        });
                    }
                }
            }
            Err(e) => eprintln!("pregon-local: stream {}: {e:#}", m.stream_arn),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// A shard iterator: from the start, or after the last record handled.
async fn iterator_after(
    m: &Mapping,
    http: &reqwest::Client,
    shard: &str,
    after: Option<&str>,
) -> Option<String> {
    let mut ask =
        json!({"StreamArn": m.stream_arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"});
    if let Some(seq) = after {
        ask["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
        ask["SequenceNumber"] = json!(seq);
    }
    loop {
        match call(http, &m.dynamodb_url, "GetShardIterator", ask.clone()).await {
            Ok(v) => return v["ShardIterator"].as_str().map(str::to_string),
            Err(e) => {
                eprintln!("pregon-local: shard {shard}: {e:#}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn read_shard(m: std::sync::Arc<Mapping>, http: reqwest::Client, shard: String) {
    let mut iterator = iterator_after(&m, &http, &shard, None).await;
    // The last record handled: an iterator that expired (15 minutes, e.g. while a
    // failing batch was retried) is taken again from there.
    let mut last: Option<String> = None;
    while let Some(it) = iterator {
        let out = match call(
            &http,
            &m.dynamodb_url,
            "GetRecords",
            json!({"ShardIterator": it, "Limit": READ_LIMIT}),
        )
        .await
        {
            Ok(v) => v,
            Err(e) => {
                eprintln!("pregon-local: shard {shard}: {e:#}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                iterator = iterator_after(&m, &http, &shard, last.as_deref()).await;
                continue;
            }
        };
        let records = out["Records"].as_array().cloned().unwrap_or_default();
        // (A closed shard has no next iterator: its reader ends.)
        iterator = out["NextShardIterator"].as_str().map(str::to_string);
        let full = records.len() >= READ_LIMIT;
        if let Some(seq) = records
            .last()
            .and_then(|r| r["dynamodb"]["SequenceNumber"].as_str())
        {
            last = Some(seq.to_string());
        }
        let passed: Vec<Value> = records
            .into_iter()
            .filter(|r| m.filters.is_empty() || m.filters.iter().any(|f| matches(f, r)))
            .map(|mut r| {
                r["eventSourceARN"] = json!(m.stream_arn);
                r
            })
            .collect();
        for batch in passed.chunks(m.batch.max(1)) {
            deliver(&m, &shard, batch.to_vec()).await;
        }
        if !full {
            // Lambda polls each shard 4 times a second; a full page is read on at once.
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

/// Invokes the function with one batch until it succeeds or its retries run out.
async fn deliver(m: &Mapping, shard: &str, batch: Vec<Value>) {
    let event = json!({"Records": batch});
    let mut attempt = 0;
    loop {
        match m.function.invoke(event.clone()).await {
            Ok(_) => return,
            Err(e) if attempt < m.retries => {
                attempt += 1;
                eprintln!(
                    "pregon-local: {} failed a stream batch (attempt {attempt}): {e:#}",
                    m.function.name
                );
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt.min(4)))).await;
            }
            Err(e) => {
                eprintln!(
                    "pregon-local: {} gave up a stream batch: {e:#}",
                    m.function.name
                );
                if let Some((sqs, url)) = &m.on_failure {
                    let seq = |i: usize| batch[i]["dynamodb"]["SequenceNumber"].clone();
                    let body = json!({
                        "requestContext": {"condition": "RetryAttemptsExhausted",
                            "functionArn": m.function.name, "approximateInvokeCount": attempt + 1},
                        "responseContext": {"functionError": e.to_string()},
                        "DDBStreamBatchInfo": {"shardId": shard, "streamArn": m.stream_arn,
                            "startSequenceNumber": seq(0), "endSequenceNumber": seq(batch.len() - 1),
                            "batchSize": batch.len()},
                    });
                    let _ = sqs
                        .send_message()
                        .queue_url(url)
                        .message_body(body.to_string())
                        .send()
                        .await;
                }
                return;
            }
        }
    }
}

/// Lambda's event filtering: every key of the pattern must match the record; a list
/// holds alternatives (a value, or `{"exists": bool}` / `{"prefix": "…"}`).
pub fn matches(pattern: &Value, v: &Value) -> bool {
    match pattern {
        Value::Object(p) => p.iter().all(|(k, sub)| match sub {
            Value::Array(alts) => alts.iter().any(|a| alternative(a, v.get(k))),
            Value::Object(_) => v.get(k).is_some_and(|x| matches(sub, x)),
            other => v.get(k) == Some(other),
        }),
        _ => false,
    }
}

fn alternative(a: &Value, v: Option<&Value>) -> bool {
    match a {
        Value::Object(o) if o.contains_key("exists") => o["exists"].as_bool() == Some(v.is_some()),
        Value::Object(o) if o.contains_key("prefix") => {
            match (o["prefix"].as_str(), v.and_then(Value::as_str)) {
                (Some(p), Some(s)) => s.starts_with(p),
                _ => false,
            }
        }
        other => v == Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_filter_passes_status_moves_only() {
        let tpl = crate::template::Template::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
        )
        .unwrap();
        let (_, f) = tpl
            .of_type("AWS::Serverless::Function")
            .find(|(id, _)| *id == "TallyFunction")
            .unwrap();
        let pattern: Value = serde_json::from_str(
            &crate::template::scalar(
                &f["Properties"]["Events"]["StatusMoves"]["Properties"]["FilterCriteria"]
                    ["Filters"][0]["Pattern"],
            )
            .unwrap(),
        )
        .unwrap();
        let moved = json!({"eventName": "MODIFY", "dynamodb": {"NewImage": {"status": {"S": "read"}, "status_move": {"S": "01J"}}}});
        let sent =
            json!({"eventName": "MODIFY", "dynamodb": {"NewImage": {"status": {"S": "sent"}}}});
        let inserted =
            json!({"eventName": "INSERT", "dynamodb": {"NewImage": {"status_move": {"S": "01J"}}}});
        assert!(matches(&pattern, &moved));
        assert!(!matches(&pattern, &sent));
        assert!(!matches(&pattern, &inserted));
    }
}
