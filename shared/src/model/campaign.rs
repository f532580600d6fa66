//! Campaigns: the settings of SPEC §3 and the state machine of SPEC §5.

use super::{err, Account, FieldError, Fields, Template};
use crate::validate::{Channel, Counts, MetadataField, OnInvalidRows, Problem};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// SPEC §5 campaign states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    AwaitingFile,
    Validating,
    Loaded,
    Invalid,
    Scheduled,
    Sending,
    Paused,
    Completed,
    CompletedWithErrors,
    Error,
    Cancelled,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::AwaitingFile => "awaiting_file",
            CampaignStatus::Validating => "validating",
            CampaignStatus::Loaded => "loaded",
            CampaignStatus::Invalid => "invalid",
            CampaignStatus::Scheduled => "scheduled",
            CampaignStatus::Sending => "sending",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Completed => "completed",
            CampaignStatus::CompletedWithErrors => "completed_with_errors",
            CampaignStatus::Error => "error",
            CampaignStatus::Cancelled => "cancelled",
        }
    }

    /// A spreadsheet may be (re)uploaded only before sending starts.
    pub fn accepts_upload(self) -> bool {
        matches!(
            self,
            CampaignStatus::AwaitingFile | CampaignStatus::Loaded | CampaignStatus::Invalid
        )
    }
}

impl std::str::FromStr for CampaignStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CampaignStatus::deserialize(Value::from(s))
            .map_err(|_| format!("'{s}' is not a campaign status"))
    }
}

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
}

impl CampaignSettings {
    /// `POST /v1/campaigns`: every rule that needs no lookup. The account and template
    /// are checked against the tenant's records by the caller ([`check_references`]).
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(body)?;
        let name = f.string("name", true, 200);
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
            Some(v) => match Vec::<MetadataField>::deserialize(v) {
                Ok(m) => {
                    let mut names: Vec<String> =
                        m.iter().map(|x| crate::validate::fold(&x.name)).collect();
                    let n = names.len();
                    names.sort();
                    names.dedup();
                    if names.len() != n || names.iter().any(|x| x.is_empty()) {
                        f.errors.push(err(
                            "metadata",
                            "field names must be non-empty and distinct",
                        ));
                    }
                    m
                }
                Err(_) => {
                    f.errors.push(err("metadata", "must be a list of {\"name\": …, \"type\": \"text\"|\"paragraph\"|\"yes_no\"}"));
                    Vec::new()
                }
            },
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
            Some(v) => match SendWindow::deserialize(v) {
                Ok(w) if valid_window(&w) => Some(w),
                _ => {
                    f.errors.push(err(
                        "send_window",
                        "must be {\"timezone\": \"America/Santiago\", \"days\": [\"mon\",…], \"from\": \"09:00\", \"to\": \"20:00\"}",
                    ));
                    None
                }
            },
        };
        let on_invalid_rows = f
            .one_of("on_invalid_rows", false, "reject, skip")
            .unwrap_or_default();
        let header_image = f.string("header_image", false, 2048);
        let report_email = f.string("report_email", false, 254);
        if let Some(e) = &report_email {
            let ok = e
                .split_once('@')
                .is_some_and(|(u, d)| !u.is_empty() && d.contains('.') && !e.contains(' '));
            if !ok {
                f.errors
                    .push(err("report_email", "must be an email address"));
            }
        }
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
        })
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
            _ => {}
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn valid_window(w: &SendWindow) -> bool {
    let hhmm = |s: &str| {
        s.split_once(':').is_some_and(|(h, m)| {
            h.len() == 2
                && m.len() == 2
                && h.parse::<u8>().is_ok_and(|h| h < 24)
                && m.parse::<u8>().is_ok_and(|m| m < 60)
        })
    };
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    !w.timezone.trim().is_empty()
        && !w.days.is_empty()
        && w.days.iter().all(|d| DAYS.contains(&d.as_str()))
        && hhmm(&w.from)
        && hhmm(&w.to)
}

/// How many problems a campaign record carries; the rest are in the CSV report.
pub const PROBLEMS_ON_CAMPAIGN: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: String,
    pub tenant_id: String,
    #[serde(flatten)]
    pub settings: CampaignSettings,
    pub status: CampaignStatus,
    /// The template's parameter count when the campaign was created.
    pub params: usize,
    pub default_country: Option<String>,
    #[serde(default)]
    pub counts: Counts,
    #[serde(default)]
    pub problems: Vec<Problem>,
    #[serde(default)]
    pub format: Option<String>,
    /// S3 key the spreadsheet is uploaded to.
    pub upload_key: String,
    /// S3 key of the full CSV problem report, once validated.
    #[serde(default)]
    pub report_key: Option<String>,
    /// Entity tag of the upload last validated (or being validated).
    #[serde(default)]
    pub upload_etag: Option<String>,
    /// Recipients live under this generation; a re-upload writes the next one.
    #[serde(default)]
    pub recipient_gen: u32,
    /// Until when a `validating` claim holds; after it, a retry may take over.
    #[serde(default)]
    pub lease_until: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub validated_at: Option<String>,
}

impl Campaign {
    pub fn upload_key_for(tenant: &str, campaign: &str) -> String {
        format!("uploads/{tenant}/{campaign}/spreadsheet")
    }

    pub fn report_key_for(tenant: &str, campaign: &str) -> String {
        format!("reports/{tenant}/{campaign}/validation.csv")
    }

    /// The validation rules for this campaign's spreadsheet.
    pub fn rules(&self) -> crate::validate::Rules {
        let mut r = crate::validate::Rules::new(self.settings.channel, self.params);
        r.default_country = self.default_country.as_deref().and_then(|c| c.parse().ok());
        r.allow_duplicates = self.settings.allow_duplicates;
        r.metadata = self.settings.metadata.clone();
        r.on_invalid_rows = self.settings.on_invalid_rows;
        r.message_column =
            self.settings.channel == Channel::Sms && self.settings.template_id.is_none();
        r
    }
}

/// `uploads/{tenant}/{campaign}/…` → (tenant, campaign).
pub fn parse_upload_key(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.splitn(4, '/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("uploads"), Some(t), Some(c), Some(rest))
            if !t.is_empty() && !c.is_empty() && !rest.is_empty() =>
        {
            Some((t, c))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::model::*;
    use crate::validate::OnInvalidRows;
    use serde_json::json;

    fn fields(e: Vec<FieldError>) -> Vec<String> {
        e.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn campaign_creation_requires_consent_confirmed() {
        let body = json!({"name":"Cobranza","channel":"whatsapp","account_id":"acc_1","template_id":"tpl_1"});
        assert_eq!(
            fields(CampaignSettings::parse(&body).unwrap_err()),
            ["consent_confirmed"]
        );
        let body = json!({"name":"Cobranza","channel":"whatsapp","account_id":"acc_1","template_id":"tpl_1","consent_confirmed":false});
        assert_eq!(
            fields(CampaignSettings::parse(&body).unwrap_err()),
            ["consent_confirmed"]
        );
    }

    #[test]
    fn campaign_creation_names_every_bad_field() {
        let body = json!({"channel":"fax","account_id":"a","consent_confirmed":true,"wait_for_reply_hours":30,
            "send_at":"tomorrow","on_invalid_rows":"maybe","report_email":"nope","colour":"red"});
        let mut f = fields(CampaignSettings::parse(&body).unwrap_err());
        f.sort();
        assert_eq!(
            f,
            [
                "channel",
                "colour",
                "name",
                "on_invalid_rows",
                "report_email",
                "send_at",
                "wait_for_reply_hours"
            ]
        );
    }

    #[test]
    fn sms_campaign_may_omit_the_template() {
        let body =
            json!({"name":"Avisos","channel":"sms","account_id":"acc_1","consent_confirmed":true});
        let c = CampaignSettings::parse(&body).unwrap();
        assert_eq!(c.template_id, None);
        assert_eq!(c.on_invalid_rows, OnInvalidRows::Reject);
    }

    #[test]
    fn template_parameters_are_numbered_without_gaps() {
        assert_eq!(template_params("Hola {{1}}, debes {{2}}. {{1}}"), Ok(2));
        assert_eq!(template_params("Sin parámetros"), Ok(0));
        assert!(template_params("Hola {{2}}").is_err());
        assert!(template_params("Hola {{nombre}}").is_err());
    }

    #[test]
    fn upload_keys_name_tenant_and_campaign() {
        assert_eq!(
            parse_upload_key("uploads/ten_a/cmp_1/spreadsheet"),
            Some(("ten_a", "cmp_1"))
        );
        assert_eq!(parse_upload_key("uploads/ten_a/cmp_1"), None);
        assert_eq!(parse_upload_key("reports/ten_a/cmp_1/x"), None);
    }

    #[test]
    fn uploads_are_accepted_only_before_sending() {
        assert!(CampaignStatus::Loaded.accepts_upload());
        assert!(CampaignStatus::Invalid.accepts_upload());
        assert!(!CampaignStatus::Sending.accepts_upload());
        assert!(!CampaignStatus::Validating.accepts_upload());
    }
}
