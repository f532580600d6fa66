//! Problems: their codes, severities and how much of a cell they quote.

use super::*;

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
    /// Warning only: an SMS over [`Rules::max_sms_segments`] segments (the row is still sent).
    SmsSegments,
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
            Code::SmsSegments => "sms_segments",
            Code::InternalError => "internal_error",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::UnusedColumn | Code::SmsSegments => Severity::Warning,
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
    pub(super) fn new(
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
