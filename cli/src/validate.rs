//! `pregon validate FILE`: the ingest function's validation, offline.

use pregon::phone::DefaultCountry;
use pregon::report::RecipientCsv;
use pregon::validate::{
    validate, Channel, Layout, MetadataField, OnInvalidRows, Problem, Recipient, Rules, Sink,
    Status,
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
    /// template without placeholders: a phone-only list).
    #[arg(long, required_unless_present = "message_column")]
    params: Option<usize>,
    /// SMS without a template: each row carries its own text in a `message` column
    /// (and an optional `priority`).
    #[arg(long, conflicts_with = "params")]
    message_column: bool,
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
    /// Write the valid rows as UTF-8 CSV (phone in E.164) to this file.
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
    let channel = match a.channel {
        ChannelArg::Whatsapp => Channel::Whatsapp,
        ChannelArg::Sms => Channel::Sms,
    };
    let template = if a.message_column { None } else { a.params };
    let mut rules = match Rules::for_template(channel, template) {
        Ok(r) => r,
        Err(e) => return usage(format!("--message-column: {e}")),
    };
    rules.default_country = a.default_country;
    rules.allow_duplicates = a.allow_duplicates;
    rules.metadata = a.metadata;
    rules.on_invalid_rows = match a.on_invalid_rows {
        OnInvalidArg::Reject => OnInvalidRows::Reject,
        OnInvalidArg::Skip => OnInvalidRows::Skip,
    };
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
    let stdout = std::io::stdout();
    let mut o = BufWriter::new(stdout.lock());
    let status = summary.status;
    let written = if a.json {
        let v = json!({
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
        serde_json::to_writer(&mut o, &v)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(o))
    } else {
        print_summary(&mut o, &a.file, &summary, &sink.problems)
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

fn print_summary(
    o: &mut impl Write,
    file: &std::path::Path,
    s: &pregon::validate::Summary,
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
