//! The downloadable validation report (CSV) and the normalised recipients file.

use crate::validate::{Layout, Problem, Recipient};
use std::io::Write;

/// A cell a spreadsheet would run as a formula is written so it shows as text.
pub fn safe_cell(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// The problem report's columns.
pub const PROBLEM_COLUMNS: [&str; 5] = ["row", "column", "code", "severity", "message"];

/// Writes problems as CSV: `row,column,code,severity,message`. Every text field is
/// quoted, so a `;` inside a message stays in its cell when Excel in a Spanish locale
/// (which splits on `;`) opens the file.
pub struct ProblemCsv<W: Write> {
    out: csv::Writer<W>,
}

impl<W: Write> ProblemCsv<W> {
    /// A report that starts with its header row.
    pub fn new(w: W) -> csv::Result<Self> {
        let mut me = Self::without_header(w);
        me.out.write_record(PROBLEM_COLUMNS)?;
        Ok(me)
    }

    /// Rows only: the body of a report whose header is written elsewhere.
    pub fn without_header(w: W) -> Self {
        let out = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::NonNumeric)
            .from_writer(w);
        ProblemCsv { out }
    }

    pub fn write(&mut self, p: &Problem) -> csv::Result<()> {
        let row = p.row.map(|r| r.to_string()).unwrap_or_default();
        let sev = match p.severity {
            crate::validate::Severity::Error => "error",
            crate::validate::Severity::Warning => "warning",
        };
        self.out.write_record([
            row.as_str(),
            &safe_cell(p.column.as_deref().unwrap_or("")),
            p.code.as_str(),
            sev,
            &safe_cell(&p.message),
        ])
    }

    pub fn finish(self) -> std::io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// The full problem report, written as problems are found, in bounded memory: row
/// problems stream to `rows` (a temporary file), file-level problems wait aside, and
/// [`ProblemReport::finish_into`] writes the CSV with the file-level problems first. It
/// also keeps the first problems for the campaign record.
pub struct ProblemReport<W: Write> {
    rows: ProblemCsv<W>,
    file_level: Vec<Problem>,
    first_rows: Vec<Problem>,
    keep_first: usize,
    error: Option<std::io::Error>,
}

impl<W: Write> ProblemReport<W> {
    pub fn new(rows: W, keep_first: usize) -> Self {
        ProblemReport {
            rows: ProblemCsv::without_header(rows),
            file_level: Vec::new(),
            first_rows: Vec::new(),
            keep_first,
            error: None,
        }
    }

    pub fn add(&mut self, p: Problem) {
        if p.is_file_level() {
            self.file_level.push(p);
            return;
        }
        if let Err(e) = self.rows.write(&p) {
            self.error.get_or_insert(e.into());
        }
        if self.first_rows.len() < self.keep_first {
            self.first_rows.push(p);
        }
    }

    /// The first problems, file-level ones first.
    pub fn first(&self) -> impl Iterator<Item = Problem> + '_ {
        self.file_level
            .iter()
            .chain(&self.first_rows)
            .take(self.keep_first)
            .cloned()
    }

    /// Ends the rows, then writes the whole report to `out`: the header, the file-level
    /// problems, then the rows read back from `reopen(rows)`.
    pub fn finish_into<R: std::io::Read>(
        self,
        out: impl Write,
        reopen: impl FnOnce(W) -> std::io::Result<R>,
    ) -> std::io::Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let rows = self.rows.finish()?;
        let mut head = ProblemCsv::new(out)?;
        for p in &self.file_level {
            head.write(p)?;
        }
        let mut out = head.finish()?;
        std::io::copy(&mut reopen(rows)?, &mut out)?;
        out.flush()
    }
}

impl<W: Write> crate::validate::Sink for ProblemReport<W> {
    fn problem(&mut self, problem: Problem) {
        self.add(problem);
    }
}

/// Writes valid rows as UTF-8 CSV: `phone,<parameters>,<linked metadata>`, phone in E.164;
/// for SMS whose segments are counted, then `encoding,segments` (`gsm7`/`ucs2`, a number).
pub struct RecipientCsv<W: Write> {
    out: csv::Writer<W>,
    header_written: bool,
}

impl<W: Write> RecipientCsv<W> {
    pub fn new(w: W) -> Self {
        RecipientCsv {
            out: csv::Writer::from_writer(w),
            header_written: false,
        }
    }

    pub fn header(&mut self, layout: &Layout) -> csv::Result<()> {
        let mut h: Vec<&str> = vec!["phone"];
        h.extend(layout.params.iter().map(String::as_str));
        if layout.message {
            h.push("message");
        }
        if layout.priority {
            h.push("priority");
        }
        h.extend(layout.metadata.iter().map(String::as_str));
        if layout.sms {
            h.extend(["encoding", "segments"]);
        }
        self.header_written = true;
        self.out.write_record(h)
    }

    pub fn write(&mut self, r: &Recipient) -> csv::Result<()> {
        let mut rec: Vec<String> = vec![r.phone.e164()];
        rec.extend(r.params.iter().map(|p| safe_cell(p).into_owned()));
        if let Some(m) = &r.message {
            rec.push(safe_cell(m).into_owned());
        }
        if let Some(p) = r.priority {
            rec.push(p.to_string());
        }
        rec.extend(r.metadata.iter().map(|(_, v)| {
            v.as_ref()
                .map(|v| safe_cell(&v.to_text()).into_owned())
                .unwrap_or_default()
        }));
        if let Some(c) = &r.sms {
            rec.push(c.encoding.as_str().to_string());
            rec.push(c.segments.to_string());
        }
        self.out.write_record(rec)
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// The header row a spreadsheet for a template needs: the phone, then `{{1}}`…`{{n}}`.
pub fn layout_columns(params: usize) -> Vec<String> {
    std::iter::once("phone".to_string())
        .chain((1..=params).map(|n| format!("param_{n}")))
        .collect()
}

/// The header row a campaign's spreadsheet needs: the phone, then `param_1`…`param_n`
/// for its template (or `message` for an SMS campaign without one: each row's own
/// text), then its metadata columns by name.
pub fn campaign_columns(
    params: usize,
    message_column: bool,
    metadata: &[crate::validate::MetadataField],
) -> Vec<String> {
    let mut columns = layout_columns(params);
    if message_column {
        columns.push("message".into());
    }
    columns.extend(metadata.iter().map(|m| m.name.clone()));
    columns
}

/// The empty layout as CSV (header only).
pub fn layout_csv(columns: &[String]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns).expect("in memory");
    w.into_inner().expect("in memory")
}

/// The empty layout as XLSX, with the phone column formatted as text so Excel keeps
/// every digit (a General cell turns 56912345678 into 5.69123E+10).
pub fn layout_xlsx(columns: &[String]) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Destinatarios").map_err(|e| e.to_string())?;
    let bold = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    ws.set_column_format(0, &text).map_err(|e| e.to_string())?;
    for (i, c) in columns.iter().enumerate() {
        ws.write_string_with_format(0, i as u16, c, &bold)
            .map_err(|e| e.to_string())?;
        ws.set_column_width(i as u16, 18)
            .map_err(|e| e.to_string())?;
    }
    wb.save_to_buffer().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_layout_round_trips_through_the_validator() {
        let cols = layout_columns(2);
        assert_eq!(cols, ["phone", "param_1", "param_2"]);
        assert_eq!(layout_csv(&cols), b"phone,param_1,param_2\n");
        let xlsx = layout_xlsx(&cols).unwrap();
        let mut header = Vec::new();
        crate::spreadsheet::read_rows(std::io::Cursor::new(xlsx), |_, cells| {
            header = cells.iter().map(|c| c.to_text().into_owned()).collect();
            std::ops::ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(header, cols);
    }

    #[test]
    fn formula_like_cells_are_written_as_text() {
        assert_eq!(safe_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_cell("+56"), "'+56");
        assert_eq!(safe_cell("Ana"), "Ana");
    }
}
