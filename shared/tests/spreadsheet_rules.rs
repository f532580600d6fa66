//! One test per rule of SPEC §4 ("The spreadsheet"), named by the rule.

use pregon::phone::DefaultCountry;
use pregon::validate::{
    validate, Channel, Code, Collect, Limits, MetaValue, MetadataField, MetadataType,
    OnInvalidRows, Rules, Severity, Status, Summary,
};
use std::io::Cursor;

fn rules(params: usize) -> Rules {
    let mut r = Rules::new(Channel::Whatsapp, params);
    r.default_country = Some("CL".parse::<DefaultCountry>().unwrap());
    r
}

fn run(bytes: &[u8], rules: &Rules) -> (Summary, Collect) {
    let mut sink = Collect::default();
    let s = validate(
        Cursor::new(bytes.to_vec()),
        bytes.len() as u64,
        rules,
        &mut sink,
    );
    (s, sink)
}

fn codes(c: &Collect) -> Vec<(Option<u64>, Option<&str>, Code)> {
    c.problems
        .iter()
        .map(|p| (p.row, p.column.as_deref(), p.code))
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A cell to write into a generated workbook.
enum X {
    S(String),
    N(f64),
}

fn xlsx(rows: &[Vec<X>]) -> Vec<u8> {
    xlsx_sheets(&[("Hoja1", false, rows)])
}

fn xlsx_sheets(sheets: &[(&str, bool, &[Vec<X>])]) -> Vec<u8> {
    use rust_xlsxwriter::Workbook;
    let mut wb = Workbook::new();
    for (name, hidden, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                match v {
                    X::N(n) => ws.write_number(r as u32, c as u16, *n).map(|_| ()).unwrap(),
                    X::S(s) => ws.write_string(r as u32, c as u16, s).map(|_| ()).unwrap(),
                }
            }
        }
        if *hidden {
            ws.set_hidden(true);
        }
    }
    if sheets.iter().any(|s| s.1) {
        // A hidden sheet cannot be the active one.
        let visible = sheets.iter().position(|s| !s.1).unwrap();
        wb.worksheet_from_index(visible).unwrap().set_active(true);
    }
    wb.save_to_buffer().unwrap()
}

fn s(v: &str) -> X {
    X::S(v.to_string())
}
fn n(v: f64) -> X {
    X::N(v)
}

#[test]
fn empty_file_when_no_bytes_or_a_header_without_data() {
    let (sum, c) = run(b"", &rules(0));
    assert_eq!(
        (sum.status, codes(&c)),
        (Status::Invalid, vec![(None, None, Code::EmptyFile)])
    );
    let (sum, c) = run(b"phone,name\n\n\n", &rules(1));
    assert_eq!(sum.status, Status::Invalid);
    assert_eq!(codes(&c), vec![(None, None, Code::EmptyFile)]);
    assert_eq!(sum.counts.blank_rows, 2);
}

#[test]
fn unsupported_format_for_images_pdfs_archives_and_binaries() {
    for bytes in [
        b"%PDF-1.7\n%\xe2\xe3".to_vec(),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
        b"\xFF\xD8\xFF\xE0\0\x10JFIF".to_vec(),
        b"\x1F\x8B\x08\0\0\0".to_vec(),
        vec![0u8, 1, 2, 3, 4, 5, 0, 0, 9],
    ] {
        let (sum, c) = run(&bytes, &rules(0));
        assert_eq!(sum.status, Status::Invalid);
        assert_eq!(
            codes(&c),
            vec![(None, None, Code::UnsupportedFormat)],
            "{:?}",
            &bytes[..4]
        );
    }
}

#[test]
fn unsupported_format_for_a_zip_that_is_not_a_workbook() {
    let mut buf = Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file("notes.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, b"hello").unwrap();
        z.finish().unwrap();
    }
    let (_, c) = run(buf.get_ref(), &rules(0));
    assert_eq!(codes(&c), vec![(None, None, Code::UnsupportedFormat)]);
}

#[test]
fn file_too_large_over_the_byte_or_row_limit() {
    let mut r = rules(0);
    r.limits = Limits {
        max_bytes: 10,
        ..Limits::default()
    };
    let (sum, c) = run(b"phone\n56962000001\n", &r);
    assert_eq!(
        (sum.status, codes(&c)),
        (Status::Invalid, vec![(None, None, Code::FileTooLarge)])
    );

    r.limits = Limits {
        max_bytes: 1 << 20,
        max_rows: 2,
        ..Limits::default()
    };
    let (sum, c) = run(b"phone\n56962000001\n56962000002\n56962000003\n", &r);
    assert_eq!(codes(&c), vec![(None, None, Code::FileTooLarge)]);
    assert_eq!(sum.counts.rows, 2);
}

#[test]
fn unreadable_file_for_a_corrupt_workbook() {
    let mut bytes = xlsx(&[vec![s("phone")], vec![n(56962000001.0)]]);
    let cut = bytes.len() / 2;
    bytes.truncate(cut);
    let (sum, c) = run(&bytes, &rules(0));
    assert_eq!(sum.status, Status::Invalid);
    assert_eq!(codes(&c), vec![(None, None, Code::UnreadableFile)]);
}

#[test]
fn missing_phone_for_an_empty_phone_cell() {
    let (_, c) = run(b"phone,name\n,Luis\n", &rules(1));
    assert_eq!(
        codes(&c),
        vec![(Some(2), Some("phone"), Code::MissingPhone)]
    );
}

#[test]
fn invalid_phone_by_libphonenumber_rules() {
    let (sum, c) = run(
        b"phone,name\n+56 9 0000 0000,Juan\n56962000001,Ana\n12345,Eva\n",
        &rules(1),
    );
    assert_eq!(
        codes(&c),
        vec![
            (Some(2), Some("phone"), Code::InvalidPhone),
            (Some(4), Some("phone"), Code::InvalidPhone)
        ]
    );
    assert_eq!((sum.counts.valid_rows, sum.counts.invalid_rows), (1, 2));
    assert!(
        c.problems[0].message.contains("+56 9 0000 0000"),
        "{}",
        c.problems[0].message
    );
}

#[test]
fn phones_are_normalised_to_e164_with_the_default_country() {
    let (sum, c) = run(
        b"phone\n+56 9 6200-0001\n(9) 6200.0002\n56962000003\n",
        &rules(0),
    );
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    let phones: Vec<String> = c.recipients.iter().map(|r| r.phone.e164()).collect();
    assert_eq!(phones, ["+56962000001", "+56962000002", "+56962000003"]);
}

#[test]
fn excel_number_cells_are_read_as_integer_digits() {
    let bytes = xlsx(&[
        vec![s("phone"), s("name")],
        vec![n(56962000001.0), s("Ana")],
    ]);
    let (sum, c) = run(&bytes, &rules(1));
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    assert_eq!(c.recipients[0].phone.e164(), "+56962000001");
}

#[test]
fn scientific_notation_text_is_rejected_because_digits_were_lost() {
    let (_, c) = run(b"phone\n5.69620E+10\n", &rules(0));
    assert_eq!(
        codes(&c),
        vec![(Some(2), Some("phone"), Code::InvalidPhone)]
    );
    assert!(c.problems[0].message.contains("scientific notation"));
}

#[test]
fn duplicate_phone_names_the_first_row_unless_duplicates_are_allowed() {
    let csv = b"phone,name\n56962000001,Ana\n+56 9 6200 0001,Ana otra vez\n";
    let (sum, c) = run(csv, &rules(1));
    assert_eq!(
        codes(&c),
        vec![(Some(3), Some("phone"), Code::DuplicatePhone)]
    );
    assert!(
        c.problems[0].message.contains("row 2"),
        "{}",
        c.problems[0].message
    );
    assert_eq!(sum.counts.unique_phones, 1);

    let mut r = rules(1);
    r.allow_duplicates = true;
    let (sum, c) = run(csv, &r);
    assert_eq!(
        (sum.status, sum.counts.valid_rows, c.problems.len()),
        (Status::Valid, 2, 0)
    );
}

#[test]
fn missing_parameter_for_an_empty_parameter_cell() {
    let (_, c) = run(
        b"phone,name,amount\n56962000001,,100\n56962000002,Ana,  \n",
        &rules(2),
    );
    assert_eq!(
        codes(&c),
        vec![
            (Some(2), Some("name"), Code::MissingParameter),
            (Some(3), Some("amount"), Code::MissingParameter)
        ]
    );
    assert!(c.problems[0].message.contains("{{1}}"));
}

#[test]
fn invalid_parameter_for_what_whatsapp_refuses() {
    let long = "x".repeat(1025);
    let csv = format!(
        "phone,p\n56962000001,\"two\nlines\"\n56962000002,a\tb\n56962000003,a     b\n56962000004,{long}\n56962000005,a    b\n"
    );
    let (sum, c) = run(csv.as_bytes(), &rules(1));
    assert_eq!(
        codes(&c),
        (2..=5)
            .map(|r| (Some(r), Some("p"), Code::InvalidParameter))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        sum.counts.valid_rows, 1,
        "four spaces in a row are still accepted"
    );

    let mut sms = rules(1);
    sms.channel = Channel::Sms;
    let (sum, _) = run(csv.as_bytes(), &sms);
    assert_eq!(
        sum.counts.valid_rows, 5,
        "SMS text may have line breaks and long runs of spaces"
    );
}

#[test]
fn too_many_columns_when_a_row_has_more_cells_than_the_header() {
    let (_, c) = run(
        b"phone,name\n56962000001,Ana,extra\n56962000002,Eva,,\n",
        &rules(1),
    );
    assert_eq!(
        codes(&c),
        vec![(Some(2), Some("C"), Code::TooManyColumns)],
        "trailing empty cells are not extra"
    );
}

#[test]
fn missing_columns_when_the_header_has_fewer_parameters_than_the_template() {
    let (sum, c) = run(b"phone,name\n56962000001,Ana\n", &rules(3));
    assert_eq!(sum.status, Status::Invalid);
    assert_eq!(codes(&c), vec![(Some(1), None, Code::MissingColumns)]);
    assert!(c.problems[0].message.contains("needs 3"));
}

#[test]
fn metadata_type_mismatch_for_a_yes_no_cell_that_is_not_yes_or_no() {
    let mut r = rules(0);
    r.metadata = vec![MetadataField {
        name: "Cliente VIP".into(),
        kind: MetadataType::YesNo,
    }];
    let csv = "phone,Cliente VIP\n56962000001,sí\n56962000002,0\n56962000003,TRUE\n56962000004,quizás\n56962000005,\n";
    let (sum, c) = run(csv.as_bytes(), &r);
    assert_eq!(
        codes(&c),
        vec![(Some(5), Some("Cliente VIP"), Code::MetadataTypeMismatch)]
    );
    let values: Vec<Option<MetaValue>> = c
        .recipients
        .iter()
        .map(|r| r.metadata[0].1.clone())
        .collect();
    assert_eq!(
        values,
        vec![
            Some(MetaValue::YesNo(true)),
            Some(MetaValue::YesNo(false)),
            Some(MetaValue::YesNo(true)),
            None
        ]
    );
    assert_eq!(sum.counts.valid_rows, 4);
}

#[test]
fn metadata_columns_link_by_name_ignoring_case_accents_and_spaces() {
    let mut r = rules(1);
    r.metadata = vec![
        MetadataField {
            name: "Segmento".into(),
            kind: MetadataType::Text,
        },
        MetadataField {
            name: "Región".into(),
            kind: MetadataType::Text,
        },
    ];
    let (sum, c) = run(
        " Phone ,name,  REGION , segmento \n56962000001,Ana,Norte,Oro\n".as_bytes(),
        &r,
    );
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    assert_eq!(c.layout.metadata, ["Segmento", "Región"]);
    let rec = &c.recipients[0];
    assert_eq!(
        rec.metadata[0],
        ("Región".to_string(), Some(MetaValue::Text("Norte".into())))
    );
    assert_eq!(
        rec.metadata[1],
        ("Segmento".to_string(), Some(MetaValue::Text("Oro".into())))
    );
}

#[test]
fn unused_column_is_only_a_warning() {
    let (sum, c) = run(b"phone,name,Notas\n56962000001,Ana,hola\n", &rules(1));
    assert_eq!(sum.status, Status::Valid);
    assert_eq!(
        codes(&c),
        vec![(Some(1), Some("Notas"), Code::UnusedColumn)]
    );
    assert_eq!(c.problems[0].severity, Severity::Warning);
    assert_eq!((sum.counts.errors, sum.counts.warnings), (0, 1));
}

#[test]
fn fully_blank_rows_are_skipped_and_counted() {
    let (sum, c) = run(
        b"phone,name\n56962000001,Ana\n,\n   ,  \n\n56962000002,Eva\n",
        &rules(1),
    );
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    assert_eq!(
        (
            sum.counts.rows,
            sum.counts.valid_rows,
            sum.counts.blank_rows
        ),
        (5, 2, 3)
    );
    assert_eq!(
        c.recipients.iter().map(|r| r.row).collect::<Vec<_>>(),
        [2, 6]
    );
}

#[test]
fn control_characters_are_stripped_and_other_unicode_kept() {
    let (_, c) = run(
        "phone,name\n56962000001,Ma\u{7}ría 😀 Ñuñoa\u{1b}\n".as_bytes(),
        &rules(1),
    );
    assert_eq!(c.recipients[0].params, ["María 😀 Ñuñoa"]);
}

#[test]
fn on_invalid_rows_reject_makes_any_row_error_invalid() {
    let (sum, _) = run(b"phone,name\n56962000001,Ana\n56962000002,\n", &rules(1));
    assert_eq!(
        (sum.status, sum.counts.valid_rows, sum.counts.invalid_rows),
        (Status::Invalid, 1, 1)
    );
}

#[test]
fn on_invalid_rows_skip_reports_bad_rows_and_keeps_the_rest() {
    let mut r = rules(1);
    r.on_invalid_rows = OnInvalidRows::Skip;
    let (sum, c) = run(b"phone,name\n56962000001,Ana\n56962000002,\n", &r);
    assert_eq!(
        (sum.status, sum.counts.valid_rows, sum.counts.invalid_rows),
        (Status::Valid, 1, 1)
    );
    assert_eq!(c.recipients.len(), 1);
    let (sum, _) = run(b"phone,name\n56962000002,\n", &r);
    assert_eq!(
        sum.status,
        Status::Invalid,
        "nothing left to send is invalid"
    );
}

#[test]
fn the_first_visible_sheet_is_read() {
    let hidden = vec![vec![s("phone")], vec![s("not a phone")]];
    let visible = vec![vec![s("phone")], vec![n(56962000001.0)]];
    let bytes = xlsx_sheets(&[("Oculta", true, &hidden), ("Datos", false, &visible)]);
    let (sum, c) = run(&bytes, &rules(0));
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    assert_eq!(sum.counts.valid_rows, 1);
}

#[test]
fn fixture_with_errors_names_every_problem_by_row_and_column() {
    let (sum, c) = run(&fixture("with_errors.csv"), &rules(2));
    assert_eq!(sum.status, Status::Invalid);
    assert_eq!(
        codes(&c),
        vec![
            (Some(3), Some("name"), Code::MissingParameter),
            (Some(4), Some("phone"), Code::MissingPhone),
            (Some(5), Some("D"), Code::TooManyColumns),
            (Some(6), Some("phone"), Code::InvalidPhone),
            (Some(7), Some("phone"), Code::DuplicatePhone),
        ]
    );
    assert_eq!(
        (
            sum.counts.rows,
            sum.counts.valid_rows,
            sum.counts.invalid_rows
        ),
        (6, 1, 5)
    );
}

#[test]
fn fixture_spanish_excel_csv_is_windows_1252_with_semicolons() {
    let mut r = rules(2);
    r.channel = Channel::Sms;
    let (sum, c) = run(&fixture("sms_excel_es.csv"), &r);
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    assert_eq!((sum.counts.valid_rows, sum.counts.blank_rows), (3, 1));
    assert_eq!(c.recipients[0].params, ["Ramón", "15/12"]);
    assert_eq!(c.recipients[1].params[0], "Begoña");
}

#[test]
fn fixture_sms_per_row_text_uses_message_and_priority_columns() {
    let mut r = Rules::for_template(Channel::Sms, None).unwrap();
    r.default_country = Some("CL".parse::<DefaultCountry>().unwrap());
    let (sum, c) = run(&fixture("sms_per_row_text.csv"), &r);
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    assert_eq!(
        c.recipients[0].message.as_deref(),
        Some("Su cuota vence mañana")
    );
    assert_eq!(
        c.recipients.iter().map(|r| r.priority).collect::<Vec<_>>(),
        [Some(5), Some(9), Some(1)]
    );
}

#[test]
fn fixture_whatsapp_xlsx_is_valid_with_its_metadata_linked() {
    let mut r = rules(2);
    r.metadata = vec![
        MetadataField {
            name: "Segmento".into(),
            kind: MetadataType::Text,
        },
        MetadataField {
            name: "Cliente VIP".into(),
            kind: MetadataType::YesNo,
        },
    ];
    let (sum, c) = run(&fixture("whatsapp_ok.xlsx"), &r);
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    assert!(sum.counts.valid_rows >= 3);
    assert_eq!(c.layout.metadata, ["Segmento", "Cliente VIP"]);
    assert!(c
        .recipients
        .iter()
        .all(|r| r.phone.e164().starts_with("+5")));
}

fn ods(rows: &[&[&str]]) -> Vec<u8> {
    use std::io::Write;
    let mut body = String::new();
    for row in rows {
        body.push_str("<table:table-row>");
        for cell in *row {
            if cell.parse::<f64>().is_ok() {
                body.push_str(&format!(
                    r#"<table:table-cell office:value-type="float" office:value="{cell}"><text:p>{cell}</text:p></table:table-cell>"#
                ));
            } else {
                body.push_str(&format!(r#"<table:table-cell office:value-type="string"><text:p>{cell}</text:p></table:table-cell>"#));
            }
        }
        body.push_str("</table:table-row>");
    }
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Hoja1">{body}</table:table></office:spreadsheet></office:body></office:document-content>"#
    );
    let mut buf = Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("mimetype", stored).unwrap();
        z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
            .unwrap();
        z.start_file("content.xml", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(content.as_bytes()).unwrap();
        z.start_file(
            "META-INF/manifest.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#).unwrap();
        z.finish().unwrap();
    }
    buf.into_inner()
}

#[test]
fn ods_workbooks_are_read_like_xlsx() {
    let bytes = ods(&[
        &["phone", "name"],
        &["56962000001", "Ana"],
        &["", "Sin teléfono"],
    ]);
    let (sum, c) = run(&bytes, &rules(1));
    assert_eq!(sum.format, Some(pregon::spreadsheet::Format::Ods));
    assert_eq!(
        codes(&c),
        vec![(Some(3), Some("phone"), Code::MissingPhone)]
    );
    assert_eq!(c.recipients[0].phone.e164(), "+56962000001");
    assert_eq!(c.recipients[0].params, ["Ana"]);
}

#[test]
fn a_workbook_named_csv_or_a_csv_named_xlsx_is_read_by_its_content() {
    // There is no file name anywhere in the API: the same bytes give the same answer.
    let csv = b"phone,name\n56962000001,Ana\n";
    let (sum, _) = run(csv, &rules(1));
    assert_eq!(sum.format, Some(pregon::spreadsheet::Format::Csv));
    let x = xlsx(&[
        vec![s("phone"), s("name")],
        vec![n(56962000001.0), s("Ana")],
    ]);
    let (sum, _) = run(&x, &rules(1));
    assert_eq!(sum.format, Some(pregon::spreadsheet::Format::Xlsx));
}

#[test]
fn only_sms_without_a_template_reads_a_per_row_message_column() {
    assert!(
        Rules::for_template(Channel::Sms, None)
            .unwrap()
            .message_column
    );
    // An SMS template with no placeholders: a phone-only list is valid.
    let r = Rules::for_template(Channel::Sms, Some(0)).unwrap();
    assert!(!r.message_column);
    let (sum, c) = run(b"phone\n+56962000001\n", &r);
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    assert!(Rules::for_template(Channel::Whatsapp, None).is_err());
}

#[test]
fn missing_columns_still_reports_each_rows_own_problems() {
    let (sum, c) = run(b"phone,name\n56962000001,Ana\nabc,Luis\n", &rules(3));
    assert_eq!(sum.status, Status::Invalid);
    assert_eq!(
        codes(&c),
        vec![
            (Some(1), None, Code::MissingColumns),
            (Some(3), Some("phone"), Code::InvalidPhone)
        ]
    );
    assert!(
        c.recipients.is_empty(),
        "no row of an incomplete file becomes a recipient"
    );
}

#[test]
fn problems_quote_at_most_100_characters_of_a_cell_or_a_column_name() {
    let long_name = "n".repeat(1_000_000);
    let long_cell = "x".repeat(5_000);
    let csv = format!("{long_name},name,amount\n{long_cell},Ana,1\n,Luis,2\n");
    let (_, c) = run(csv.as_bytes(), &rules(2));
    assert_eq!(c.problems.len(), 2);
    for p in &c.problems {
        let col = p.column.as_deref().unwrap();
        assert!(col.chars().count() < 130, "column {} chars", col.len());
        assert!(col.contains("(1000000 characters)"));
        assert!(
            p.message.chars().count() < 300,
            "message {} chars",
            p.message.len()
        );
    }
    assert!(c.problems[0].message.contains("(5000 characters)"));
    // One column name, shared by every problem about that column.
    assert!(std::sync::Arc::ptr_eq(
        c.problems[0].column.as_ref().unwrap(),
        c.problems[1].column.as_ref().unwrap()
    ));
}

#[test]
fn row_problems_past_the_cap_are_counted_by_code_not_reported() {
    let mut r = rules(1);
    r.limits.max_problems = 10;
    let mut csv = String::from("phone,name\n");
    for i in 0..40 {
        csv.push_str(&format!("abc{i},\n"));
    }
    let (sum, c) = run(csv.as_bytes(), &r);
    assert_eq!(c.problems.len(), 10);
    assert_eq!(sum.counts.errors, 80);
    let omitted: u64 = sum.problems_omitted.values().sum();
    assert_eq!(omitted, 70);
    assert_eq!(sum.problems_omitted[&Code::InvalidPhone], 35);
    assert_eq!(sum.problems_omitted[&Code::MissingParameter], 35);
}

#[test]
fn the_problem_report_lists_file_level_problems_first_and_quotes_text() {
    use pregon::report::ProblemReport;
    let mut r = rules(1);
    r.limits.max_rows = 2;
    let mut report = ProblemReport::new(Vec::new(), 100);
    validate(
        Cursor::new(b"phone,name\nabc,Ana; Luis\n56962000001,\n56962000002,x\n".to_vec()),
        60,
        &r,
        &mut report,
    );
    let first: Vec<Code> = report.first().map(|p| p.code).collect();
    assert_eq!(
        first,
        [
            Code::FileTooLarge,
            Code::InvalidPhone,
            Code::MissingParameter
        ]
    );
    let mut out = Vec::new();
    report
        .finish_into(&mut out, |rows| Ok(Cursor::new(rows)))
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "\"row\",\"column\",\"code\",\"severity\",\"message\""
    );
    assert!(lines[1].contains("\"file_too_large\""), "{text}");
    assert!(
        lines[2].starts_with("2,\"phone\",\"invalid_phone\""),
        "{text}"
    );
    assert_eq!(lines.len(), 4, "{text}");
}

fn sms_rules(body: &str) -> Rules {
    let mut r = Rules::for_template(Channel::Sms, Some(1)).unwrap();
    r.default_country = Some("CL".parse::<DefaultCountry>().unwrap());
    r.sms_body = Some(body.to_string());
    r
}

#[test]
fn sms_segments_warning_for_a_long_ucs2_message_and_the_row_stays_valid() {
    use pregon::sms::{ByEncoding, Encoding, SmsCost, SmsSummary};
    // "Hola " is 5 characters and ", su cuota vence mañana." 24, all GSM-7 (ñ is).
    let body = "Hola {{1}}, su cuota vence mañana.";
    let csv = format!(
        "phone,nombre\n56962000001,Ana\n56962000002,José Ángel\n56962000003,{}\n56962000004,{}\n",
        "á".repeat(200),
        "€".repeat(70)
    );
    let (sum, c) = run(csv.as_bytes(), &sms_rules(body));
    // Row 2: 32 GSM-7 → 1. Row 3: Á forces UCS-2, 39 units → 1. Row 4: 5 + 200 + 24 =
    // 229 UCS-2 units → ceil(229 / 67) = 4. Row 5: € counts 2, 5 + 140 + 24 = 169 GSM-7
    // → ceil(169 / 153) = 2.
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    assert_eq!(
        (
            sum.counts.valid_rows,
            sum.counts.errors,
            sum.counts.warnings
        ),
        (4, 0, 1)
    );
    assert_eq!(codes(&c), vec![(Some(4), None, Code::SmsSegments)]);
    assert_eq!(c.problems[0].severity, Severity::Warning);
    assert_eq!(
        c.problems[0].message,
        "this message takes 4 SMS segments (UCS-2 because of 'á'); the limit is 3"
    );
    assert_eq!(
        sum.sms,
        Some(SmsSummary {
            total_segments: 8,
            messages: ByEncoding { gsm7: 2, ucs2: 2 },
            max_segments_in_a_message: 4,
            ucs2_chars: vec!['Á', 'á'],
        })
    );
    let costs: Vec<(Encoding, usize, usize)> = c
        .recipients
        .iter()
        .map(|r| {
            r.sms
                .as_ref()
                .map(|s| (s.encoding, s.units, s.segments))
                .unwrap()
        })
        .collect();
    assert_eq!(
        costs,
        [
            (Encoding::Gsm7, 32, 1),
            (Encoding::Ucs2, 39, 1),
            (Encoding::Ucs2, 229, 4),
            (Encoding::Gsm7, 169, 2)
        ]
    );
    assert_eq!(
        c.recipients[2].sms,
        Some(SmsCost {
            encoding: Encoding::Ucs2,
            units: 229,
            segments: 4,
            ucs2_chars: vec!['á']
        })
    );
    assert!(c.layout.sms);
    let json = serde_json::to_value(&sum).unwrap();
    assert_eq!(
        json["sms"],
        serde_json::json!({"total_segments": 8, "messages": {"gsm7": 2, "ucs2": 2},
            "max_segments_in_a_message": 4, "ucs2_chars": ["Á", "á"]})
    );
}

#[test]
fn sms_segments_of_a_message_column_count_valid_rows_only() {
    let mut r = Rules::for_template(Channel::Sms, None).unwrap();
    r.default_country = Some("CL".parse::<DefaultCountry>().unwrap());
    r.on_invalid_rows = OnInvalidRows::Skip;
    r.max_sms_segments = 2;
    let csv = format!(
        "phone,message\n56962000001,{}\n12,{}\n56962000002,Hola 😀\n",
        "a".repeat(400),
        "✓".repeat(300)
    );
    let (sum, c) = run(csv.as_bytes(), &r);
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    assert_eq!(
        codes(&c),
        vec![
            (Some(2), Some("message"), Code::SmsSegments),
            (Some(3), Some("phone"), Code::InvalidPhone)
        ]
    );
    assert_eq!(
        c.problems[0].message,
        "this message takes 3 SMS segments (GSM-7); the limit is 2"
    );
    // 400 GSM-7 → 3; "Hola 😀" is 5 + 2 UCS-2 units → 1; the bad row is not counted.
    let sms = sum.sms.unwrap();
    assert_eq!(
        (
            sms.total_segments,
            sms.messages.gsm7,
            sms.messages.ucs2,
            sms.max_segments_in_a_message,
            sms.ucs2_chars
        ),
        (4, 1, 1, 3, vec!['😀'])
    );
}

#[test]
fn sms_segments_are_not_counted_without_the_text_or_on_a_file_problem() {
    // SMS with a template but without its body: the text is unknown.
    let mut r = rules(1);
    r.channel = Channel::Sms;
    let (sum, c) = run(b"phone,nombre\n56962000001,Ana\n", &r);
    assert_eq!(sum.status, Status::Valid);
    assert_eq!((sum.sms, c.layout.sms), (None, false));
    assert_eq!(c.recipients[0].sms, None);
    // WhatsApp never.
    let mut r = rules(1);
    r.sms_body = Some("Hola {{1}}".into());
    let (sum, c) = run(b"phone,nombre\n56962000001,Ana\n", &r);
    assert_eq!((sum.sms, c.recipients[0].sms.clone()), (None, None));
    // A header without the parameter column: nothing is sent, nothing counted.
    let (sum, c) = run(b"phone\n56962000001\n", &sms_rules("Hola {{1}}"));
    assert_eq!(sum.status, Status::Invalid);
    assert_eq!(sum.sms, None);
    assert!(c.problems.iter().all(|p| p.code != Code::SmsSegments));
    // An empty file has no summary either.
    assert_eq!(run(b"", &sms_rules("Hola {{1}}")).0.sms, None);
}

#[test]
fn sms_text_keeps_line_breaks_and_counts_them() {
    // A quoted cell with a line break: SMS keeps it (1 GSM-7 septet).
    let (sum, c) = run(
        "phone,nombre\n56962000001,\"Ana\nBea\"\n".as_bytes(),
        &sms_rules("{{1}}"),
    );
    assert_eq!(sum.status, Status::Valid, "{:?}", c.problems);
    let cost = c.recipients[0].sms.clone().unwrap();
    assert_eq!(
        (cost.encoding, cost.units, cost.segments),
        (pregon::sms::Encoding::Gsm7, 7, 1)
    );
    assert_eq!(sum.sms.unwrap().messages.gsm7, 1);
}
