//! The servers of the local stack, on free 127.0.0.1 ports: DynamoDB Local, moto,
//! fauxqs, and the provider simulator when it is built; with `PREGON_COUNT_AWS=1`
//! the AWS ones behind counting proxies (`count.rs`); DynamoDB always behind the fault
//! switch (`faults.rs`).

use crate::{count, faults, free_port, log_file, wait_for_port};
use anyhow::{anyhow, bail, Context, Result};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

pub struct Servers {
    pub dynamodb: Child,
    pub moto: Child,
    pub fauxqs: Child,
    pub simulator: Option<Child>,
    pub urls: Urls,
}

/// Where the servers answer, as clients and functions reach them.
pub struct Urls {
    /// DynamoDB Local, through the fault switch.
    pub dynamodb: String,
    /// moto: S3, SQS (the queues S3 notifies), Secrets Manager, SES, EventBridge.
    pub moto: String,
    /// fauxqs: the other queues (send jobs).
    pub fauxqs: String,
    /// The provider simulator, when built.
    pub simulator: Option<String>,
}

pub async fn start(cache: &Path, state: &Path, logs: &Path) -> Result<Servers> {
    let ddb_port = free_port().await?;
    let emulator = cache.join("dynamodb-local/package/emulator");
    let classes = cache.join("dynamodb-local/classes");
    let mut dynamodb = Command::new("java")
        .current_dir(&emulator)
        .arg("-Djava.library.path=DynamoDBLocal_lib")
        .arg("-cp")
        .arg(format!(
            "DynamoDBLocal.jar:DynamoDBLocal_lib/*:{}",
            classes.display()
        ))
        .arg("LoopbackDynamoDB")
        .args([
            "-inMemory",
            "-disableTelemetry",
            "-port",
            &ddb_port.to_string(),
        ])
        .stdout(log_file(logs, "dynamodb")?)
        .stderr(log_file(logs, "dynamodb.err")?)
        .kill_on_drop(true)
        .spawn()
        .context("starting DynamoDB Local (java)")?;
    let moto_port = free_port().await?;
    let mut moto = Command::new(cache.join("venv/bin/moto_server"))
        .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
        .stdout(log_file(logs, "moto")?)
        .stderr(log_file(logs, "moto.err")?)
        .kill_on_drop(true)
        .spawn()
        .context("starting moto_server")?;
    let fauxqs_port = free_port().await?;
    let fauxqs_dir = cache.join("fauxqs");
    let mut fauxqs = Command::new(fauxqs_dir.join("node/bin/node"))
        .current_dir(&fauxqs_dir)
        .args([
            "--no-warnings",
            "--experimental-sqlite",
            "start.mjs",
            &fauxqs_port.to_string(),
        ])
        .stdout(log_file(logs, "fauxqs")?)
        .stderr(log_file(logs, "fauxqs.err")?)
        .kill_on_drop(true)
        .spawn()
        .context("starting fauxqs (node)")?;
    wait_for_port(ddb_port, "DynamoDB Local", &mut dynamodb).await?;
    wait_for_port(moto_port, "moto", &mut moto).await?;
    wait_for_port(fauxqs_port, "fauxqs", &mut fauxqs).await?;
    let mut fauxqs_url = format!("http://127.0.0.1:{fauxqs_port}");
    // The provider simulator, when built (target/<profile>/pregon-sim): the senders call it.
    let exe_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("no exe dir"))?;
    let sim_bin = exe_dir.join("pregon-sim");
    let (_simulator, simulator_url) = if sim_bin.exists() {
        let ready = state.join("simulator.url");
        let _ = std::fs::remove_file(&ready);
        let child = Command::new(&sim_bin)
            .args(["--port", "0", "--ready-file"])
            .arg(&ready)
            .stdout(log_file(logs, "simulator")?)
            .stderr(log_file(logs, "simulator.err")?)
            .kill_on_drop(true)
            .spawn()
            .context("starting pregon-sim")?;
        let start = Instant::now();
        let url = loop {
            if let Ok(u) = std::fs::read_to_string(&ready) {
                if !u.trim().is_empty() {
                    break u.trim().to_string();
                }
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("pregon-sim did not start in 30 s; see .cache/local/logs/simulator.err.log");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        (Some(child), Some(url))
    } else {
        (None, None)
    };
    let mut ddb_url = format!("http://127.0.0.1:{ddb_port}");
    let mut moto_url = format!("http://127.0.0.1:{moto_port}");
    // A benchmark of AWS requests puts every AWS server behind a counting proxy.
    if std::env::var("PREGON_COUNT_AWS").is_ok_and(|v| v == "1") {
        ddb_url = count::start(ddb_url).await?;
        moto_url = count::start(moto_url).await?;
        fauxqs_url = count::start(fauxqs_url).await?;
    }
    // Every DynamoDB request, the functions' and the tests', through the fault switch.
    ddb_url = faults::start(ddb_url).await?;
    Ok(Servers {
        dynamodb,
        moto,
        fauxqs,
        simulator: _simulator,
        urls: Urls {
            dynamodb: ddb_url,
            moto: moto_url,
            fauxqs: fauxqs_url,
            simulator: simulator_url,
        },
    })
}
