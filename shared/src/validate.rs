//! The spreadsheet rules of SPEC §4: from rows of cells to recipients and problems.
//!
//! Row 1 is the header. Column A is the phone. The next columns are the
//! template's parameters `{{1}}`, `{{2}}`, … in order. Later columns are linked
//! by name to the campaign's metadata fields; an unmatched one is a warning.
//! An SMS campaign without a template has a `message` column instead of
//! parameters, and may have a `priority` column.
//!
//! [`validate`] streams: each valid row goes to the [`Sink`] as a
//! [`Recipient`] as soon as it is read, each problem as a [`Problem`], and the
//! result is a [`Summary`] of counts. Nothing holds the whole file.

use crate::phone::{DefaultCountry, Phone, PhoneError, PhoneRules};
use crate::spreadsheet::{self, Cell, FileError, Format};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek};
use std::ops::ControlFlow;
use std::sync::Arc;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Whatsapp,
    Sms,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnInvalidRows {
    /// Any row error makes the campaign `invalid`.
    #[default]
    Reject,
    /// Bad rows are reported and left out.
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataType {
    Text,
    Paragraph,
    YesNo,
}

/// A ticket metadata field that a spreadsheet column is linked to by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataField {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: MetadataType,
}

impl std::str::FromStr for MetadataField {
    type Err = String;
    /// `NAME:TYPE`, as the CLI takes it (`"Cliente VIP:yes_no"`).
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, kind) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("'{s}' is not NAME:TYPE"))?;
        let kind = match kind.trim() {
            "text" => MetadataType::Text,
            "paragraph" => MetadataType::Paragraph,
            "yes_no" => MetadataType::YesNo,
            other => {
                return Err(format!(
                    "metadata type '{other}' is not text, paragraph or yes_no"
                ))
            }
        };
        if name.trim().is_empty() {
            return Err(format!("'{s}' has no field name"));
        }
        Ok(MetadataField {
            name: name.trim().to_string(),
            kind,
        })
    }
}

/// The problem codes of SPEC §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    EmptyFile,
    UnsupportedFormat,
    FileTooLarge,
    UnreadableFile,
    MissingPhone,
    InvalidPhone,
    DuplicatePhone,
    MissingParameter,
    InvalidParameter,
    TooManyColumns,
    MissingColumns,
    MetadataTypeMismatch,
    UnusedColumn,
    /// Validation could not finish (it crashed or timed out every time it was tried):
    /// the tenant is told to upload again.
    InternalError,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::EmptyFile => "empty_file",
            Code::UnsupportedFormat => "unsupported_format",
            Code::FileTooLarge => "file_too_large",
            Code::UnreadableFile => "unreadable_file",
            Code::MissingPhone => "missing_phone",
            Code::InvalidPhone => "invalid_phone",
            Code::DuplicatePhone => "duplicate_phone",
            Code::MissingParameter => "missing_parameter",
            Code::InvalidParameter => "invalid_parameter",
            Code::TooManyColumns => "too_many_columns",
            Code::MissingColumns => "missing_columns",
            Code::MetadataTypeMismatch => "metadata_type_mismatch",
            Code::UnusedColumn => "unused_column",
            Code::InternalError => "internal_error",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::UnusedColumn => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, where the user can find it: the spreadsheet row as they see it
/// (header = 1; `None` for the whole file) and the column's header name.
///
/// A problem quotes at most [`EXCERPT_CHARS`] characters of a cell or a column name, so
/// a hostile file cannot make its report larger than the file; the column name is
/// shared by every problem of that column, not copied into each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub row: Option<u64>,
    pub column: Option<Arc<str>>,
    pub code: Code,
    pub severity: Severity,
    pub message: String,
}

impl Problem {
    fn new(
        row: Option<u64>,
        column: Option<&Arc<str>>,
        code: Code,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            row,
            column: column.cloned(),
            code,
            severity: code.severity(),
            message: message.into(),
        }
    }

    /// About the whole file (or its header), not one data row: listed before row problems.
    pub fn is_file_level(&self) -> bool {
        self.row.is_none_or(|r| r <= 1)
    }
}

/// How many characters of a cell or a column name a problem message quotes.
pub const EXCERPT_CHARS: usize = 100;

/// `s` cut to [`EXCERPT_CHARS`] characters, saying how long it was when cut.
pub fn excerpt(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(EXCERPT_CHARS) {
        None => Cow::Borrowed(s),
        Some((end, _)) => Cow::Owned(format!("{}… ({} characters)", &s[..end], s.chars().count())),
    }
}

/// Configured limits (SPEC §4: 100 MB or 1,000,000 data rows by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_rows: u64,
    /// Row problems reported in full; beyond it they are only counted, by code
    /// ([`Summary::problems_omitted`]). File-level problems are always reported.
    pub max_problems: u64,
}

/// The default cap on reported row problems: a report stays a few tens of MB at most.
pub const MAX_PROBLEMS: u64 = 100_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 100 * 1024 * 1024,
            max_rows: 1_000_000,
            max_problems: MAX_PROBLEMS,
        }
    }
}

/// What a spreadsheet is checked against: the campaign's settings and its template.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The template's number of parameters (`{{1}}`…`{{n}}`).
    pub params: usize,
    pub channel: Channel,
    /// For numbers written without a country code.
    pub default_country: Option<DefaultCountry>,
    pub allow_duplicates: bool,
    pub metadata: Vec<MetadataField>,
    pub on_invalid_rows: OnInvalidRows,
    /// SMS without a template: each row carries its own text in a `message` column.
    pub message_column: bool,
    pub limits: Limits,
}

impl Rules {
    /// The rules for a spreadsheet sent with a template of `template_params` parameters,
    /// or, with `None`, without a template: then each row carries its own text in a
    /// `message` column, which only SMS allows (SPEC §3). The one place this is decided,
    /// for `pregon validate` and the ingest function alike.
    pub fn for_template(channel: Channel, template_params: Option<usize>) -> Result<Self, String> {
        match template_params {
            Some(n) => Ok(Rules::new(channel, n)),
            None if channel == Channel::Sms => {
                let mut r = Rules::new(channel, 0);
                r.message_column = true;
                Ok(r)
            }
            None => Err("a WhatsApp spreadsheet needs a template: business-initiated messages must be templates".into()),
        }
    }

    pub fn new(channel: Channel, params: usize) -> Self {
        Rules {
            params,
            channel,
            default_country: None,
            allow_duplicates: false,
            metadata: Vec::new(),
            on_invalid_rows: OnInvalidRows::Reject,
            message_column: false,
            limits: Limits::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Valid,
    Invalid,
}

/// Counts over the data rows (every row after the header): `rows` =
/// `valid_rows` + `invalid_rows` + `blank_rows`. Shown on the campaign as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub rows: u64,
    pub valid_rows: u64,
    pub invalid_rows: u64,
    pub blank_rows: u64,
    pub unique_phones: u64,
    pub errors: u64,
    pub warnings: u64,
}

/// The verdict on a whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub status: Status,
    pub format: Option<Format>,
    #[serde(flatten)]
    pub counts: Counts,
    /// Row problems past [`Limits::max_problems`], counted by code but not reported one by one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub problems_omitted: BTreeMap<Code, u64>,
}

/// A linked metadata value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetaValue {
    Text(String),
    YesNo(bool),
}

impl MetaValue {
    pub fn to_text(&self) -> String {
        match self {
            MetaValue::Text(t) => t.clone(),
            MetaValue::YesNo(b) => if *b { "yes" } else { "no" }.to_string(),
        }
    }
}

/// A valid data row: one message to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    /// The spreadsheet row (header = 1).
    pub row: u64,
    pub phone: Phone,
    /// `{{1}}`…`{{n}}`, cleaned of control characters.
    pub params: Vec<String>,
    /// Linked metadata, in the campaign's field order; `None` for an empty cell.
    pub metadata: Vec<(String, Option<MetaValue>)>,
    /// SMS without template: the row's own text, and its priority (higher first).
    pub message: Option<String>,
    pub priority: Option<i64>,
}

/// The header as understood: the names of what each output column holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    pub phone: String,
    pub params: Vec<String>,
    /// Metadata fields linked to a column, in the campaign's order.
    pub metadata: Vec<String>,
    pub message: bool,
    pub priority: bool,
}

/// Where validation results go, as they are found.
pub trait Sink {
    fn layout(&mut self, _layout: &Layout) {}
    fn problem(&mut self, problem: Problem);
    fn recipient(&mut self, _recipient: Recipient) {}
}

/// A sink that keeps every problem and every recipient in memory: for tests and small files.
#[derive(Debug, Default)]
pub struct Collect {
    pub layout: Layout,
    pub problems: Vec<Problem>,
    pub recipients: Vec<Recipient>,
}

impl Sink for Collect {
    fn layout(&mut self, layout: &Layout) {
        self.layout = layout.clone();
    }
    fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
    fn recipient(&mut self, recipient: Recipient) {
        self.recipients.push(recipient);
    }
}

/// Validates a whole spreadsheet of `size` bytes against `rules`.
pub fn validate<R: Read + Seek>(src: R, size: u64, rules: &Rules, sink: &mut dyn Sink) -> Summary {
    let mut v = Validator::new(rules, sink);
    if size > rules.limits.max_bytes {
        v.file_problem(
            Code::FileTooLarge,
            format!(
                "the file has {} MB; the limit is {} MB",
                size / 1_048_576,
                rules.limits.max_bytes / 1_048_576
            ),
        );
        return v.finish(None);
    }
    if size == 0 {
        v.file_problem(Code::EmptyFile, "the file is empty");
        return v.finish(None);
    }
    let result =
        spreadsheet::read_rows_within(src, rules.limits.max_rows, |row, cells| v.row(row, cells));
    match result {
        Ok(format) => v.finish(Some(format)),
        Err(e) => {
            let code = match e {
                FileError::Empty => Code::EmptyFile,
                FileError::Unsupported(_) => Code::UnsupportedFormat,
                FileError::Unreadable(_) => Code::UnreadableFile,
                FileError::TooLarge(_) => Code::FileTooLarge,
            };
            v.file_problem(code, e.to_string());
            v.finish(None)
        }
    }
}

struct Columns {
    /// Header names, trimmed; the used width is `names.len()`.
    names: Vec<String>,
    /// What problems call each column: its name cut to [`EXCERPT_CHARS`], or its letter.
    shown: Vec<Arc<str>>,
    params: Vec<usize>,
    message: Option<usize>,
    priority: Option<usize>,
    /// (column, field) pairs, in column order.
    metadata: Vec<(usize, MetadataField)>,
    /// The header lacks a required column: rows are still checked (so one upload shows
    /// everything to fix), but none becomes a recipient.
    incomplete: bool,
}

impl Columns {
    /// The column as problems name it.
    fn shown(&self, i: usize) -> Arc<str> {
        match self.shown.get(i) {
            Some(s) => s.clone(),
            None => Arc::from(column_letter(i)),
        }
    }
}

struct Validator<'a> {
    rules: &'a Rules,
    sink: &'a mut dyn Sink,
    phones: PhoneRules,
    columns: Option<Columns>,
    /// Normalised phone → the first row that has it.
    seen: HashMap<u64, u64, FastHash>,
    stopped: bool,
    rows: u64,
    valid: u64,
    invalid: u64,
    blank: u64,
    errors: u64,
    warnings: u64,
    /// Row problems handed to the sink so far.
    detailed: u64,
    omitted: BTreeMap<Code, u64>,
    file_error: bool,
}

impl<'a> Validator<'a> {
    fn new(rules: &'a Rules, sink: &'a mut dyn Sink) -> Self {
        Validator {
            rules,
            sink,
            phones: PhoneRules::new(rules.default_country),
            columns: None,
            seen: HashMap::with_hasher(FastHash),
            stopped: false,
            rows: 0,
            valid: 0,
            invalid: 0,
            blank: 0,
            errors: 0,
            warnings: 0,
            detailed: 0,
            omitted: BTreeMap::new(),
            file_error: false,
        }
    }

    /// Counts a problem, and reports it in full while under the cap. The message is only
    /// built when it will be reported: a hostile file's millions of problems cost a count each.
    fn report(
        &mut self,
        row: Option<u64>,
        column: Option<&Arc<str>>,
        code: Code,
        message: impl FnOnce() -> String,
    ) {
        match code.severity() {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        let file_level = row.is_none_or(|r| r <= 1);
        if !file_level {
            if self.detailed >= self.rules.limits.max_problems {
                *self.omitted.entry(code).or_insert(0) += 1;
                return;
            }
            self.detailed += 1;
        }
        self.sink
            .problem(Problem::new(row, column, code, message()));
    }

    fn file_problem(&mut self, code: Code, message: impl Into<String>) {
        self.file_error = true;
        let message = message.into();
        self.report(None, None, code, || message);
    }

    fn row(&mut self, row: u64, cells: &[Cell<'_>]) -> ControlFlow<()> {
        if self.columns.is_none() {
            return self.header(row, cells);
        }
        self.rows += 1;
        if self.rows > self.rules.limits.max_rows {
            self.rows -= 1;
            let max = self.rules.limits.max_rows;
            self.file_problem(
                Code::FileTooLarge,
                format!("the file has more than {max} data rows; split it"),
            );
            self.stopped = true;
            return ControlFlow::Break(());
        }
        if cells.iter().all(Cell::is_blank) {
            self.blank += 1;
            return ControlFlow::Continue(());
        }
        let errors_before = self.errors;
        let recipient = self.check_row(row, cells);
        match recipient {
            Some(r) if self.errors == errors_before => {
                self.valid += 1;
                if !self.columns.as_ref().is_some_and(|c| c.incomplete) {
                    self.sink.recipient(r);
                }
            }
            _ => self.invalid += 1,
        }
        ControlFlow::Continue(())
    }

    fn header(&mut self, row: u64, cells: &[Cell<'_>]) -> ControlFlow<()> {
        let mut names: Vec<String> = cells
            .iter()
            .map(|c| clean(&c.to_text(), false).trim().to_string())
            .collect();
        while names.last().is_some_and(|n| n.is_empty()) {
            names.pop();
        }
        let shown: Vec<Arc<str>> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if n.is_empty() {
                    Arc::from(column_letter(i))
                } else {
                    Arc::from(excerpt(n).as_ref())
                }
            })
            .collect();
        let rules = self.rules;
        let mut taken = vec![false; names.len().max(1)];
        let mut message = None;
        let mut priority = None;
        let mut incomplete = false;
        let params: Vec<usize>;
        if rules.message_column {
            message = names
                .iter()
                .skip(1)
                .position(|n| is_named(n, &["message", "mensaje", "texto", "text"]))
                .map(|i| i + 1);
            priority = names
                .iter()
                .skip(1)
                .position(|n| is_named(n, &["priority", "prioridad"]))
                .map(|i| i + 1);
            match message {
                Some(m) => taken[m] = true,
                None => {
                    incomplete = true;
                    self.file_error = true;
                    self.report(Some(row), None, Code::MissingColumns, || {
                        "an SMS campaign without a template needs a 'message' column with each row's text".into()
                    });
                }
            }
            if let Some(p) = priority {
                taken[p] = true;
            }
            params = Vec::new();
        } else {
            let have = names.len().saturating_sub(1);
            if have < rules.params {
                incomplete = true;
                self.file_error = true;
                self.report(Some(row), None, Code::MissingColumns, || {
                    format!(
                        "the template needs {} parameter column(s) after the phone column, the header has {}",
                        rules.params, have
                    )
                });
            }
            params = (1..=rules.params.min(have)).collect();
        }
        taken[0] = true;
        for p in &params {
            taken[*p] = true;
        }
        let mut metadata: Vec<(usize, MetadataField)> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if taken[i] {
                continue;
            }
            let key = fold(name);
            let field = rules.metadata.iter().find(|f| fold(&f.name) == key);
            let column = &shown[i];
            match field {
                Some(f) if metadata.iter().any(|(_, m)| m.name == f.name) => {
                    self.report(Some(row), Some(column), Code::UnusedColumn, || {
                        format!(
                            "column '{column}' repeats metadata field '{}'; it is ignored",
                            f.name
                        )
                    });
                }
                Some(f) => metadata.push((i, f.clone())),
                None => {
                    self.report(Some(row), Some(column), Code::UnusedColumn, || {
                        if rules.metadata.is_empty() {
                            format!("column '{column}' is not a template parameter and the campaign has no metadata fields; it is ignored")
                        } else {
                            let known: Vec<&str> =
                                rules.metadata.iter().map(|f| f.name.as_str()).collect();
                            format!(
                                "column '{column}' matches no metadata field ({}); it is ignored",
                                known.join(", ")
                            )
                        }
                    });
                }
            }
        }
        let layout = Layout {
            phone: names.first().cloned().unwrap_or_else(|| "phone".into()),
            params: params.iter().map(|&i| shown[i].to_string()).collect(),
            metadata: rules
                .metadata
                .iter()
                .filter(|f| metadata.iter().any(|(_, m)| m.name == f.name))
                .map(|f| f.name.clone())
                .collect(),
            message: message.is_some(),
            priority: priority.is_some(),
        };
        self.sink.layout(&layout);
        self.columns = Some(Columns {
            names,
            shown,
            params,
            message,
            priority,
            metadata,
            incomplete,
        });
        ControlFlow::Continue(())
    }

    fn check_row(&mut self, row: u64, cells: &[Cell<'_>]) -> Option<Recipient> {
        let cols = self.columns.take().expect("header read first");
        let result = self.check_row_with(&cols, row, cells);
        self.columns = Some(cols);
        result
    }

    fn check_row_with(
        &mut self,
        cols: &Columns,
        row: u64,
        cells: &[Cell<'_>],
    ) -> Option<Recipient> {
        let at = |i: usize| cells.get(i).unwrap_or(&Cell::Empty);
        let whatsapp = self.rules.channel == Channel::Whatsapp;
        let mut ok = true;

        let used = cells
            .iter()
            .rposition(|c| !c.is_blank())
            .map_or(0, |i| i + 1);
        let width = cols.names.len();
        if used > width.max(1) {
            let column = cols.shown(width);
            self.report(Some(row), Some(&column), Code::TooManyColumns, || {
                format!("the row has {used} cells but the header has {width} columns")
            });
            ok = false;
        }

        let phone_col = cols.shown(0);
        let phone = match at(0) {
            c if c.is_blank() => {
                self.report(Some(row), Some(&phone_col), Code::MissingPhone, || {
                    "the phone cell is empty".into()
                });
                None
            }
            Cell::Number(n) => {
                let r = self.phones.parse_number(*n);
                self.phone_result(row, &phone_col, &Cell::Number(*n).to_text(), r)
            }
            Cell::Text(t) => {
                let r = self.phones.parse_text(t);
                self.phone_result(row, &phone_col, t, r)
            }
            Cell::Bool(_) | Cell::Empty => {
                self.report(Some(row), Some(&phone_col), Code::InvalidPhone, || {
                    "the phone cell holds TRUE/FALSE, not a number".into()
                });
                None
            }
        };
        ok &= phone.is_some();

        let mut params = Vec::with_capacity(cols.params.len());
        for (n, &i) in cols.params.iter().enumerate() {
            let name = cols.shown(i);
            let what = Param::Template(n + 1);
            match self.text_value(row, &name, at(i), whatsapp, what) {
                Some(v) => params.push(v),
                None => ok = false,
            }
        }

        let message = match cols.message {
            Some(i) => {
                let name = cols.shown(i);
                let v = self.text_value(row, &name, at(i), false, Param::Message);
                ok &= v.is_some();
                v
            }
            None => None,
        };
        let priority = match cols.priority.map(|i| (i, at(i))) {
            Some((_, c)) if c.is_blank() => None,
            Some((i, c)) => match c.to_text().trim().parse::<f64>() {
                Ok(p) if p.fract() == 0.0 && p.abs() < 1e9 => Some(p as i64),
                _ => {
                    let name = cols.shown(i);
                    self.report(Some(row), Some(&name), Code::InvalidParameter, || {
                        format!("priority '{}' is not a whole number", excerpt(&c.to_text()))
                    });
                    ok = false;
                    None
                }
            },
            None => None,
        };

        let mut metadata = Vec::with_capacity(cols.metadata.len());
        for (i, field) in &cols.metadata {
            let c = at(*i);
            if c.is_blank() {
                metadata.push((field.name.clone(), None));
                continue;
            }
            let value = match field.kind {
                MetadataType::YesNo => match yes_no(c) {
                    Some(b) => MetaValue::YesNo(b),
                    None => {
                        let name = cols.shown(*i);
                        self.report(Some(row), Some(&name), Code::MetadataTypeMismatch, || {
                            format!(
                                "'{}' is not a yes/no value for '{}' (use 1/0, sí/no, yes/no or true/false)",
                                excerpt(&c.to_text()),
                                excerpt(&field.name)
                            )
                        });
                        ok = false;
                        continue;
                    }
                },
                MetadataType::Text => MetaValue::Text(clean(c.to_text().trim(), false)),
                MetadataType::Paragraph => MetaValue::Text(clean(c.to_text().trim(), true)),
            };
            metadata.push((field.name.clone(), Some(value)));
        }

        let phone = phone?;
        if !ok {
            return None;
        }
        if !self.rules.allow_duplicates {
            if let Some(&first) = self.seen.get(&phone.digits()) {
                self.report(Some(row), Some(&phone_col), Code::DuplicatePhone, || {
                    format!("{phone} already appears in row {first}")
                });
                return None;
            }
        }
        self.seen.entry(phone.digits()).or_insert(row);
        Some(Recipient {
            row,
            phone,
            params,
            metadata,
            message,
            priority,
        })
    }

    fn phone_result(
        &mut self,
        row: u64,
        col: &Arc<str>,
        raw: &str,
        r: Result<Phone, PhoneError>,
    ) -> Option<Phone> {
        match r {
            Ok(p) => Some(p),
            Err(e) => {
                self.report(Some(row), Some(col), Code::InvalidPhone, || {
                    format!("'{}': {e}", excerpt(raw.trim()))
                });
                None
            }
        }
    }

    /// A parameter or message cell: required, cleaned, and checked against the channel.
    fn text_value(
        &mut self,
        row: u64,
        col: &Arc<str>,
        cell: &Cell<'_>,
        whatsapp: bool,
        what: Param,
    ) -> Option<String> {
        if cell.is_blank() {
            self.report(Some(row), Some(col), Code::MissingParameter, || {
                format!("{what} is empty")
            });
            return None;
        }
        let raw = cell.to_text();
        let raw = raw.trim();
        if whatsapp {
            let refusal = if raw.contains(['\n', '\r']) {
                Some("has a line break".to_string())
            } else if raw.contains('\t') {
                Some("has a tab".to_string())
            } else if raw.contains("     ") {
                Some("has more than 4 spaces in a row".to_string())
            } else {
                let n = raw.chars().count();
                (n > 1024).then(|| format!("has {n} characters; the limit is 1,024"))
            };
            if let Some(why) = refusal {
                self.report(Some(row), Some(col), Code::InvalidParameter, || {
                    format!("{what} {why}, which WhatsApp refuses in a template parameter")
                });
                return None;
            }
        }
        Some(clean(raw, !whatsapp))
    }

    fn finish(self, format: Option<Format>) -> Summary {
        let mut me = self;
        if !me.file_error && (me.columns.is_none() || me.rows == me.blank) {
            let msg = if me.columns.is_none() {
                "the file has no rows"
            } else {
                "the file has a header but no data rows"
            };
            me.file_problem(Code::EmptyFile, msg);
        }
        let ok = match me.rules.on_invalid_rows {
            OnInvalidRows::Reject => me.errors == 0,
            OnInvalidRows::Skip => !me.file_error && me.valid > 0,
        };
        Summary {
            status: if ok { Status::Valid } else { Status::Invalid },
            format,
            counts: Counts {
                rows: me.rows,
                valid_rows: me.valid,
                invalid_rows: me.invalid,
                blank_rows: me.blank,
                unique_phones: me.seen.len() as u64,
                errors: me.errors,
                warnings: me.warnings,
            },
            problems_omitted: me.omitted,
        }
    }
}

/// Which cell a text problem is about, as the message names it.
#[derive(Clone, Copy)]
enum Param {
    Template(usize),
    Message,
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Param::Template(n) => write!(f, "parameter {{{{{n}}}}}"),
            Param::Message => f.write_str("the message"),
        }
    }
}

/// Strips control characters; keeps line breaks only where `keep_newlines` (and as `\n`).
pub fn clean(s: &str, keep_newlines: bool) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    let s = s.replace("\r\n", "\n");
    s.chars()
        .filter(|&c| !c.is_control() || (keep_newlines && c == '\n'))
        .collect()
}

/// Header names compare without case, accents or surrounding spaces.
pub fn fold(s: &str) -> String {
    s.trim()
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_named(name: &str, options: &[&str]) -> bool {
    let f = fold(name);
    options.contains(&f.as_str())
}

fn yes_no(c: &Cell<'_>) -> Option<bool> {
    match c {
        Cell::Bool(b) => Some(*b),
        Cell::Number(n) if *n == 1.0 => Some(true),
        Cell::Number(n) if *n == 0.0 => Some(false),
        _ => match fold(&c.to_text()).as_str() {
            "1" | "si" | "yes" | "true" | "verdadero" => Some(true),
            "0" | "no" | "false" | "falso" => Some(false),
            _ => None,
        },
    }
}

/// Column letters as a spreadsheet shows them: 0 → A, 26 → AA.
pub fn column_letter(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ascii")
}

/// Phones are already well-mixed integers: a multiplicative hash is enough and much
/// cheaper than SipHash over a million rows.
#[derive(Clone, Copy, Default)]
struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

#[derive(Default)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
