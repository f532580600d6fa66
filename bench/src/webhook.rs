//! `pregon-bench webhook [MESSAGES] [CONCURRENCY] [CAMPAIGN]` (run by `make
//! bench-webhook` against a fresh local stack; defaults 2000 16 10000):
//!
//! 1. Signed Meta status callbacks (`delivered`, one status per POST, signed with the
//!    account's app secret, echoing `biz_opaque_callback_data` as Meta does) fired at the webhook with CONCURRENCY in flight, for
//!    MESSAGES messages of a campaign sent without callbacks: callbacks/s and p50/p99
//!    latency, beside a raw conditional `UpdateItem` (the same forward-only shape) on
//!    the same DynamoDB Local at the same concurrency.
//! 2. A CAMPAIGN-message campaign with the simulator's callbacks on: the time from
//!    `completed` until every message is `read`.

use crate::stack::Ctx;
use pregon::providers::meta::signature;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const APP_SECRET: &str = "bench-webhook-secret";

impl Ctx {
    /// An account on `sender` (its webhook registered with the simulator when
    /// `callbacks`), an approved template, and a sent campaign of `rows`, ended.
    async fn campaign(
        &self,
        sender: &str,
        rows: usize,
        rate: u32,
        callbacks: bool,
    ) -> (Value, String, f64) {
        let (acc, id) = self.loaded(sender, rows, rate, callbacks).await;
        let started = Instant::now();
        self.send_and_wait(&id).await;
        (acc, id, started.elapsed().as_secs_f64())
    }

    /// Sends a loaded campaign and waits until it is `completed` (at most 15 minutes).
    pub(crate) async fn send_and_wait(&self, id: &str) {
        let started = Instant::now();
        self.call(
            reqwest::Method::POST,
            &format!("/v1/campaigns/{id}/send"),
            Some(json!({})),
        )
        .await;
        loop {
            let v = self
                .call(reqwest::Method::GET, &format!("/v1/campaigns/{id}"), None)
                .await;
            if v["status"] == "completed" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(900),
                "the campaign did not end: {v}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// [`Ctx::campaign`] up to `loaded`: (the account, the campaign id).
    pub(crate) async fn loaded(
        &self,
        sender: &str,
        rows: usize,
        rate: u32,
        callbacks: bool,
    ) -> (Value, String) {
        let acc = self.call(reqwest::Method::POST, "/v1/accounts", Some(json!({"provider":"meta","channel":"whatsapp","sender":sender,
            "default_country":"CL","rate":rate,"credentials":{"access_token":"t","app_secret":APP_SECRET,"verify_token":"v","phone_number_id":sender,"waba_id":format!("wb{sender}")}}))).await;
        self.http
            .post(format!("{}/_sim/senders", self.sim))
            .json(&json!({"sender": sender, "rate": rate * 2}))
            .send()
            .await
            .unwrap();
        if callbacks {
            self.http.post(format!("{}/_sim/webhooks", self.sim))
                .json(&json!({"provider":"meta","sender":sender,"url":acc["webhook_url"],"app_secret":APP_SECRET}))
                .send().await.unwrap();
        }
        let tpl = self.call(reqwest::Method::POST, "/v1/templates", Some(json!({"name":format!("bench_hook_{sender}"),"channel":"whatsapp","language":"es",
            "category":"UTILITY","body":"Hola {{1}}","account_id":acc["id"]}))).await;
        let tpl_id = tpl["id"].as_str().unwrap().to_string();
        for _ in 0..60 {
            if self
                .call(
                    reqwest::Method::GET,
                    &format!("/v1/templates/{tpl_id}"),
                    None,
                )
                .await["status"]
                == "approved"
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let mut csv = String::from("phone,nombre\n");
        for i in 0..rows {
            csv.push_str(&format!(
                "+5696{}{:06},Cliente\n",
                &sender[sender.len() - 1..],
                i
            ));
        }
        let c = self
            .call(
                reqwest::Method::POST,
                "/v1/campaigns",
                Some(
                    json!({"name":"bench webhook","channel":"whatsapp","account_id":acc["id"],
            "template_id":tpl_id,"consent_confirmed":true,"upload_size":csv.len()}),
                ),
            )
            .await;
        let id = c["id"].as_str().unwrap().to_string();
        self.http
            .put(c["upload_url"].as_str().unwrap())
            .body(csv)
            .send()
            .await
            .unwrap();
        loop {
            let v = self
                .call(reqwest::Method::GET, &format!("/v1/campaigns/{id}"), None)
                .await;
            if v["status"] == "loaded" {
                break;
            }
            assert_ne!(v["status"], "invalid", "{v}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        (acc, id)
    }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs `n` jobs with `concurrency` in flight; each job's latency, and the wall time.
async fn timed<F, Fut>(n: usize, concurrency: usize, job: F) -> (Vec<Duration>, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let job = Arc::new(job);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (job, next) = (job.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return lat;
                }
                let t = Instant::now();
                job(i).await;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all.sort();
    (all, started.elapsed().as_secs_f64())
}

/// The `Duration` of each `REPORT` line the local runtime wrote to a function's log
/// (ms, from the runtime handing the function its event to the function's response).
fn durations(log: &std::path::Path) -> Vec<Duration> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("REPORT "))
        .filter_map(|l| {
            l.split("Duration: ")
                .nth(1)?
                .strip_suffix(" ms")?
                .parse()
                .ok()
        })
        .map(|ms: f64| Duration::from_secs_f64(ms / 1000.0))
        .collect()
}

/// One metric of each Embedded Metric Format line in a function's log (ms).
fn emf(log: &std::path::Path, metric: &str) -> Vec<Duration> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?.get(metric)?.as_f64())
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect()
}

pub fn run(messages: usize, concurrency: usize, campaign: usize) {
    let info = crate::stack::info();
    let ctx = Arc::new(Ctx::new(&info));
    assert!(!ctx.sim.is_empty(), "the simulator is built");
    let table = info["table"].as_str().unwrap().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        // 1. The handler, with no simulator callbacks competing.
        let (acc, id, _) = ctx.campaign("15550008801", messages, 500, false).await;
        let url = acc["webhook_url"].as_str().unwrap().to_string();
        let sender = "15550008801";
        let pmids: Arc<Vec<(String, String, String)>> = Arc::new(
            ctx.messages(&id)
                .await
                .into_iter()
                .map(|m| {
                    (
                        m["provider_message_id"].as_str().unwrap().to_string(),
                        m["id"].as_str().unwrap().to_string(),
                        m["phone"].as_str().unwrap().trim_start_matches('+').to_string(),
                    )
                })
                .collect(),
        );
        let n = pmids.len();
        let log = std::path::Path::new(info["logs"].as_str().unwrap()).join("WebhookFunction.log");
        let reports_before = durations(&log).len();
        let applies_before = emf(&log, "ApplyTime").len();
        let c2 = ctx.clone();
        let (p2, u2) = (pmids.clone(), url.clone());
        let (lat, wall) = timed(n, concurrency, move |i| {
            let (ctx, pmids, url) = (c2.clone(), p2.clone(), u2.clone());
            async move {
                let (pmid, ours, to) = &pmids[i];
                let body = json!({"object":"whatsapp_business_account","entry":[{"id":"wb","changes":[{"field":"messages","value":{
                    "messaging_product":"whatsapp","metadata":{"display_phone_number":sender,"phone_number_id":sender},
                    "statuses":[{"id":pmid,"status":"delivered","timestamp":"1763800000","recipient_id":to,"biz_opaque_callback_data":ours}]}}]}]})
                .to_string();
                let r = ctx.http.post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", signature(APP_SECRET, body.as_bytes()))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200, "the webhook refused a signed callback");
            }
        })
        .await;
        let mut handler = durations(&log).split_off(reports_before);
        handler.sort();
        let mut applying = emf(&log, "ApplyTime").split_off(applies_before);
        applying.sort();
        let delivered = ctx.messages(&id).await.iter().filter(|m| m["status"] == "delivered").count();

        // The same shape straight to DynamoDB Local: a conditional forward-only update.
        let ddb = crate::stack::dynamodb(&info).await;
        use aws_sdk_dynamodb::types::AttributeValue as Av;
        for chunk in (0..n).collect::<Vec<_>>().chunks(25) {
            let puts = chunk.iter().map(|i| {
                aws_sdk_dynamodb::types::WriteRequest::builder()
                    .put_request(aws_sdk_dynamodb::types::PutRequest::builder()
                        .item("pk", Av::S(format!("BENCHRAW#{i}"))).item("sk", Av::S("M".into()))
                        .item("status", Av::S("sent".into())).build().unwrap())
                    .build()
            }).collect::<Vec<_>>();
            ddb.batch_write_item().request_items(&table, puts).send().await.unwrap();
        }
        // The handler's own write, alone: the same library call (`apply_status`: the
        // forward-only conditional update with its fields, returning the old status)
        // from this process, on copies of the same message items (another campaign
        // id, status `sent`) — what the handler costs beyond its DynamoDB work.
        let store = pregon_aws::store::Store::new(ddb.clone(), table.clone());
        let raw_campaign = format!("{id}raw");
        for (_, ours, _) in pmids.iter() {
            let (t, c, gen, row) = pregon::sending::parse_message_id(ours).unwrap();
            let (pk, sk) = pregon::keys::recipient(t, c, gen, row);
            let mut item = ddb.get_item().table_name(&table).key("pk", Av::S(pk)).key("sk", Av::S(sk))
                .send().await.unwrap().item.expect("the message record");
            let (pk2, sk2) = pregon::keys::recipient(t, &raw_campaign, gen, row);
            item.insert("pk".into(), Av::S(pk2));
            item.insert("sk".into(), Av::S(sk2));
            item.insert("status".into(), Av::S("sent".into()));
            for k in ["delivered_at", "status_at", "status_move"] {
                item.remove(k);
            }
            ddb.put_item().table_name(&table).set_item(Some(item)).send().await.unwrap();
        }
        let (st2, p3, rc) = (Arc::new(store), pmids.clone(), raw_campaign.clone());
        let (same, same_wall) = timed(n, concurrency, move |i| {
            let (store, pmids, rc) = (st2.clone(), p3.clone(), rc.clone());
            async move {
                let (pmid, ours, _) = &pmids[i];
                let (t, _, gen, row) = pregon::sending::parse_message_id(ours).unwrap();
                let u = pregon::providers::inbound::StatusUpdate {
                    provider_message_id: pmid.clone(),
                    status: pregon::sending::MessageStatus::Delivered,
                    provider_status: "delivered".into(),
                    at: Some("2025-11-22T08:26:40Z".into()),
                    error_code: None,
                    error_message: None,
                    correlation: None,
                };
                let m = pregon::sending::message_id(t, &rc, gen, row);
                let a = store.apply_status(&m, &u, "2026-12-01T00:00:00Z").await.unwrap();
                assert!(matches!(a, pregon_aws::statuses::Applied::Moved { .. }), "{a:?}");
            }
        })
        .await;
        let (ddb2, table2) = (ddb.clone(), table.clone());
        let (raw, raw_wall) = timed(n, concurrency, move |i| {
            let (ddb, table) = (ddb2.clone(), table2.clone());
            async move {
                ddb.update_item().table_name(&table)
                    .key("pk", Av::S(format!("BENCHRAW#{i}"))).key("sk", Av::S("M".into()))
                    .update_expression("SET #st = :d, delivered_at = :at")
                    .condition_expression("#st IN (:p, :q, :s)")
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":d", Av::S("delivered".into()))
                    .expression_attribute_values(":at", Av::S("2026-12-01T00:00:00Z".into()))
                    .expression_attribute_values(":p", Av::S("pending".into()))
                    .expression_attribute_values(":q", Av::S("queued".into()))
                    .expression_attribute_values(":s", Av::S("sent".into()))
                    .send().await.unwrap();
            }
        })
        .await;
        println!("webhook benchmark: {n} signed Meta status callbacks (one status each), {concurrency} in flight");
        println!("  handler (HTTP → λ webhook)   {:>7.0} callbacks/s   p50 {:>6.1} ms   p99 {:>6.1} ms   ({delivered} of {n} messages delivered)",
            n as f64 / wall, percentile(&lat, 0.5), percentile(&lat, 0.99));
        println!("  the handler's write alone      {:>7.0} updates/s     p50 {:>6.1} ms   p99 {:>6.1} ms   (apply_status from here, same items)",
            n as f64 / same_wall, percentile(&same, 0.5), percentile(&same, 0.99));
        println!("  minimal conditional UpdateItem {:>7.0} updates/s     p50 {:>6.1} ms   p99 {:>6.1} ms   (3-attribute item, SET 2 fields)",
            n as f64 / raw_wall, percentile(&raw, 0.5), percentile(&raw, 0.99));
        println!("  handler duration (λ REPORT)                        p50 {:>6.1} ms   p99 {:>6.1} ms   ({} invocations)",
            percentile(&handler, 0.5), percentile(&handler, 0.99), handler.len());
        println!("    of which its write (EMF ApplyTime)               p50 {:>6.1} ms   p99 {:>6.1} ms   ({} callbacks)",
            percentile(&applying, 0.5), percentile(&applying, 0.99), applying.len());
        println!("  handler duration / its write, in the handler (p50) {:>5.2}×   (the handler's cost beyond its DynamoDB work)",
            percentile(&handler, 0.5) / percentile(&applying, 0.5).max(1e-9));
        println!("  handler duration / its write alone, back to back (p50) {:>5.2}×", percentile(&handler, 0.5) / percentile(&same, 0.5).max(1e-9));
        println!("  handler duration / minimal update (p50)    {:>5.2}×", percentile(&handler, 0.5) / percentile(&raw, 0.5).max(1e-9));
        println!("  end to end (local gateway) / write alone   {:>5.2}×", percentile(&lat, 0.5) / percentile(&same, 0.5).max(1e-9));

        // 2. A campaign with the simulator's callbacks on.
        if campaign > 0 {
            let (_, id, send_secs) = ctx.campaign("15550008802", campaign, 500, true).await;
            let ended = Instant::now();
            let read = loop {
                let ms = ctx.messages(&id).await;
                let read = ms.iter().filter(|m| m["status"] == "read").count();
                if read >= campaign || ended.elapsed() > Duration::from_secs(600) {
                    break read;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            println!("  campaign of {campaign} at 500 msg/s with callbacks on: send → completed {send_secs:.1} s; completed → all read {:.1} s ({read} read)",
                ended.elapsed().as_secs_f64());
        }
    });
}
