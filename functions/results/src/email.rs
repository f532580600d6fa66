//! The report email (SPEC §5, §7): the campaign's stats as a readable table (plain text,
//! and the same table in HTML for mail readers that do not use a fixed-width font), the
//! results file attached when it is under [`ATTACH_LIMIT`], else a link to the API's
//! results endpoint (which signs a fresh download URL on each call — never a pre-signed
//! URL that would die with this function's temporary credentials).

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::Message;
use pregon::model::Campaign;
use serde_json::Value;

/// A results file at least this large goes as a link, not attached (SPEC §7).
pub const ATTACH_LIMIT: u64 = 10 * 1024 * 1024;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The results file, attached or linked.
pub enum Results {
    Attached { name: String, bytes: Vec<u8> },
    Linked { size: u64 },
}

fn megabytes(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1_048_576.0)
}

/// The plain-text body.
pub fn body(c: &Campaign, stats: &Value, rows: u64, results: &Results, api: &str) -> String {
    let mut out = format!(
        "The campaign \"{}\" ({}) has ended: {}.\n\n",
        c.settings.name,
        c.id,
        c.status.as_str()
    );
    out.push_str(&pregon::model::kpi::text::campaign(stats));
    out.push('\n');
    let endpoint = if api.is_empty() {
        format!("GET /v1/campaigns/{}/results?format=xlsx", c.id)
    } else {
        format!(
            "{}/v1/campaigns/{}/results?format=xlsx",
            api.trim_end_matches('/'),
            c.id
        )
    };
    match results {
        Results::Attached { name, bytes } => out.push_str(&format!(
            "Results: attached as {name} ({rows} messages, {}).\n",
            megabytes(bytes.len() as u64)
        )),
        Results::Linked { size } => out.push_str(&format!(
            "Results: {rows} messages; the file ({}) is over the {} an email carries.\n\
             Download it from {endpoint} with your API key (each call signs a fresh link),\n\
             or run: pregon campaign results {} --format xlsx\n",
            megabytes(*size),
            megabytes(ATTACH_LIMIT),
            c.id
        )),
    }
    out.push_str("\n— Pregón\n");
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(ch),
        }
    }
    out
}

/// The whole message, ready for SES's raw content.
pub fn compose(
    from: &str,
    to: &str,
    c: &Campaign,
    text: String,
    results: Results,
) -> Result<Vec<u8>, crate::Failure> {
    use crate::Failure;
    let from: Mailbox = from
        .parse()
        .map_err(|e| Failure::File(format!("report sender {from:?}: {e}")))?;
    let to: Mailbox = to
        .parse()
        .map_err(|e| Failure::File(format!("report_email {to:?}: {e}")))?;
    let html = format!(
        "<!doctype html><html><body><pre style=\"font-family:monospace\">{}</pre></body></html>",
        html_escape(&text)
    );
    let alternative = MultiPart::alternative_plain_html(text, html);
    let body = match results {
        Results::Attached { name, bytes } => MultiPart::mixed().multipart(alternative).singlepart(
            Attachment::new(name).body(bytes, ContentType::parse(XLSX).expect("valid")),
        ),
        Results::Linked { .. } => alternative,
    };
    Message::builder()
        .from(from)
        .to(to)
        .subject(format!(
            "Pregón report: {} ({})",
            c.settings.name,
            c.status.as_str()
        ))
        .multipart(body)
        .map(|m| m.formatted())
        .map_err(|e| Failure::File(format!("the report email could not be built: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn campaign() -> Campaign {
        let settings =
            pregon::model::CampaignSettings::parse(&json!({"name": "Cobranza <diciembre>",
            "channel": "sms", "account_id": "acc_1", "consent_confirmed": true,
            "report_email": "jefa@empresa.cl"}))
            .unwrap();
        let mut c = Campaign::new(
            "cmp_1".into(),
            "ten_1",
            settings,
            0,
            None,
            "2026-12-01T00:00:00Z",
        );
        c.status = pregon::model::CampaignStatus::Completed;
        c
    }

    fn stats() -> Value {
        json!({"campaign_id":"cmp_1","name":"Cobranza","status":"completed","messages":3,
            "unique_phones":3,"sent":3,"refused":0,"delivered":2,"read":1,"replied":0,"bounced":0,
            "attended":0,"rates":{"delivery_rate":0.6667,"bounce_rate":0.0,"read_rate":0.5,
            "reply_rate":0.0,"attended_rate":0.0,"refused_rate":0.0},"by_status":{"read":1},
            "tickets":{"open":0,"closed":3,"by_close_reason":{"informative":3}}})
    }

    #[test]
    fn a_small_file_is_attached_and_the_stats_table_is_in_both_bodies() {
        let c = campaign();
        let r = Results::Attached {
            name: "results-cmp_1.xlsx".into(),
            bytes: b"PK\x03\x04 not really a workbook".to_vec(),
        };
        let text = body(&c, &stats(), 3, &r, "https://api.example.com");
        assert!(text.contains("66.7 %"), "{text}");
        assert!(text.contains("attached as results-cmp_1.xlsx"), "{text}");
        let raw = compose("reports@pregon.example", "jefa@empresa.cl", &c, text, r).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        assert!(raw.contains("multipart/mixed"), "{raw}");
        assert!(raw.contains("filename=\"results-cmp_1.xlsx\""), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
        // The name is escaped in the HTML part (no markup from a campaign name).
        assert!(raw.contains("&lt;diciembre&gt;"), "{raw}");
    }

    #[test]
    fn a_large_file_is_linked_to_the_api_not_to_a_presigned_url() {
        let c = campaign();
        let r = Results::Linked {
            size: 12 * 1_048_576,
        };
        let text = body(&c, &stats(), 1_000_000, &r, "https://api.example.com/");
        assert!(
            text.contains("https://api.example.com/v1/campaigns/cmp_1/results?format=xlsx"),
            "{text}"
        );
        assert!(text.contains("12.0 MB"), "{text}");
        let raw = compose("reports@pregon.example", "jefa@empresa.cl", &c, text, r).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        assert!(!raw.contains("multipart/mixed"), "{raw}");
        assert!(!raw.contains("X-Amz-Signature"), "{raw}");
    }

    #[test]
    fn a_bad_address_is_an_error_naming_it() {
        let c = campaign();
        let e = compose(
            "not an address",
            "jefa@empresa.cl",
            &c,
            String::new(),
            Results::Linked { size: 0 },
        )
        .unwrap_err();
        assert!(e.to_string().contains("report sender"), "{e}");
    }
}
