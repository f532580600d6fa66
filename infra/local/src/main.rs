//! `pregon-local up`: the local AWS stack on loopback.
//!
//! Starts DynamoDB Local and moto (installed by `infra/local/setup.sh` into `.cache/`) on
//! free 127.0.0.1 ports; creates the table, bucket, queues and S3 → SQS notification that
//! `template.yaml` declares; creates a demo tenant; runs every function of the template
//! from its own binary behind a local Lambda runtime API; plays API Gateway for HttpApi
//! events and the event source mapping for SQS events. Writes `.cache/local/stack.json`
//! when ready, and stops everything on Ctrl-C or SIGTERM.

mod count;
mod faults;
mod lambda;
mod proxy;
mod resources;
mod servers;
mod streams;
mod template;

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use template::{prop, scalar, Names, Template, ACCOUNT, REGION};
use tokio::process::{Child, Command};

/// The domain the local stack verifies in SES for report emails.
const LOCAL_REPORT_DOMAIN: &str = "pregon.local";

#[derive(Parser)]
#[command(name = "pregon-local", about = "Pregón's local AWS stack")]
enum Cli {
    /// Start the stack and keep it running until interrupted.
    Up {
        /// Port for the tenant API (0: any free port).
        #[arg(long, default_value_t = 8750)]
        api_port: u16,
        /// Stack name used to resolve template names.
        #[arg(long, default_value = "pregon-local")]
        stack_name: String,
    },
}

fn root() -> PathBuf {
    std::env::var("PREGON_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .canonicalize()
                .expect("repo root")
        })
}

async fn free_port() -> Result<u16> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(l.local_addr()?.port())
}

async fn wait_for_port(port: u16, what: &str, child: &mut Child) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("{what} exited early ({status}); see .cache/local/logs/");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{what} did not listen on 127.0.0.1:{port} within 60 s")
}

/// Appends, so a restarted function's log follows its predecessor's.
fn log_file(dir: &Path, name: &str) -> Result<Stdio> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))?;
    Ok(Stdio::from(f))
}

#[tokio::main]
async fn main() -> Result<()> {
    let Cli::Up {
        api_port,
        stack_name,
    } = Cli::parse();
    let root = root();
    let cache = root.join(".cache");
    let state = cache.join("local");
    let logs = state.join("logs");
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs)?;
    let stack_file = state.join("stack.json");
    let _ = std::fs::remove_file(&stack_file);

    let status = std::process::Command::new("bash")
        .arg(root.join("infra/local/setup.sh"))
        .status()?;
    if !status.success() {
        bail!("infra/local/setup.sh failed");
    }

    // --- servers
    let srv = servers::start(&cache, &state, &logs).await?;
    let (mut dynamodb, mut moto, _fauxqs, _simulator) =
        (srv.dynamodb, srv.moto, srv.fauxqs, srv.simulator);
    let (ddb_url, moto_url, fauxqs_url, simulator_url) =
        (srv.ddb_url, srv.moto_url, srv.fauxqs_url, srv.simulator_url);

    // SDK clients for set-up: any credentials, one region.
    std::env::set_var("AWS_ACCESS_KEY_ID", "local");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "local");
    std::env::set_var("AWS_REGION", REGION);
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&shared)
            .endpoint_url(&ddb_url)
            .build(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&shared)
            .endpoint_url(&moto_url)
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&shared)
            .endpoint_url(&moto_url)
            .build(),
    );
    let jobs_sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&shared)
            .endpoint_url(&fauxqs_url)
            .build(),
    );

    // SES: the report emails' sender domain is a verified identity (in Lambda, the
    // deployer verifies theirs; REPORT_SENDER names it). Sent messages stay readable in
    // moto (`GET /moto-api/data.json`, ses → RawMessage).
    let ses = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(&shared)
            .endpoint_url(&moto_url)
            .build(),
    );
    ses.create_email_identity()
        .email_identity(LOCAL_REPORT_DOMAIN)
        .send()
        .await
        .context("creating the SES identity for report emails")?;

    // --- resources, from template.yaml
    let tpl = Template::load(&root.join("template.yaml"))?;
    let mut names = Names {
        stack: stack_name.clone(),
        ..Default::default()
    };
    for (id, r) in tpl.of_type("AWS::DynamoDB::Table") {
        let name = tpl.resolve(
            prop(r, "TableName").ok_or_else(|| anyhow!("{id}: no TableName"))?,
            &names,
        )?;
        let stream = resources::create_table(&ddb, &name, r)
            .await
            .with_context(|| format!("creating table {name}"))?;
        if let Some(arn) = stream {
            names.arns.insert(format!("{id}.StreamArn"), arn);
        }
        names.arns.insert(
            id.into(),
            format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"),
        );
        names.refs.insert(id.into(), name);
    }
    // A queue after the queue its redrive policy names (DLQs first, then chains).
    let mut queues: Vec<(&str, &serde_yaml::Value)> = Vec::new();
    let mut pending: Vec<(&str, &serde_yaml::Value)> = tpl.of_type("AWS::SQS::Queue").collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|(id, r)| {
            let target = prop(r, "RedrivePolicy")
                .and_then(|rp| rp.get("deadLetterTargetArn"))
                .and_then(template::getatt_resource);
            let ready = target.is_none_or(|t| queues.iter().any(|(q, _)| *q == t.as_str()));
            if ready {
                queues.push((id, r));
            }
            !ready
        });
        if pending.len() == before {
            bail!(
                "queues whose redrive policies form a cycle or name no queue: {:?}",
                pending.iter().map(|(id, _)| *id).collect::<Vec<_>>()
            );
        }
    }
    let mut queue_urls = HashMap::new();
    // S3 notifies moto's own SQS: the queues S3 notifies, and those they redrive to,
    // live in moto; every other queue (send jobs: volume) in fauxqs.
    let in_moto = template::s3_fed_queues(&tpl);
    let mut fauxqs_urls: Vec<String> = Vec::new();
    for (id, r) in queues {
        let on_moto = in_moto.contains(id);
        let sqs = if on_moto { &sqs } else { &jobs_sqs };
        let name = tpl.resolve(
            prop(r, "QueueName").ok_or_else(|| anyhow!("{id}: no QueueName"))?,
            &names,
        )?;
        let mut req = sqs.create_queue().queue_name(&name);
        if let Some(v) = prop(r, "VisibilityTimeout").and_then(scalar) {
            req = req.attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, v);
        }
        if let Some(v) = prop(r, "MessageRetentionPeriod").and_then(scalar) {
            req = req.attributes(
                aws_sdk_sqs::types::QueueAttributeName::MessageRetentionPeriod,
                v,
            );
        }
        if let Some(rp) = prop(r, "RedrivePolicy") {
            let dlq = tpl.resolve(
                rp.get("deadLetterTargetArn")
                    .ok_or_else(|| anyhow!("{id}: redrive without DLQ"))?,
                &names,
            )?;
            let max = rp
                .get("maxReceiveCount")
                .and_then(scalar)
                .unwrap_or_else(|| "3".into());
            let policy = json!({"deadLetterTargetArn": dlq, "maxReceiveCount": max}).to_string();
            req = req.attributes(
                aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                policy,
            );
        }
        let url = req
            .send()
            .await
            .with_context(|| format!("creating queue {name}"))?
            .queue_url
            .unwrap_or_default();
        // Each server names its queues' ARNs its own way: ask it.
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .ok()
            .and_then(|a| a.attributes)
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .unwrap_or_else(|| format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"));
        names.arns.insert(id.into(), arn);
        if !on_moto {
            fauxqs_urls.push(url.clone());
        }
        names.refs.insert(id.into(), url.clone());
        queue_urls.insert(id.to_string(), url);
    }
    let mut bucket_name = String::new();
    for (id, r) in tpl.of_type("AWS::S3::Bucket") {
        let name = tpl.resolve(
            prop(r, "BucketName").ok_or_else(|| anyhow!("{id}: no BucketName"))?,
            &names,
        )?;
        s3.create_bucket()
            .bucket(&name)
            .send()
            .await
            .with_context(|| format!("creating bucket {name}"))?;
        if let Some(n) = prop(r, "NotificationConfiguration") {
            resources::notify(&s3, &tpl, &names, &name, n)
                .await
                .with_context(|| format!("bucket {name} notifications"))?;
        }
        names.arns.insert(id.into(), format!("arn:aws:s3:::{name}"));
        names.refs.insert(id.into(), name.clone());
        bucket_name = name;
    }

    // EventBridge (moto): the template's buses. What is published stays readable the
    // way a tenant reads it: a rule on the bus to a queue (tests/webhooks.rs does).
    let events = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&shared)
            .endpoint_url(&moto_url)
            .build(),
    );
    let mut event_bus = String::new();
    for (id, r) in tpl.of_type("AWS::Events::EventBus") {
        let name = tpl.resolve(
            prop(r, "Name").ok_or_else(|| anyhow!("{id}: no Name"))?,
            &names,
        )?;
        let arn = events
            .create_event_bus()
            .name(&name)
            .send()
            .await
            .with_context(|| format!("creating event bus {name}"))?
            .event_bus_arn
            .unwrap_or_else(|| format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"));
        names.arns.insert(id.into(), arn);
        names.refs.insert(id.into(), name.clone());
        event_bus = name;
    }

    // --- demo tenant
    let table = names
        .refs
        .values()
        .find(|v| v.ends_with("-main"))
        .cloned()
        .unwrap_or_default();
    let store = pregon_aws::store::Store::new(ddb.clone(), table.clone());
    let demo_key = pregon::auth::new_api_key();
    // The operator's key for the `/v1/admin` routes (deployed: the AdminKeySha256
    // parameter); printed and written to stack.json, never a tenant's.
    let admin_key = pregon::auth::new_operator_key();
    store
        .create_tenant(
            "ten_demo",
            "Demo tenant",
            &pregon::auth::key_hash(&demo_key),
        )
        .await?;

    // --- functions
    let bin_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("no exe dir"))?;
    let mut children = Vec::new();
    // API Gateway: one listener for every HttpApi route, bound first so the functions
    // know the public URL providers call back (WEBHOOK_BASE_URL).
    let api_listener = match tokio::net::TcpListener::bind(("127.0.0.1", api_port)).await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    };
    let api_url = format!("http://{}", api_listener.local_addr()?);
    let mut routes = Vec::new();
    let mut schedules = HashMap::new();
    let mut mappings = Vec::new();
    for (id, r) in tpl.of_type("AWS::Serverless::Function") {
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
        let timeout = prop(r, "Timeout")
            .and_then(scalar)
            .and_then(|t| t.parse().ok())
            .unwrap_or(30u64);
        let function = lambda::function(
            id,
            Duration::from_secs(timeout),
            Some(logs.join(format!("{id}.log"))),
        );
        let mut env = tpl.function_env(r, &names)?;
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
            ("AWS_ENDPOINT_URL_DYNAMODB".into(), ddb_url.clone()),
            ("AWS_ENDPOINT_URL_S3".into(), moto_url.clone()),
            // The SQS server holding the queues this function names.
            (
                "AWS_ENDPOINT_URL_SQS".into(),
                if env.values().any(|v| fauxqs_urls.contains(v)) {
                    fauxqs_url.clone()
                } else {
                    moto_url.clone()
                },
            ),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER".into(), moto_url.clone()),
            ("AWS_ENDPOINT_URL_SESV2".into(), moto_url.clone()),
            ("AWS_ENDPOINT_URL_EVENTBRIDGE".into(), moto_url.clone()),
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
        env.insert("WEBHOOK_BASE_URL".into(), api_url.clone());
        if env.contains_key("ADMIN_KEY_SHA256") {
            env.insert(
                "ADMIN_KEY_SHA256".into(),
                pregon::auth::key_hash(&admin_key),
            );
        }
        if let Some(u) = &simulator_url {
            env.insert("PROVIDER_BASE_URL".into(), u.clone());
            env.insert("PREGON_ALLOW_HTTP_PROVIDERS".into(), "1".into());
        }
        let (exe, logs_dir, name) = (exe.clone(), logs.clone(), id.to_string());
        // Each process gets its own runtime API (its own address).
        let spawn = move |runtime_api: &str| -> Result<Child> {
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
        };
        // As many instances as the function's SQS sources may run at once (Lambda runs
        // many instances of a function): `ScalingConfig.MaximumConcurrency`, else 1.
        let instances = resources::max_concurrency(r);
        let spawn = std::sync::Arc::new(spawn);
        for _ in 0..instances {
            let first = function.instance().await?;
            let first_child = spawn(&first.addr)?;
            let supervised = function.clone();
            let spawn = spawn.clone();
            // Like Lambda, a crashed instance fails its invocation and a new process takes over.
            children.push(tokio::spawn(async move {
                let (mut instance, mut child) = (first, first_child);
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
            }));
        }
        // A queue by its ARN: the SQS server holding it, and its URL.
        let queue_of = |arn: &str| -> Result<(aws_sdk_sqs::Client, String)> {
            let queue_id = names
                .arns
                .iter()
                .find(|(_, a)| a.as_str() == arn)
                .map(|(k, _)| k.clone())
                .unwrap_or_default();
            let url = queue_urls
                .get(&queue_id)
                .cloned()
                .ok_or_else(|| anyhow!("{id}: unknown queue {arn}"))?;
            let client = if fauxqs_urls.contains(&url) {
                jobs_sqs.clone()
            } else {
                sqs.clone()
            };
            Ok((client, url))
        };
        let events = prop(r, "Events")
            .and_then(|e| e.as_mapping())
            .cloned()
            .unwrap_or_default();
        for (_, ev) in events {
            let kind = ev.get("Type").and_then(|t| t.as_str());
            let empty = serde_yaml::Value::Null;
            let props = ev.get("Properties").unwrap_or(&empty);
            // An event property the mapping needs, resolved; a number, or its default.
            let needed = |key: &str| -> Result<String> {
                let v = props
                    .get(key)
                    .ok_or_else(|| anyhow!("{id}: {} event without {key}", kind.unwrap_or("?")))?;
                tpl.resolve(v, &names)
            };
            let num = |key: &str, default: u64| {
                props
                    .get(key)
                    .and_then(scalar)
                    .and_then(|b| b.parse().ok())
                    .unwrap_or(default)
            };
            match kind {
                Some("SQS") => {
                    let arn = needed("Queue")?;
                    let (client, url) = queue_of(&arn)?;
                    let batch = num("BatchSize", 10) as i32;
                    // One poller per concurrent invocation the mapping allows, drawing
                    // batches from one pool.
                    let pool = lambda::Pool::default();
                    for _ in 0..resources::event_concurrency(props) {
                        mappings.push(tokio::spawn(lambda::sqs_mapping(
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
                    let stream_arn = needed("Stream")?;
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
                        Some(d) => Some(queue_of(&tpl.resolve(d, &names)?)?),
                        None => None,
                    };
                    mappings.push(tokio::spawn(streams::run(streams::Mapping {
                        dynamodb_url: ddb_url.clone(),
                        stream_arn,
                        batch: num("BatchSize", 100) as usize,
                        retries: num("MaximumRetryAttempts", 10) as u32,
                        filters,
                        on_failure,
                        function: function.clone(),
                    })));
                }
                Some("HttpApi") => {
                    let get = |k: &str| props.get(k).and_then(scalar);
                    routes.push(lambda::Route {
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
                    schedules.insert(id.to_string(), function.clone());
                    mappings.push(tokio::spawn(lambda::schedule(
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
    }

    mappings.push(tokio::spawn(lambda::http_api(
        api_listener,
        routes,
        schedules,
    )));
    let info = json!({
        "stack_name": stack_name,
        "api_url": api_url,
        "demo_tenant": "ten_demo",
        "demo_api_key": demo_key,
        "admin_key": admin_key,
        "region": REGION,
        "endpoints": {"dynamodb": ddb_url, "s3": moto_url, "sqs": moto_url, "sqs_jobs": fauxqs_url, "secretsmanager": moto_url, "ses": moto_url, "events": moto_url},
        "dynamodb_faults": format!("{ddb_url}/_pregon/faults"),
        "table": table,
        "bucket": bucket_name,
        "queues": queue_urls,
        "event_bus": event_bus,
        "logs": logs,
        "simulator_url": simulator_url,
    });
    let tmp = state.join("stack.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&info)?)?;
    std::fs::rename(&tmp, &stack_file)?;
    println!("pregon-local: stack is up ({})", stack_file.display());
    println!("  API:          {api_url}");
    println!("  demo API key: {demo_key}");
    println!("  operator key: {admin_key}  (the /v1/admin routes; `pregon admin …`)");
    println!("  DynamoDB:     {ddb_url}   moto (S3, SQS, Secrets Manager): {moto_url}");
    println!("  logs:         {}", logs.display());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        s = dynamodb.wait() => eprintln!("pregon-local: DynamoDB Local exited: {s:?}"),
        s = moto.wait() => eprintln!("pregon-local: moto exited: {s:?}"),
    }
    for m in mappings {
        m.abort();
    }
    // Dropping a supervisor drops its process handle, which kills the process.
    for c in children {
        c.abort();
        let _ = c.await;
    }
    let _ = dynamodb.kill().await;
    let _ = moto.kill().await;
    let _ = std::fs::remove_file(&stack_file);
    println!("pregon-local: stopped");
    Ok(())
}
