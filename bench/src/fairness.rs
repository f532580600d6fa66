//! `pregon-bench fairness ROWS MESSAGES` (run by `make bench-fairness` against a fresh
//! local stack): tenant A sends a campaign of ROWS recipients (default 20,000) on its own
//! Meta number at 2 msg/s while tenants B and C, each on its own number at 50 msg/s, send
//! MESSAGES single messages (default 200) one a second. Prints the latency of B's and C's
//! messages from the API call (`POST /v1/messages`) to the simulator's acceptance:
//! p50 / p95 / max. Goal (issue 18): p95 ≤ 3 s, max ≤ 10 s. A's campaign is cancelled at
//! the end: the benchmark stops by itself.

use crate::stack::{self, Ctx};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A new tenant of the stack with its own API key (as the operator's tenant creation
/// writes it).
async fn tenant(info: &Value, name: &str) -> Ctx {
    let store = pregon_aws::store::Store::new(
        stack::dynamodb(info).await,
        info["table"].as_str().unwrap().to_string(),
    );
    let key = pregon::auth::new_api_key();
    store
        .create_tenant(
            &pregon::model::new_id("ten"),
            name,
            &pregon::auth::key_hash(&key),
        )
        .await
        .unwrap();
    let mut ctx = Ctx::new(info);
    ctx.key = key;
    ctx
}

/// A Meta account on `sender` at `rate` and an approved one-parameter template;
/// (account, template).
async fn account(ctx: &Ctx, sender: &str, rate: u32) -> (String, String) {
    let post = reqwest::Method::POST;
    let acc = ctx.call(post.clone(), "/v1/accounts", Some(json!({"provider":"meta","channel":"whatsapp","sender":sender,"default_country":"CL","rate":rate,
        "credentials":{"access_token":"EAAtoken","app_secret":"secret","verify_token":"verify","phone_number_id":sender,"waba_id":format!("waba{sender}")}}))).await;
    let account = acc["id"].as_str().expect("an account").to_string();
    let tpl = ctx
        .call(
            post,
            "/v1/templates",
            Some(
                json!({"name":format!("fair_{sender}"),"channel":"whatsapp","language":"es",
        "category":"UTILITY","body":"Hola {{1}}","account_id":account}),
            ),
        )
        .await;
    let tpl = tpl["id"].as_str().expect("a template").to_string();
    for _ in 0..80 {
        let t = ctx
            .call(reqwest::Method::GET, &format!("/v1/templates/{tpl}"), None)
            .await;
        if t["status"] == "approved" {
            return (account, tpl);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("template not approved");
}

/// Sends `n` single messages one a second to `+5696{base + i}`; each phone and when it
/// was asked for (unix ms).
async fn singles(
    ctx: &Ctx,
    account: &str,
    template: &str,
    base: u64,
    n: usize,
) -> Vec<(String, i64)> {
    let mut asked = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let due = Duration::from_secs(i as u64);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let phone = format!("+5696{:07}", base + i as u64);
        let at = now_ms();
        let (status, body) = ctx
            .call_status(
                reqwest::Method::POST,
                "/v1/messages",
                Some(json!({"account_id": account, "phone": phone, "template_id": template, "params": ["Ana"]})),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        asked.push((phone, at));
    }
    asked
}

/// Each message's time from the API call to the simulator's acceptance (ms); `None`
/// when it was not accepted within `patience`.
async fn latencies(ctx: &Ctx, asked: &[(String, i64)], patience: Duration) -> Vec<Option<i64>> {
    let deadline = Instant::now() + patience;
    let mut out = vec![None; asked.len()];
    loop {
        for (i, (phone, at)) in asked.iter().enumerate() {
            if out[i].is_some() {
                continue;
            }
            let got: Value = ctx
                .http
                .get(format!(
                    "{}/_sim/messages?recipient=%2B{}",
                    ctx.sim,
                    &phone[1..]
                ))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or(Value::Null);
            out[i] = got
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .filter_map(|m| m["accepted_at_ms"].as_i64())
                        .find(|t| t >= at)
                })
                .map(|t| t - at);
        }
        if out.iter().all(Option::is_some) || Instant::now() > deadline {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn report(who: &str, lat: &[Option<i64>]) {
    let mut ok: Vec<i64> = lat.iter().flatten().copied().collect();
    ok.sort_unstable();
    let lost = lat.len() - ok.len();
    println!(
        "  {who}: {} messages  p50 {:>6} ms  p95 {:>6} ms  max {:>6} ms  not sent {lost}",
        lat.len(),
        percentile(&ok, 0.50),
        percentile(&ok, 0.95),
        ok.last().copied().unwrap_or(0),
    );
}

pub fn run(rows: usize, messages: usize) {
    let info = stack::info();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let a = tenant(&info, "fairness A").await;
        let b = tenant(&info, "fairness B").await;
        let c = tenant(&info, "fairness C").await;
        let (a_acc, a_tpl) = account(&a, "155519001", 2).await;
        let (b_acc, b_tpl) = account(&b, "155519002", 50).await;
        let (c_acc, c_tpl) = account(&c, "155519003", 50).await;
        let mut csv = String::from("phone,nombre\n");
        for i in 0..rows {
            csv.push_str(&format!("+5696{:07},Cliente\n", 5_000_000 + i));
        }
        let post = reqwest::Method::POST;
        let camp = a.call(post.clone(), "/v1/campaigns", Some(json!({"name":"backlog","channel":"whatsapp","account_id":a_acc,
            "template_id":a_tpl,"consent_confirmed":true,"upload_size":csv.len()}))).await;
        let id = camp["id"].as_str().expect("a campaign").to_string();
        a.http.put(camp["upload_url"].as_str().unwrap()).body(csv).send().await.unwrap();
        loop {
            let v = a.call(reqwest::Method::GET, &format!("/v1/campaigns/{id}"), None).await;
            if v["status"] == "loaded" {
                break;
            }
            assert_ne!(v["status"], "invalid", "{v}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        a.call(post.clone(), &format!("/v1/campaigns/{id}/send"), Some(json!({}))).await;
        // Let A's backlog build up on the queue first.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let started = Instant::now();
        let (b_asked, c_asked) = tokio::join!(
            singles(&b, &b_acc, &b_tpl, 6_000_000, messages),
            singles(&c, &c_acc, &c_tpl, 6_100_000, messages)
        );
        let (b_lat, c_lat) = tokio::join!(
            latencies(&b, &b_asked, Duration::from_secs(60)),
            latencies(&c, &c_asked, Duration::from_secs(60))
        );
        let during = started.elapsed();
        let v = a.call(reqwest::Method::GET, &format!("/v1/campaigns/{id}"), None).await;
        a.call(post, &format!("/v1/campaigns/{id}/cancel"), Some(json!({}))).await;
        let stats: Value = a.http.get(format!("{}/_sim/stats", a.sim)).send().await.unwrap().json().await.unwrap();
        println!("fairness benchmark: tenant A's {rows}-row campaign at 2 msg/s; tenants B and C send {messages} single messages each, one a second (own numbers, 50 msg/s)");
        println!("  latency from POST /v1/messages to the provider's acceptance:");
        report("B", &b_lat);
        report("C", &c_lat);
        println!(
            "  A meanwhile: status {}, progress {}, busiest second {} (rate 2), over {:.0} s",
            v["status"],
            v["progress"],
            stats["max_accepted_in_any_second"]["155519001"],
            during.as_secs_f64()
        );
    });
}
