//! Reading a spreadsheet, whatever its format, as rows of cells.
//!
//! The format is recognised by content, never by name: CSV/TSV (delimiter
//! `,` `;` tab or `|`, detected; UTF-8 with or without BOM, UTF-16 with BOM,
//! Windows-1252 as the fallback), XLSX, XLS and ODS (first visible sheet).
//! CSV is streamed through one reused record buffer; XLSX rows are streamed from
//! `calamine`'s cell reader, one row at a time; ODS and XLS are read by `calamine`
//! whole, after checks that bound what that can cost.
//!
//! Memory is bounded by the limits, not by what a file claims (issue: hostile files):
//! a cell past the row limit or beyond column XFD is refused before anything is
//! allocated for it; every zip entry read whole is measured before it is read (its
//! declared size, then its real size by decompressing it into nothing); an ODS whose
//! repeated cells would expand past a cap is refused; a CSV row longer than 1 MB is
//! refused.

use calamine::{Data, Ods, Reader, SheetType, SheetVisible, Xls, Xlsx};
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, WINDOWS_1252};
use std::borrow::Cow;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;

/// The formats Pregón reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
    Xls,
    Ods,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Ods => "ods",
        }
    }
}

/// One cell as read. Text borrows from the reader's buffer where it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Empty,
    Text(Cow<'a, str>),
    Number(f64),
    Bool(bool),
}

impl Cell<'_> {
    /// Empty, or text of nothing but whitespace.
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }

    /// The cell as the user sees it: numbers without a spurious `.0`, booleans as TRUE/FALSE.
    pub fn to_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(t) => Cow::Borrowed(t.as_ref()),
            Cell::Number(n) => Cow::Owned(number_text(*n)),
            Cell::Bool(b) => Cow::Borrowed(if *b { "TRUE" } else { "FALSE" }),
        }
    }
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A file-level reason the spreadsheet cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("this is not a spreadsheet we read ({0}); upload CSV, XLSX, XLS or ODS")]
    Unsupported(String),
    #[error("the file cannot be read: {0}")]
    Unreadable(String),
    #[error("the file is too large: {0}")]
    TooLarge(String),
}

/// Reads the rows of the first visible sheet (or of the CSV) and hands each to `visit`
/// with its row number as the user sees it (the first row is 1). Fully empty
/// trailing cells are kept; the caller decides what they mean.
///
/// `visit` may stop early by returning `ControlFlow::Break`.
pub fn read_rows<R, F>(src: R, visit: F) -> Result<Format, FileError>
where
    R: Read + Seek,
    F: FnMut(u64, &[Cell<'_>]) -> ControlFlow<()>,
{
    read_rows_within(src, 1_000_000, visit)
}

/// The widest sheet a spreadsheet program makes: columns A…XFD.
pub const MAX_COLUMNS: u32 = 16_384;
/// The most bytes of one zip entry that is read whole (shared strings, styles, the
/// workbook, an ODS's content), and of all of them together.
pub const MAX_WHOLE_ENTRY: u64 = 64 * 1024 * 1024;
pub const MAX_WHOLE_ENTRIES: u64 = 128 * 1024 * 1024;
/// The most cells an ODS may expand to once its repeats are counted.
pub const MAX_ODS_CELLS: u64 = 4_000_000;
/// The longest CSV row.
pub const MAX_CSV_ROW: usize = 1024 * 1024;

/// [`read_rows`] for a file of at most `max_rows` data rows: rows past them (with some
/// slack, so the validator can say how many rows there are) are not read, and cells
/// that would need memory beyond them are refused as `TooLarge`.
pub fn read_rows_within<R, F>(mut src: R, max_rows: u64, mut visit: F) -> Result<Format, FileError>
where
    R: Read + Seek,
    F: FnMut(u64, &[Cell<'_>]) -> ControlFlow<()>,
{
    // The header, the data rows, and one more so the validator sees there are too many.
    let max_sheet_rows = max_rows.saturating_add(2);
    let mut head = Vec::with_capacity(SNIFF);
    (&mut src)
        .take(SNIFF as u64)
        .read_to_end(&mut head)
        .map_err(|e| FileError::Unreadable(e.to_string()))?;
    src.seek(SeekFrom::Start(0))
        .map_err(|e| FileError::Unreadable(e.to_string()))?;
    match sniff(&head)? {
        Sniffed::Zip => read_zip(src, max_sheet_rows, &mut visit),
        Sniffed::Cfb => {
            guard_xls(&mut src, max_sheet_rows)?;
            src.seek(SeekFrom::Start(0))
                .map_err(|e| FileError::Unreadable(e.to_string()))?;
            let mut wb: Xls<_> =
                Xls::new(BufReader::new(src)).map_err(|e| workbook_error("XLS", e))?;
            read_workbook(&mut wb, &mut visit, "XLS")?;
            Ok(Format::Xls)
        }
        Sniffed::Text(enc) => {
            read_csv(src, &head, enc, &mut visit)?;
            Ok(Format::Csv)
        }
    }
}

const SNIFF: usize = 64 * 1024;

enum Sniffed {
    Zip,
    Cfb,
    Text(TextEncoding),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum TextEncoding {
    /// UTF-8 (a field that is not valid UTF-8 is read as Windows-1252).
    Utf8 { bom: bool },
    /// Transcoded to UTF-8 while reading.
    Other(&'static Encoding),
}

fn sniff(head: &[u8]) -> Result<Sniffed, FileError> {
    if head.is_empty() {
        return Err(FileError::Empty);
    }
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"7z\xBC\xAF", "a 7-Zip archive"),
        (b"Rar!", "a RAR archive"),
        (b"\x7FELF", "a program"),
        (b"MZ", "a program"),
        (b"BZh", "a bzip2 archive"),
        (b"\xFD7zXZ", "an xz archive"),
        (b"RIFF", "a media file"),
        (b"{\\rtf", "an RTF document"),
    ];
    for (magic, what) in MAGIC {
        if head.starts_with(magic) {
            return Err(FileError::Unsupported(what.to_string()));
        }
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Ok(Sniffed::Zip);
    }
    if head.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return Ok(Sniffed::Cfb);
    }
    if head.starts_with(b"\xEF\xBB\xBF") {
        return Ok(Sniffed::Text(TextEncoding::Utf8 { bom: true }));
    }
    if head.starts_with(b"\xFF\xFE") {
        return Ok(Sniffed::Text(TextEncoding::Other(UTF_16LE)));
    }
    if head.starts_with(b"\xFE\xFF") {
        return Ok(Sniffed::Text(TextEncoding::Other(UTF_16BE)));
    }
    // Text has no NUL bytes and few other control bytes.
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C))
        .count();
    if head.contains(&0) || controls * 20 > head.len() {
        return Err(FileError::Unsupported("binary data".into()));
    }
    let utf8 = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut by the end of the sniffed block is still UTF-8.
        Err(e) => e.error_len().is_none() && head.len() == SNIFF,
    };
    if utf8 {
        if head.trim_ascii().starts_with(b"<") {
            return Err(FileError::Unsupported("an HTML or XML document".into()));
        }
        Ok(Sniffed::Text(TextEncoding::Utf8 { bom: false }))
    } else {
        Ok(Sniffed::Text(TextEncoding::Other(WINDOWS_1252)))
    }
}

fn workbook_error(kind: &str, e: impl std::fmt::Display) -> FileError {
    FileError::Unreadable(format!(
        "this {kind} workbook is damaged or protected ({e})"
    ))
}

fn read_zip<R, F>(mut src: R, max_sheet_rows: u64, visit: &mut F) -> Result<Format, FileError>
where
    R: Read + Seek,
    F: FnMut(u64, &[Cell<'_>]) -> ControlFlow<()>,
{
    // Tell XLSX from ODS from other zip files (DOCX, plain archives) by their entries.
    let kind = {
        let mut archive = zip::ZipArchive::new(&mut src)
            .map_err(|e| FileError::Unreadable(format!("the zip container is damaged ({e})")))?;
        let names: Vec<&str> = archive.file_names().collect();
        let kind = if names.contains(&"xl/workbook.xml") || names.contains(&"xl/workbook.bin") {
            if names.contains(&"xl/workbook.bin") {
                return Err(FileError::Unsupported(
                    "an XLSB workbook; save it as XLSX".into(),
                ));
            }
            Format::Xlsx
        } else if names.contains(&"content.xml") && names.contains(&"mimetype") {
            Format::Ods
        } else if names.iter().any(|n| n.starts_with("word/")) {
            return Err(FileError::Unsupported("a Word document".into()));
        } else {
            return Err(FileError::Unsupported("a zip archive".into()));
        };
        guard_zip(&mut archive)?;
        if kind == Format::Ods {
            guard_ods(&mut archive, max_sheet_rows)?;
        }
        kind
    };
    src.seek(SeekFrom::Start(0))
        .map_err(|e| FileError::Unreadable(e.to_string()))?;
    let src = BufReader::new(src);
    match kind {
        Format::Xlsx => {
            let mut wb: Xlsx<_> = Xlsx::new(src).map_err(|e| workbook_error("XLSX", e))?;
            read_xlsx(&mut wb, max_sheet_rows, visit)?;
        }
        _ => {
            let mut wb: Ods<_> = Ods::new(src).map_err(|e| workbook_error("ODS", e))?;
            read_workbook(&mut wb, visit, "ODS")?;
        }
    }
    Ok(kind)
}

/// Refuses a zip whose entries read whole would take more memory than the limits: by
/// their declared sizes first, then by decompressing each into nothing (a declared
/// size can lie). Worksheets are streamed and only need a sane ratio.
fn guard_zip<R: Read + Seek>(archive: &mut zip::ZipArchive<R>) -> Result<(), FileError> {
    let mut whole = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| FileError::Unreadable(format!("the zip container is damaged ({e})")))?;
        let name = entry.name().to_string();
        let streamed = name.starts_with("xl/worksheets/");
        let declared = entry.size();
        if streamed {
            // A worksheet of 1,000,000 rows is a few hundred MB of XML; a bomb is more.
            if declared > 2 * 1024 * 1024 * 1024 || declared > entry.compressed_size().max(1) * 2000
            {
                return Err(FileError::TooLarge(format!(
                    "the workbook's {name} would expand to {} MB; that is not a spreadsheet we can read",
                    declared >> 20
                )));
            }
            continue;
        }
        let too_big = |n: u64| {
            FileError::TooLarge(format!(
                "the workbook's {name} holds {} MB of data read at once; the limit is {} MB (long texts repeated in many cells?)",
                n >> 20,
                MAX_WHOLE_ENTRY >> 20
            ))
        };
        if declared > MAX_WHOLE_ENTRY {
            return Err(too_big(declared));
        }
        let real = std::io::copy(
            &mut (&mut entry).take(MAX_WHOLE_ENTRY + 1),
            &mut std::io::sink(),
        )
        .map_err(|e| FileError::Unreadable(format!("the workbook's {name} is damaged ({e})")))?;
        if real > MAX_WHOLE_ENTRY {
            return Err(too_big(real));
        }
        whole += real;
        if whole > MAX_WHOLE_ENTRIES {
            return Err(FileError::TooLarge(format!(
                "the workbook's parts read at once hold more than {} MB",
                MAX_WHOLE_ENTRIES >> 20
            )));
        }
    }
    Ok(())
}

/// Refuses an ODS whose repeated rows and cells (`number-rows-repeated`,
/// `number-columns-repeated`) would expand to more cells than it may hold, counting
/// only repeats that carry content: the blank rows and columns LibreOffice writes at
/// the end of every sheet cost nothing.
fn guard_ods<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    max_sheet_rows: u64,
) -> Result<(), FileError> {
    use quick_xml::events::Event;
    let entry = archive
        .by_name("content.xml")
        .map_err(|e| FileError::Unreadable(format!("the ODS has no readable content ({e})")))?;
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(entry));
    let mut buf = Vec::new();
    let attr = |e: &quick_xml::events::BytesStart<'_>, name: &str| -> Option<u64> {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .and_then(|a| a.value.trim().parse().ok())
    };
    let (mut cells, mut rows) = (0u64, 0u64);
    let (mut row_repeat, mut row_cells, mut in_cell, mut cell_repeat, mut cell_has) =
        (1u64, 0u64, false, 1u64, false);
    loop {
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.local_name().as_ref() == "table-row" => {
                row_repeat = attr(&e, "table:number-rows-repeated").unwrap_or(1);
                row_cells = 0;
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == "table-row" => {
                if row_cells > 0 {
                    rows = rows.saturating_add(row_repeat);
                    cells = cells.saturating_add(row_cells.saturating_mul(row_repeat));
                }
                if rows > max_sheet_rows || cells > MAX_ODS_CELLS || row_cells > MAX_COLUMNS as u64
                {
                    return Err(FileError::TooLarge(format!(
                        "the sheet's repeated rows and cells expand past {} rows or {MAX_ODS_CELLS} cells",
                        max_sheet_rows.saturating_sub(2)
                    )));
                }
            }
            Ok(Event::Start(e))
                if matches!(e.local_name().as_ref(), "table-cell" | "covered-table-cell") =>
            {
                in_cell = true;
                cell_repeat = attr(&e, "table:number-columns-repeated").unwrap_or(1);
                cell_has = e
                    .attributes()
                    .flatten()
                    .any(|a| a.key.as_ref() == "office:value-type");
            }
            Ok(Event::End(e))
                if matches!(e.local_name().as_ref(), "table-cell" | "covered-table-cell") =>
            {
                in_cell = false;
                if cell_has {
                    row_cells = row_cells.saturating_add(cell_repeat);
                }
            }
            Ok(Event::Empty(e))
                if matches!(e.local_name().as_ref(), "table-cell" | "covered-table-cell")
                    && e.attributes()
                        .flatten()
                        .any(|a| a.key.as_ref() == "office:value-type") =>
            {
                row_cells = row_cells
                    .saturating_add(attr(&e, "table:number-columns-repeated").unwrap_or(1));
            }
            Ok(Event::Text(_)) if in_cell => cell_has = true,
            Ok(Event::Eof) => return Ok(()),
            Err(e) => {
                return Err(FileError::Unreadable(format!(
                    "the ODS content is damaged ({e})"
                )))
            }
            _ => {}
        }
        buf.clear();
    }
}

/// The most cells an XLS's sheets may span (calamine builds each sheet's whole grid).
pub const MAX_XLS_CELLS: u64 = 4_000_000;

/// Refuses an XLS whose sheets span more rows or cells than may be held, from the cell
/// records' own positions, before calamine builds any grid: two cells at opposite
/// corners once made a 65,536 × 256 grid.
fn guard_xls<R: Read + Seek>(src: &mut R, max_sheet_rows: u64) -> Result<(), FileError> {
    let damaged =
        |e: std::io::Error| FileError::Unreadable(format!("this XLS workbook is damaged ({e})"));
    let mut cf = cfb::CompoundFile::open(&mut *src).map_err(damaged)?;
    let name = ["/Workbook", "/Book"]
        .into_iter()
        .find(|n| cf.is_stream(n))
        .ok_or_else(|| FileError::Unreadable("this XLS workbook has no workbook stream".into()))?;
    let mut stream = BufReader::new(cf.open_stream(name).map_err(damaged)?);
    // Cell records start with (row: u16, column: u16); MULRK/MULBLANK end with the last column.
    const CELLS: [u16; 9] = [
        0x00FD, 0x0203, 0x027E, 0x00BD, 0x0201, 0x00BE, 0x0006, 0x0205, 0x0204,
    ];
    let (mut max_row, mut max_col) = (0u64, 0u64);
    let mut head = [0u8; 4];
    let mut body = vec![0u8; 8224];
    loop {
        match stream.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(damaged(e)),
        }
        let kind = u16::from_le_bytes([head[0], head[1]]);
        let len = u16::from_le_bytes([head[2], head[3]]) as usize;
        let rec = &mut body[..len];
        stream.read_exact(rec).map_err(damaged)?;
        if CELLS.contains(&kind) && len >= 4 {
            let row = u16::from_le_bytes([rec[0], rec[1]]) as u64;
            let mut col = u16::from_le_bytes([rec[2], rec[3]]) as u64;
            if matches!(kind, 0x00BD | 0x00BE) && len >= 6 {
                col = u16::from_le_bytes([rec[len - 2], rec[len - 1]]) as u64;
            }
            max_row = max_row.max(row + 1);
            max_col = max_col.max(col + 1);
        }
    }
    if max_row > max_sheet_rows || max_row * max_col > MAX_XLS_CELLS {
        return Err(FileError::TooLarge(format!(
            "the XLS sheet spans {max_row} rows × {max_col} columns; at most {} rows and {MAX_XLS_CELLS} cells are read from an XLS (save it as XLSX or CSV)",
            max_sheet_rows.saturating_sub(2)
        )));
    }
    Ok(())
}

/// XLSX, streamed: the first visible worksheet's cells in order, assembled a row at a
/// time; no grid of the sheet's extent is ever allocated.
fn read_xlsx<RS, F>(wb: &mut Xlsx<RS>, max_sheet_rows: u64, visit: &mut F) -> Result<(), FileError>
where
    RS: Read + Seek,
    F: FnMut(u64, &[Cell<'_>]) -> ControlFlow<()>,
{
    let name = first_visible_sheet(wb, "XLSX")?;
    let mut reader = wb
        .worksheet_cells_reader(&name)
        .map_err(|e| workbook_error("XLSX", e))?;
    let mut row: Vec<Cell<'_>> = Vec::new();
    // The 1-based sheet row `row` holds, and the next row to visit.
    let mut current: Option<u64> = None;
    let mut next = 1u64;
    let mut any = false;
    loop {
        let cell = reader.next_cell().map_err(|e| workbook_error("XLSX", e))?;
        let Some(cell) = cell else { break };
        any = true;
        let (r, c) = cell.get_position();
        let (r, c) = (r as u64 + 1, c);
        if r > max_sheet_rows {
            // Stop: the rows up to here are enough for the validator to say the file
            // is over the limit, and nothing is allocated for this far cell.
            if let Some(cur) = current.take() {
                if visit(cur, &row).is_break() {
                    return Ok(());
                }
            }
            for blank in next.max(current.unwrap_or(0) + 1)..=max_sheet_rows {
                if visit(blank, &[]).is_break() {
                    return Ok(());
                }
            }
            return Ok(());
        }
        if c >= MAX_COLUMNS {
            return Err(FileError::TooLarge(format!(
                "the sheet has a cell beyond column XFD (row {r})"
            )));
        }
        if current != Some(r) {
            if let Some(cur) = current {
                if r < cur {
                    return Err(FileError::Unreadable(format!(
                        "the sheet's rows are out of order (row {r} after row {cur})"
                    )));
                }
                if visit(cur, &row).is_break() {
                    return Ok(());
                }
                next = cur + 1;
            }
            // Rows with no cells in between are blank rows.
            while next < r {
                if visit(next, &[]).is_break() {
                    return Ok(());
                }
                next += 1;
            }
            row.clear();
            current = Some(r);
        }
        let value = data_ref_cell(cell.get_value());
        let c = c as usize;
        if c < row.len() {
            row[c] = value;
        } else {
            row.resize(c, Cell::Empty);
            row.push(value);
        }
    }
    if let Some(cur) = current {
        let _ = visit(cur, &row);
    }
    if !any {
        return Err(FileError::Empty);
    }
    Ok(())
}

fn data_ref_cell<'a>(d: &calamine::DataRef<'a>) -> Cell<'a> {
    use calamine::DataRef as D;
    match d {
        D::Empty => Cell::Empty,
        D::SharedString(s) => Cell::Text(Cow::Borrowed(s)),
        D::String(s) | D::DateTimeIso(s) | D::DurationIso(s) => Cell::Text(Cow::Owned(s.clone())),
        D::Float(f) => Cell::Number(*f),
        D::Int(i) => Cell::Number(*i as f64),
        D::Bool(b) => Cell::Bool(*b),
        D::DateTime(dt) => Cell::Text(Cow::Owned(excel_date(dt.as_f64(), dt.is_duration()))),
        D::Error(e) => Cell::Text(Cow::Owned(format!("#{e:?}"))),
    }
}

fn first_visible_sheet<RS, W>(wb: &W, kind: &str) -> Result<String, FileError>
where
    RS: Read + Seek,
    W: Reader<RS>,
{
    wb.sheets_metadata()
        .iter()
        .find(|s| s.visible == SheetVisible::Visible && s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .ok_or_else(|| {
            FileError::Unreadable(format!("the {kind} workbook has no visible worksheet"))
        })
}

fn read_workbook<RS, W, F>(wb: &mut W, visit: &mut F, kind: &str) -> Result<(), FileError>
where
    RS: Read + Seek,
    W: Reader<RS>,
    W::Error: std::fmt::Display,
    F: FnMut(u64, &[Cell<'_>]) -> ControlFlow<()>,
{
    let name = wb
        .sheets_metadata()
        .iter()
        .find(|s| s.visible == SheetVisible::Visible && s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .ok_or_else(|| {
            FileError::Unreadable(format!("the {kind} workbook has no visible worksheet"))
        })?;
    let range = wb
        .worksheet_range(&name)
        .map_err(|e| workbook_error(kind, e))?;
    let Some((row0, col0)) = range.start() else {
        return Err(FileError::Empty);
    };
    let mut cells: Vec<Cell<'_>> = Vec::new();
    // Rows above the used range are blank: the header is the sheet's row 1.
    for r in 0..row0 {
        if visit(r as u64 + 1, &[]).is_break() {
            return Ok(());
        }
    }
    for (i, row) in range.rows().enumerate() {
        cells.clear();
        cells.extend((0..col0).map(|_| Cell::Empty));
        cells.extend(row.iter().map(data_cell));
        if visit(row0 as u64 + i as u64 + 1, &cells).is_break() {
            break;
        }
    }
    Ok(())
}

fn data_cell(d: &Data) -> Cell<'_> {
    match d {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(Cow::Borrowed(s)),
        Data::Float(f) => Cell::Number(*f),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => Cell::Text(Cow::Owned(excel_date(dt.as_f64(), dt.is_duration()))),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(Cow::Borrowed(s)),
        Data::Error(e) => Cell::Text(Cow::Owned(format!("#{e:?}"))),
    }
}

/// An Excel date serial as `YYYY-MM-DD` (with ` HH:MM` when it has a time).
fn excel_date(serial: f64, duration: bool) -> String {
    if duration || !(1.0..2_958_466.0).contains(&serial) {
        return number_text(serial);
    }
    let base = time::Date::from_calendar_date(1899, time::Month::December, 30).expect("valid date");
    let day = base + time::Duration::days(serial.trunc() as i64);
    let minutes = ((serial.fract() * 1440.0).round()) as i64;
    if minutes == 0 {
        format!("{day}")
    } else {
        format!("{day} {:02}:{:02}", minutes / 60, minutes % 60)
    }
}

fn read_csv<R, F>(src: R, head: &[u8], enc: TextEncoding, visit: &mut F) -> Result<(), FileError>
where
    R: Read,
    F: FnMut(u64, &[Cell<'_>]) -> ControlFlow<()>,
{
    let (reader, utf8_head): (Box<dyn Read>, Cow<'_, str>) = match enc {
        TextEncoding::Utf8 { bom } => {
            let mut r = BufReader::with_capacity(256 * 1024, src);
            if bom {
                let mut skip = [0u8; 3];
                r.read_exact(&mut skip)
                    .map_err(|e| FileError::Unreadable(e.to_string()))?;
            }
            let start = if bom { 3 } else { 0 };
            (Box::new(r), String::from_utf8_lossy(&head[start..]))
        }
        TextEncoding::Other(e) => {
            let r = encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(e))
                .build(src);
            let r = BufReader::with_capacity(256 * 1024, r);
            (Box::new(r), e.decode(head).0)
        }
    };
    let delimiter = detect_delimiter(&utf8_head);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(BlankLines::new(reader, delimiter));
    let mut record = csv::ByteRecord::new();
    let mut row = 0u64;
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let at = e
                    .position()
                    .map(|p| format!(" near row {}", p.record() + 1))
                    .unwrap_or_default();
                return Err(FileError::Unreadable(format!(
                    "the CSV cannot be decoded{at}: {e}"
                )));
            }
        }
        row += 1;
        // A lone empty field is an empty line.
        let cells: Vec<Cell<'_>> = if record.len() == 1 && record[0].is_empty() {
            Vec::new()
        } else {
            record.iter().map(csv_cell).collect()
        };
        if visit(row, &cells).is_break() {
            break;
        }
    }
    Ok(())
}

/// The `csv` crate skips empty lines, but a spreadsheet shows them as rows, and every
/// later row number would be off by one. This reader turns each empty line (outside
/// quotes) into a line holding one delimiter: a record of blank cells, counted as blank.
struct BlankLines<R> {
    inner: R,
    delimiter: u8,
    in_quotes: bool,
    line_start: bool,
    buf: Vec<u8>,
    pos: usize,
    /// Bytes of the current row so far: a row past [`MAX_CSV_ROW`] is refused, so one
    /// huge field cannot grow the record buffer without bound.
    row_bytes: usize,
    row: u64,
}

impl<R: Read> BlankLines<R> {
    fn new(inner: R, delimiter: u8) -> Self {
        BlankLines {
            inner,
            delimiter,
            in_quotes: false,
            line_start: true,
            buf: Vec::new(),
            pos: 0,
            row_bytes: 0,
            row: 1,
        }
    }

    fn refill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.inner.read(&mut chunk)?;
        self.buf.clear();
        self.pos = 0;
        let chunk = &chunk[..n];
        let mut from = 0;
        let mut row_from = 0;
        for i in memchr::memchr3_iter(b'"', b'\n', b'\r', chunk) {
            // Anything between interesting bytes is ordinary text.
            if i > from {
                self.line_start = false;
            }
            self.buf.extend_from_slice(&chunk[from..i]);
            from = i + 1;
            let b = chunk[i];
            if b == b'"' {
                self.in_quotes = !self.in_quotes;
                self.line_start = false;
            } else if !self.in_quotes {
                if self.line_start {
                    self.buf.push(self.delimiter);
                }
                self.line_start = b == b'\n';
                if b == b'\n' {
                    self.row_bytes = 0;
                    self.row += 1;
                    row_from = i + 1;
                }
            }
            self.buf.push(b);
        }
        if n > from {
            self.line_start = false;
        }
        self.buf.extend_from_slice(&chunk[from..]);
        self.row_bytes += n - row_from;
        if self.row_bytes > MAX_CSV_ROW {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("row {} is longer than {} KB", self.row, MAX_CSV_ROW >> 10),
            ));
        }
        Ok(n > 0)
    }
}

impl<R: Read> Read for BlankLines<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            if !self.refill()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn csv_cell(field: &[u8]) -> Cell<'_> {
    if field.is_empty() {
        return Cell::Empty;
    }
    match std::str::from_utf8(field) {
        Ok(s) => Cell::Text(Cow::Borrowed(s)),
        // A UTF-8 file with a Windows-1252 field (a pasted name, say): read that field as 1252.
        Err(_) => Cell::Text(WINDOWS_1252.decode_without_bom_handling(field).0),
    }
}

/// The delimiter used in the header line: the most frequent of `,` `;` tab `|` outside quotes.
fn detect_delimiter(text: &str) -> u8 {
    let mut counts = [0usize; 4];
    let candidates = [b',', b';', b'\t', b'|'];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = candidates.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let (best, n) = counts
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, usize::MAX - i))
        .expect("four candidates");
    if *n == 0 {
        b','
    } else {
        candidates[best]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn rows_of(bytes: &[u8]) -> Result<(Format, Vec<Vec<String>>), FileError> {
        let mut out = Vec::new();
        let f = read_rows(Cursor::new(bytes.to_vec()), |_, cells| {
            out.push(cells.iter().map(|c| c.to_text().into_owned()).collect());
            ControlFlow::Continue(())
        })?;
        Ok((f, out))
    }

    #[test]
    fn delimiter_is_detected_from_the_header() {
        for (text, want) in [
            ("a,b,c\n1,2,3\n", ","),
            ("a;b;c\r\n1;2,5;3\r\n", ";"),
            ("a\tb\tc\n1\t2\t3\n", "\t"),
            ("a|b|c\n1|2|3\n", "|"),
        ] {
            let (_, rows) = rows_of(text.as_bytes()).unwrap();
            assert_eq!(rows[0], vec!["a", "b", "c"], "{want:?}");
            assert_eq!(rows[1].len(), 3, "{want:?}");
        }
    }

    #[test]
    fn utf8_bom_utf16_and_windows_1252_are_decoded() {
        let (_, r) = rows_of("\u{feff}teléfono,nombre\n1,Ramón\n".as_bytes()).unwrap();
        assert_eq!(r[0][0], "teléfono");
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "phone\tnombre\n1\tBegoña\n".encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let (_, r) = rows_of(&utf16).unwrap();
        assert_eq!(r[1], vec!["1", "Begoña"]);
        let (_, r) = rows_of(b"Telefono;Nombre\r\n1;Ram\xf3n\r\n").unwrap();
        assert_eq!(r[1], vec!["1", "Ramón"]);
    }

    #[test]
    fn format_is_recognised_by_content_not_name() {
        assert_eq!(
            rows_of(b"%PDF-1.4 ...").unwrap_err(),
            FileError::Unsupported("a PDF document".into())
        );
        assert!(matches!(
            rows_of(b"\x89PNG\r\n\x1a\n\0\0").unwrap_err(),
            FileError::Unsupported(_)
        ));
        assert!(matches!(
            rows_of(b"ab\0\0\x01\x02\x03cd").unwrap_err(),
            FileError::Unsupported(_)
        ));
        assert_eq!(rows_of(b"").unwrap_err(), FileError::Empty);
        assert!(matches!(
            rows_of(b"PK\x03\x04garbage").unwrap_err(),
            FileError::Unreadable(_)
        ));
        assert!(matches!(
            rows_of(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1garbage").unwrap_err(),
            FileError::Unreadable(_)
        ));
    }

    #[test]
    fn xlsx_fixture_is_read_from_its_first_visible_sheet() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/whatsapp_ok.xlsx"
        ))
        .unwrap();
        let (f, rows) = rows_of(&bytes).unwrap();
        assert_eq!(f, Format::Xlsx);
        assert!(rows.len() > 1);
        assert!(!rows[0][0].is_empty());
    }

    #[test]
    fn excel_dates_read_as_iso_dates() {
        assert_eq!(excel_date(45641.0, false), "2024-12-15");
        assert_eq!(excel_date(45641.5, false), "2024-12-15 12:00");
    }
}
