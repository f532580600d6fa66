//! Tenants' records and the rules for creating them (SPEC §3): provider accounts,
//! templates and campaigns, with the campaign's state machine (SPEC §5).
//!
//! Each `New*` request is parsed once into a type that cannot hold a bad value;
//! parsing returns every bad field at once, named, so an API client can fix
//! them all in one go.

use crate::phone::DefaultCountry;
use crate::validate::{Channel, Counts, MetadataField, OnInvalidRows, Problem};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A field the caller got wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// A new id: time-ordered (a ULID), so newest-first listings sort by id.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase())
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

/// Reads a JSON object field by field, collecting every error, and refusing fields it
/// does not know (a typo in a setting must not be silently ignored).
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    known: Vec<&'static str>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    fn new(body: &'a Value) -> Result<Self, Vec<FieldError>> {
        match body.as_object() {
            Some(obj) => Ok(Fields {
                obj,
                known: Vec::new(),
                errors: Vec::new(),
            }),
            None => Err(vec![err("body", "the request body must be a JSON object")]),
        }
    }

    fn get(&mut self, name: &'static str) -> Option<&'a Value> {
        self.known.push(name);
        self.obj.get(name).filter(|v| !v.is_null())
    }

    fn string(&mut self, name: &'static str, required: bool, max: usize) -> Option<String> {
        match self.get(name) {
            None if required => {
                self.errors.push(err(name, "is required"));
                None
            }
            None => None,
            Some(Value::String(s)) if s.trim().is_empty() && required => {
                self.errors.push(err(name, "must not be empty"));
                None
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                self.errors
                    .push(err(name, format!("must be at most {max} characters")));
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(_) => {
                self.errors.push(err(name, "must be a string"));
                None
            }
        }
    }

    fn boolean(&mut self, name: &'static str) -> Option<bool> {
        match self.get(name) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.errors.push(err(name, "must be true or false"));
                None
            }
        }
    }

    fn integer(&mut self, name: &'static str, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
        match self.get(name) {
            None => None,
            Some(v) => match v.as_i64() {
                Some(n) if range.contains(&n) => Some(n),
                _ => {
                    let (lo, hi) = range.into_inner();
                    self.errors.push(err(
                        name,
                        format!("must be a whole number from {lo} to {hi}"),
                    ));
                    None
                }
            },
        }
    }

    fn one_of<T: for<'de> Deserialize<'de>>(
        &mut self,
        name: &'static str,
        required: bool,
        options: &str,
    ) -> Option<T> {
        match self.get(name) {
            None if required => {
                self.errors
                    .push(err(name, format!("is required (one of {options})")));
                None
            }
            None => None,
            Some(v) => match T::deserialize(v) {
                Ok(t) => Some(t),
                Err(_) => {
                    self.errors
                        .push(err(name, format!("must be one of {options}")));
                    None
                }
            },
        }
    }

    fn finish(mut self) -> Result<(), Vec<FieldError>> {
        for key in self.obj.keys() {
            if !self.known.contains(&key.as_str()) {
                self.errors.push(err(key, "is not a known field"));
            }
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

// ---------------------------------------------------------------- accounts

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Meta,
    Twilio,
    Gupshup,
    SmsGateway,
}

/// A provider account: a sender number or WhatsApp Business phone to send from.
/// Credentials live in Secrets Manager; the record holds only the secret's ARN,
/// which is never returned by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub provider: ProviderKind,
    pub channel: Channel,
    pub sender: String,
    pub default_country: Option<String>,
    /// Messages per second this account may send.
    pub rate: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_secret_arn: Option<String>,
    pub created_at: String,
}

impl Account {
    /// What the API shows: everything but the secret's location.
    pub fn public(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("serialises");
        let obj = v.as_object_mut().expect("object");
        obj.remove("credentials_secret_arn");
        obj.insert(
            "credentials".into(),
            Value::from(if self.credentials_secret_arn.is_some() {
                "stored"
            } else {
                "none"
            }),
        );
        v
    }
}

/// `POST /v1/accounts`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAccount {
    pub provider: ProviderKind,
    pub channel: Channel,
    pub sender: String,
    pub default_country: Option<String>,
    pub rate: u32,
    /// Provider credentials, to be stored in Secrets Manager as given.
    pub credentials: Option<Map<String, Value>>,
}

impl NewAccount {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(body)?;
        let provider = f.one_of("provider", true, "meta, twilio, gupshup, sms_gateway");
        let channel: Option<Channel> = f.one_of("channel", true, "whatsapp, sms");
        let sender = f.string("sender", true, 64);
        let default_country = f.string("default_country", false, 2);
        if let Some(c) = &default_country {
            if let Err(e) = c.parse::<DefaultCountry>() {
                f.errors.push(err("default_country", e));
            }
        }
        let rate = f.integer("rate", 1..=1000).unwrap_or(20) as u32;
        let credentials = match f.get("credentials") {
            None => None,
            Some(Value::Object(m)) if !m.is_empty() => Some(m.clone()),
            Some(_) => {
                f.errors
                    .push(err("credentials", "must be a non-empty JSON object"));
                None
            }
        };
        if let (Some(ProviderKind::Twilio | ProviderKind::SmsGateway), Some(Channel::Whatsapp)) =
            (provider, channel)
        {
            if provider == Some(ProviderKind::SmsGateway) {
                f.errors
                    .push(err("channel", "an SMS gateway sends SMS only"));
            }
        }
        if let (Some(ProviderKind::Meta), Some(Channel::Sms)) = (provider, channel) {
            f.errors
                .push(err("channel", "the WhatsApp Cloud API sends WhatsApp only"));
        }
        f.finish()?;
        Ok(NewAccount {
            provider: provider.expect("checked"),
            channel: channel.expect("checked"),
            sender: sender.expect("checked"),
            default_country: default_country.map(|c| c.to_ascii_uppercase()),
            rate,
            credentials,
        })
    }
}

// ---------------------------------------------------------------- templates

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TemplateCategory {
    Marketing,
    Utility,
    Authentication,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateStatus {
    Pending,
    Approved,
    Rejected,
    Paused,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateHeader {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub id: String,
    #[serde(flatten)]
    pub spec: NewTemplate,
    pub status: TemplateStatus,
    pub created_at: String,
}

/// The parameters of a body: `{{1}}`…`{{n}}`, each used at least once, none skipped.
pub fn template_params(body: &str) -> Result<usize, String> {
    let re = regex::Regex::new(r"\{\{\s*([^}]*?)\s*\}\}").expect("valid");
    let mut seen = Vec::new();
    for c in re.captures_iter(body) {
        match c[1].parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => seen.push(n),
            _ => {
                return Err(format!(
                    "'{}' is not a numbered parameter like {{{{1}}}}",
                    &c[0]
                ))
            }
        }
    }
    seen.sort_unstable();
    seen.dedup();
    match seen.iter().enumerate().find(|(i, n)| **n != i + 1) {
        Some((i, _)) => Err(format!(
            "parameters must be numbered from {{{{1}}}} without gaps; {{{{{}}}}} is missing",
            i + 1
        )),
        None => Ok(seen.len()),
    }
}

/// `POST /v1/templates`: a template as the tenant gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTemplate {
    pub name: String,
    pub channel: Channel,
    pub language: String,
    pub category: Option<TemplateCategory>,
    pub body: String,
    /// How many `{{n}}` parameters the body has.
    pub params: usize,
    pub header: Option<TemplateHeader>,
}

impl NewTemplate {
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::new(body)?;
        let name = f.string("name", true, 512);
        if let Some(n) = &name {
            if !n
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                f.errors.push(err(
                    "name",
                    "must be lowercase letters, digits and underscores (as WhatsApp requires)",
                ));
            }
        }
        let channel: Option<Channel> = f.one_of("channel", true, "whatsapp, sms");
        let language = f.string("language", channel == Some(Channel::Whatsapp), 16);
        let category = f.one_of(
            "category",
            channel == Some(Channel::Whatsapp),
            "MARKETING, UTILITY, AUTHENTICATION",
        );
        let text = f.string("body", true, 1024);
        let params = match text.as_deref().map(template_params) {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                f.errors.push(err("body", e));
                0
            }
            None => 0,
        };
        let header = match f.get("header") {
            None => None,
            Some(v) => match TemplateHeader::deserialize(v) {
                Ok(h)
                    if h.kind == "text"
                        && h.text.as_deref().is_some_and(|t| !t.trim().is_empty()) =>
                {
                    Some(h)
                }
                Ok(h)
                    if h.kind == "image"
                        && h.link.as_deref().is_some_and(|l| l.starts_with("https://")) =>
                {
                    Some(h)
                }
                _ => {
                    f.errors.push(err("header", "must be {\"type\":\"text\",\"text\":…} or {\"type\":\"image\",\"link\":\"https://…\"}"));
                    None
                }
            },
        };
        f.finish()?;
        Ok(NewTemplate {
            name: name.expect("checked"),
            channel: channel.expect("checked"),
            language: language.unwrap_or_else(|| "es".into()),
            category,
            body: text.expect("checked"),
            params,
            header,
        })
    }
}

// ---------------------------------------------------------------- campaigns

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
    use super::*;
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
