//! Hostile files against `pregon validate` (the ingest function's code path): each
//! ends with the right code in bounded memory — the child's peak RSS stays under
//! 200 MB. The peak is the child's own `VmHWM` (/proc/PID/status, read every few
//! milliseconds until it exits): `wait4`'s `ru_maxrss` would include the test process's
//! own size at the fork. Needs no local stack; `make test` builds `pregon` first.

use pregon_tests::hostile;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PEAK_LIMIT_KB: i64 = 200 * 1024;

fn pregon() -> PathBuf {
    // target/debug/deps/hostile_files-… → target/debug/pregon
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("pregon");
    assert!(
        bin.exists(),
        "{} is not built (cargo build --workspace)",
        bin.display()
    );
    bin
}

/// Runs `pregon validate FILE --json ARGS…`: the exit code, the JSON, the peak RSS (KB)
/// and the time. Killed after 120 s.
fn validate(file: &Path, args: &[&str]) -> (i32, Value, i64, Duration) {
    let out_path = file.with_extension("json");
    let out = std::fs::File::create(&out_path).unwrap();
    let started = Instant::now();
    let mut child = Command::new(pregon())
        .arg("validate")
        .arg(file)
        .arg("--json")
        .args(args)
        .stdout(Stdio::from(out))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak_kb = 0i64;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} ran over 120 s", file.display());
        }
        std::thread::sleep(Duration::from_millis(3));
    };
    let took = started.elapsed();
    let code = status.code().unwrap_or(-1);
    let json: Value =
        serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap_or(Value::Null);
    (code, json, peak_kb, took)
}

/// The process's peak resident set so far (KB), while it runs.
fn vm_hwm_kb(pid: u32) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn codes(v: &Value) -> Vec<String> {
    v["problems"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn check(name: &str, file: &Path, args: &[&str], want: &str) -> Value {
    let (code, json, peak_kb, took) = validate(file, args);
    let size = std::fs::metadata(file).unwrap().len();
    eprintln!(
        "{name:<34} {:>9} bytes  peak {:>4} MB  {:>6.2} s  → {:?}",
        size,
        peak_kb / 1024,
        took.as_secs_f64(),
        codes(&json).first()
    );
    assert_eq!(code, 1, "{name}: exit {code}");
    assert!(
        codes(&json).iter().any(|c| c == want),
        "{name}: {:?}",
        codes(&json).first()
    );
    assert!(
        peak_kb <= PEAK_LIMIT_KB,
        "{name}: peak RSS {} MB",
        peak_kb / 1024
    );
    json
}

fn dir() -> tempdir::Dir {
    tempdir::Dir::new()
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            let p =
                std::env::temp_dir().join(format!("pregon-hostile-{}", pregon::model::new_id("t")));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn an_xlsx_with_a_cell_at_xfd1048576_is_file_too_large_in_bounded_memory() {
    let d = dir();
    let f = d.0.join("far.xlsx");
    hostile::xlsx_far_cell(&f, "XFD1048576").unwrap();
    check(
        "xlsx A1 + XFD1048576",
        &f,
        &["--params", "2"],
        "file_too_large",
    );
}

#[test]
fn an_xlsx_with_a_far_cell_inside_the_limits_is_read_row_by_row() {
    let d = dir();
    let f = d.0.join("cv.xlsx");
    hostile::xlsx_far_cell(&f, "CV200000").unwrap();
    check(
        "xlsx A1 + CV200000",
        &f,
        &["--params", "0"],
        "too_many_columns",
    );
}

#[test]
fn an_ods_whose_repeats_expand_to_90_million_cells_is_file_too_large() {
    let d = dir();
    let f = d.0.join("repeats.ods");
    hostile::ods_repeats(&f, 30_000, 3_000).unwrap();
    check(
        "ods 30,000 × 3,000 repeats",
        &f,
        &["--params", "0"],
        "file_too_large",
    );
}

#[test]
fn an_xlsx_whose_shared_strings_hold_a_400_mb_string_is_file_too_large() {
    let d = dir();
    let f = d.0.join("sst.xlsx");
    hostile::xlsx_huge_shared_string(&f, 400).unwrap();
    check(
        "xlsx 400 MB shared string",
        &f,
        &["--params", "0"],
        "file_too_large",
    );
}

#[test]
fn an_xlsx_of_2_5_million_rows_stops_at_the_row_limit() {
    let d = dir();
    let f = d.0.join("rows.xlsx");
    hostile::xlsx_many_rows(&f, 2_500_000).unwrap();
    let json = check(
        "xlsx 2.5 M rows of one phone",
        &f,
        &["--params", "0"],
        "file_too_large",
    );
    assert_eq!(json["rows"], 1_000_000);
}

#[test]
fn a_csv_with_a_1_mb_header_name_and_5000_bad_rows_keeps_each_problem_small() {
    let d = dir();
    let f = d.0.join("header.csv");
    hostile::csv_long_header(&f, 1 << 20, 5_000).unwrap();
    let json = check(
        "csv 1 MB header, 5,000 bad rows",
        &f,
        &["--params", "0"],
        "invalid_phone",
    );
    let bytes = std::fs::metadata(f.with_extension("json")).unwrap().len();
    assert!(bytes < 5 * 1024 * 1024, "the JSON report is {bytes} bytes");
    assert_eq!(json["problems"].as_array().unwrap().len(), 5_000);
}

#[test]
fn a_csv_of_a_million_bad_rows_against_100_parameters_caps_its_report() {
    let d = dir();
    let f = d.0.join("x.csv");
    hostile::csv_rows_of_x(&f, 100, 1_000_000).unwrap();
    let json = check(
        "csv 1 M rows × 101 problems",
        &f,
        &["--params", "100"],
        "invalid_phone",
    );
    assert_eq!(json["problems"].as_array().unwrap().len(), 100_000);
    assert_eq!(json["problems_total"], 101_000_000u64);
    let omitted: u64 = json["problems_omitted"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(omitted, 101_000_000 - 100_000);
}

#[test]
fn an_xls_with_cells_at_opposite_corners_is_file_too_large_before_any_grid() {
    let d = dir();
    let f = d.0.join("corners.xls");
    hostile::xls_corners(&f, 65_535, 255).unwrap();
    check("xls A1 + IV65536", &f, &["--params", "0"], "file_too_large");
}

#[test]
fn an_sms_file_of_a_million_long_ucs2_messages_keeps_its_preview_bounded() {
    use std::io::Write;
    let d = dir();
    let f = d.0.join("sms.csv");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&f).unwrap());
        w.write_all(b"phone,nombre\n").unwrap();
        for i in 0..1_000_000u32 {
            writeln!(w, "+5696{i:07},Ana").unwrap();
        }
        w.flush().unwrap();
    }
    // 200 × ✓ + " " + "Ana": 204 UCS-2 units, 4 segments each, over the default limit of 3.
    let body = format!("{} {{{{1}}}}", "✓".repeat(200));
    let (code, json, peak_kb, took) = validate(&f, &["--channel", "sms", "--body", &body]);
    eprintln!(
        "sms 1 M rows × 4 segments          peak {:>4} MB  {:>6.2} s",
        peak_kb / 1024,
        took.as_secs_f64()
    );
    assert_eq!(code, 0, "a segment warning leaves the file valid");
    assert_eq!(json["valid_rows"], 1_000_000);
    assert_eq!(
        json["sms"],
        serde_json::json!({"total_segments": 4_000_000, "messages": {"gsm7": 0, "ucs2": 1_000_000},
            "max_segments_in_a_message": 4, "ucs2_chars": ["✓"]})
    );
    assert_eq!(json["problems"].as_array().unwrap().len(), 100_000);
    assert_eq!(json["problems_omitted"]["sms_segments"], 900_000);
    assert!(peak_kb <= PEAK_LIMIT_KB, "peak RSS {} MB", peak_kb / 1024);
}
