//! `pregon campaign watch ID`: a live progress bar (indicatif) of a sending campaign —
//! sent, failed, blocked, queued and the rate — until it ends. Exit 0 when it ends
//! `completed`, 1 on any other end state (`completed_with_errors`, `error`, `cancelled`).

use crate::client::{Client, Failure};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::json;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const END_STATES: [&str; 4] = ["completed", "completed_with_errors", "error", "cancelled"];

pub async fn run(c: &Client, id: &str, as_json: bool) -> ExitCode {
    let path = format!("/v1/campaigns/{id}");
    let bar = if as_json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40.cyan/blue} {pos}/{len} {msg}",
        )
        .expect("template")
        .progress_chars("█▉▊▋▌▍▎▏ "),
    );
    let started = Instant::now();
    let mut first_sent: Option<(Instant, i64)> = None;
    loop {
        let v = match c.call(Method::GET, &path, None).await {
            Ok(v) => v,
            Err(Failure::Refused(status, body)) => {
                bar.abandon();
                eprintln!("pregon: the API answered {status}: {body}");
                return ExitCode::from(1);
            }
            Err(Failure::Io(e)) => {
                bar.abandon();
                eprintln!("pregon: {e}");
                return ExitCode::from(2);
            }
        };
        let status = v["status"].as_str().unwrap_or_default().to_string();
        let p = &v["progress"];
        let n = |k: &str| p[k].as_i64().unwrap_or(0);
        let total = v["counts"]["valid_rows"].as_u64().unwrap_or(0);
        let done = n("sent") + n("failed") + n("blocked") + n("skipped");
        let sent = n("sent");
        let first = *first_sent.get_or_insert((Instant::now(), sent));
        let secs = first.0.elapsed().as_secs_f64();
        let rate = if secs > 0.5 {
            (sent - first.1) as f64 / secs
        } else {
            0.0
        };
        if as_json {
            let line = json!({"status": status, "total": total, "sent": sent, "failed": n("failed"),
                "blocked": n("blocked"), "skipped": n("skipped"), "queued": n("queued"),
                "rate": (rate * 10.0).round() / 10.0, "elapsed": started.elapsed().as_secs_f64()});
            println!("{line}");
        } else {
            bar.set_length(total);
            bar.set_position(done.max(0) as u64);
            bar.set_message(format!(
                "{status} · sent {sent} · failed {} · blocked {} · queued {} · {rate:.0} msg/s",
                n("failed"),
                n("blocked"),
                n("queued")
            ));
        }
        if END_STATES.contains(&status.as_str()) {
            bar.finish();
            return if status == "completed" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            };
        }
        if !matches!(status.as_str(), "sending" | "scheduled" | "paused") {
            bar.abandon();
            eprintln!("pregon: the campaign is {status}: nothing is being sent (send it first)");
            return ExitCode::from(1);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
