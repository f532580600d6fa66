//! `make bench`: how fast `pregon validate` is next to a bare read of the same file.
//!
//! - 1,000,000 CSV rows (phone + 2 parameters) against a bare `csv` crate read;
//! - 200,000 XLSX rows against a bare `calamine` read;
//! - peak memory (max RSS) of each `pregon validate` run.
//!
//! `pregon-bench ingest` (run by `make bench-ingest`, against a running local stack)
//! uploads the 1,000,000-row file to a campaign and times the ingest function;
//! `pregon-bench results [ROWS]` (`make bench-results`) times the results downloads of
//! an ended campaign of ROWS messages (see `results.rs`).
//! Files are generated once into `.cache/bench/`.

mod closer;
mod crash;
mod fairness;
mod flood;
mod results;
mod send;
mod stack;
mod webhook;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CSV_ROWS: u64 = 1_000_000;
const XLSX_ROWS: u32 = 200_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repo root")
}

/// A valid Chilean mobile number for row `i`, written the ways people write them.
fn phone(i: u64) -> String {
    let national = format!("96{:07}", i);
    match i % 4 {
        0 => format!(
            "+56 {} {} {}",
            &national[..1],
            &national[1..5],
            &national[5..]
        ),
        1 => format!("56{national}"),
        2 => national,
        _ => format!("+56{national}"),
    }
}

/// A CSV of `rows` valid rows (phone + 2 parameters), written once.
fn make_csv(path: &Path, rows: u64) {
    if path.exists() {
        return;
    }
    let mut w = csv::Writer::from_path(path).expect("write csv");
    w.write_record(["telefono", "nombre", "monto"]).unwrap();
    for i in 0..rows {
        w.write_record([
            phone(i),
            format!("Cliente {i}"),
            format!("${}", 1000 + i % 90_000),
        ])
        .unwrap();
    }
    w.flush().unwrap();
}

fn make_xlsx(path: &Path) {
    if path.exists() {
        return;
    }
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "telefono").unwrap();
    ws.write_string(0, 1, "nombre").unwrap();
    ws.write_string(0, 2, "monto").unwrap();
    for r in 1..=XLSX_ROWS {
        let i = r as u64;
        // Excel stores long numbers as floats: the common case.
        ws.write_number(r, 0, format!("5696{:07}", i).parse::<f64>().unwrap())
            .unwrap();
        ws.write_string(r, 1, format!("Cliente {i}")).unwrap();
        ws.write_number(r, 2, (1000 + i % 90_000) as f64).unwrap();
    }
    wb.save(path).expect("write xlsx");
}

fn best_of<F: FnMut() -> u64>(n: usize, mut f: F) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut out = 0;
    for _ in 0..n {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

fn bare_csv(path: &Path) -> u64 {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap();
    let mut rec = csv::ByteRecord::new();
    let mut n = 0u64;
    while r.read_byte_record(&mut rec).unwrap() {
        n += rec.len() as u64;
    }
    n
}

fn bare_calamine(path: &Path) -> u64 {
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    let name = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&name).unwrap();
    range.rows().map(|r| r.len() as u64).sum()
}

/// The high-water mark of a process's resident memory (its own address space only:
/// `ru_maxrss` of a forked child would count this generator's memory too).
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    proc_status_kb(pid, "VmHWM")
}

/// A memory field of `/proc/{pid}/status` (`VmHWM`, `VmRSS`…), in kB.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The processes running the executable `exe` (by `/proc/{pid}/exe`: only this build's
/// binaries, not another checkout's).
fn pids_of(exe: &Path) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe))
        .collect()
}

/// Resets a process's `VmHWM` to its current RSS (`/proc/{pid}/clear_refs`, Linux ≥ 4.0),
/// so a long-lived process's next peak is measured alone; `false` if not allowed.
fn reset_vm_hwm(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// The fastest of three `pregon validate` runs.
fn fastest_validate(pregon: &Path, file: &Path) -> (Duration, f64, String) {
    (0..3)
        .map(|_| validate(pregon, file))
        .min_by_key(|r| r.0)
        .expect("three runs")
}

/// Runs `pregon validate`, returning wall time and the child's peak RSS in MB.
fn validate(pregon: &Path, file: &Path) -> (Duration, f64, String) {
    let t = Instant::now();
    let out_path = std::env::temp_dir().join(format!("pregon-bench-{}.json", std::process::id()));
    let mut child = Command::new(pregon)
        .args([
            "validate",
            file.to_str().unwrap(),
            "--params",
            "2",
            "--default-country",
            "CL",
            "--json",
        ])
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .spawn()
        .expect("run pregon");
    let pid = child.id();
    let mut hwm = 0u64;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            hwm = hwm.max(kb);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = t.elapsed();
    assert!(status.code().is_some(), "pregon validate crashed");
    let out = std::fs::read_to_string(&out_path).unwrap();
    let _ = std::fs::remove_file(&out_path);
    let usage_mb = hwm as f64 / 1024.0;
    let v: serde_json::Value = serde_json::from_str(&out).expect("validate --json output");
    let summary = format!(
        "status {} rows {} valid {}",
        v["status"], v["rows"], v["valid_rows"]
    );
    (elapsed, usage_mb, summary)
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if mode == "send" {
        let arg = |i: usize, d: u64| {
            std::env::args()
                .nth(i)
                .and_then(|a| a.parse().ok())
                .unwrap_or(d)
        };
        return send::run(arg(2, 20_000) as usize, arg(3, 200) as u32, arg(4, 100));
    }
    if mode == "webhook" {
        let arg = |i: usize, d: usize| {
            std::env::args()
                .nth(i)
                .and_then(|a| a.parse().ok())
                .unwrap_or(d)
        };
        return webhook::run(arg(2, 2_000), arg(3, 16), arg(4, 10_000));
    }
    if mode == "closer" {
        let n = std::env::args()
            .nth(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or(200_000);
        return closer::run(n);
    }
    if mode == "crash" {
        let arg = |i: usize, d: u64| {
            std::env::args()
                .nth(i)
                .and_then(|a| a.parse().ok())
                .unwrap_or(d)
        };
        return crash::run(
            arg(2, 3000) as usize,
            arg(3, 150) as u32,
            arg(4, 6) as usize,
        );
    }
    if mode == "webhook-flood" {
        let arg = |i: usize, d: u64| {
            std::env::args()
                .nth(i)
                .and_then(|a| a.parse().ok())
                .unwrap_or(d)
        };
        return flood::run(arg(2, 20), arg(3, 32) as usize, arg(4, 70) as u32);
    }
    if mode == "fairness" {
        let arg = |i: usize, d: usize| {
            std::env::args()
                .nth(i)
                .and_then(|a| a.parse().ok())
                .unwrap_or(d)
        };
        return fairness::run(arg(2, 20_000), arg(3, 200));
    }
    if mode == "dispatch" {
        let rows = std::env::args()
            .nth(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or(100_000);
        return send::dispatch(rows);
    }
    let dir = root().join(".cache/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let csv_path = dir.join("rows_1m.csv");
    let xlsx_path = dir.join("rows_200k.xlsx");
    eprintln!(
        "generating test files in {} (first run only)…",
        dir.display()
    );
    if mode == "results" {
        let rows = std::env::args()
            .nth(2)
            .and_then(|a| a.parse().ok())
            .unwrap_or(CSV_ROWS);
        let path = if rows == CSV_ROWS {
            csv_path
        } else {
            dir.join(format!("rows_{rows}.csv"))
        };
        make_csv(&path, rows);
        return results::run(rows, &path);
    }
    make_csv(&csv_path, CSV_ROWS);
    if mode == "ingest" {
        return ingest(&csv_path);
    }
    make_xlsx(&xlsx_path);
    let pregon = root().join("target/release/pregon");
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("pregon validate benchmark — {cpus} CPUs, release build, best of 3");
    println!();

    let (bare, _) = best_of(3, || bare_csv(&csv_path));
    let (ours, rss, summary) = fastest_validate(&pregon, &csv_path);
    let size = std::fs::metadata(&csv_path).unwrap().len() as f64 / 1e6;
    println!("CSV  {CSV_ROWS} rows ({size:.0} MB): {summary}");
    println!("  bare csv read      {:>8.3} s", bare.as_secs_f64());
    println!(
        "  pregon validate    {:>8.3} s   {:>6.1}× bare (target ≤ 40×)",
        ours.as_secs_f64(),
        ours.as_secs_f64() / bare.as_secs_f64()
    );
    println!("  peak RSS           {rss:>8.1} MB  (target ≤ 200 MB)");
    println!(
        "  rows per second    {:>8.0}",
        CSV_ROWS as f64 / ours.as_secs_f64()
    );
    println!();

    let (bare, _) = best_of(3, || bare_calamine(&xlsx_path));
    let (ours, rss, summary) = fastest_validate(&pregon, &xlsx_path);
    let size = std::fs::metadata(&xlsx_path).unwrap().len() as f64 / 1e6;
    println!("XLSX {XLSX_ROWS} rows ({size:.1} MB): {summary}");
    println!("  bare calamine read {:>8.3} s", bare.as_secs_f64());
    println!(
        "  pregon validate    {:>8.3} s   {:>6.2}× bare (target ≤ 3×)",
        ours.as_secs_f64(),
        ours.as_secs_f64() / bare.as_secs_f64()
    );
    println!("  peak RSS           {rss:>8.1} MB");
}

/// Uploads the 1,000,000-row CSV to a new campaign on the running local stack and
/// times the ingest function from the upload to `loaded`.
fn ingest(csv_path: &Path) {
    let info = stack::info();
    let ctx = stack::Ctx::new(&info);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let bytes = std::fs::read(csv_path).unwrap();
        let (id, v, uploaded, took) = ctx.load_campaign("15550001111", "bench", bytes).await;
        let st = v["status"].as_str().unwrap_or_default();
        println!("ingest of {CSV_ROWS} rows on the local stack (DynamoDB Local, moto):");
        println!(
            "  upload (PUT to moto)      {:>8.1} s",
            uploaded.as_secs_f64()
        );
        println!("  upload → {st:<16} {:>8.1} s", took.as_secs_f64());
        println!("  counts: {}", v["counts"]);
        let stored = count_recipients(&info, &id).await;
        println!("  recipient items in DynamoDB: {stored}");
        assert_eq!(
            Some(stored),
            v["counts"]["valid_rows"].as_u64(),
            "stored recipients differ from valid rows"
        );
    });
}

/// Counts the campaign's recipient items (current generation, every shard) in DynamoDB.
async fn count_recipients(info: &serde_json::Value, campaign: &str) -> u64 {
    use aws_sdk_dynamodb::types::{AttributeValue, Select};
    let ddb = stack::dynamodb(info).await;
    let table = info["table"].as_str().unwrap();
    let tenant = info["demo_tenant"].as_str().unwrap();
    let (pk, sk) = pregon::keys::campaign(tenant, campaign);
    let item = ddb
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let gen: u32 = item["recipient_gen"].as_n().unwrap().parse().unwrap();
    let mut total = 0u64;
    for shard in 0..pregon::keys::RECIPIENT_SHARDS {
        let mut start = None;
        loop {
            let out = ddb
                .query()
                .table_name(table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(pregon::keys::recipient_pk(tenant, campaign, gen, shard)),
                )
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            total += out.count as u64;
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    total
}
