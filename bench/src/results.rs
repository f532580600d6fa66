//! `pregon-bench results [ROWS]` (run by `make bench-results` against a fresh local
//! stack, release build; default 1,000,000):
//!
//! 1. Seeding (timed apart, not part of the figures): a campaign of ROWS messages is
//!    uploaded through the API and validated by the ingest function, as `ingest` does;
//!    then every message is given an outcome in DynamoDB Local — its stored item read,
//!    settled and written back whole (`RecipientItem`, the store's own type and keys):
//!    provider message ids, `sent`/`delivered`/`read`/`replied`/`undelivered`/`failed`
//!    with error codes and their timestamps — the counters the stats endpoint reads are
//!    added from the same outcomes (the store's own counter names) and the campaign is
//!    ended with the state the code gives those counts. A 10-message campaign is seeded
//!    the same way.
//! 2. Its results requested through the API as CSV, then as XLSX, polled until ready:
//!    the time from the request to ready, the results function's own time (its log),
//!    the file's size (downloaded through the pre-signed URL; a CSV's lines counted)
//!    and the results function process's peak RSS: `VmHWM` of every `pregon-results`
//!    process of this build, reset (`clear_refs`) before each request because the
//!    runner keeps its processes, sampled while it builds, the maximum taken.
//! 3. The stats endpoint on both campaigns: sequential GETs, interleaved, p50/p95/max.

use crate::stack::Ctx;
use crate::webhook::percentile;
use pregon::keys;
use pregon::model::Progress;
use pregon::model::{crossed, format_time, KpiCounts};
use pregon_aws::store::{RecipientItem, Store, BATCH_WRITE_ITEMS};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// The pace at which the seeded campaigns "sent" (their timestamps' spacing).
const SEND_RATE: u64 = 500;
/// Rows of the small campaign the stats latency is compared with.
const TINY_ROWS: u64 = 10;
/// Sequential stats GETs per campaign.
const STATS_GETS: usize = 50;
/// The peak RSS the results function must stay under.
const RSS_TARGET_MB: f64 = 256.0;

/// A Meta-style message id (`wamid.` and base64, 58 characters like Meta's).
fn wamid(row: u64) -> String {
    format!(
        "wamid.HBgLNTY5{row:010}FQIAERgSQjE{:016X}AA",
        row.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    )
}

/// Gives a stored message the outcome its row draws, out of every 100: 2 refused at send
/// (no provider id), 2 failed and 1 undelivered after acceptance, 7 only sent,
/// 28 delivered, 48 read, 12 replied — with the provider's error code and message,
/// the times of each step, `updated_at` and `counted_at`. Its new status.
fn settle(m: &mut RecipientItem, start: OffsetDateTime) -> &'static str {
    let sent = start + time::Duration::milliseconds((m.row * 1000 / SEND_RATE) as i64);
    let at = |secs: u64| sent + time::Duration::seconds(secs as i64);
    let mut error = |code: &str, message: &str| {
        m.error_code = Some(code.into());
        m.error_message = Some(message.into());
    };
    let k = m.row % 100;
    let (status, last) = match k {
        0 => {
            error("131026", "Message undeliverable.");
            ("failed", 0)
        }
        1 => {
            error(
                "131049",
                "This message was not delivered to maintain healthy ecosystem engagement.",
            );
            ("failed", 0)
        }
        2..=3 => {
            error("131026", "Message undeliverable.");
            ("failed", 4)
        }
        4 => {
            error("30003", "Unreachable destination handset");
            ("undelivered", 6)
        }
        5..=11 => ("sent", 0),
        12..=39 => ("delivered", 3),
        40..=87 => ("read", 60 + m.row % 3_600),
        _ => ("replied", 60 + m.row % 3_600 + 90 + m.row % 600),
    };
    if k >= 2 {
        m.provider_message_id = Some(wamid(m.row));
        m.sent_at = Some(format_time(sent));
    }
    if k >= 12 {
        m.delivered_at = Some(format_time(at(3)));
    }
    if k >= 40 {
        m.read_at = Some(format_time(at(60 + m.row % 3_600)));
    }
    if k >= 88 {
        m.replied_at = Some(format_time(at(last)));
    }
    m.status = status.into();
    m.updated_at = Some(format_time(at(last)));
    m.counted_at = Some(at(last).unix_timestamp());
    m.claim_until = None;
    status
}

/// Settles every message of a loaded campaign (16 shards at once, 25 items a
/// `BatchWriteItem`), adds its counters and ends it. Its progress and KPI counts and
/// the end state.
async fn settle_campaign(store: &Store, tenant: &str, id: &str) -> (Progress, KpiCounts, String) {
    let c = store
        .campaign(tenant, id)
        .await
        .unwrap()
        .expect("the campaign");
    let gen = c.recipient_gen;
    let total = c.counts.valid_rows;
    let started = OffsetDateTime::now_utc() - time::Duration::hours(3);
    let mut shards = tokio::task::JoinSet::new();
    for shard in 0..keys::RECIPIENT_SHARDS {
        let (store, tenant, id) = (store.clone(), tenant.to_string(), id.to_string());
        shards.spawn(async move {
            let pk = keys::recipient_pk(&tenant, &id, gen, shard);
            let (mut p, mut k) = (Progress::default(), KpiCounts::default());
            let mut after = None;
            loop {
                let (items, next) = store
                    .list::<RecipientItem>(pk.clone(), "", false, 1000, after, &[])
                    .await
                    .unwrap();
                let mut puts = Vec::with_capacity(items.len());
                for mut m in items {
                    let status = settle(&mut m, started);
                    if m.provider_message_id.is_some() {
                        p.sent += 1;
                        k += crossed("sent", status);
                    } else {
                        p.failed += 1;
                    }
                    puts.push(
                        store
                            .put_request(keys::recipient(&tenant, &id, gen, m.row), &m)
                            .unwrap(),
                    );
                }
                for chunk in puts.chunks(BATCH_WRITE_ITEMS) {
                    store.batch_write(chunk.to_vec()).await.unwrap();
                }
                match next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            let deltas: Vec<(&str, i64)> = p.pairs().into_iter().chain(k.level_pairs()).collect();
            store
                .add_counters(&tenant, &id, shard, &deltas)
                .await
                .unwrap();
            (p, k)
        });
    }
    let (mut p, mut k) = (Progress::default(), KpiCounts::default());
    while let Some(r) = shards.join_next().await {
        let (sp, sk) = r.unwrap();
        p.sent += sp.sent;
        p.failed += sp.failed;
        k += sk;
    }
    assert_eq!((p.sent + p.failed) as u64, total, "every message settled");
    let end = pregon::model::CampaignStatus::end_of(p.sent, p.failed, p.blocked);
    let ended = started + time::Duration::seconds((total / SEND_RATE + 5) as i64);
    let s = |v: String| aws_sdk_dynamodb::types::AttributeValue::S(v);
    store
        .update_campaign_item(tenant, id)
        .update_expression(
            "SET #st = :end, sending_started_at = :started, ended_at = :ended, updated_at = :ended",
        )
        .condition_expression("#st = :loaded")
        .expression_attribute_names("#st", "status")
        .expression_attribute_values(":end", s(end.as_str().into()))
        .expression_attribute_values(":loaded", s("loaded".into()))
        .expression_attribute_values(":started", s(format_time(started)))
        .expression_attribute_values(":ended", s(format_time(ended)))
        .send()
        .await
        .unwrap();
    (p, k, end.as_str().to_string())
}

/// One results build, as measured.
struct Build {
    format: &'static str,
    /// From the API request to the API's 200.
    ready: Duration,
    /// The results function's own time (its `results built` log line).
    own: Option<f64>,
    rows: u64,
    /// CSV: data lines in the downloaded file.
    lines: Option<u64>,
    size: u64,
    download: Duration,
    idle_mb: f64,
    peak_mb: f64,
    /// Whether the peak is this build's alone (`VmHWM` was reset before it).
    reset: bool,
}

/// The results function's own time for the campaign's last build in `format`.
fn own_seconds(info: &Value, id: &str, format: &str) -> Option<f64> {
    let log = Path::new(info["logs"].as_str()?).join("ResultsFunction.log");
    std::fs::read_to_string(log)
        .ok()?
        .lines()
        .filter(|l| l.contains(id) && l.contains("results built"))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["format"] == format)
        .filter_map(|v| v["fields"]["seconds"].as_f64())
        .next_back()
}

/// The highest `VmHWM` (kB) of the processes running `exe`.
fn peak_kb(exe: &Path) -> u64 {
    crate::pids_of(exe)
        .into_iter()
        .filter_map(crate::vm_hwm_kb)
        .max()
        .unwrap_or(0)
}

async fn build(
    ctx: &Ctx,
    store: &Store,
    info: &Value,
    (tenant, id): (&str, &str),
    format: &'static str,
    exe: &Path,
) -> Result<Build, String> {
    let pids = crate::pids_of(exe);
    assert!(
        !pids.is_empty(),
        "no process runs {}: is the stack running this build?",
        exe.display()
    );
    let idle_kb = pids
        .iter()
        .filter_map(|p| crate::proc_status_kb(*p, "VmRSS"))
        .max()
        .unwrap_or(0);
    let reset = pids.iter().all(|p| crate::reset_vm_hwm(*p));
    let path = format!("/v1/campaigns/{id}/results?format={format}");
    let t = Instant::now();
    let (code, first) = ctx.call_status(reqwest::Method::GET, &path, None).await;
    assert_eq!(code, 202, "asked for results: {first}");
    let mut peak = 0;
    let ready = loop {
        peak = peak.max(peak_kb(exe));
        // A failed build: the API's next answer would ask for another; stop here.
        let c = store.campaign(tenant, id).await.unwrap().unwrap();
        let f = if format == "csv" {
            c.results_csv
        } else {
            c.results_xlsx
        };
        if let Some(f) = f.filter(|f| f.status == "failed") {
            return Err(format!(
                "the {format} build failed after {:.1} s: {}",
                t.elapsed().as_secs_f64(),
                f.reason.unwrap_or_default()
            ));
        }
        let (code, v) = ctx.call_status(reqwest::Method::GET, &path, None).await;
        if code == 200 {
            break v;
        }
        assert_eq!(code, 202, "results: {v}");
        if t.elapsed() > Duration::from_secs(1800) {
            return Err(format!("the {format} build was not ready in 30 minutes"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let took = t.elapsed();
    peak = peak.max(peak_kb(exe));
    let d = Instant::now();
    let mut res = ctx
        .http
        .get(ready["url"].as_str().expect("a pre-signed URL"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "download: {}", res.status());
    let (mut size, mut newlines) = (0u64, 0u64);
    while let Some(chunk) = res.chunk().await.unwrap() {
        size += chunk.len() as u64;
        newlines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    Ok(Build {
        format,
        ready: took,
        own: own_seconds(info, id, format),
        rows: ready["rows"].as_u64().unwrap_or(0),
        lines: (format == "csv").then(|| newlines.saturating_sub(1)),
        size,
        download: d.elapsed(),
        idle_mb: idle_kb as f64 / 1024.0,
        peak_mb: peak as f64 / 1024.0,
        reset,
    })
}

fn ms(d: &[Duration], p: f64) -> String {
    format!("{:.1} ms", percentile(d, p))
}

pub fn run(rows: u64, csv_path: &Path) {
    let info = crate::stack::info();
    let ctx = Ctx::new(&info);
    let tenant = info["demo_tenant"].as_str().unwrap().to_string();
    let table = info["table"].as_str().unwrap().to_string();
    // The results function of this build (the stack runs the binaries beside this one).
    let exe: PathBuf = std::env::current_exe()
        .unwrap()
        .with_file_name("pregon-results");
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let store = Store::new(crate::stack::dynamodb(&info).await, table);

        // 1. Seeding (not measured).
        let t = Instant::now();
        let bytes = std::fs::read(csv_path).unwrap();
        let (id, v, _, loaded) = ctx.load_campaign("15550007001", "bench_results", bytes).await;
        assert_eq!(v["status"], "loaded", "{v}");
        assert_eq!(v["counts"]["valid_rows"].as_u64(), Some(rows), "{v}");
        let s = Instant::now();
        let (p, k, end) = settle_campaign(&store, &tenant, &id).await;
        let settled = s.elapsed();
        let mut tiny_csv = String::from("telefono,nombre,monto\n");
        for i in 0..TINY_ROWS {
            tiny_csv.push_str(&format!("+5697{:07},Cliente {i},$1000\n", 7_000_000 + i));
        }
        let (tiny, v, _, _) = ctx
            .load_campaign("15550007002", "bench_results_tiny", tiny_csv.into_bytes())
            .await;
        assert_eq!(v["status"], "loaded", "{v}");
        settle_campaign(&store, &tenant, &tiny).await;
        let seeding = t.elapsed();

        // 2. The results files, one after the other.
        let mut builds = Vec::new();
        for format in ["csv", "xlsx"] {
            builds.push(build(&ctx, &store, &info, (&tenant, &id), format, &exe).await);
        }

        // 3. The stats endpoint, the two campaigns in turn (a few calls first to warm up).
        let get = |c: String| {
            let ctx = &ctx;
            async move {
                let t = Instant::now();
                let (code, v) = ctx
                    .call_status(reqwest::Method::GET, &format!("/v1/campaigns/{c}/stats"), None)
                    .await;
                assert_eq!(code, 200, "stats: {v}");
                (t.elapsed(), v)
            }
        };
        for _ in 0..5 {
            get(id.clone()).await;
            get(tiny.clone()).await;
        }
        let (mut big_lat, mut tiny_lat) = (Vec::new(), Vec::new());
        let mut stats = Value::Null;
        for _ in 0..STATS_GETS {
            let (d, v) = get(id.clone()).await;
            big_lat.push(d);
            stats = v;
            tiny_lat.push(get(tiny.clone()).await.0);
        }
        big_lat.sort();
        tiny_lat.sort();
        assert_eq!(stats["sent"].as_i64(), Some(p.sent), "stats: {stats}");
        assert_eq!(stats["refused"].as_i64(), Some(p.failed), "stats: {stats}");
        assert_eq!(stats["delivered"].as_i64(), Some(k.delivered), "stats: {stats}");
        assert_eq!(stats["replied"].as_i64(), Some(k.replied), "stats: {stats}");

        println!("results benchmark: a {rows}-message campaign on the local stack ({cpus} CPUs, release build)");
        println!(
            "  seeding (not in the figures)  {:.1} s: upload → loaded {:.1} s; {rows} outcomes written {:.1} s ({:.0} items/s); a {TINY_ROWS}-message campaign",
            seeding.as_secs_f64(),
            loaded.as_secs_f64(),
            settled.as_secs_f64(),
            rows as f64 / settled.as_secs_f64()
        );
        println!("  campaign {end}: stats say {} messages, sent {}, refused {}, delivered {}, read {}, replied {}, bounced {}; by status {}",
            stats["messages"], stats["sent"], stats["refused"], stats["delivered"], stats["read"], stats["replied"], stats["bounced"], stats["by_status"]);
        println!();
        println!("  {:<6} {:>16} {:>16} {:>12} {:>10} {:>10} {:>26}", "format", "request → ready", "function's own", "file", "rows", "download", "results peak RSS (VmHWM)");
        for b in &builds {
            match b {
                Ok(b) => {
                    let rows = match b.lines {
                        Some(l) if l != b.rows => format!("{} ({l} lines!)", b.rows),
                        _ => b.rows.to_string(),
                    };
                    println!(
                        "  {:<6} {:>14.1} s {:>16} {:>9.1} MB {:>10} {:>8.1} s {:>10.1} MB (idle {:.0} MB){}",
                        b.format.to_uppercase(),
                        b.ready.as_secs_f64(),
                        b.own.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "?".into()),
                        b.size as f64 / 1e6,
                        rows,
                        b.download.as_secs_f64(),
                        b.peak_mb,
                        b.idle_mb,
                        if b.reset { "" } else { " — not reset: since the process started" },
                    );
                }
                Err(why) => println!("  {why}"),
            }
        }
        println!("  peak RSS target ≤ {RSS_TARGET_MB:.0} MB: {}",
            if builds.iter().all(|b| b.as_ref().is_ok_and(|b| b.peak_mb <= RSS_TARGET_MB)) { "met" } else { "NOT met" });
        println!();
        println!("  stats endpoint, {STATS_GETS} sequential GETs per campaign (interleaved):");
        for (name, lat) in [(format!("{rows} messages"), &big_lat), (format!("{TINY_ROWS} messages"), &tiny_lat)] {
            println!("    {name:<18} p50 {:>9}   p95 {:>9}   max {:>9}", ms(lat, 0.5), ms(lat, 0.95), ms(lat, 1.0));
        }
    });
}
