//! Campaigns: the settings of SPEC §3 and the state machine of SPEC §5.

use super::{err, Account, FieldError, Fields, ReportEmailState, Template};
use crate::validate::{Channel, Counts, MetadataField, OnInvalidRows, Problem};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A send control of the API (SPEC §2 step 3, §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Send {
        scheduled: bool,
    },
    Pause,
    Resume,
    Cancel,
    /// A scheduled campaign back to `loaded`.
    Unschedule,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Send { .. } => "send",
            Control::Pause => "pause",
            Control::Resume => "resume",
            Control::Cancel => "cancel",
            Control::Unschedule => "unschedule",
        }
    }
}

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

    /// The end state a campaign reaches once every message has an outcome (SPEC §5):
    /// messages, none of which could be sent (every one refused, failed or blocked) →
    /// `error` ("no message of the campaign could be sent", seed 001); else some
    /// failed → `completed_with_errors`; else `completed` (a do-not-contact block
    /// beside sent messages is not an error).
    pub fn end_of(sent: i64, failed: i64, blocked: i64) -> CampaignStatus {
        if sent == 0 && failed + blocked > 0 {
            CampaignStatus::Error
        } else if failed > 0 {
            CampaignStatus::CompletedWithErrors
        } else {
            CampaignStatus::Completed
        }
    }

    /// The end states: every message has an outcome, or the campaign was cancelled.
    pub fn is_end(self) -> bool {
        matches!(
            self,
            CampaignStatus::Completed
                | CampaignStatus::CompletedWithErrors
                | CampaignStatus::Error
                | CampaignStatus::Cancelled
        )
    }

    /// The states before sending starts: a spreadsheet may be (re)uploaded, and the
    /// campaign deleted, only in these.
    pub const BEFORE_SENDING: [CampaignStatus; 3] = [
        CampaignStatus::AwaitingFile,
        CampaignStatus::Loaded,
        CampaignStatus::Invalid,
    ];

    /// A spreadsheet may be (re)uploaded only before sending starts.
    pub fn accepts_upload(self) -> bool {
        Self::BEFORE_SENDING.contains(&self)
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

/// What made a campaign record (see [`Campaign::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    /// A campaign a supervisor created.
    #[default]
    Campaign,
    /// The hidden campaign of one `POST /v1/messages`.
    Message,
    /// The hidden campaign of an agent's free-form reply on a ticket.
    Reply,
}

impl CampaignKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::Campaign => "campaign",
            CampaignKind::Message => "message",
            CampaignKind::Reply => "reply",
        }
    }

    pub fn is_campaign(&self) -> bool {
        *self == CampaignKind::Campaign
    }
}

impl std::str::FromStr for CampaignKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "campaign" => Ok(CampaignKind::Campaign),
            "message" => Ok(CampaignKind::Message),
            "reply" => Ok(CampaignKind::Reply),
            _ => Err("must be campaign, message, reply or all".into()),
        }
    }
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
        if let Some(Err(e)) = header_image.as_deref().map(super::public_https_url) {
            f.fail("header_image", e);
        }
        let report_email = f.string("report_email", false, 254);
        if let Some(Err(e)) = report_email.as_deref().map(super::valid_email) {
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

/// How many problems a campaign record carries; the rest are in the CSV report.
pub const PROBLEMS_ON_CAMPAIGN: usize = 100;
/// At most this many bytes of problem text on a campaign record (DynamoDB items stop at
/// 400 KB): each message is cut to [`PROBLEM_TEXT_ON_CAMPAIGN`] characters, and the list
/// stops before this total.
pub const PROBLEM_BYTES_ON_CAMPAIGN: usize = 64 * 1024;
pub const PROBLEM_TEXT_ON_CAMPAIGN: usize = 400;

/// The problems a campaign record keeps: file-level ones first, then the first row
/// problems, each message cut to size, the whole bounded by [`PROBLEM_BYTES_ON_CAMPAIGN`].
pub fn problems_for_campaign(problems: impl IntoIterator<Item = Problem>) -> Vec<Problem> {
    let mut all: Vec<Problem> = problems
        .into_iter()
        .take(PROBLEMS_ON_CAMPAIGN * 4)
        .collect();
    // Stable: rows keep their order after the file-level problems.
    all.sort_by_key(|p| !p.is_file_level());
    let mut kept = Vec::new();
    let mut bytes = 0;
    for mut p in all.into_iter().take(PROBLEMS_ON_CAMPAIGN) {
        if let Some((end, _)) = p.message.char_indices().nth(PROBLEM_TEXT_ON_CAMPAIGN) {
            p.message.truncate(end);
            p.message.push('…');
        }
        bytes += p.message.len() + p.column.as_deref().map_or(0, str::len) + 64;
        if bytes > PROBLEM_BYTES_ON_CAMPAIGN {
            break;
        }
        kept.push(p);
    }
    kept
}

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
    /// Row problems past the report's cap, counted by code.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub problems_omitted: std::collections::BTreeMap<crate::validate::Code, u64>,
    /// SMS: the validated messages' encodings and segments (SPEC §9); absent when they
    /// could not be counted (another channel, no template text, a file-level problem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<crate::sms::SmsSummary>,
    /// The upload this campaign expects: the one whose URL was granted last. Each upload
    /// has its own S3 key ([`Campaign::upload_key_for`]); an older upload that lands
    /// late is ignored, so it can never replace a newer one.
    #[serde(default)]
    pub upload_id: Option<String>,
    /// S3 key of the full CSV problem report, once validated.
    #[serde(default)]
    pub report_key: Option<String>,
    /// Entity tag of the expected upload's object last validated (or being validated).
    #[serde(default)]
    pub upload_etag: Option<String>,
    /// Recipients live under this generation; a re-upload writes the next one.
    #[serde(default)]
    pub recipient_gen: u32,
    /// Every recipient generation below this one is deleted; those from here up to
    /// `recipient_gen` (exclusive) are still to delete (a clean-up that failed is
    /// finished by the next ingest run for this campaign).
    #[serde(default)]
    pub clean_below: u32,
    /// Until when a `validating` claim holds; after it, a retry may take over.
    #[serde(default)]
    pub lease_until: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub validated_at: Option<String>,
    /// Sending: where dispatch stands.
    #[serde(default)]
    pub dispatch: Dispatch,
    /// Absent until set (a stored null would defeat `if_not_exists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// A single message (`POST /v1/messages`, a ticket reply) rather than a campaign a
    /// supervisor made: its message opens no ticket; a reply to it opens an inbound one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub single: bool,
    /// What made it: a supervisor's campaign, or the hidden one-message campaign of
    /// `POST /v1/messages` or of an agent's ticket reply (`GET /v1/campaigns` lists
    /// only campaigns unless asked for `kind=`).
    #[serde(default, skip_serializing_if = "CampaignKind::is_campaign")]
    pub kind: CampaignKind,
    /// The results download (SPEC §7), per format: built by the results function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_csv: Option<ResultsFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_xlsx: Option<ResultsFile>,
    /// The header image uploaded for this campaign (SPEC §3), once a grant was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_image_file: Option<HeaderImageFile>,
    /// The report email (SPEC §5, §7), once the closer has asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_email_state: Option<ReportEmailState>,
}

/// A campaign's uploaded header image (SPEC §3): PNG or JPEG, at most
/// [`HEADER_IMAGE_MAX_BYTES`], its type checked by content when it lands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeaderImageFile {
    /// `awaiting` (granted, not landed), `ready` or `rejected`.
    pub status: String,
    /// The upload expected: a later grant supersedes an earlier one.
    pub upload_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub updated_at: String,
}

pub const HEADER_IMAGE_MAX_BYTES: u64 = 5 * 1024 * 1024;

/// Where an uploaded header image lives: `images/{tenant}/{campaign}/{upload_id}`.
pub fn header_image_key(tenant: &str, campaign: &str, upload_id: &str) -> String {
    format!("images/{tenant}/{campaign}/{upload_id}")
}

/// An image's type from its first bytes (never its name): PNG or JPEG, else `None`.
pub fn image_type(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// Whether an uploaded header image is usable: its content type, or why not.
pub fn check_header_image(head: &[u8], size: u64) -> Result<&'static str, String> {
    if size > HEADER_IMAGE_MAX_BYTES {
        return Err(format!(
            "image_too_large: the image has {size} bytes; the limit is {HEADER_IMAGE_MAX_BYTES} (5 MB)"
        ));
    }
    image_type(head).ok_or_else(|| {
        "unsupported_image: the file is not a PNG or JPEG image (checked by its content, not its name)"
            .to_string()
    })
}

/// A campaign's results file in one format, as the results function left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    /// `building`, `ready` or `failed`.
    pub status: String,
    /// Which request this build answers (a newer request supersedes it).
    pub request_id: String,
    pub requested_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The results file's columns (SPEC §7), before the row's parameters and metadata.
pub const RESULTS_COLUMNS: [&str; 13] = [
    "campaign_id",
    "entry_id",
    "recipient",
    "status",
    "ticket_id",
    "created",
    "updated",
    "provider_message_id",
    "error_code",
    "error_message",
    "delivered_at",
    "read_at",
    "replied_at",
];

impl CampaignStatus {
    /// SPEC §7: results are offered once the campaign has ended.
    pub fn offers_results(self) -> bool {
        matches!(
            self,
            CampaignStatus::Completed
                | CampaignStatus::CompletedWithErrors
                | CampaignStatus::Error
                | CampaignStatus::Cancelled
        )
    }
}

/// Dispatch's checkpoint (SPEC §2 step 3): how far it has enqueued each recipient shard,
/// so a crash or a timeout resumes where it stopped (re-enqueuing at most one page, which
/// the senders' claims make harmless).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dispatch {
    /// The last row enqueued in each shard (absent: none yet).
    #[serde(default)]
    pub after: std::collections::BTreeMap<String, u64>,
    /// Messages enqueued or blocked so far: the next message's place in the sending order.
    #[serde(default)]
    pub seq: u64,
    /// Every recipient has been enqueued or blocked.
    #[serde(default)]
    pub done: bool,
    /// Set by resume: the jobs senders parked while the campaign was paused are to be
    /// enqueued again before dispatch goes on.
    #[serde(default)]
    pub sweep: bool,
}

impl Dispatch {
    /// Whether dispatch has enqueued (or blocked) the recipient of `row`.
    pub fn passed(&self, row: u64) -> bool {
        self.done
            || self
                .after
                .get(&crate::keys::recipient_shard(row).to_string())
                .is_some_and(|last| *last >= row)
    }
}

impl Campaign {
    /// How many messages the campaign has: its valid rows.
    pub fn message_count(&self) -> u64 {
        self.counts.valid_rows
    }

    /// A new campaign, `awaiting_file`.
    pub fn new(
        id: String,
        tenant: &str,
        settings: CampaignSettings,
        params: usize,
        default_country: Option<String>,
        now: &str,
    ) -> Self {
        Campaign {
            id,
            tenant_id: tenant.to_string(),
            settings,
            status: CampaignStatus::AwaitingFile,
            params,
            default_country,
            counts: Default::default(),
            problems: Vec::new(),
            problems_omitted: Default::default(),
            sms: None,
            format: None,
            upload_id: None,
            report_key: None,
            upload_etag: None,
            recipient_gen: 0,
            clean_below: 0,
            lease_until: None,
            created_at: now.to_string(),
            updated_at: now.to_string(),
            validated_at: None,
            dispatch: Default::default(),
            sending_started_at: None,
            ended_at: None,
            single: false,
            kind: CampaignKind::Campaign,
            results_csv: None,
            results_xlsx: None,
            header_image_file: None,
            report_email_state: None,
        }
    }

    /// One object per upload: `uploads/{tenant}/{campaign}/{upload_id}`.
    pub fn upload_key_for(tenant: &str, campaign: &str, upload_id: &str) -> String {
        format!("uploads/{tenant}/{campaign}/{upload_id}")
    }

    /// The state a send control moves the campaign to, or why it does not fit (SPEC §5).
    pub fn control(&self, action: Control) -> Result<CampaignStatus, String> {
        use CampaignStatus as S;
        let next = match (action, self.status) {
            // A scheduled campaign can be rescheduled, sent now or unscheduled.
            (Control::Send { scheduled: true }, S::Loaded | S::Scheduled) => S::Scheduled,
            (Control::Unschedule, S::Scheduled) => S::Loaded,
            (Control::Send { scheduled: false }, S::Loaded | S::Scheduled) => S::Sending,
            (Control::Pause, S::Sending) => S::Paused,
            (Control::Resume, S::Paused) => S::Sending,
            (
                Control::Cancel,
                S::AwaitingFile
                | S::Validating
                | S::Loaded
                | S::Invalid
                | S::Scheduled
                | S::Sending
                | S::Paused,
            ) => S::Cancelled,
            (a, st) => {
                return Err(format!(
                    "the campaign is {}; {} is not possible now",
                    st.as_str(),
                    a.as_str()
                ))
            }
        };
        Ok(next)
    }

    /// Whether a new upload URL may be granted at `now` (unix seconds): before sending,
    /// or while a validation whose lease has expired (its run died) holds the campaign.
    pub fn accepts_upload_at(&self, now: i64) -> bool {
        self.status.accepts_upload()
            || (self.status == CampaignStatus::Validating
                && self.lease_until.is_none_or(|l| l < now))
    }

    pub fn report_key_for(tenant: &str, campaign: &str) -> String {
        format!("reports/{tenant}/{campaign}/validation.csv")
    }

    /// The validation rules for this campaign's spreadsheet, without its template's text:
    /// an SMS campaign with a template then gets no segment count ([`Campaign::rules_with`]).
    pub fn rules(&self) -> crate::validate::Rules {
        self.rules_with(None)
    }

    /// The validation rules for this campaign's spreadsheet, given its template as
    /// stored: an SMS template's body is what each row's message is rendered from, to
    /// count its segments. The parameter count is the campaign's own (`params`).
    pub fn rules_with(&self, template: Option<&Template>) -> crate::validate::Rules {
        let template_params = self.settings.template_id.as_ref().map(|_| self.params);
        let mut r = crate::validate::Rules::for_template(self.settings.channel, template_params)
            .unwrap_or_else(|_| crate::validate::Rules::new(self.settings.channel, self.params));
        if self.settings.channel == Channel::Sms && self.settings.template_id.is_some() {
            r.sms_body = template
                .filter(|t| Some(&t.id) == self.settings.template_id.as_ref())
                .map(|t| t.spec.body.clone());
        }
        r.default_country = self.default_country.as_deref().and_then(|c| c.parse().ok());
        r.allow_duplicates = self.settings.allow_duplicates;
        r.metadata = self.settings.metadata.clone();
        r.on_invalid_rows = self.settings.on_invalid_rows;
        if let Some(m) = self.settings.max_sms_segments {
            r.max_sms_segments = m as usize;
        }
        r
    }
}

/// An upload's S3 key, read back: `uploads/{tenant}/{campaign}/{upload_id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadKey<'a> {
    pub tenant: &'a str,
    pub campaign: &'a str,
    pub upload_id: &'a str,
}

/// `uploads/{tenant}/{campaign}/{upload_id}` → its parts; anything else (more or fewer
/// segments, an empty one) is not an upload key.
pub fn parse_upload_key(key: &str) -> Option<UploadKey<'_>> {
    let mut parts = key.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("uploads"), Some(t), Some(c), Some(u), None)
            if !t.is_empty() && !c.is_empty() && !u.is_empty() =>
        {
            Some(UploadKey {
                tenant: t,
                campaign: c,
                upload_id: u,
            })
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
    fn an_sms_text_is_the_body_with_each_parameter_in_place() {
        let p = vec!["María".to_string(), "$12.500".to_string()];
        assert_eq!(
            render("Hola {{1}}, debes {{2}}. {{ 1 }}: {{3}}", &p),
            "Hola María, debes $12.500. María: {{3}}"
        );
    }

    #[test]
    fn a_parsed_body_renders_like_render() {
        let p = vec!["María".to_string(), "$12.500".to_string()];
        for body in [
            "Hola {{1}}, debes {{2}}. {{ 1 }}: {{3}} {{0}} {{99999999999999999999999}}",
            "{{1}}{{2}}",
            "Sin parámetros",
            "",
            "{{ x }} {{1}",
        ] {
            let parsed = Body::read(body);
            assert_eq!(parsed.render(&p), render(body, &p), "{body}");
            assert_eq!(parsed.pieces(&p).collect::<String>(), parsed.render(&p));
        }
        assert_eq!(
            Body::read("{{1}}{{2}}").pieces(&p).collect::<Vec<_>>(),
            ["María", "$12.500"]
        );
    }

    #[test]
    fn an_sms_campaign_takes_its_template_body_into_the_rules() {
        let body = json!({"name":"x","channel":"sms","account_id":"a","template_id":"tpl_1","consent_confirmed":true});
        let settings = CampaignSettings::parse(&body).unwrap();
        let c = Campaign::new("c".into(), "t", settings, 1, None, "now");
        let tpl = Template {
            id: "tpl_1".into(),
            spec: NewTemplate::parse(&json!({"name":"aviso","channel":"sms","body":"Hola {{1}}"}))
                .unwrap(),
            status: TemplateStatus::Approved,
            account_id: None,
            provider_template_id: None,
            rejected_reason: None,
            created_at: String::new(),
        };
        let r = c.rules_with(Some(&tpl));
        assert_eq!((r.params, r.sms_body.as_deref()), (1, Some("Hola {{1}}")));
        assert!(r.counts_sms());
        assert_eq!(r.max_sms_segments, crate::validate::MAX_SMS_SEGMENTS);
        let sms = json!({"name":"x","channel":"sms","account_id":"a","consent_confirmed":true,
            "max_sms_segments": 1});
        let mut c2 = c.clone();
        c2.settings = CampaignSettings::parse(&sms).unwrap();
        assert_eq!(c2.rules().max_sms_segments, 1);
        for bad in [json!(0), json!(11), json!("2")] {
            let mut b = sms.clone();
            b["max_sms_segments"] = bad;
            let e = CampaignSettings::parse(&b).unwrap_err();
            assert_eq!(e[0].field, "max_sms_segments");
        }
        let mut wa = sms.clone();
        wa["channel"] = json!("whatsapp");
        wa["template_id"] = json!("tpl_1");
        let e = CampaignSettings::parse(&wa).unwrap_err();
        assert_eq!(e[0].field, "max_sms_segments");
        assert_eq!(c.rules().sms_body, None, "without the template");
        let other = Template {
            id: "tpl_2".into(),
            ..tpl.clone()
        };
        assert_eq!(
            c.rules_with(Some(&other)).sms_body,
            None,
            "not its template"
        );
        let mut wa = c.clone();
        wa.settings.channel = crate::validate::Channel::Whatsapp;
        assert_eq!(wa.rules_with(Some(&tpl)).sms_body, None);
        // Without a template (a message column) the text is each row's own.
        let mut own = c.clone();
        own.settings.template_id = None;
        let r = own.rules_with(None);
        assert!(r.message_column && r.counts_sms());
    }

    #[test]
    fn template_parameters_are_numbered_without_gaps() {
        assert_eq!(template_params("Hola {{1}}, debes {{2}}. {{1}}"), Ok(2));
        assert_eq!(template_params("Sin parámetros"), Ok(0));
        assert!(template_params("Hola {{2}}").is_err());
        assert!(template_params("Hola {{nombre}}").is_err());
    }

    #[test]
    fn upload_keys_name_tenant_campaign_and_upload() {
        let k = parse_upload_key("uploads/ten_a/cmp_1/upl_9").unwrap();
        assert_eq!(
            (k.tenant, k.campaign, k.upload_id),
            ("ten_a", "cmp_1", "upl_9")
        );
        assert_eq!(
            Campaign::upload_key_for("ten_a", "cmp_1", "upl_9"),
            "uploads/ten_a/cmp_1/upl_9"
        );
        assert_eq!(parse_upload_key("uploads/ten_a/cmp_1"), None);
        assert_eq!(parse_upload_key("uploads/ten_a/cmp_1/upl_9/x"), None);
        assert_eq!(parse_upload_key("uploads//cmp_1/upl_9"), None);
        assert_eq!(parse_upload_key("reports/ten_a/cmp_1/x"), None);
    }

    #[test]
    fn a_campaign_item_keeps_file_level_problems_first_and_bounded_text() {
        use crate::validate::{Code, Problem, Severity};
        let row = |r: u64| Problem {
            row: Some(r),
            column: Some("phone".into()),
            code: Code::InvalidPhone,
            severity: Severity::Error,
            message: "x".repeat(5000),
        };
        let mut all: Vec<Problem> = (2..300).map(row).collect();
        all.push(Problem {
            row: None,
            column: None,
            code: Code::FileTooLarge,
            severity: Severity::Error,
            message: "too many rows".into(),
        });
        let kept = problems_for_campaign(all);
        assert_eq!(kept[0].code, Code::FileTooLarge);
        assert!(kept.len() <= PROBLEMS_ON_CAMPAIGN);
        assert!(kept
            .iter()
            .all(|p| p.message.chars().count() <= PROBLEM_TEXT_ON_CAMPAIGN + 1));
        let bytes: usize = kept.iter().map(|p| p.message.len()).sum();
        assert!(bytes <= PROBLEM_BYTES_ON_CAMPAIGN, "{bytes}");
        assert_eq!(kept[1].row, Some(2));
    }

    #[test]
    fn header_images_are_png_or_jpeg_by_content_and_at_most_5_mb() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
        assert_eq!(check_header_image(png, 1000), Ok("image/png"));
        assert_eq!(check_header_image(&jpeg, 1000), Ok("image/jpeg"));
        // A text file renamed .png is still text.
        let e = check_header_image(b"phone,nombre\n+56912345678,Ana\n", 30).unwrap_err();
        assert!(e.starts_with("unsupported_image"), "{e}");
        let e = check_header_image(b"GIF89a", 6).unwrap_err();
        assert!(e.starts_with("unsupported_image"), "{e}");
        let e = check_header_image(png, 6 * 1024 * 1024).unwrap_err();
        assert!(e.starts_with("image_too_large"), "{e}");
        assert!(check_header_image(png, HEADER_IMAGE_MAX_BYTES).is_ok());
    }

    #[test]
    fn send_controls_fit_only_their_states() {
        let body = json!({"name":"x","channel":"sms","account_id":"a","consent_confirmed":true});
        let mut c = Campaign {
            id: "c".into(),
            tenant_id: "t".into(),
            settings: CampaignSettings::parse(&body).unwrap(),
            status: CampaignStatus::Loaded,
            params: 0,
            default_country: None,
            counts: Default::default(),
            problems: vec![],
            problems_omitted: Default::default(),
            sms: None,
            format: None,
            upload_id: None,
            report_key: None,
            upload_etag: None,
            recipient_gen: 1,
            clean_below: 0,
            lease_until: None,
            created_at: String::new(),
            updated_at: String::new(),
            validated_at: None,
            dispatch: Default::default(),
            sending_started_at: None,
            ended_at: None,
            single: false,
            kind: CampaignKind::Campaign,
            results_csv: None,
            results_xlsx: None,
            header_image_file: None,
            report_email_state: None,
        };
        assert_eq!(
            c.control(Control::Send { scheduled: false }),
            Ok(CampaignStatus::Sending)
        );
        assert_eq!(
            c.control(Control::Send { scheduled: true }),
            Ok(CampaignStatus::Scheduled)
        );
        assert!(c.control(Control::Pause).unwrap_err().contains("loaded"));
        c.status = CampaignStatus::Sending;
        assert_eq!(c.control(Control::Pause), Ok(CampaignStatus::Paused));
        assert!(c.control(Control::Resume).is_err());
        c.status = CampaignStatus::Paused;
        assert_eq!(c.control(Control::Resume), Ok(CampaignStatus::Sending));
        assert_eq!(c.control(Control::Cancel), Ok(CampaignStatus::Cancelled));
        c.status = CampaignStatus::Completed;
        assert!(c
            .control(Control::Cancel)
            .unwrap_err()
            .contains("completed"));
        c.status = CampaignStatus::Invalid;
        assert!(c.control(Control::Send { scheduled: false }).is_err());
    }

    #[test]
    fn uploads_are_accepted_only_before_sending() {
        assert!(CampaignStatus::Loaded.accepts_upload());
        assert!(CampaignStatus::Invalid.accepts_upload());
        assert!(!CampaignStatus::Sending.accepts_upload());
        assert!(!CampaignStatus::Validating.accepts_upload());
    }

    #[test]
    fn the_end_state_follows_what_was_sent_and_what_was_not() {
        use CampaignStatus::*;
        assert_eq!(CampaignStatus::end_of(10, 0, 0), Completed);
        assert_eq!(CampaignStatus::end_of(0, 0, 0), Completed);
        assert_eq!(CampaignStatus::end_of(9, 1, 0), CompletedWithErrors);
        assert_eq!(CampaignStatus::end_of(9, 0, 1), Completed);
        assert_eq!(CampaignStatus::end_of(0, 3, 0), Error);
        // Seed 001: every message blocked or refused, none sent, is an error.
        assert_eq!(CampaignStatus::end_of(0, 0, 4), Error);
        assert_eq!(CampaignStatus::end_of(0, 2, 2), Error);
    }
}
