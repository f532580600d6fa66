//! The campaign settings of SPEC §3, parsed and checked field by field: the send
//! window, the metadata fields, the references to an account and a template.

use super::super::{err, Account, FieldError, Fields, Template};
use crate::validate::{Channel, MetadataField, OnInvalidRows};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendWindow {
    pub timezone: String,
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
}

/// The campaign settings of SPEC §3, as accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSettings {
    pub name: String,
    pub channel: Channel,
    pub account_id: String,
    pub template_id: Option<String>,
    pub department: Option<String>,
    pub wait_for_reply_hours: u8,
    pub allow_duplicates: bool,
    pub consent_confirmed: bool,
    pub metadata: Vec<MetadataField>,
    pub send_at: Option<String>,
    pub send_window: Option<SendWindow>,
    pub on_invalid_rows: OnInvalidRows,
    pub header_image: Option<String>,
    pub report_email: Option<String>,
    /// SMS: a message over this many segments gets an `sms_segments` warning (1–10;
    /// absent: [`crate::validate::MAX_SMS_SEGMENTS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sms_segments: Option<u8>,
    /// A message whose send answer was lost and that its provider (Meta, Twilio) never
    /// reported is sent once more instead of ending `not_sent` (README "Sending": the
    /// rule and its risk). Off by default.
    #[serde(default)]
    pub resend_unreported: bool,
}

impl CampaignSettings {
    /// `POST /v1/campaigns`: every rule that needs no lookup. The account and template
    /// are checked against the tenant's records by the caller ([`check_references`]).
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(body)?;
        let name = f.string("name", true, 200);
        if name
            .as_deref()
            .is_some_and(|n| n.chars().any(char::is_control))
        {
            // It becomes the report email's subject: no line breaks to ride along.
            f.fail("name", "must not contain control characters");
        }
        let channel = f.one_of("channel", true, "whatsapp, sms");
        let account_id = f.string("account_id", true, 64);
        let template_id = f.string("template_id", false, 64);
        if channel == Some(Channel::Whatsapp) && template_id.is_none() {
            f.errors.push(err(
                "template_id",
                "is required for WhatsApp: business-initiated messages must be templates",
            ));
        }
        let department = f.string("department", false, 100);
        let wait = f.integer("wait_for_reply_hours", 0..=24).unwrap_or(0) as u8;
        let allow_duplicates = f.boolean("allow_duplicates").unwrap_or(false);
        let consent = f.boolean("consent_confirmed");
        if consent != Some(true) && !f.errors.iter().any(|e| e.field == "consent_confirmed") {
            f.errors.push(err(
                "consent_confirmed",
                "must be true: confirm that the recipients agreed to be contacted",
            ));
        }
        let metadata = match f.get("metadata") {
            None => Vec::new(),
            Some(v) => parse_metadata(v, &mut f.errors),
        };
        let send_at = f.string("send_at", false, 64);
        if let Some(t) = &send_at {
            if time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .is_err()
            {
                f.errors.push(err(
                    "send_at",
                    "must be an RFC 3339 time such as 2026-12-01T09:00:00-03:00",
                ));
            }
        }
        let send_window = match f.get("send_window") {
            None => None,
            Some(v) => parse_window(v, &mut f.errors),
        };
        let on_invalid_rows = f
            .one_of("on_invalid_rows", false, "reject, skip")
            .unwrap_or_default();
        let header_image = f.string("header_image", false, 2048);
        if let Some(Err(e)) = header_image.as_deref().map(crate::model::public_https_url) {
            f.fail("header_image", e);
        }
        let report_email = f.string("report_email", false, 254);
        if let Some(Err(e)) = report_email.as_deref().map(crate::model::valid_email) {
            f.fail("report_email", e);
        }
        let max_sms_segments = f.integer("max_sms_segments", 1..=10).map(|n| n as u8);
        if max_sms_segments.is_some() && channel == Some(Channel::Whatsapp) {
            f.fail("max_sms_segments", "applies to SMS campaigns only");
        }
        let resend_unreported = f.boolean("resend_unreported").unwrap_or(false);
        f.finish()?;
        Ok(CampaignSettings {
            name: name.expect("checked"),
            channel: channel.expect("checked"),
            account_id: account_id.expect("checked"),
            template_id,
            department,
            wait_for_reply_hours: wait,
            allow_duplicates,
            consent_confirmed: true,
            metadata,
            send_at,
            send_window,
            on_invalid_rows,
            header_image,
            report_email,
            max_sms_segments,
            resend_unreported,
        })
    }

    /// The hidden one-message campaign of an agent's free-form reply on a ticket
    /// (inside WhatsApp's 24-hour window; any time for SMS): no template, no ticket.
    pub fn free_form(account_id: &str, channel: Channel) -> CampaignSettings {
        CampaignSettings {
            name: "ticket reply".into(),
            channel,
            account_id: account_id.to_string(),
            template_id: None,
            department: None,
            wait_for_reply_hours: 0,
            allow_duplicates: false,
            consent_confirmed: true,
            metadata: Vec::new(),
            send_at: None,
            send_window: None,
            on_invalid_rows: OnInvalidRows::default(),
            header_image: None,
            report_email: None,
            max_sms_segments: None,
            resend_unreported: false,
        }
    }

    /// A new campaign's body with these settings (`POST /v1/campaigns/{id}/clone`,
    /// Collection's "Ejecutar"): the same account, template, department, waits, window,
    /// metadata and options, under `name` (else this name and " (copia)", within the
    /// 200-character limit); never the send time, which has passed or belongs to the
    /// original. Parsed again like any new campaign, so a reference that no longer fits
    /// is named.
    pub fn clone_body(&self, name: Option<&str>) -> Value {
        let mut body = serde_json::to_value(self).expect("settings serialise");
        let o = body.as_object_mut().expect("an object");
        let name = match name {
            Some(n) => n.to_string(),
            None => {
                let base: String = self.name.chars().take(200 - " (copia)".len()).collect();
                format!("{base} (copia)")
            }
        };
        o.insert("name".into(), Value::String(name));
        o.remove("send_at");
        body
    }

    /// The account and template must exist for this tenant and fit the channel.
    pub fn check_references(
        &self,
        account: Option<&Account>,
        template: Option<&Template>,
    ) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        match account {
            None => errors.push(err("account_id", "no such account")),
            Some(a) if a.channel != self.channel => errors.push(err(
                "account_id",
                format!("the account sends {:?}, not {:?}", a.channel, self.channel).to_lowercase(),
            )),
            Some(_) => {}
        }
        match (&self.template_id, template) {
            (Some(_), None) => errors.push(err("template_id", "no such template")),
            (Some(_), Some(t)) if t.spec.channel != self.channel => {
                errors.push(err("template_id", "the template is for another channel"))
            }
            // WhatsApp templates are approved per business account: another account's
            // template would fail on every message.
            (Some(_), Some(t))
                if t.account_id.as_ref().is_some_and(|a| *a != self.account_id) =>
            {
                errors.push(err(
                    "template_id",
                    format!(
                        "the template is registered with account {}, not this campaign's account {}",
                        t.account_id.as_deref().unwrap_or_default(),
                        self.account_id
                    ),
                ))
            }
            _ => {}
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// At most this many metadata fields per campaign, names at most 64 characters.
pub const MAX_METADATA_FIELDS: usize = 50;

/// `metadata`: a list of `{name, type}`, every unknown key refused by its path.
fn parse_metadata(v: &Value, errors: &mut Vec<FieldError>) -> Vec<MetadataField> {
    let Some(list) = v.as_array() else {
        errors.push(err(
            "metadata",
            "must be a list of {\"name\": …, \"type\": \"text\"|\"paragraph\"|\"yes_no\"}",
        ));
        return Vec::new();
    };
    if list.len() > MAX_METADATA_FIELDS {
        errors.push(err(
            "metadata",
            format!("must have at most {MAX_METADATA_FIELDS} fields"),
        ));
        return Vec::new();
    }
    let mut fields = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let mut f = match Fields::nested(item, &format!("metadata[{i}]")) {
            Ok(f) => f,
            Err(e) => {
                errors.extend(e);
                continue;
            }
        };
        let name = f.string("name", true, 64);
        let kind = f.one_of("type", true, "text, paragraph, yes_no");
        match f.finish() {
            Ok(()) => fields.push(MetadataField {
                name: name.expect("checked"),
                kind: kind.expect("checked"),
            }),
            Err(e) => errors.extend(e),
        }
    }
    let mut names: Vec<String> = fields
        .iter()
        .map(|x| crate::validate::fold(&x.name))
        .collect();
    let n = names.len();
    names.sort();
    names.dedup();
    if names.len() != n {
        errors.push(err(
            "metadata",
            "field names must be distinct (case, accents and spaces aside)",
        ));
    }
    fields
}

/// `send_window`: `{timezone (IANA), days, from, to}`, each part checked and named.
fn parse_window(v: &Value, errors: &mut Vec<FieldError>) -> Option<SendWindow> {
    let mut f = match Fields::nested(v, "send_window") {
        Ok(f) => f,
        Err(e) => {
            errors.extend(e);
            return None;
        }
    };
    let timezone = f.string("timezone", true, 64);
    if let Some(tz) = &timezone {
        if jiff::tz::TimeZone::get(tz).is_err() {
            f.fail(
                "timezone",
                "must be an IANA time zone such as America/Santiago",
            );
        }
    }
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let days: Vec<String> = match f.get("days") {
        Some(Value::Array(d)) if (1..=7).contains(&d.len()) => {
            let days: Vec<String> = d
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect();
            let mut distinct = days.clone();
            distinct.sort();
            distinct.dedup();
            if days.len() != d.len()
                || !days.iter().all(|x| DAYS.contains(&x.as_str()))
                || distinct.len() != days.len()
            {
                f.fail(
                    "days",
                    "must be distinct days among mon, tue, wed, thu, fri, sat, sun",
                );
            }
            days
        }
        _ => {
            f.fail("days", "must be a list of 1 to 7 days (mon…sun)");
            Vec::new()
        }
    };
    let hhmm = |s: &str| {
        s.split_once(':').is_some_and(|(h, m)| {
            h.len() == 2
                && m.len() == 2
                && h.parse::<u8>().is_ok_and(|h| h < 24)
                && m.parse::<u8>().is_ok_and(|m| m < 60)
        })
    };
    let from = f.string("from", true, 5);
    let to = f.string("to", true, 5);
    for (name, t) in [("from", &from), ("to", &to)] {
        if t.as_deref().is_some_and(|t| !hhmm(t)) {
            f.fail(name, "must be a time as HH:MM (24 h)");
        }
    }
    if from.is_some() && from == to {
        f.fail(
            "to",
            "must differ from `from` (a window earlier than `from` runs past midnight)",
        );
    }
    match f.finish() {
        Ok(()) => Some(SendWindow {
            timezone: timezone.expect("checked"),
            days,
            from: from.expect("checked"),
            to: to.expect("checked"),
        }),
        Err(e) => {
            errors.extend(e);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_clone_parses_back_to_the_same_settings_but_its_name_and_send_time() {
        let body = json!({
            "name": "Cobranza diciembre", "channel": "whatsapp", "account_id": "acc_1",
            "template_id": "tpl_1", "department": "cobranza", "wait_for_reply_hours": 6,
            "allow_duplicates": true, "consent_confirmed": true,
            "metadata": [{"name": "RUT", "type": "text"}, {"name": "VIP", "type": "yes_no"}],
            "send_at": "2030-01-01T10:00:00Z",
            "send_window": {"timezone": "America/Santiago", "days": ["mon", "fri"], "from": "09:00", "to": "18:30"},
            "on_invalid_rows": "skip", "header_image": "https://cdn.example.com/a.png",
            "report_email": "ana@empresa.example", "resend_unreported": true
        });
        let original = CampaignSettings::parse(&body).unwrap();
        let copy = CampaignSettings::parse(&original.clone_body(None)).unwrap();
        assert_eq!(copy.name, "Cobranza diciembre (copia)");
        assert_eq!(copy.send_at, None);
        let same = CampaignSettings {
            name: original.name.clone(),
            send_at: original.send_at.clone(),
            ..copy
        };
        assert_eq!(same, original);
        let named = CampaignSettings::parse(&original.clone_body(Some("Enero"))).unwrap();
        assert_eq!(named.name, "Enero");
        // A long name still fits the limit once " (copia)" is added.
        let long = CampaignSettings {
            name: "x".repeat(200),
            ..original
        };
        let copy = CampaignSettings::parse(&long.clone_body(None)).unwrap();
        assert_eq!(copy.name.chars().count(), 200);
        assert!(copy.name.ends_with(" (copia)"));
    }
}
