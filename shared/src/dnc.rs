//! Do-not-contact files as contact-centre dialers export them (SPEC §8, seed 002):
//! `phone;campaign` lines, often without a header, the phone often national
//! (`123578408`), the campaign by its *name*, and a trailing separator
//! (`123578408;marcadortest;`). This module reads the lines; the API resolves the
//! campaigns and the numbers' country.

/// One line of a do-not-contact file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DncLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// The phone as written.
    pub phone: String,
    /// The campaign as written (an id or a name), if the line names one.
    pub campaign: Option<String>,
}

/// The lines of a do-not-contact file: fields split on `;`, `,` or tab, each trimmed,
/// empty trailing fields (a trailing separator) ignored, blank lines skipped. The first
/// line is a header only when its first field holds no digit (`phone`, `telefono`,
/// `destino`…): a headerless file loses no line.
pub fn read_lines(text: &str) -> Vec<DncLine> {
    let mut out = Vec::new();
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim().trim_start_matches('\u{feff}');
        if raw.is_empty() {
            continue;
        }
        let fields: Vec<&str> = raw.split([';', ',', '\t']).map(str::trim).collect();
        let phone = fields[0];
        if std::mem::take(&mut first) && !phone.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        let campaign = fields
            .get(1)
            .filter(|c| !c.is_empty())
            .map(|c| c.trim_matches('"').to_string());
        out.push(DncLine {
            line: i + 1,
            phone: phone.trim_matches('"').to_string(),
            campaign,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialers_headerless_export_keeps_every_line() {
        // Seed 002, exactly as the dialer writes it.
        let lines = read_lines("123578408;marcadortest;\n987654321;marcadortest;\n");
        assert_eq!(
            lines,
            vec![
                DncLine {
                    line: 1,
                    phone: "123578408".into(),
                    campaign: Some("marcadortest".into())
                },
                DncLine {
                    line: 2,
                    phone: "987654321".into(),
                    campaign: Some("marcadortest".into())
                },
            ]
        );
    }

    #[test]
    fn a_header_blank_lines_and_lines_without_a_campaign() {
        let lines = read_lines("telefono;campaña\r\n\r\n+56962000001;\n+56962000002,cmp_1\n");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].line, 3);
        assert_eq!(lines[0].campaign, None);
        assert_eq!(lines[1].phone, "+56962000002");
        assert_eq!(lines[1].campaign.as_deref(), Some("cmp_1"));
        // A bad first line that is no header is still a line (and gets named).
        let lines = read_lines("12x;a\n");
        assert_eq!(lines[0].phone, "12x");
    }
}
