//! `pregon-bench crash [ROWS] [RATE] [KILLS]` (run by `make bench-crash` against a fresh
//! local stack; defaults 3000 150 6): issue 18's fault run, as a benchmark. A Twilio SMS
//! campaign of ROWS recipients at RATE msg/s, with Twilio's status callbacks on (the
//! simulator posts each accepted message's statuses to its `StatusCallback`). Once a
//! tenth has been accepted, every Twilio sender process is killed (SIGKILL) KILLS times,
//! 3 s apart. Then the campaign must end by itself (bounded: 15 minutes). Reports
//! recipients reached twice (must be 0), the messages that ended with an unknown
//! outcome (`outcome_unknown`, `not_sent`) and how many of those the provider had
//! accepted, and what the rest ended as.

use crate::stack::Ctx;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The processes of one function of the local stack whose DynamoDB endpoint is this
/// stack's (the runner gives each process its function's name in its environment).
fn function_pids(info: &Value, function: &str) -> Vec<u32> {
    let ddb = info["endpoints"]["dynamodb"].as_str().unwrap_or_default();
    let want_name = format!("AWS_LAMBDA_FUNCTION_NAME={function}");
    let want_ddb = format!("AWS_ENDPOINT_URL_DYNAMODB={ddb}");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
        if vars.contains(&want_name.as_bytes()) && vars.contains(&want_ddb.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

pub fn run(rows: usize, rate: u32, kills: usize) {
    let info = crate::stack::info();
    let ctx = Arc::new(Ctx::new(&info));
    assert!(!ctx.sim.is_empty(), "the simulator is built");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let post = reqwest::Method::POST;
        let acc = ctx
            .call(post.clone(), "/v1/accounts", Some(json!({"provider":"twilio","channel":"sms","sender":"+15550009901",
                "default_country":"CL","rate":rate,"credentials":{"account_sid":"AC_crash","auth_token":"crash-token"}})))
            .await;
        let tpl = ctx
            .call(post.clone(), "/v1/templates", Some(json!({"name":"crash","channel":"sms","body":"Hola {{1}}, su cuota vence hoy"})))
            .await;
        let phones: Vec<String> = (0..rows).map(|i| format!("+56963{i:06}")).collect();
        let mut csv = String::from("phone,nombre\n");
        for p in &phones {
            csv.push_str(&format!("{p},Ana\n"));
        }
        let c = ctx
            .call(post.clone(), "/v1/campaigns", Some(json!({"name":"crash","channel":"sms","account_id":acc["id"],
                "template_id":tpl["id"],"consent_confirmed":true,"upload_size":csv.len()})))
            .await;
        let id = c["id"].as_str().expect("a campaign").to_string();
        ctx.http
            .put(c["upload_url"].as_str().unwrap())
            .body(csv)
            .send()
            .await
            .unwrap();
        loop {
            let v = ctx
                .call(reqwest::Method::GET, &format!("/v1/campaigns/{id}"), None)
                .await;
            if v["status"] == "loaded" {
                break;
            }
            assert_ne!(v["status"], "invalid", "{v}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let accepted = |stats: &Value| -> BTreeMap<String, u64> {
            phones
                .iter()
                .map(|p| {
                    (
                        p.clone(),
                        stats["accepted_by_recipient"][p].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        };
        let sim_stats = || async {
            ctx.http
                .get(format!("{}/_sim/stats", ctx.sim))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        };
        let started = Instant::now();
        ctx.call(post.clone(), &format!("/v1/campaigns/{id}/send"), Some(json!({})))
            .await;
        loop {
            let n: u64 = accepted(&sim_stats().await).values().sum();
            if n as usize >= rows / 10 || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut killed = 0;
        for _ in 0..kills {
            for pid in function_pids(&info, "TwilioSenderFunction") {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
                killed += 1;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let done = loop {
            let v = ctx
                .call(reqwest::Method::GET, &format!("/v1/campaigns/{id}"), None)
                .await;
            if v["status"] != "sending" || started.elapsed() > Duration::from_secs(900) {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let ended = started.elapsed().as_secs_f64();
        // Statuses that came late settle messages further: a minute more.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let counts = accepted(&sim_stats().await);
        let messages = ctx.messages(&id).await;
        let mut by: BTreeMap<String, u64> = BTreeMap::new();
        let (mut unknown, mut unknown_taken) = (0u64, 0u64);
        for m in &messages {
            let code = m["error_code"].as_str().unwrap_or("");
            let key = if code.is_empty() {
                m["status"].as_str().unwrap_or("?").to_string()
            } else {
                format!("{} {code}", m["status"].as_str().unwrap_or("?"))
            };
            *by.entry(key).or_default() += 1;
            if code == "outcome_unknown" || code == "not_sent" {
                unknown += 1;
                unknown_taken += (counts[m["phone"].as_str().unwrap()] > 0) as u64;
            }
        }
        let twice = counts.values().filter(|n| **n > 1).count();
        let never = counts.values().filter(|n| **n == 0).count();
        println!("crash run: {rows} recipients at {rate} msg/s (Twilio, callbacks on), every sender process killed {kills} times 3 s apart ({killed} kills)");
        println!("  campaign                {} after {ended:.1} s", done["status"]);
        println!("  reached twice           {twice}");
        println!("  never accepted          {never}");
        println!("  unknown outcome         {unknown} (outcome_unknown or not_sent), of which the provider had accepted {unknown_taken}");
        println!("  ended as                {by:?}");
    });
}
