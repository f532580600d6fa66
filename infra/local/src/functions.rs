//! Starting the template's functions: every `AWS::Serverless::Function` from its own
//! binary behind a local Lambda runtime API, with the environment Lambda would give it
//! (pointed at the local servers), as many supervised instances as it may run at once,
//! and its events wired: SQS and DynamoDB stream mappings, HttpApi routes, schedules.

use crate::clients::{Clients, LOCAL_REPORT_DOMAIN};
use crate::servers::Urls;
use crate::stack::Stack;
use crate::template::{prop, scalar, Template, REGION};
use crate::{lambda, log_file, resources, streams};
use anyhow::{anyhow, bail, Context, Result};
use serde_yaml::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// What starting the functions needs from the steps before.
pub struct Setup<'a> {
    pub tpl: &'a Template,
    pub urls: &'a Urls,
    pub clients: &'a Clients,
    pub stack: &'a Stack,
    /// Where each function's output and `REPORT` lines go.
    pub logs: &'a Path,
    /// The API's public URL, which providers call back (WEBHOOK_BASE_URL).
    pub api_url: &'a str,
    /// The operator's key: functions that check it get its hash.
    pub admin_key: &'a str,
}

/// What runs once the functions are started.
#[derive(Default)]
pub struct Running {
    /// The HttpApi routes, for the API Gateway.
    pub routes: Vec<lambda::Route>,
    /// The scheduled functions by id, for the gateway's `POST /_local/schedules/{id}`.
    pub schedules: HashMap<String, lambda::Function>,
    /// The event source mappings and the schedules.
    pub mappings: Vec<JoinHandle<()>>,
    /// One supervisor per instance; aborting one drops its process handle, which kills
    /// the process.
    pub children: Vec<JoinHandle<()>>,
}

/// API Gateway: one listener for every HttpApi route, bound first so the functions
/// know the public URL providers call back (WEBHOOK_BASE_URL). On `port`, else on any
/// free port.
pub async fn api_listener(port: u16) -> Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => Ok(l),
        Err(_) => Ok(tokio::net::TcpListener::bind("127.0.0.1:0").await?),
    }
}

/// Starts every function of the template, in template order.
pub async fn start(s: &Setup<'_>) -> Result<Running> {
    let bin_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("no exe dir"))?;
    let mut running = Running::default();
    for (id, r) in s.tpl.of_type("AWS::Serverless::Function") {
        let exe = executable(id, r, &bin_dir)?;
        let timeout = prop(r, "Timeout")
            .and_then(scalar)
            .and_then(|t| t.parse().ok())
            .unwrap_or(30u64);
        let function = lambda::function(
            id,
            Duration::from_secs(timeout),
            Some(s.logs.join(format!("{id}.log"))),
        );
        let env = environment(s, id, r)?;
        let spawn = spawner(exe, env, s.logs.to_path_buf(), id.to_string());
        // As many instances as the function's SQS sources may run at once (Lambda runs
        // many instances of a function): `ScalingConfig.MaximumConcurrency`, else 1.
        let instances = resources::max_concurrency(r);
        supervise(&function, spawn, instances, &mut running.children).await?;
        wire_events(s, id, r, &function, &mut running)?;
    }
    Ok(running)
}

/// The function's binary (`Metadata.BuildProperties.Binary`), next to this one.
fn executable(id: &str, r: &Value, bin_dir: &Path) -> Result<PathBuf> {
    let binary = r
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(scalar)
        .ok_or_else(|| anyhow!("{id}: Metadata.BuildProperties.Binary is missing"))?;
    let exe = bin_dir.join(&binary);
    if !exe.exists() {
        bail!("{} is not built (cargo build --workspace)", exe.display());
    }
    Ok(exe)
}

/// The function's environment: the template's variables, then what Lambda sets, with
/// every AWS endpoint on the local servers, then the local stack's own values.
fn environment(s: &Setup, id: &str, r: &Value) -> Result<BTreeMap<String, String>> {
    let urls = s.urls;
    let mut env = s.tpl.function_env(r, &s.stack.names)?;
    env.extend([
        ("AWS_LAMBDA_FUNCTION_NAME".to_string(), id.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            prop(r, "MemorySize")
                .and_then(scalar)
                .unwrap_or_else(|| "512".into()),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{id}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), "local".into()),
        ("AWS_REGION".into(), REGION.into()),
        ("AWS_ACCESS_KEY_ID".into(), "local".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
        ("AWS_ENDPOINT_URL_DYNAMODB".into(), urls.dynamodb.clone()),
        ("AWS_ENDPOINT_URL_S3".into(), urls.moto.clone()),
        // The SQS server holding the queues this function names.
        (
            "AWS_ENDPOINT_URL_SQS".into(),
            if env.values().any(|v| s.stack.fauxqs_urls.contains(v)) {
                urls.fauxqs.clone()
            } else {
                urls.moto.clone()
            },
        ),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), urls.moto.clone()),
        ("AWS_ENDPOINT_URL_SESV2".into(), urls.moto.clone()),
        ("AWS_ENDPOINT_URL_EVENTBRIDGE".into(), urls.moto.clone()),
    ]);
    if std::env::var("PREGON_NO_EVENTS").is_ok_and(|v| v == "1") {
        // Benchmarks: the request path without EventBridge (moto) calls.
        env.insert("EVENT_BUS_NAME".into(), String::new());
    }
    if env.get("REPORT_SENDER").is_some_and(|v| v.is_empty()) {
        env.insert(
            "REPORT_SENDER".into(),
            format!("reports@{LOCAL_REPORT_DOMAIN}"),
        );
    }
    env.insert("WEBHOOK_BASE_URL".into(), s.api_url.to_string());
    if env.contains_key("ADMIN_KEY_SHA256") {
        env.insert(
            "ADMIN_KEY_SHA256".into(),
            pregon::auth::key_hash(s.admin_key),
        );
    }
    if let Some(u) = &urls.simulator {
        env.insert("PROVIDER_BASE_URL".into(), u.clone());
        env.insert("PREGON_ALLOW_HTTP_PROVIDERS".into(), "1".into());
    }
    Ok(env)
}

/// Starts one process of the function on the runtime API it is given: its binary with
/// its environment only (and PATH, TMPDIR), its output appended to its logs. Each
/// process gets its own runtime API (its own address).
fn spawner(
    exe: PathBuf,
    env: BTreeMap<String, String>,
    logs_dir: PathBuf,
    name: String,
) -> impl Fn(&str) -> Result<Child> + Send + Sync + 'static {
    move |runtime_api: &str| -> Result<Child> {
        Command::new(&exe)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TMPDIR", std::env::temp_dir())
            .envs(&env)
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .stdout(log_file(&logs_dir, &name)?)
            .stderr(log_file(&logs_dir, &format!("{name}.err"))?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))
    }
}

/// Starts `instances` processes of the function, each on a runtime API of its own,
/// each watched by a supervisor pushed to `children`.
async fn supervise<S>(
    function: &lambda::Function,
    spawn: S,
    instances: usize,
    children: &mut Vec<JoinHandle<()>>,
) -> Result<()>
where
    S: Fn(&str) -> Result<Child> + Send + Sync + 'static,
{
    let spawn = Arc::new(spawn);
    for _ in 0..instances {
        let first = function.instance().await?;
        let first_child = spawn(&first.addr)?;
        children.push(tokio::spawn(restart_on_exit(
            function.clone(),
            spawn.clone(),
            first,
            first_child,
        )));
    }
    Ok(())
}

/// Like Lambda, a crashed instance fails its invocation and a new process takes over.
/// Runs until a new instance cannot be started.
async fn restart_on_exit<S>(
    supervised: lambda::Function,
    spawn: Arc<S>,
    mut instance: lambda::Instance,
    mut child: Child,
) where
    S: Fn(&str) -> Result<Child>,
{
    loop {
        let status = child.wait().await;
        let why = format!("{} exited ({status:?})", supervised.name);
        eprintln!("pregon-local: {why}; starting it again");
        instance.died(&why).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let next = match supervised.instance().await {
            Ok(i) => i,
            Err(e) => {
                eprintln!("pregon-local: {e:#}");
                return;
            }
        };
        child = match spawn(&next.addr) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("pregon-local: {e:#}");
                return;
            }
        };
        instance = next;
    }
}

/// One of a function's events, as its mapping reads it.
struct Event<'a> {
    /// The function's logical id, for errors.
    id: &'a str,
    kind: Option<&'a str>,
    props: &'a Value,
}

impl Event<'_> {
    /// An event property the mapping needs, resolved.
    fn needed(&self, s: &Setup, key: &str) -> Result<String> {
        let v = self.props.get(key).ok_or_else(|| {
            anyhow!(
                "{}: {} event without {key}",
                self.id,
                self.kind.unwrap_or("?")
            )
        })?;
        s.tpl.resolve(v, &s.stack.names)
    }

    /// A number property, or its default.
    fn num(&self, key: &str, default: u64) -> u64 {
        self.props
            .get(key)
            .and_then(scalar)
            .and_then(|b| b.parse().ok())
            .unwrap_or(default)
    }
}

/// Wires the function's events: SQS pollers, DynamoDB stream readers, HttpApi routes,
/// schedules. An event type not played locally is reported and skipped.
fn wire_events(
    s: &Setup,
    id: &str,
    r: &Value,
    function: &lambda::Function,
    running: &mut Running,
) -> Result<()> {
    let events = prop(r, "Events")
        .and_then(|e| e.as_mapping())
        .cloned()
        .unwrap_or_default();
    for (_, ev) in events {
        let kind = ev.get("Type").and_then(|t| t.as_str());
        let empty = Value::Null;
        let props = ev.get("Properties").unwrap_or(&empty);
        let event = Event { id, kind, props };
        match kind {
            Some("SQS") => {
                let arn = event.needed(s, "Queue")?;
                let (client, url) = queue_of(s, id, &arn)?;
                let batch = event.num("BatchSize", 10) as i32;
                // One poller per concurrent invocation the mapping allows, drawing
                // batches from one pool.
                let pool = lambda::Pool::default();
                for _ in 0..resources::event_concurrency(props) {
                    running.mappings.push(tokio::spawn(lambda::sqs_mapping(
                        client.clone(),
                        url.clone(),
                        arn.clone(),
                        batch,
                        function.clone(),
                        pool.clone(),
                    )));
                }
            }
            Some("DynamoDB") => {
                let mapping = stream_mapping(s, &event, function)?;
                running.mappings.push(tokio::spawn(streams::run(mapping)));
            }
            Some("HttpApi") => {
                let get = |k: &str| props.get(k).and_then(scalar);
                running.routes.push(lambda::Route {
                    method: get("Method").unwrap_or_else(|| "ANY".into()),
                    path: get("Path").unwrap_or_else(|| "/{proxy+}".into()),
                    function: function.clone(),
                });
            }
            Some("Schedule") => {
                let expr = props.get("Schedule").and_then(scalar).unwrap_or_default();
                let every = lambda::parse_rate(&expr).ok_or_else(|| {
                    anyhow!("{id}: only rate(…) schedules are played locally, not {expr}")
                })?;
                running.schedules.insert(id.to_string(), function.clone());
                running.mappings.push(tokio::spawn(lambda::schedule(
                    id.to_string(),
                    every,
                    function.clone(),
                )));
            }
            Some(other) => {
                eprintln!("pregon-local: {id}: event type {other} is not played locally yet")
            }
            None => {}
        }
    }
    Ok(())
}

/// A DynamoDB event's stream mapping: its stream, batch size, retries, filter
/// patterns, and the queue a batch that keeps failing goes to.
fn stream_mapping(
    s: &Setup,
    event: &Event,
    function: &lambda::Function,
) -> Result<streams::Mapping> {
    let (id, props) = (event.id, event.props);
    let stream_arn = event.needed(s, "Stream")?;
    let filters = props
        .get("FilterCriteria")
        .and_then(|f| f.get("Filters"))
        .and_then(|f| f.as_sequence())
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f.get("Pattern").and_then(scalar))
        .map(|p| serde_json::from_str(&p))
        .collect::<Result<Vec<serde_json::Value>, _>>()
        .with_context(|| format!("{id}: a FilterCriteria pattern is not JSON"))?;
    let on_failure = match props
        .get("DestinationConfig")
        .and_then(|d| d.get("OnFailure"))
        .and_then(|o| o.get("Destination"))
    {
        Some(d) => Some(queue_of(s, id, &s.tpl.resolve(d, &s.stack.names)?)?),
        None => None,
    };
    Ok(streams::Mapping {
        dynamodb_url: s.urls.dynamodb.clone(),
        stream_arn,
        batch: event.num("BatchSize", 100) as usize,
        retries: event.num("MaximumRetryAttempts", 10) as u32,
        filters,
        on_failure,
        function: function.clone(),
    })
}

/// A queue by its ARN: the SQS server holding it, and its URL. `id`: the function
/// whose event names it, for errors.
fn queue_of(s: &Setup, id: &str, arn: &str) -> Result<(aws_sdk_sqs::Client, String)> {
    let queue_id = s
        .stack
        .names
        .arns
        .iter()
        .find(|(_, a)| a.as_str() == arn)
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    let url = s
        .stack
        .queue_urls
        .get(&queue_id)
        .cloned()
        .ok_or_else(|| anyhow!("{id}: unknown queue {arn}"))?;
    let client = if s.stack.fauxqs_urls.contains(&url) {
        s.clients.jobs_sqs.clone()
    } else {
        s.clients.sqs.clone()
    };
    Ok((client, url))
}
