//! `pregon-bench webhook-flood [SECONDS] [FLOOD_CONCURRENCY] [LEGIT_RATE]` (run by
//! `make bench-webhook-flood` against a fresh local stack; defaults 20 32 70):
//!
//! For SECONDS, unsigned POSTs flood one Meta account's webhook URL (FLOOD_CONCURRENCY
//! in flight, as fast as they are answered), and, at the same time, another account's
//! campaign of SECONDS × LEGIT_RATE messages is sent at LEGIT_RATE msg/s with the
//! simulator's signed callbacks on (`sent`, `delivered`, `read`: three per message, so
//! about 3 × LEGIT_RATE callbacks/s). Reports the flood's rate and answers, the share
//! of the legitimate callbacks answered 2xx on their first attempt and in the end, and
//! whether every message reached `read` (applied). Bounded: the flood stops after
//! SECONDS, the wait for `read` after 120 s more.

use crate::stack::Ctx;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const APP_SECRET: &str = "bench-webhook-secret";

pub fn run(seconds: u64, flood_concurrency: usize, legit_rate: u32) {
    let info = crate::stack::info();
    let ctx = Arc::new(Ctx::new(&info));
    assert!(!ctx.sim.is_empty(), "the simulator is built");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        // The flooded account: its URL is real, the requests are not signed.
        let victim = ctx
            .call(reqwest::Method::POST, "/v1/accounts", Some(json!({"provider":"meta","channel":"whatsapp",
                "sender":"15550008821","default_country":"CL","rate":10,"credentials":{"access_token":"t",
                "app_secret":APP_SECRET,"verify_token":"v","phone_number_id":"15550008821","waba_id":"wb8821"}})))
            .await;
        let flood_url = victim["webhook_url"].as_str().expect("webhook_url").to_string();
        // The legitimate account: a campaign with the simulator's signed callbacks.
        let rows = (seconds as usize) * legit_rate as usize;
        let (_, id) = ctx.loaded("15550008822", rows, legit_rate, true).await;

        let stop = Arc::new(AtomicBool::new(false));
        let answers: Arc<Mutex<BTreeMap<u16, u64>>> = Arc::default();
        let body = json!({"object":"whatsapp_business_account","entry":[{"id":"wb8821","changes":[{"field":"messages",
            "value":{"metadata":{"phone_number_id":"15550008821"},"statuses":[{"id":"wamid.forged","status":"read",
            "timestamp":"1763800000","recipient_id":"56962000001"}]}}]}]})
        .to_string();
        let flood_started = Instant::now();
        let mut flooders = Vec::new();
        for _ in 0..flood_concurrency {
            let (ctx, stop, answers, url, body) = (
                ctx.clone(),
                stop.clone(),
                answers.clone(),
                flood_url.clone(),
                body.clone(),
            );
            flooders.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let status = match ctx
                        .http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await
                    {
                        Ok(r) => r.status().as_u16(),
                        Err(_) => 0,
                    };
                    *answers.lock().unwrap().entry(status).or_default() += 1;
                }
            }));
        }
        let legit_started = Instant::now();
        let sending = {
            let ctx = ctx.clone();
            let id = id.clone();
            tokio::spawn(async move { ctx.send_and_wait(&id).await })
        };
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for f in flooders {
            let _ = f.await;
        }
        let flood_secs = flood_started.elapsed().as_secs_f64();
        sending.await.unwrap();
        let sent_secs = legit_started.elapsed().as_secs_f64();
        // Applied: every message of the campaign reaches `read` (bounded wait).
        let deadline = Instant::now() + Duration::from_secs(120);
        let read = loop {
            let s = ctx
                .call(reqwest::Method::GET, &format!("/v1/campaigns/{id}/stats"), None)
                .await;
            let read = s["read"].as_u64().unwrap_or(0);
            if read as usize >= rows || Instant::now() > deadline {
                break read;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let callbacks: Value = ctx
            .http
            .get(format!("{}/_sim/callbacks", ctx.sim))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut first = (0u64, 0u64);
        let mut attempts = 0u64;
        for c in callbacks.as_array().into_iter().flatten() {
            if c["provider"] != "meta" || c["status"] == "inbound" {
                continue;
            }
            attempts += 1;
            let ok = c["http_status"].as_u64().is_some_and(|s| (200..300).contains(&s));
            if c["attempt"].as_u64() == Some(1) {
                first.0 += 1;
                first.1 += ok as u64;
            }
        }
        let answers = answers.lock().unwrap().clone();
        let flood_total: u64 = answers.values().sum();
        println!("webhook flood ({seconds} s, {flood_concurrency} unsigned requests in flight at one account's URL)");
        println!(
            "  flood: {flood_total} requests in {flood_secs:.1} s = {:.0}/s; answers {answers:?} (0 = no answer)",
            flood_total as f64 / flood_secs
        );
        println!(
            "  legitimate: {rows} messages at {legit_rate} msg/s to another account, sent in {sent_secs:.1} s; {} signed callbacks ({:.0}/s), {} attempts in all",
            first.0,
            first.0 as f64 / sent_secs.max(1.0),
            attempts
        );
        println!(
            "  answered 2xx on the first attempt: {}/{} = {:.1} %",
            first.1,
            first.0,
            100.0 * first.1 as f64 / first.0.max(1) as f64
        );
        println!(
            "  applied: {read}/{rows} messages read = {:.1} %",
            100.0 * read as f64 / rows.max(1) as f64
        );
    });
}
