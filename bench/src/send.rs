//! `pregon-bench send` (run by `make bench-send` against a fresh local stack): a campaign
//! of N recipients sent through the provider simulator, timed from `send` to
//! `completed`, with the simulator's own count of what it accepted per second.
//!
//! `pregon-bench send ROWS RATE LATENCY_MS` (defaults 20000 200 100).

use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub fn run(rows: usize, rate: u32, latency_ms: u64) {
    run_mode(rows, rate, latency_ms, false)
}

/// `pregon-bench dispatch ROWS`: the dispatch function alone, for a campaign whose
/// account may send one message a second (the senders stay nearly idle): its own time
/// to enqueue every recipient.
pub fn dispatch(rows: usize) {
    run_mode(rows, 1, 0, true)
}

fn run_mode(rows: usize, rate: u32, latency_ms: u64, dispatch_only: bool) {
    let stack_file =
        std::env::var("PREGON_STACK_FILE").expect("run under infra/local/with-stack.sh");
    let info: Value = serde_json::from_str(&std::fs::read_to_string(stack_file).unwrap()).unwrap();
    let api = info["api_url"].as_str().unwrap().to_string();
    let key = info["demo_api_key"].as_str().unwrap().to_string();
    let sim = info["simulator_url"]
        .as_str()
        .expect("the simulator is built")
        .to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let http = reqwest::Client::new();
        let call = |m: reqwest::Method, path: String, body: Option<Value>| {
            let mut r = http.request(m, format!("{api}{path}")).bearer_auth(&key);
            if let Some(b) = body {
                r = r.json(&b);
            }
            async move { r.send().await.unwrap().json::<Value>().await.unwrap_or(Value::Null) }
        };
        let sender = "15550009999";
        // The provider's own limit above ours, and its latency.
        http.post(format!("{sim}/_sim/senders")).json(&json!({"sender": sender, "rate": rate * 2})).send().await.unwrap();
        if latency_ms > 0 {
            http.post(format!("{sim}/_sim/rules")).json(&json!({"sender": sender, "latency_ms": latency_ms})).send().await.unwrap();
        }
        let acc = call(reqwest::Method::POST, "/v1/accounts".into(), Some(json!({"provider":"meta","channel":"whatsapp","sender":sender,
            "default_country":"CL","rate":rate,"credentials":{"access_token":"t","app_secret":"s","verify_token":"v","phone_number_id":sender,"waba_id":"wb"}}))).await;
        let tpl = call(reqwest::Method::POST, "/v1/templates".into(), Some(json!({"name":"bench_send","channel":"whatsapp","language":"es",
            "category":"UTILITY","body":"Hola {{1}}","account_id":acc["id"]}))).await;
        let tpl_id = tpl["id"].as_str().unwrap().to_string();
        for _ in 0..60 {
            if call(reqwest::Method::GET, format!("/v1/templates/{tpl_id}"), None).await["status"] == "approved" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let mut csv = String::from("phone,nombre\n");
        for i in 0..rows {
            csv.push_str(&format!("+5696{:07},Cliente\n", 3_000_000 + i));
        }
        let c = call(reqwest::Method::POST, "/v1/campaigns".into(), Some(json!({"name":"bench","channel":"whatsapp","account_id":acc["id"],
            "template_id":tpl_id,"consent_confirmed":true,"upload_size":csv.len()}))).await;
        let id = c["id"].as_str().unwrap().to_string();
        http.put(c["upload_url"].as_str().unwrap()).body(csv).send().await.unwrap();
        loop {
            let v = call(reqwest::Method::GET, format!("/v1/campaigns/{id}"), None).await;
            if v["status"] == "loaded" {
                break;
            }
            assert_ne!(v["status"], "invalid", "{v}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // With PREGON_COUNT_AWS=1 the stack's AWS servers sit behind counting proxies.
        let proxies: Vec<String> = ["dynamodb", "s3", "sqs_jobs"]
            .iter()
            .filter_map(|k| info["endpoints"][k].as_str().map(str::to_string))
            .collect();
        let counts_before = aws_counts(&http, &proxies).await;
        let started = Instant::now();
        call(reqwest::Method::POST, format!("/v1/campaigns/{id}/send"), Some(json!({}))).await;
        if dispatch_only {
            let logs = std::path::Path::new(info["logs"].as_str().unwrap()).join("DispatchFunction.log");
            let secs = loop {
                let text = std::fs::read_to_string(&logs).unwrap_or_default();
                let done = text
                    .lines()
                    .filter(|l| l.contains(&id) && l.contains("dispatch done"))
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["fields"]["seconds"].as_f64())
                    .next();
                if let Some(s) = done {
                    break s;
                }
                assert!(started.elapsed() < Duration::from_secs(600), "dispatch did not finish");
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            println!("dispatch benchmark: {rows} recipients (senders nearly idle: account rate 1/s)");
            println!("  dispatch (all enqueued, its own time)  {secs:.2} s  ({:.0} recipients/s)", rows as f64 / secs);
            return;
        }
        let mut dispatched = None;
        let v = loop {
            let v = call(reqwest::Method::GET, format!("/v1/campaigns/{id}"), None).await;
            let p = &v["progress"];
            let n = |k: &str| p[k].as_i64().unwrap_or(0);
            if dispatched.is_none() && n("queued") + n("sent") + n("failed") + n("blocked") >= rows as i64 {
                dispatched = Some(started.elapsed());
            }
            if ["completed", "completed_with_errors", "error"].contains(&v["status"].as_str().unwrap_or("")) {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let took = started.elapsed();
        let stats: Value = http.get(format!("{sim}/_sim/stats")).send().await.unwrap().json().await.unwrap();
        let by: Vec<u64> = (0..rows)
            .map(|i| stats["accepted_by_recipient"][format!("+5696{:07}", 3_000_000 + i)].as_u64().unwrap_or(0))
            .collect();
        let busiest = stats["max_accepted_in_any_second"][sender].as_u64().unwrap_or(0);
        let achieved = rows as f64 / took.as_secs_f64();
        println!("send benchmark: {rows} recipients, account rate {rate}/s, provider latency {latency_ms} ms");
        println!("  end state                 {}", v["status"]);
        println!("  send → end                {:>8.1} s", took.as_secs_f64());
        println!("  achieved rate             {achieved:>8.1} msg/s  ({:.2} of the rate)", achieved / rate as f64);
        println!("  busiest second (provider) {busiest:>8}      (rate {rate})");
        // The dispatch function logs its own time ("dispatch done", seconds).
        let logs = std::path::Path::new(info["logs"].as_str().unwrap()).join("DispatchFunction.log");
        let dispatch_secs = std::fs::read_to_string(logs)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&id) && l.contains("dispatch done"))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["fields"]["seconds"].as_f64())
            .sum::<f64>();
        let _ = dispatched;
        println!("  dispatch (all enqueued)   {dispatch_secs:>8.2} s  ({:.0} recipients/s)", rows as f64 / dispatch_secs.max(1e-9));
        println!("  accepted once / twice+ / never  {} / {} / {}", by.iter().filter(|n| **n == 1).count(),
            by.iter().filter(|n| **n > 1).count(), by.iter().filter(|n| **n == 0).count());
        println!("  progress                  {}", v["progress"]);
        if let (Some(before), Some(after)) = (counts_before, aws_counts(&http, &proxies).await) {
            print_counts(rows, took.as_secs_f64(), &before, &after);
        }
    });
}

type Counts = std::collections::BTreeMap<String, (u64, u64)>;

/// Requests and write units by `service.Action`, summed over the counting proxies;
/// `None` when the stack has none.
async fn aws_counts(http: &reqwest::Client, proxies: &[String]) -> Option<Counts> {
    let mut all = Counts::new();
    let mut seen = std::collections::HashSet::new();
    for p in proxies {
        if !seen.insert(p.clone()) {
            continue;
        }
        let v: Value = http
            .get(format!("{p}/_pregon/counts"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        for (k, n) in v["requests"].as_object()? {
            all.entry(k.clone()).or_default().0 += n.as_u64().unwrap_or(0);
        }
        for (k, n) in v["write_units"].as_object()? {
            all.entry(k.clone()).or_default().1 += n.as_u64().unwrap_or(0);
        }
    }
    Some(all)
}

fn print_counts(rows: usize, secs: f64, before: &Counts, after: &Counts) {
    let per = 1000.0 / rows as f64;
    println!("  AWS requests from send to end, per 1,000 recipients (counting proxies):");
    let (mut total, mut idle, mut units) = (0.0, 0.0, 0.0);
    for (k, (n, w)) in after {
        let (n0, w0) = before.get(k).copied().unwrap_or((0, 0));
        let (n, w) = ((n - n0) as f64 * per, (w - w0) as f64 * per);
        if n == 0.0 {
            continue;
        }
        println!("    {k:<40} {n:>9.1}   write units {w:>8.1}");
        // (Stream reads are the DynamoDB event source's own, which Lambda does not
        // bill; empty polls are not per message.)
        if k.ends_with("(empty)") || k.starts_with("dynamodbstreams.") {
            idle += n;
        } else {
            total += n;
        }
        units += w;
    }
    println!(
        "    {:<40} {total:>9.1}   write units {units:>8.1}",
        "total (without polls)"
    );
    println!(
        "    {:<40} {idle:>9.1}   (event-source polls over {secs:.0} s: empty ones, and the table stream's reads)",
        "polls (ReceiveMessage empty, GetRecords)"
    );
}
