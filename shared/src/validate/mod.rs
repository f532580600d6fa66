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
//!
//! SMS (SPEC §9): when each row's text is known — the `message` column, or the
//! template's body ([`Rules::sms_body`]) with the row's parameters in place — every
//! valid row gets its encoding and segment count ([`Recipient::sms`]), a message over
//! [`Rules::max_sms_segments`] gets an `sms_segments` warning (the row stays valid), and
//! the [`Summary`] adds them up ([`Summary::sms`]).

use crate::phone::{DefaultCountry, Phone, PhoneError, PhoneRules};
use crate::sms::{SmsCost, SmsSummary};
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
    /// SMS with a template: its body, `{{n}}` replaced by each row's parameters to make
    /// the row's text and count its segments. Without it (and without a `message`
    /// column) segments are not counted.
    pub sms_body: Option<String>,
    /// SMS: a message over this many segments gets an `sms_segments` warning.
    pub max_sms_segments: usize,
    pub limits: Limits,
}

/// The default [`Rules::max_sms_segments`]: a message over 3 segments (459 GSM-7
/// characters, 201 UCS-2) costs more than 3 SMS each, usually by mistake (a long
/// parameter, or one accented character that turned the whole text into UCS-2). It is
/// a warning: such rows are still sent.
pub const MAX_SMS_SEGMENTS: usize = 3;

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
            sms_body: None,
            max_sms_segments: MAX_SMS_SEGMENTS,
            limits: Limits::default(),
        }
    }

    /// Whether each row's SMS text is known, so its segments can be counted: an SMS
    /// campaign with a `message` column, or with its template's body.
    pub fn counts_sms(&self) -> bool {
        self.channel == Channel::Sms && (self.message_column || self.sms_body.is_some())
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
    /// SMS: the valid rows' messages added up, when [`Rules::counts_sms`] and the file
    /// had no file-level problem. Its size does not grow with the row count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<SmsSummary>,
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
    /// SMS, when [`Rules::counts_sms`]: what this row's message costs.
    pub sms: Option<SmsCost>,
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
    /// Each recipient carries its SMS cost ([`Recipient::sms`]).
    pub sms: bool,
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
