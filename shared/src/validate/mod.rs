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

mod problems;
mod rows;
mod text;

pub use problems::{excerpt, Code, Problem, Severity, EXCERPT_CHARS};
use rows::Validator;
pub use text::{clean, column_letter, fold};
use text::{is_named, yes_no, FastHash};

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
