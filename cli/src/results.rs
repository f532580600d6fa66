//! `pregon campaign results ID [--format csv|xlsx] [-o FILE]`: asks for the campaign's
//! results file (SPEC §7), shows a spinner while the results function builds it, then
//! downloads it. Prints `{file, format, rows, bytes}`.

use crate::client::{Client, Failure};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long it waits for a build before giving up (a million rows take a few minutes).
const PATIENCE: Duration = Duration::from_secs(20 * 60);

pub async fn run(
    c: &Client,
    id: &str,
    format: &str,
    out: Option<PathBuf>,
) -> Result<Value, Failure> {
    let path = format!("/v1/campaigns/{id}/results?format={format}");
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}").expect("template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(format!("building the {format} results of {id}…"));
    let started = Instant::now();
    let ready = loop {
        let v = match c.call(Method::GET, &path, None).await {
            Ok(v) => v,
            Err(e) => {
                bar.finish_and_clear();
                return Err(e);
            }
        };
        if v["status"] == "ready" {
            break v;
        }
        if started.elapsed() > PATIENCE {
            bar.finish_and_clear();
            return Err(Failure::Io(format!(
                "the results were not ready after {} minutes",
                PATIENCE.as_secs() / 60
            )));
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    };
    bar.set_message("downloading…");
    let url = ready["url"].as_str().unwrap_or_default();
    let bytes = reqwest::get(url)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| Failure::Io(format!("download failed: {e}")))?
        .bytes()
        .await
        .map_err(|e| Failure::Io(format!("download failed: {e}")))?;
    let file = out.unwrap_or_else(|| PathBuf::from(format!("{id}.{format}")));
    std::fs::write(&file, &bytes)
        .map_err(|e| Failure::Io(format!("cannot write {}: {e}", file.display())))?;
    bar.finish_and_clear();
    Ok(
        json!({"file": file.display().to_string(), "format": format, "rows": ready["rows"], "bytes": bytes.len()}),
    )
}
