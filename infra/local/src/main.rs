//! `pregon-local up`: the local AWS stack on loopback.
//!
//! Starts DynamoDB Local and moto (installed by `infra/local/setup.sh` into `.cache/`) on
//! free 127.0.0.1 ports; creates the table, bucket, queues and S3 → SQS notification that
//! `template.yaml` declares; creates a demo tenant; runs every function of the template
//! from its own binary behind a local Lambda runtime API; plays API Gateway for HttpApi
//! events and the event source mapping for SQS events. Writes `.cache/local/stack.json`
//! when ready, and stops everything on Ctrl-C or SIGTERM.

mod clients;
mod count;
mod faults;
mod functions;
mod lambda;
mod proxy;
mod resources;
mod servers;
mod stack;
mod streams;
mod template;
mod tenant;

use anyhow::{bail, Result};
use clap::Parser;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use template::{Template, REGION};
use tokio::process::Child;

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

/// What stack.json holds: how the tests, the CLI and the demo reach the stack.
fn stack_info(
    stack_name: &str,
    api_url: &str,
    keys: &tenant::Keys,
    urls: &servers::Urls,
    stack: &stack::Stack,
    logs: &Path,
) -> serde_json::Value {
    let (ddb_url, moto_url, fauxqs_url) = (&urls.dynamodb, &urls.moto, &urls.fauxqs);
    json!({
        "stack_name": stack_name,
        "api_url": api_url,
        "console_url": format!("{api_url}/console/"),
        "demo_tenant": tenant::DEMO_TENANT,
        "demo_api_key": keys.demo,
        "admin_key": keys.admin,
        "region": REGION,
        "endpoints": {"dynamodb": ddb_url, "s3": moto_url, "sqs": moto_url, "sqs_jobs": fauxqs_url, "secretsmanager": moto_url, "ses": moto_url, "events": moto_url},
        "dynamodb_faults": format!("{ddb_url}/_pregon/faults"),
        "table": stack.table,
        "bucket": stack.bucket,
        "queues": stack.queue_urls,
        "event_bus": stack.event_bus,
        "logs": logs,
        "simulator_url": urls.simulator,
    })
}

/// Waits for Ctrl-C or SIGTERM, or for DynamoDB Local or moto to exit.
async fn until_stopped(dynamodb: &mut Child, moto: &mut Child) -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        s = dynamodb.wait() => eprintln!("pregon-local: DynamoDB Local exited: {s:?}"),
        s = moto.wait() => eprintln!("pregon-local: moto exited: {s:?}"),
    }
    Ok(())
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

    let srv = servers::start(&cache, &state, &logs).await?;
    let (mut dynamodb, mut moto, _fauxqs, _simulator) =
        (srv.dynamodb, srv.moto, srv.fauxqs, srv.simulator);
    let urls = srv.urls;
    let clients = clients::connect(&urls).await;
    clients::verify_report_domain(&clients.ses).await?;
    let tpl = Template::load(&root.join("template.yaml"))?;
    let stack = stack::create(&tpl, &stack_name, &clients).await?;
    let keys = tenant::create(&clients.ddb, &stack.table).await?;

    let api_listener = functions::api_listener(api_port).await?;
    let api_url = format!("http://{}", api_listener.local_addr()?);
    let functions::Running {
        routes,
        schedules,
        mut mappings,
        children,
    } = functions::start(&functions::Setup {
        tpl: &tpl,
        urls: &urls,
        clients: &clients,
        stack: &stack,
        logs: &logs,
        api_url: &api_url,
        admin_key: &keys.admin,
    })
    .await?;
    mappings.push(tokio::spawn(lambda::http_api(
        api_listener,
        routes,
        schedules,
        root.join("console/dist"),
    )));

    let info = stack_info(&stack_name, &api_url, &keys, &urls, &stack, &logs);
    let tmp = state.join("stack.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&info)?)?;
    std::fs::rename(&tmp, &stack_file)?;
    println!("pregon-local: stack is up ({})", stack_file.display());
    println!("  API:          {api_url}");
    println!("  console:      {api_url}/console/  (log in with an API key)");
    let (demo_key, admin_key) = (&keys.demo, &keys.admin);
    let (ddb_url, moto_url) = (&urls.dynamodb, &urls.moto);
    println!("  demo API key: {demo_key}");
    println!("  operator key: {admin_key}  (the /v1/admin routes; `pregon admin …`)");
    println!("  DynamoDB:     {ddb_url}   moto (S3, SQS, Secrets Manager): {moto_url}");
    println!("  logs:         {}", logs.display());

    until_stopped(&mut dynamodb, &mut moto).await?;
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
