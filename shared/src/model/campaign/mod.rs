//! Campaigns: the record, its dispatch checkpoint and the problems it keeps. Its
//! parts live beside it: the state machine of SPEC §5 ([`status`]), the settings of
//! SPEC §3 ([`settings`]), the header image and results files ([`files`]), and the
//! upload key ([`upload`]).

mod files;
mod settings;
mod status;
mod upload;

pub use files::*;
pub use settings::*;
pub use status::*;
pub use upload::*;

use super::{ReportEmailState, Template};
use crate::validate::{Channel, Counts, Problem};
use serde::{Deserialize, Serialize};

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
    /// The name of the API key that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Days its recipients, messages and tickets are kept: the tenant's
    /// `retention_days` when it was created.
    #[serde(default = "super::ticket::default_retention")]
    pub retention_days: u32,
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
            created_by: None,
            retention_days: super::DEFAULT_RETENTION_DAYS,
        }
    }

    /// When (unix seconds) an item of this campaign written now is removed by TTL.
    pub fn expires_at(&self) -> i64 {
        super::retention_expiry(crate::clock::unix_now(), self.retention_days)
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
            created_by: None,
            retention_days: DEFAULT_RETENTION_DAYS,
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
