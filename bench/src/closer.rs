//! `pregon-bench closer [TICKETS]` (run by `make bench-closer` against a fresh local
//! stack; default 200,000): TICKETS unanswered campaign tickets all due in one hour
//! (written straight to the table as the sender writes them: ticket, due item, phone
//! pointer), due ten minutes ahead so that the stack's own once-a-minute closer runs do
//! not see them while they are written. Then closer runs are played back to back at a
//! clock an hour after the deadline until no due item is left (counted in the table,
//! not taken from the runs' answers: the stack's scheduled runs take turns with the
//! played ones, as they would in AWS). Reports each run (its answer, the items left,
//! seconds), the total time and closes per second, and the closer process's peak
//! memory (VmHWM). Bounded: at most 40 runs.

use pregon::model::{Ticket, TicketKind, TicketStatus};
use pregon_aws::store::Store;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Peak resident memory (kB) of the stack's closer processes.
fn closer_peak_kb(info: &Value) -> Vec<u64> {
    let ddb = info["endpoints"]["dynamodb"].as_str().unwrap_or_default();
    let want_name = "AWS_LAMBDA_FUNCTION_NAME=CloserFunction".to_string();
    let want_ddb = format!("AWS_ENDPOINT_URL_DYNAMODB={ddb}");
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
        if !(vars.contains(&want_name.as_bytes()) && vars.contains(&want_ddb.as_bytes())) {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        if let Some(kb) = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        {
            out.push(kb);
        }
    }
    out
}

pub fn run(tickets: usize) {
    let info = crate::stack::info();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let ddb = crate::stack::dynamodb(&info).await;
        let store = Arc::new(Store::new(ddb.clone(), info["table"].as_str().unwrap().to_string()));
        // Due in ten minutes, in one hour's partitions.
        let now = time::OffsetDateTime::now_utc();
        let due_time = now + time::Duration::minutes(10);
        let due = pregon::model::format_time(due_time);
        let created = pregon::model::format_time(now - time::Duration::hours(3));
        let tenant = "ten_bench_closer";
        let written = Instant::now();
        let batches: Vec<Vec<Ticket>> = (0..tickets)
            .collect::<Vec<_>>()
            .chunks(500)
            .map(|c| {
                c.iter()
                    .map(|i| Ticket {
                        id: format!("tk_bench{i:08}"),
                        tenant_id: tenant.into(),
                        kind: TicketKind::Campaign,
                        account_id: "acc_bench_closer".into(),
                        phone: format!("+56963{:06}", i % 1_000_000),
                        campaign_id: Some("cmp_bench_closer".into()),
                        message_id: None,
                        department: None,
                        status: TicketStatus::Open,
                        close_reason: None,
                        deadline: Some(due.clone()),
                        created_at: created.clone(),
                        updated_at: created.clone(),
                        last_activity_at: created.clone(),
                        replied_at: None,
                        attended_at: None,
                        closed_at: None,
                        attended_by: None,
                        closed_by: None,
                        expires_at: None,
                        reopened_from: None,
                    })
                    .collect()
            })
            .collect();
        let mut pending = batches.into_iter();
        let mut running = Vec::new();
        for _ in 0..8 {
            if let Some(b) = pending.next() {
                let s = store.clone();
                running.push(tokio::spawn(async move { s.open_tickets(&b).await }));
            }
        }
        while let Some(h) = running.pop() {
            h.await.unwrap().expect("tickets written");
            if let Some(b) = pending.next() {
                let s = store.clone();
                running.insert(0, tokio::spawn(async move { s.open_tickets(&b).await }));
            }
        }
        println!(
            "closer benchmark: {tickets} tickets due at {due}, written in {:.1} s",
            written.elapsed().as_secs_f64()
        );
        let http = reqwest::Client::new();
        let api = info["api_url"]
            .as_str()
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        let at = pregon::model::format_time(due_time + time::Duration::hours(1));
        let hour = due[..13].to_string();
        let table = info["table"].as_str().unwrap().to_string();
        let left = || async {
            let mut n = 0;
            for shard in 0..pregon::keys::DUE_SHARDS {
                let mut start = None;
                loop {
                    let res = ddb
                        .query()
                        .table_name(&table)
                        .key_condition_expression("pk = :pk")
                        .expression_attribute_values(
                            ":pk",
                            aws_sdk_dynamodb::types::AttributeValue::S(pregon::keys::due_pk(
                                &hour, shard,
                            )),
                        )
                        .select(aws_sdk_dynamodb::types::Select::Count)
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .expect("due items counted");
                    n += res.count as u64;
                    start = res.last_evaluated_key;
                    if start.is_none() {
                        break;
                    }
                }
            }
            n
        };
        let started = Instant::now();
        let mut runs = 0;
        let mut remaining = left().await;
        while runs < 40 {
            runs += 1;
            let t = Instant::now();
            let summary: Value = http
                .post(format!("{api}/_local/schedules/CloserFunction"))
                .json(&json!({ "time": at }))
                .timeout(Duration::from_secs(400))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or(Value::Null);
            remaining = left().await;
            println!(
                "  run {runs}: due {} closed {} unchanged {} in {:.1} s; {remaining} due items left",
                summary["due"],
                summary["no_reply"],
                summary["unchanged"],
                t.elapsed().as_secs_f64()
            );
            if remaining == 0 {
                break;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let closed = tickets as u64 - remaining;
        println!(
            "  closed {closed} of {tickets} in {secs:.1} s over {runs} runs = {:.0} closes/s",
            closed as f64 / secs
        );
        println!(
            "  closer process peak memory (VmHWM): {:?} kB",
            closer_peak_kb(&info)
        );
    });
}
