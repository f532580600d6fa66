//! `pregon validate FILE`: the ingest function's validation, offline.

use pregon::phone::DefaultCountry;
use pregon::report::RecipientCsv;
use pregon::sms::{shown_list, SmsSummary};
use pregon::validate::{
    validate, Channel, Layout, MetadataField, OnInvalidRows, Problem, Recipient, Rules, Sink,
    Status, MAX_SMS_SEGMENTS,
};
use serde_json::json;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The spreadsheet: CSV/TSV, XLSX, XLS or ODS (recognised by content).
    file: PathBuf,
    /// How many template parameters ({{1}}…{{N}}) follow the phone column (0 for a
    /// template without placeholders: a phone-only list). Implied by --body.
    #[arg(long, required_unless_present_any = ["message_column", "body"])]
    params: Option<usize>,
    /// SMS without a template: each row carries its own text in a `message` column
    /// (and an optional `priority`).
    #[arg(long, conflicts_with_all = ["params", "body"])]
    message_column: bool,
    /// The template's text ('Hola {{1}}, su cuota vence el {{2}}'): its parameters
    /// give --params, and for SMS each row's message is rendered from it to count its
    /// encoding and segments.
    #[arg(long, value_name = "TEXT")]
    body: Option<String>,
    /// SMS: warn (sms_segments) about a message over this many segments.
    #[arg(long, value_name = "N", default_value_t = MAX_SMS_SEGMENTS,
          value_parser = |s: &str| s.parse::<usize>().ok().filter(|n| *n >= 1).ok_or("a whole number of at least 1"))]
    max_segments: usize,
    #[arg(long, value_enum, default_value = "whatsapp")]
    channel: ChannelArg,
    /// ISO 3166 country for numbers written without a country code (e.g. CL).
    #[arg(long, value_parser = |s: &str| s.parse::<DefaultCountry>())]
    default_country: Option<DefaultCountry>,
    /// The same phone may appear on several rows.
    #[arg(long)]
    allow_duplicates: bool,
    /// A ticket metadata field extra columns link to, as NAME:TYPE (text, paragraph, yes_no).
    #[arg(long = "metadata", value_parser = |s: &str| s.parse::<MetadataField>())]
    metadata: Vec<MetadataField>,
    #[arg(long, value_enum, default_value = "reject")]
    on_invalid_rows: OnInvalidArg,
    /// Print one JSON object with the status, counts and every problem.
    #[arg(long)]
    json: bool,
    /// Write the valid rows as UTF-8 CSV (phone in E.164; for SMS with segments counted,
    /// also `encoding,segments`) to this file.
    #[arg(long, value_name = "OUT.csv")]
    normalized: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ChannelArg {
    Whatsapp,
    Sms,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OnInvalidArg {
    Reject,
    Skip,
}

struct CliSink {
    problems: Vec<Problem>,
    out: Option<RecipientCsv<BufWriter<File>>>,
    error: Option<std::io::Error>,
}

impl Sink for CliSink {
    fn layout(&mut self, layout: &Layout) {
        if let Some(out) = &mut self.out {
            if let Err(e) = out.header(layout) {
                self.error.get_or_insert(e.into());
            }
        }
    }
    fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
    fn recipient(&mut self, r: Recipient) {
        if let Some(out) = &mut self.out {
            if let Err(e) = out.write(&r) {
                self.error.get_or_insert(e.into());
            }
        }
    }
}

pub fn run(a: Args) -> ExitCode {
    let stdout = std::io::stdout();
    let mut o = BufWriter::new(stdout.lock());
    run_to(a, &mut o)
}

/// [`run`], its report written to `o`.
fn run_to(a: Args, o: &mut impl Write) -> ExitCode {
    let file = match File::open(&a.file) {
        Ok(f) => f,
        Err(e) => return usage(format!("cannot open {}: {e}", a.file.display())),
    };
    let size = match file.metadata() {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => return usage(format!("{} is not a file", a.file.display())),
        Err(e) => return usage(format!("cannot read {}: {e}", a.file.display())),
    };
    let out = match &a.normalized {
        Some(p) => match File::create(p) {
            Ok(f) => Some(RecipientCsv::new(BufWriter::new(f))),
            Err(e) => return usage(format!("cannot write {}: {e}", p.display())),
        },
        None => None,
    };
    let rules = match rules_from(&a) {
        Ok(r) => r,
        Err(msg) => return usage(msg),
    };
    let channel = rules.channel;
    let mut sink = CliSink {
        problems: Vec::new(),
        out,
        error: None,
    };
    let summary = validate(
        std::io::BufReader::with_capacity(1 << 20, file),
        size,
        &rules,
        &mut sink,
    );
    if let Some(out) = sink.out.take() {
        if let Err(e) = out.finish().and_then(|mut w| w.flush()) {
            sink.error.get_or_insert(e);
        }
    }
    if let Some(e) = sink.error {
        return usage(format!("cannot write the normalized file: {e}"));
    }
    // File-level problems first, then rows in order (the validator caps their number).
    sink.problems.sort_by_key(|p| !p.is_file_level());
    let sms = (channel == Channel::Sms).then(|| SmsPreview {
        summary: summary.sms.clone(),
        counted: rules.counts_sms(),
        max_segments: rules.max_sms_segments,
    });
    let status = summary.status;
    let written = if a.json {
        let mut v = json!({
            "status": summary.status,
            "format": summary.format,
            "rows": summary.counts.rows,
            "valid_rows": summary.counts.valid_rows,
            "invalid_rows": summary.counts.invalid_rows,
            "blank_rows": summary.counts.blank_rows,
            "unique_phones": summary.counts.unique_phones,
            "problems_total": summary.counts.errors + summary.counts.warnings,
            "problems_omitted": summary.problems_omitted,
            "problems": sink.problems,
        });
        if let Some(sms) = &sms {
            v["sms"] = json!(sms.summary);
        }
        serde_json::to_writer(&mut *o, &v)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(o))
    } else {
        print_summary(o, &a.file, &summary, sms.as_ref(), &sink.problems)
    };
    if written.and_then(|_| o.flush()).is_err() {
        return ExitCode::from(2);
    }
    if status == Status::Valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The validator's rules from the flags; an error is the usage message to print.
fn rules_from(a: &Args) -> Result<Rules, String> {
    let channel = match a.channel {
        ChannelArg::Whatsapp => Channel::Whatsapp,
        ChannelArg::Sms => Channel::Sms,
    };
    let from_body = match a.body.as_deref().map(pregon::model::template_params) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => return Err(format!("--body: {e}")),
    };
    if let (Some(p), Some(b)) = (a.params, from_body) {
        if p != b {
            return Err(format!(
                "--params {p} but --body has {b} parameter(s); give one of them"
            ));
        }
    }
    let template = if a.message_column {
        None
    } else {
        a.params.or(from_body)
    };
    let mut rules =
        Rules::for_template(channel, template).map_err(|e| format!("--message-column: {e}"))?;
    if channel == Channel::Sms {
        rules.sms_body = a.body.clone();
    }
    rules.max_sms_segments = a.max_segments;
    rules.default_country = a.default_country;
    rules.allow_duplicates = a.allow_duplicates;
    rules.metadata = a.metadata.clone();
    rules.on_invalid_rows = match a.on_invalid_rows {
        OnInvalidArg::Reject => OnInvalidRows::Reject,
        OnInvalidArg::Skip => OnInvalidRows::Skip,
    };
    Ok(rules)
}

/// What the human report says about SMS segments.
struct SmsPreview {
    summary: Option<SmsSummary>,
    /// Each row's text was known (a `message` column, or --body).
    counted: bool,
    max_segments: usize,
}

fn print_sms(o: &mut impl Write, p: &SmsPreview) -> std::io::Result<()> {
    let Some(s) = &p.summary else {
        if !p.counted {
            writeln!(
                o,
                "  SMS segments cannot be computed: give the template's text with --body 'Hola {{{{1}}}}…' (or use --message-column for a file with a message column)"
            )?;
        }
        return Ok(());
    };
    writeln!(
        o,
        "  SMS: {} segment(s) for {} message(s): {} GSM-7, {} UCS-2; the longest takes {} (limit {})",
        s.total_segments,
        s.messages(),
        s.messages.gsm7,
        s.messages.ucs2,
        s.max_segments_in_a_message,
        p.max_segments
    )?;
    if !s.ucs2_chars.is_empty() {
        writeln!(o, "  UCS-2 because of: {}", shown_list(&s.ucs2_chars))?;
    }
    Ok(())
}

fn print_summary(
    o: &mut impl Write,
    file: &std::path::Path,
    s: &pregon::validate::Summary,
    sms: Option<&SmsPreview>,
    problems: &[Problem],
) -> std::io::Result<()> {
    let verdict = if s.status == Status::Valid {
        "VALID"
    } else {
        "INVALID"
    };
    let format = s.format.map(|f| f.as_str()).unwrap_or("unknown");
    writeln!(o, "{}: {verdict} ({format})", file.display())?;
    writeln!(
        o,
        "  {} data rows: {} valid, {} invalid, {} blank; {} unique phones",
        s.counts.rows,
        s.counts.valid_rows,
        s.counts.invalid_rows,
        s.counts.blank_rows,
        s.counts.unique_phones
    )?;
    if let Some(p) = sms {
        print_sms(o, p)?;
    }
    const SHOWN: usize = 50;
    for p in problems.iter().take(SHOWN) {
        let row = p
            .row
            .map(|r| format!("row {r}"))
            .unwrap_or_else(|| "file".into());
        let col = p
            .column
            .as_deref()
            .map(|c| format!(", column {c}"))
            .unwrap_or_default();
        let sev = if p.severity == pregon::validate::Severity::Warning {
            "warning"
        } else {
            "error"
        };
        writeln!(
            o,
            "  {sev}: {row}{col}: {} — {}",
            p.code.as_str(),
            p.message
        )?;
    }
    let total = s.counts.errors + s.counts.warnings;
    if total > SHOWN as u64 {
        writeln!(
            o,
            "  … and {} more (use --json for up to {})",
            total - SHOWN as u64,
            pregon::validate::MAX_PROBLEMS
        )?;
    }
    Ok(())
}

fn usage(msg: String) -> ExitCode {
    eprintln!("pregon: {msg}");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::Value;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    /// A file of its own for each test (they run in parallel).
    fn temp(name: &str, contents: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("pregon-cli-{}-{name}", std::process::id()));
        std::fs::write(&p, contents).unwrap();
        p
    }

    fn run_args(args: &[&str]) -> (ExitCode, String) {
        let cli =
            Cli::try_parse_from(std::iter::once("validate").chain(args.iter().copied())).unwrap();
        let mut out = Vec::new();
        let code = run_to(cli.args, &mut out);
        (code, String::from_utf8(out).unwrap())
    }

    /// [`run_args`] on an SMS file: the file, `--channel sms`, then `rest`.
    fn run_sms(f: &std::path::Path, rest: &[&str]) -> (ExitCode, String) {
        let mut args = vec![f.to_str().unwrap(), "--channel", "sms"];
        args.extend_from_slice(rest);
        run_args(&args)
    }

    const BODY: &str = "Hola {{1}}, su cuota vence mañana.";

    /// Rows 2 and 5 GSM-7 (1 and 2 segments), 3 and 4 UCS-2 (1 and 4 segments).
    fn sms_csv(name: &str) -> PathBuf {
        let csv = format!(
            "phone,nombre\n+56962000001,Ana\n+56962000002,José Ángel\n+56962000003,{}\n+56962000004,{}\n",
            "á".repeat(200),
            "€".repeat(70)
        );
        temp(name, &csv)
    }

    #[test]
    fn validate_sms_json_has_the_sms_object_and_the_segment_warning() {
        let f = sms_csv("sms.csv");
        let (code, out) = run_sms(&f, &["--body", BODY, "--default-country", "CL", "--json"]);
        std::fs::remove_file(&f).unwrap();
        assert_eq!(code, ExitCode::SUCCESS, "{out}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["status"], "valid");
        assert_eq!(
            v["sms"],
            json!({"total_segments": 8, "messages": {"gsm7": 2, "ucs2": 2},
                   "max_segments_in_a_message": 4, "ucs2_chars": ["Á", "á"]})
        );
        assert_eq!(
            v["problems"],
            json!([{"row": 4, "column": null, "code": "sms_segments", "severity": "warning",
                    "message": "this message takes 4 SMS segments (UCS-2 because of 'á'); the limit is 3"}])
        );
    }

    #[test]
    fn validate_sms_prints_the_preview_and_honours_max_segments() {
        let f = sms_csv("sms-human.csv");
        let (code, out) = run_sms(&f, &["--body", BODY, "--max-segments", "1"]);
        std::fs::remove_file(&f).unwrap();
        assert_eq!(code, ExitCode::SUCCESS, "{out}");
        assert!(
            out.contains("  SMS: 8 segment(s) for 4 message(s): 2 GSM-7, 2 UCS-2; the longest takes 4 (limit 1)\n  UCS-2 because of: 'Á', 'á'\n"),
            "{out}"
        );
        assert!(out.contains("warning: row 4: sms_segments — this message takes 4 SMS segments (UCS-2 because of 'á'); the limit is 1"), "{out}");
        assert!(out.contains("warning: row 5: sms_segments — this message takes 2 SMS segments (GSM-7); the limit is 1"), "{out}");
    }

    #[test]
    fn validate_sms_without_the_text_says_segments_cannot_be_computed() {
        let f = sms_csv("sms-no-body.csv");
        let (code, out) = run_sms(&f, &["--params", "1"]);
        assert_eq!(code, ExitCode::SUCCESS, "{out}");
        assert!(out.contains("SMS segments cannot be computed: give the template's text with --body 'Hola {{1}}…'"), "{out}");
        let (_, out) = run_sms(&f, &["--params", "1", "--json"]);
        std::fs::remove_file(&f).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["sms"], Value::Null);
        assert!(v.as_object().unwrap().contains_key("sms"));
    }

    #[test]
    fn validate_whatsapp_json_has_no_sms_object() {
        let f = sms_csv("wa.csv");
        let (_, out) = run_args(&[f.to_str().unwrap(), "--body", BODY, "--json"]);
        std::fs::remove_file(&f).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["valid_rows"], 4, "--body gives --params for WhatsApp too");
        assert!(v.get("sms").is_none());
    }

    #[test]
    fn validate_sms_normalized_csv_has_encoding_and_segments() {
        let f = sms_csv("sms-norm.csv");
        let out_path = f.with_extension("out.csv");
        let (code, _) = run_sms(
            &f,
            &["--body", BODY, "--normalized", out_path.to_str().unwrap()],
        );
        let written = std::fs::read_to_string(&out_path).unwrap();
        std::fs::remove_file(&f).unwrap();
        std::fs::remove_file(&out_path).unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines[0], "phone,nombre,encoding,segments");
        assert_eq!(lines[1], "+56962000001,Ana,gsm7,1");
        assert_eq!(lines[2], "+56962000002,José Ángel,ucs2,1");
        assert!(lines[3].ends_with(",ucs2,4"), "{}", lines[3]);
        assert!(lines[4].ends_with(",gsm7,2"), "{}", lines[4]);
    }

    #[test]
    fn validate_refuses_params_that_disagree_with_the_body() {
        let f = sms_csv("sms-disagree.csv");
        let (code, out) = run_sms(&f, &["--body", BODY, "--params", "2"]);
        std::fs::remove_file(&f).unwrap();
        assert_eq!((code, out.as_str()), (ExitCode::from(2), ""));
        assert!(Cli::try_parse_from(["validate", "x.csv", "--max-segments", "0"]).is_err());
        assert!(
            Cli::try_parse_from(["validate", "x.csv", "--message-column", "--body", "x"]).is_err()
        );
    }
}
