//! Lambda's side of the runtime API (`/2018-06-01/runtime/…`), so the functions' own
//! release binaries run unchanged: each polls `invocation/next` and posts its response,
//! exactly as in AWS. Also API Gateway (HTTP API, payload 2.0) and the SQS event source
//! mapping, which turn HTTP requests and queue messages into invocations.

use anyhow::{anyhow, Result};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Mutex};

struct Invocation {
    id: String,
    event: Value,
    reply: oneshot::Sender<Result<Value, Value>>,
}

/// What every instance of a function shares: its invocation queue.
struct Shared {
    function: String,
    queue: Mutex<mpsc::Receiver<Invocation>>,
    /// To put back an invocation an instance took but could not run.
    requeue: mpsc::Sender<Invocation>,
    timeout: Duration,
    /// Where Lambda's `REPORT RequestId: … Duration: … ms` line of each invocation goes
    /// (the function's log, as in CloudWatch): the handler's own time, from the
    /// runtime's `next` to its response, without the caller's HTTP hops.
    report: Option<std::path::PathBuf>,
}

/// An invocation an instance is running: where its answer goes, and since when.
type Running = (oneshot::Sender<Result<Value, Value>>, std::time::Instant);

/// One instance's runtime API (one process): what it is running, and whether it died.
struct Runtime {
    shared: Arc<Shared>,
    pending: Mutex<HashMap<String, Running>>,
    dead: watch::Receiver<bool>,
}

/// A function as callers see it: hand it an event, get its response or its error.
#[derive(Clone)]
pub struct Function {
    pub name: String,
    tx: mpsc::Sender<Invocation>,
    timeout: Duration,
    shared: Arc<Shared>,
}

/// One instance's runtime API, for one process: `addr` goes in its
/// `AWS_LAMBDA_RUNTIME_API`.
pub struct Instance {
    pub addr: String,
    runtime: Arc<Runtime>,
    kill: watch::Sender<bool>,
}

impl Instance {
    /// The instance's process died: a `next` it left waiting takes nothing more, and
    /// what it was running fails, as in Lambda.
    pub async fn died(self, why: &str) {
        let _ = self.kill.send(true);
        for (_, (tx, _)) in self.runtime.pending.lock().await.drain() {
            let _ = tx.send(Err(Value::String(why.to_string())));
        }
    }
}

impl Function {
    /// A new instance's runtime API on a free loopback port. Each process has its own,
    /// so a crash fails only the invocation that process was running.
    pub async fn instance(&self) -> Result<Instance> {
        let (kill, dead) = watch::channel(false);
        let rt = Arc::new(Runtime {
            shared: self.shared.clone(),
            pending: Mutex::new(HashMap::new()),
            dead,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(rt.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let mut stop = kill.subscribe();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|d| *d).await;
                })
                .await;
        });
        Ok(Instance {
            addr,
            runtime: rt,
            kill,
        })
    }

    pub async fn invoke(&self, event: Value) -> Result<Value> {
        let (reply, rx) = oneshot::channel();
        let id = ulid::Ulid::new().to_string();
        self.tx
            .send(Invocation { id, event, reply })
            .await
            .map_err(|_| anyhow!("{} is not running", self.name))?;
        match tokio::time::timeout(self.timeout + Duration::from_secs(5), rx).await {
            Err(_) => Err(anyhow!("{} timed out", self.name)),
            Ok(Err(_)) => Err(anyhow!("{} dropped the invocation", self.name)),
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(anyhow!("{} failed: {e}", self.name)),
        }
    }
}

/// A function's invocation queue; its instances' runtime APIs come from
/// [`Function::instance`].
/// `report`: the log each invocation's `REPORT` line is appended to.
pub fn function(name: &str, timeout: Duration, report: Option<std::path::PathBuf>) -> Function {
    let (tx, rx) = mpsc::channel(64);
    let shared = Arc::new(Shared {
        function: name.to_string(),
        queue: Mutex::new(rx),
        requeue: tx.clone(),
        timeout,
        report,
    });
    Function {
        name: name.to_string(),
        tx,
        timeout,
        shared,
    }
}

async fn next(State(rt): State<Arc<Runtime>>) -> Response {
    // A process that dies while waiting here must not take an invocation it can never
    // run (its connection is gone, but this handler would go on): wait for the next
    // invocation or the instance's death, whichever comes first.
    let mut dead = rt.dead.clone();
    let inv = {
        let mut q = rt.shared.queue.lock().await;
        tokio::select! {
            i = q.recv() => match i {
                Some(i) => i,
                None => return StatusCode::GONE.into_response(),
            },
            _ = dead.wait_for(|d| *d) => return StatusCode::GONE.into_response(),
        }
    };
    if *rt.dead.borrow() {
        // Taken as the instance died: it never reached a process; put it back.
        let _ = rt.shared.requeue.send(inv).await;
        return StatusCode::GONE.into_response();
    }
    let Invocation { id, event, reply } = inv;
    rt.pending
        .lock()
        .await
        .insert(id.clone(), (reply, std::time::Instant::now()));
    if *rt.dead.borrow() {
        // Died meanwhile: if its death did not fail this one already, put it back.
        if let Some((reply, _)) = rt.pending.lock().await.remove(&id) {
            let _ = rt
                .shared
                .requeue
                .send(Invocation { id, event, reply })
                .await;
        }
        return StatusCode::GONE.into_response();
    }
    let deadline = std::time::SystemTime::now() + rt.shared.timeout;
    let ms = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut h = HeaderMap::new();
    let arn = format!(
        "arn:aws:lambda:{}:{}:function:{}",
        crate::template::REGION,
        crate::template::ACCOUNT,
        rt.shared.function
    );
    h.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_str(&id).expect("ascii"),
    );
    h.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_str(&ms.to_string()).expect("ascii"),
    );
    h.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_str(&arn).expect("ascii"),
    );
    h.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-00000000-000000000000000000000000;Sampled=0"),
    );
    h.insert("content-type", HeaderValue::from_static("application/json"));
    (h, event.to_string()).into_response()
}

async fn respond(
    State(rt): State<Arc<Runtime>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some((tx, started)) = rt.pending.lock().await.remove(&id) {
        report(&rt.shared, &id, started);
        let _ = tx.send(Ok(v));
    }
    StatusCode::ACCEPTED
}

/// Lambda's `REPORT` line for an invocation that ended (one `write` in append mode, so
/// lines of concurrent instances do not interleave).
fn report(shared: &Shared, id: &str, started: std::time::Instant) {
    use std::io::Write;
    let Some(path) = &shared.report else { return };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let line = format!("REPORT RequestId: {id}\tDuration: {ms:.2} ms\n");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

async fn fail(State(rt): State<Arc<Runtime>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    if let Some((tx, started)) = rt.pending.lock().await.remove(&id) {
        report(&rt.shared, &id, started);
        let _ = tx.send(Err(v));
    }
    StatusCode::ACCEPTED
}

async fn init_error(State(rt): State<Arc<Runtime>>, body: Bytes) -> StatusCode {
    eprintln!(
        "pregon-local: {} failed to start: {}",
        rt.shared.function,
        String::from_utf8_lossy(&body)
    );
    StatusCode::ACCEPTED
}

/// One `HttpApi` event of the template: a route (`Method`, `Path` such as
/// `/v1/webhooks/{account_id}` or `/{proxy+}`) to a function.
#[derive(Clone)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: Function,
}

impl Route {
    /// How well the route matches: `None` when it does not; more literal segments win,
    /// as API Gateway picks the most specific route.
    fn matches(&self, method: &Method, path: &str) -> Option<usize> {
        if self.method != "ANY" && !self.method.eq_ignore_ascii_case(method.as_str()) {
            return None;
        }
        let want: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let got: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut literal = 0;
        for (i, w) in want.iter().enumerate() {
            if w.ends_with("+}") {
                return Some(literal);
            }
            let g = got.get(i)?;
            if w.starts_with('{') {
                continue;
            }
            if w != g {
                return None;
            }
            literal += 1;
        }
        (want.len() == got.len()).then_some(literal + 1)
    }
}

/// API Gateway HTTP API on `listener`, routing each request to the most specific
/// matching route's function. The local stack's own `POST /_local/schedules/{id}`
/// plays one of the template's `Schedule` events now, at the event `time` the body
/// gives (`{"time": "…"}`, default now): a scheduled function's clock is its event's
/// time, so a test or the demo can run the closer as if hours had passed.
/// API Gateway's payload limit (HTTP API): 10 MB.
const API_GATEWAY_MAX_PAYLOAD: usize = 10 * 1024 * 1024;

pub async fn http_api(
    listener: tokio::net::TcpListener,
    routes: Vec<Route>,
    schedules: HashMap<String, Function>,
    console: std::path::PathBuf,
) {
    let schedules = Arc::new(schedules);
    let console = Arc::new(console);
    let (index, files) = (console.clone(), console);
    let app = Router::new()
        // The web console's built files (console/dist), from the API's own origin.
        .route(
            "/console",
            get(|| async { axum::response::Redirect::permanent("/console/") }),
        )
        .route(
            "/console/",
            get(move || {
                let dir = index.clone();
                async move { console_file(&dir, "index.html").await }
            }),
        )
        .route(
            "/console/{*file}",
            get(move |Path(file): Path<String>| {
                let dir = files.clone();
                async move { console_file(&dir, &file).await }
            }),
        )
        .route(
            "/_local/schedules/{id}",
            post(move |Path(id): Path<String>, body: Bytes| {
                let schedules = schedules.clone();
                async move { play_schedule(&schedules, &id, &body).await }
            }),
        )
        .fallback(gateway)
        .with_state(Arc::new(routes))
        // API Gateway (HTTP API) takes payloads up to 10 MB and hands them to the
        // function, which answers for itself (the API's 413 over 2 MiB). axum's own
        // 2 MB default would refuse first, and close while the client still writes.
        .layer(axum::extract::DefaultBodyLimit::max(
            API_GATEWAY_MAX_PAYLOAD,
        ));
    let _ = axum::serve(listener, app).await;
}

/// One of the console's built files (no path outside its folder), with its type; 404
/// for anything else.
async fn console_file(dir: &std::path::Path, file: &str) -> Response {
    if file.split('/').any(|p| p.is_empty() || p.starts_with('.')) {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    }
    let kind = match file.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    match tokio::fs::read(dir.join(file)).await {
        Ok(bytes) => (
            StatusCode::OK,
            [
                (axum::http::header::CONTENT_TYPE, kind),
                (axum::http::header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            "no such file (is the console built? make setup)",
        )
            .into_response(),
    }
}

/// An EventBridge scheduled event, as Lambda receives it.
pub fn scheduled_event(rule: &str, time: &str) -> Value {
    json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string().to_lowercase(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": time,
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:000000000000:rule/{rule}")],
        "detail": {}
    })
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn play_schedule(schedules: &HashMap<String, Function>, id: &str, body: &[u8]) -> Response {
    let Some(f) = schedules.get(id) else {
        return (StatusCode::NOT_FOUND, "no scheduled function of that name").into_response();
    };
    let asked: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let at = match asked.get("time").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None => now_rfc3339(),
    };
    match f.invoke(scheduled_event(id, &at)).await {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// Plays a `Schedule` event's `rate(…)` for as long as the stack runs.
pub async fn schedule(id: String, every: Duration, function: Function) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = function.invoke(scheduled_event(&id, &now_rfc3339())).await {
            eprintln!("pregon-local: {id}: scheduled run failed: {e:#}");
        }
    }
}

/// `rate(1 minute)`, `rate(5 minutes)`, `rate(2 hours)`, `rate(1 day)`.
pub fn parse_rate(expr: &str) -> Option<Duration> {
    let inner = expr.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3_600,
        "day" | "days" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(n * secs))
}

async fn gateway(
    State(routes): State<Arc<Vec<Route>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut hs = serde_json::Map::new();
    for (k, v) in &headers {
        hs.insert(
            k.as_str().to_lowercase(),
            Value::from(v.to_str().unwrap_or_default()),
        );
    }
    let path = uri.path().to_string();
    let Some(route) = routes
        .iter()
        .filter_map(|r| Some((r.matches(&method, &path)?, r)))
        .max_by_key(|(score, _)| *score)
        .map(|(_, r)| r)
    else {
        return (StatusCode::NOT_FOUND, "{\"message\":\"Not Found\"}").into_response();
    };
    let f = &route.function;
    let route_key = format!("{} {}", route.method, route.path);
    let raw_query = uri.query().unwrap_or_default().to_string();
    let mut query = serde_json::Map::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query.insert(
            pregon::text::percent_decode(k),
            Value::from(pregon::text::percent_decode(v)),
        );
    }
    let now = time::OffsetDateTime::now_utc();
    let event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": hs,
        "queryStringParameters": query,
        "pathParameters": {"proxy": path.trim_start_matches('/')},
        "requestContext": {
            "accountId": crate::template::ACCOUNT,
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {"method": method.as_str(), "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("")},
            "requestId": ulid::Ulid::new().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.to_string(),
            "timeEpoch": (now.unix_timestamp_nanos() / 1_000_000) as i64
        },
        "body": base64::engine::general_purpose::STANDARD.encode(&body),
        "isBase64Encoded": true
    });
    match f.invoke(event).await {
        Ok(r) => {
            let status = r["statusCode"].as_u64().unwrap_or(502) as u16;
            let body = match (r["body"].as_str(), r["isBase64Encoded"].as_bool()) {
                (Some(b), Some(true)) => base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .unwrap_or_default(),
                (Some(b), _) => b.as_bytes().to_vec(),
                (None, _) => Vec::new(),
            };
            let mut resp = Response::builder().status(status);
            if let Some(h) = r["headers"].as_object() {
                for (k, v) in h {
                    if let Some(v) = v.as_str() {
                        resp = resp.header(k, v);
                    }
                }
            }
            resp.body(axum::body::Body::from(body))
                .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(e) => {
            eprintln!("pregon-local: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"message":"Internal Server Error"}"#,
            )
                .into_response()
        }
    }
}

/// Messages a mapping's pollers received and have not yet handed to an invocation.
/// Batches are drawn from it at random, so one batch mixes producers (campaigns,
/// tenants, single messages) as a busy standard queue's batches do in SQS; fauxqs hands
/// out the oldest messages first, which keeps one campaign's jobs together.
pub type Pool = Arc<std::sync::Mutex<Vec<(std::time::Instant, aws_sdk_sqs::types::Message)>>>;

/// A message waits in the pool at most this long before it is taken first.
const POOL_WAIT: Duration = Duration::from_secs(2);

/// Up to `n` messages of the pool: those that have waited [`POOL_WAIT`] first, then a
/// random draw.
fn draw(pool: &Pool, n: usize) -> Vec<aws_sdk_sqs::types::Message> {
    use rand::Rng;
    let mut p = pool.lock().expect("pool");
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() && out.len() < n {
        if p[i].0.elapsed() >= POOL_WAIT {
            out.push(p.swap_remove(i).1);
        } else {
            i += 1;
        }
    }
    let mut rng = rand::rng();
    while out.len() < n && !p.is_empty() {
        let at = rng.random_range(0..p.len());
        out.push(p.swap_remove(at).1);
    }
    out
}

/// The SQS event source mapping: poll, invoke with a real `SqsEvent`, delete what
/// succeeded, leave `batchItemFailures` (and everything, if the function failed) to
/// come back after the visibility timeout — and reach the DLQ after maxReceiveCount.
/// The mapping's pollers (one per concurrent invocation) share one [`Pool`].
pub async fn sqs_mapping(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    batch: i32,
    function: Function,
    pool: Pool,
) {
    let batch = batch.clamp(1, 10) as usize;
    loop {
        // Keep about two batches on hand to draw from.
        let on_hand = pool.lock().expect("pool").len();
        if on_hand < 2 * batch {
            let out = sqs
                .receive_message()
                .queue_url(&queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(if on_hand == 0 { 1 } else { 0 })
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await;
            match out {
                Ok(o) => {
                    let now = std::time::Instant::now();
                    pool.lock()
                        .expect("pool")
                        .extend(o.messages.unwrap_or_default().into_iter().map(|m| (now, m)));
                }
                Err(e) => {
                    eprintln!("pregon-local: receive from {queue_url}: {e:?}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let messages = draw(&pool, batch);
        if messages.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attrs: serde_json::Map<String, Value> = m
                    .attributes
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_string(), Value::from(v)))
                    .collect();
                json!({
                    "messageId": m.message_id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": attrs,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": crate::template::REGION
                })
            })
            .collect();
        let failed: Option<Vec<String>> = match function.invoke(json!({ "Records": records })).await
        {
            Ok(resp) => Some(
                resp["batchItemFailures"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|f| f["itemIdentifier"].as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            Err(e) => {
                eprintln!("pregon-local: {e}");
                None
            }
        };
        let Some(failed) = failed else { continue };
        // What succeeded is deleted ten to a request, as Lambda's poller does.
        let done: Vec<_> = messages
            .iter()
            .filter(|m| {
                !failed
                    .iter()
                    .any(|f| Some(f.as_str()) == m.message_id.as_deref())
            })
            .filter_map(|m| m.receipt_handle.as_ref())
            .enumerate()
            .filter_map(|(i, h)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .build()
                    .ok()
            })
            .collect();
        for chunk in done.chunks(10) {
            let _ = sqs
                .delete_message_batch()
                .queue_url(&queue_url)
                .set_entries(Some(chunk.to_vec()))
                .send()
                .await;
        }
    }
}
