//! Hostile spreadsheets (issue: bounded memory), generated: small files that once made
//! the validator allocate far more than their size. Written with the zip crate where no
//! spreadsheet writer would produce the shape. Each is streamed to disk, so generating
//! one costs little memory.

use std::io::Write;
use std::path::Path;
use zip::write::SimpleFileOptions;

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#;
const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Hoja1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
const SHEET_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#;
const SHEET_TAIL: &str = "</sheetData></worksheet>";

/// An XLSX whose sheet XML and shared strings are written by the callbacks.
fn xlsx(
    path: &Path,
    sheet: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    strings: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path)?);
    let o = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", RELS),
        ("xl/workbook.xml", WORKBOOK),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
    ] {
        z.start_file(name, o)?;
        z.write_all(body.as_bytes())?;
    }
    z.start_file("xl/sharedStrings.xml", o.large_file(true))?;
    strings(&mut z)?;
    z.start_file("xl/worksheets/sheet1.xml", o.large_file(true))?;
    sheet(&mut z)?;
    z.finish()?;
    Ok(())
}

fn no_strings(w: &mut dyn Write) -> std::io::Result<()> {
    w.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="0" uniqueCount="0"></sst>"#)
}

/// Only A1 and one far cell: once the whole grid between them was allocated.
pub fn xlsx_far_cell(path: &Path, far: &str) -> std::io::Result<()> {
    xlsx(
        path,
        |w| {
            w.write_all(SHEET_HEAD.as_bytes())?;
            let row: u64 = far
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .parse()
                .unwrap();
            write!(
                w,
                r#"<row r="1"><c r="A1" t="inlineStr"><is><t>phone</t></is></c></row><row r="{row}"><c r="{far}"><v>1</v></c></row>"#
            )?;
            w.write_all(SHEET_TAIL.as_bytes())
        },
        no_strings,
    )
}

/// One shared string of `mb` megabytes (compresses to a few hundred KB).
pub fn xlsx_huge_shared_string(path: &Path, mb: usize) -> std::io::Result<()> {
    xlsx(
        path,
        |w| {
            w.write_all(SHEET_HEAD.as_bytes())?;
            w.write_all(br#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#)?;
            w.write_all(SHEET_TAIL.as_bytes())
        },
        |w| {
            w.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>"#)?;
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..mb {
                w.write_all(&chunk)?;
            }
            w.write_all(b"</t></si></sst>")
        },
    )
}

/// `rows` data rows repeating one phone (a shared string): a few MB compressed.
pub fn xlsx_many_rows(path: &Path, rows: u64) -> std::io::Result<()> {
    xlsx(
        path,
        |w| {
            w.write_all(SHEET_HEAD.as_bytes())?;
            w.write_all(br#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#)?;
            for r in 2..=rows + 1 {
                write!(w, r#"<row r="{r}"><c r="A{r}" t="s"><v>1</v></c></row>"#)?;
            }
            w.write_all(SHEET_TAIL.as_bytes())
        },
        |w| {
            w.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2"><si><t>phone</t></si><si><t>+56962000001</t></si></sst>"#)
        },
    )
}

/// An ODS of a few hundred bytes whose repeats expand to `rows` × `cols` cells.
pub fn ods_repeats(path: &Path, rows: u64, cols: u64) -> std::io::Result<()> {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path)?);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let o = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    z.start_file("mimetype", stored)?;
    z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")?;
    z.start_file("META-INF/manifest.xml", o)?;
    z.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#)?;
    z.start_file("content.xml", o)?;
    write!(
        z,
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Hoja1"><table:table-row><table:table-cell office:value-type="string"><text:p>phone</text:p></table:table-cell></table:table-row><table:table-row table:number-rows-repeated="{rows}"><table:table-cell table:number-columns-repeated="{cols}" office:value-type="float" office:value="56962000001"><text:p>56962000001</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#
    )?;
    z.finish()?;
    Ok(())
}

/// A CSV whose header name is `name_bytes` long, with `rows` rows of a bad phone.
pub fn csv_long_header(path: &Path, name_bytes: usize, rows: usize) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(&vec![b'n'; name_bytes])?;
    f.write_all(b"\n")?;
    for _ in 0..rows {
        f.write_all(b"not-a-phone\n")?;
    }
    f.flush()
}

/// A header of the phone and `params` parameters, then `rows` rows of a single `x`: each
/// a bad phone and `params` missing parameters.
pub fn csv_rows_of_x(path: &Path, params: usize, rows: usize) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(b"phone")?;
    for i in 1..=params {
        write!(f, ",p{i}")?;
    }
    f.write_all(b"\n")?;
    for _ in 0..rows {
        f.write_all(b"x\n")?;
    }
    f.flush()
}

/// An XLS (a compound file with a BIFF8 workbook stream) with two number cells at
/// opposite corners of the sheet: (0, 0) and (`row`, `col`).
pub fn xls_corners(path: &Path, row: u16, col: u16) -> std::io::Result<()> {
    let mut cf = cfb::create(path)?;
    let mut s = cf.create_stream("/Workbook")?;
    let record = |s: &mut dyn Write, kind: u16, body: &[u8]| -> std::io::Result<()> {
        s.write_all(&kind.to_le_bytes())?;
        s.write_all(&(body.len() as u16).to_le_bytes())?;
        s.write_all(body)
    };
    // BOF (BIFF8, worksheet), two NUMBER cells, EOF.
    record(
        &mut s,
        0x0809,
        &[0x00, 0x06, 0x10, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )?;
    for (r, c) in [(0u16, 0u16), (row, col)] {
        let mut body = Vec::new();
        body.extend_from_slice(&r.to_le_bytes());
        body.extend_from_slice(&c.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&1.0f64.to_le_bytes());
        record(&mut s, 0x0203, &body)?;
    }
    record(&mut s, 0x000A, &[])?;
    drop(s);
    cf.flush()
}
