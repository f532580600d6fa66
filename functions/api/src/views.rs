//! What the API shows of each record: one struct per view, its fields listed one by one.
//!
//! A view is built from the stored record (`From<&Record>`, or `new` where it needs more:
//! the tenant, or what the API looked up). A field added to a record is not shown until
//! it is listed here, so nothing internal (a secret's location, a lease, a dispatch
//! cursor) becomes public by accident. The tests at the bottom pin each view's keys.
//!
//! The JSON keeps the API's rules for unset values: most unset fields are `null`; the few
//! that are left out when unset say so with `skip_serializing_if`. A key that is absent
//! in one case and `null` in another is an `Option<Option<_>>`: `None` leaves the key
//! out, `Some(None)` writes `null`.

use pregon::model::{
    campaign_ticket_id, Account, Campaign, CampaignKind, CampaignStatus, CloseReason, Progress,
    ProviderKind, ReportEmailStatus, SendWindow, Template, TemplateCategory, TemplateHeader,
    TemplateStatus, Ticket, TicketEntry, TicketKind, TicketStatus,
};
use pregon::sms::SmsSummary;
use pregon::validate::{Channel, Code, Counts, MetadataField, OnInvalidRows, Problem};
use pregon_aws::store::RecipientItem;
use serde::Serialize;
use std::collections::BTreeMap;

// ------------------------------------------------------------------------ accounts

/// An account as `GET /v1/accounts` lists it. The secret's location never is shown: only
/// whether credentials are stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AccountSummary {
    id: String,
    provider: ProviderKind,
    channel: Channel,
    sender: String,
    default_country: Option<String>,
    /// Messages per second.
    rate: u32,
    /// `stored` or `none`.
    credentials: &'static str,
    /// SMS gateways' ports; left out for every other account.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<u16>,
    created_at: String,
    /// What the tenant calls it, and a note (null until set).
    name: Option<String>,
    description: Option<String>,
    /// False once disabled: it sends nothing until enabled again.
    enabled: bool,
    /// When it was disabled; left out while enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_at: Option<String>,
}

impl From<&Account> for AccountSummary {
    fn from(a: &Account) -> Self {
        AccountSummary {
            id: a.id.clone(),
            provider: a.provider,
            channel: a.channel,
            sender: a.sender.clone(),
            default_country: a.default_country.clone(),
            rate: a.rate,
            credentials: if a.credentials_secret_arn.is_some() {
                "stored"
            } else {
                "none"
            },
            ports: a.ports.clone(),
            name: a.name.clone(),
            description: a.description.clone(),
            created_at: a.created_at.clone(),
            enabled: a.enabled(),
            disabled_at: a.disabled_at.clone(),
        }
    }
}

/// One account as `POST /v1/accounts` and `GET /v1/accounts/{id}` show it: the summary
/// and the webhook URL to paste into the provider's console.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AccountView {
    #[serde(flatten)]
    summary: AccountSummary,
    /// `null` until the stack's public webhook base URL is set.
    webhook_url: Option<String>,
}

impl AccountView {
    pub(crate) fn new(a: &Account, webhook_url: Option<String>) -> Self {
        AccountView {
            summary: a.into(),
            webhook_url,
        }
    }
}

// ------------------------------------------------------------------------ templates

/// A template as the API shows it (`POST /v1/templates`, `GET /v1/templates[/{id}]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TemplateView {
    id: String,
    name: String,
    channel: Channel,
    language: String,
    category: Option<TemplateCategory>,
    body: String,
    /// How many `{{n}}` parameters the body has.
    params: usize,
    header: Option<TemplateHeader>,
    status: TemplateStatus,
    /// The account it is registered with; left out when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    /// The provider's id once registered; left out until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_template_id: Option<String>,
    /// Why the provider rejected it; left out otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected_reason: Option<String>,
    created_at: String,
    /// The team it belongs to (null when none).
    department: Option<String>,
    /// The sample values sent for review (the tenant's, else placeholders).
    examples: Vec<String>,
}

impl From<&Template> for TemplateView {
    fn from(t: &Template) -> Self {
        TemplateView {
            id: t.id.clone(),
            name: t.spec.name.clone(),
            channel: t.spec.channel,
            language: t.spec.language.clone(),
            category: t.spec.category,
            body: t.spec.body.clone(),
            params: t.spec.params,
            header: t.spec.header.clone(),
            status: t.status,
            account_id: t.account_id.clone(),
            provider_template_id: t.provider_template_id.clone(),
            rejected_reason: t.rejected_reason.clone(),
            created_at: t.created_at.clone(),
            department: t.spec.department.clone(),
            examples: t.spec.review_examples(),
        }
    }
}

// ------------------------------------------------------------------------ campaigns

/// A campaign in `GET /v1/campaigns`: its settings (SPEC §3), status and validation
/// results, without the problem list (read one campaign for it) or what only a single
/// read looks up (progress, the report link). [`CampaignView`] adds those.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CampaignSummary {
    // The settings, as accepted.
    name: String,
    channel: Channel,
    account_id: String,
    template_id: Option<String>,
    department: Option<String>,
    wait_for_reply_hours: u8,
    allow_duplicates: bool,
    consent_confirmed: bool,
    metadata: Vec<MetadataField>,
    send_at: Option<String>,
    send_window: Option<SendWindow>,
    on_invalid_rows: OnInvalidRows,
    header_image: Option<String>,
    report_email: Option<String>,
    /// Left out when not set (the default limit applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    max_sms_segments: Option<u8>,
    resend_unreported: bool,
    // The campaign's state.
    id: String,
    kind: CampaignKind,
    status: CampaignStatus,
    params: usize,
    default_country: Option<String>,
    counts: Counts,
    /// Errors and warnings, listed or not.
    problems_total: u64,
    /// Problems past the listed ones, counted by code (an empty object when none).
    problems_omitted: BTreeMap<Code, u64>,
    format: Option<String>,
    upload_id: Option<String>,
    created_at: String,
    updated_at: String,
    validated_at: Option<String>,
    /// The name of the API key that created it (null for campaigns made before names).
    created_by: Option<String>,
    /// SMS: the messages added up; left out until validated.
    #[serde(skip_serializing_if = "Option::is_none")]
    sms: Option<SmsSummary>,
    /// The uploaded header image: the three keys only once one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    header_image_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    header_image_error: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    header_image_type: Option<Option<String>>,
    /// The report email: the three keys only once it was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    report_email_status: Option<ReportEmailStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report_email_error: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report_email_sent_at: Option<Option<String>>,
}

impl From<&Campaign> for CampaignSummary {
    fn from(c: &Campaign) -> Self {
        let s = &c.settings;
        let image = c.header_image_file.as_ref();
        let email = c.report_email_state.as_ref();
        CampaignSummary {
            name: s.name.clone(),
            channel: s.channel,
            account_id: s.account_id.clone(),
            template_id: s.template_id.clone(),
            department: s.department.clone(),
            wait_for_reply_hours: s.wait_for_reply_hours,
            allow_duplicates: s.allow_duplicates,
            consent_confirmed: s.consent_confirmed,
            metadata: s.metadata.clone(),
            send_at: s.send_at.clone(),
            send_window: s.send_window.clone(),
            on_invalid_rows: s.on_invalid_rows,
            header_image: s.header_image.clone(),
            report_email: s.report_email.clone(),
            max_sms_segments: s.max_sms_segments,
            resend_unreported: s.resend_unreported,
            id: c.id.clone(),
            kind: c.kind,
            status: c.status,
            params: c.params,
            default_country: c.default_country.clone(),
            counts: c.counts.clone(),
            problems_total: c.counts.errors + c.counts.warnings,
            problems_omitted: c.problems_omitted.clone(),
            format: c.format.clone(),
            upload_id: c.upload_id.clone(),
            created_at: c.created_at.clone(),
            updated_at: c.updated_at.clone(),
            validated_at: c.validated_at.clone(),
            created_by: c.created_by.clone(),
            sms: c.sms.clone(),
            header_image_status: image.map(|f| f.status.clone()),
            header_image_error: image.map(|f| f.reason.clone()),
            header_image_type: image.map(|f| f.content_type.clone()),
            report_email_status: email.map(|r| r.status),
            report_email_error: email.map(|r| r.reason.clone()),
            report_email_sent_at: email.map(|r| r.sent_at.clone()),
        }
    }
}

/// One campaign as the API shows it: the summary, its problems, and (read on its own,
/// [`CampaignView::with_report`]) its sending times, progress and report link. The
/// answers to create, rename and the sending controls have no report part
/// (`From<&Campaign>`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CampaignView {
    #[serde(flatten)]
    summary: CampaignSummary,
    /// The first problems (the rest are in the report).
    problems: Vec<Problem>,
    /// Progress counters; only once sending started, and left out if they could not be
    /// read.
    #[serde(skip_serializing_if = "Option::is_none")]
    progress: Option<Progress>,
    /// Only once sending started.
    #[serde(skip_serializing_if = "Option::is_none")]
    sending_started_at: Option<String>,
    /// Present (maybe `null`) exactly when `sending_started_at` is.
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<Option<String>>,
    /// A pre-signed link to the problem report; only when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    report_url: Option<String>,
}

impl From<&Campaign> for CampaignView {
    fn from(c: &Campaign) -> Self {
        CampaignView {
            summary: c.into(),
            problems: c.problems.clone(),
            progress: None,
            sending_started_at: None,
            ended_at: None,
            report_url: None,
        }
    }
}

impl CampaignView {
    /// The view of `GET /v1/campaigns/{id}`: the sending times once sending started, the
    /// `progress` the API read (shown only then), and the `report_url` it signed.
    pub(crate) fn with_report(
        c: &Campaign,
        progress: Option<Progress>,
        report_url: Option<String>,
    ) -> Self {
        let started = c.sending_started_at.is_some();
        CampaignView {
            progress: progress.filter(|_| started),
            sending_started_at: c.sending_started_at.clone(),
            ended_at: started.then(|| c.ended_at.clone()),
            report_url,
            ..CampaignView::from(c)
        }
    }
}

// ------------------------------------------------------------------------ messages

/// A campaign's message as the API shows it (`GET /v1/messages/{id}`,
/// `GET /v1/campaigns/{id}/messages`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MessageView {
    id: String,
    /// The spreadsheet row.
    row: u64,
    phone: String,
    /// As tenants see it: `queued` for a `pending` message dispatch has enqueued.
    status: String,
    provider_message_id: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    sent_at: Option<String>,
    delivered_at: Option<String>,
    read_at: Option<String>,
    replied_at: Option<String>,
    updated_at: Option<String>,
    sms_encoding: Option<String>,
    sms_segments: Option<u32>,
    /// Whether it was sent once more after a lost answer (`false` when not).
    resent: bool,
}

impl MessageView {
    pub(crate) fn new(tenant: &str, c: &Campaign, m: &RecipientItem) -> Self {
        MessageView {
            id: pregon::sending::message_id(tenant, &c.id, c.recipient_gen, m.row),
            row: m.row,
            phone: m.phone.clone(),
            status: shown_status(c, m).to_string(),
            provider_message_id: m.provider_message_id.clone(),
            error_code: m.error_code.clone(),
            error_message: m.error_message.clone(),
            sent_at: m.sent_at.clone(),
            delivered_at: m.delivered_at.clone(),
            read_at: m.read_at.clone(),
            replied_at: m.replied_at.clone(),
            updated_at: m.updated_at.clone(),
            sms_encoding: m.sms_encoding.clone(),
            sms_segments: m.sms_segments,
            resent: m.resent.unwrap_or(false),
        }
    }
}

// ------------------------------------------------------------------------ tickets

/// A ticket as the API shows it: a stored one (`From<&Ticket>`), or an informative
/// campaign's, which is a view of its sent message ([`TicketView::informative`]). Every
/// key is always there, `null` when unset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TicketView {
    id: String,
    kind: TicketKind,
    status: TicketStatus,
    close_reason: Option<CloseReason>,
    phone: String,
    account_id: String,
    campaign_id: Option<String>,
    message_id: Option<String>,
    department: Option<String>,
    deadline: Option<String>,
    /// The times below are always set on a stored ticket; an informative one takes its
    /// message's send time (`null` if that is unknown).
    created_at: Option<String>,
    updated_at: Option<String>,
    last_activity_at: Option<String>,
    replied_at: Option<String>,
    attended_at: Option<String>,
    closed_at: Option<String>,
    /// The names of the API keys that took and closed it (null: nobody, a key without a
    /// name, or the closer).
    attended_by: Option<String>,
    closed_by: Option<String>,
    /// The closed ticket this one reopened (a template sent to its phone), or null.
    reopened_from: Option<String>,
}

impl From<&Ticket> for TicketView {
    fn from(t: &Ticket) -> Self {
        TicketView {
            id: t.id.clone(),
            kind: t.kind,
            status: t.status,
            close_reason: t.close_reason,
            phone: t.phone.clone(),
            account_id: t.account_id.clone(),
            campaign_id: t.campaign_id.clone(),
            message_id: t.message_id.clone(),
            department: t.department.clone(),
            deadline: t.deadline.clone(),
            created_at: Some(t.created_at.clone()),
            updated_at: Some(t.updated_at.clone()),
            last_activity_at: Some(t.last_activity_at.clone()),
            replied_at: t.replied_at.clone(),
            attended_at: t.attended_at.clone(),
            closed_at: t.closed_at.clone(),
            attended_by: t.attended_by.clone(),
            closed_by: t.closed_by.clone(),
            reopened_from: t.reopened_from.clone(),
        }
    }
}

impl TicketView {
    /// An informative campaign's ticket (never stored): its sent message, born `closed`
    /// (`informative`) when it was sent.
    pub(crate) fn informative(tenant: &str, c: &Campaign, m: &RecipientItem) -> Self {
        let at = m.sent_at.clone();
        TicketView {
            id: campaign_ticket_id(&c.id, c.recipient_gen, m.row),
            kind: TicketKind::Campaign,
            status: TicketStatus::Closed,
            close_reason: Some(CloseReason::Informative),
            phone: m.phone.clone(),
            account_id: c.settings.account_id.clone(),
            campaign_id: Some(c.id.clone()),
            message_id: Some(pregon::sending::message_id(
                tenant,
                &c.id,
                c.recipient_gen,
                m.row,
            )),
            department: c.settings.department.clone(),
            deadline: None,
            created_at: at.clone(),
            updated_at: at.clone(),
            last_activity_at: at.clone(),
            replied_at: m.replied_at.clone(),
            attended_at: None,
            closed_at: at,
            attended_by: None,
            closed_by: None,
            reopened_from: None,
        }
    }
}

/// `GET /v1/tickets/{id}`: the ticket and its conversation, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TicketDetail {
    #[serde(flatten)]
    ticket: TicketView,
    conversation: Vec<TicketEntry>,
}

impl TicketDetail {
    pub(crate) fn new(ticket: TicketView, conversation: Vec<TicketEntry>) -> Self {
        TicketDetail {
            ticket,
            conversation,
        }
    }
}

/// A message's status as tenants see it: a `pending` record whose job dispatch has put
/// on the queue of a sending campaign is `queued` (the record itself is not rewritten).
pub(crate) fn shown_status<'a>(c: &Campaign, m: &'a RecipientItem) -> &'a str {
    if m.status == "pending"
        && c.status == CampaignStatus::Sending
        && m.parked.is_none()
        && c.dispatch.passed(m.row)
    {
        "queued"
    } else {
        &m.status
    }
}

/// An API key as its tenant sees it: never its hash; its secret (`key`) only in the
/// answer that creates or rotates it.
#[derive(Debug, Serialize)]
pub(crate) struct KeyView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<pregon::auth::Scope>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub rotated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<&pregon_aws::apikeys::KeyRecord> for KeyView {
    fn from(k: &pregon_aws::apikeys::KeyRecord) -> Self {
        KeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            scopes: k.scopes.clone(),
            created_at: k.created_at.clone(),
            expires_at: k.expires_at.clone(),
            rotated_at: k.rotated_at.clone(),
            key: None,
        }
    }
}

impl KeyView {
    /// The view with the key's secret, for the one answer that shows it.
    pub(crate) fn with_secret(k: &pregon_aws::apikeys::KeyRecord, secret: String) -> Self {
        KeyView {
            key: Some(secret),
            ..KeyView::from(k)
        }
    }
}

/// A tenant as the operator sees it.
#[derive(Debug, Serialize)]
pub(crate) struct TenantView {
    pub tenant_id: String,
    pub name: String,
    pub created_at: String,
    pub disabled_at: Option<String>,
}

impl From<&pregon_aws::apikeys::TenantItem> for TenantView {
    fn from(t: &pregon_aws::apikeys::TenantItem) -> Self {
        TenantView {
            tenant_id: t.tenant_id.clone(),
            name: t.name.clone(),
            created_at: t.created_at.clone(),
            disabled_at: t.disabled_at.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each view's exact keys, for a record with every optional field set and for one
    //! with none: a field added to a record must not appear here until a view lists it.

    use super::*;
    use pregon::model::{CampaignSettings, HeaderImageFile, NewTemplate};
    use serde_json::{json, Value};
    use std::collections::BTreeSet;

    fn keys(v: impl Serialize) -> BTreeSet<String> {
        match serde_json::to_value(v).expect("json") {
            Value::Object(o) => o.keys().cloned().collect(),
            other => panic!("a view is a JSON object, not {other}"),
        }
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn with(base: &[&str], more: &[&str]) -> BTreeSet<String> {
        set(&[base, more].concat())
    }

    fn account(full: bool) -> Account {
        Account {
            id: "acc_1".into(),
            provider: ProviderKind::SmsGateway,
            channel: Channel::Sms,
            sender: "gw1".into(),
            default_country: full.then(|| "CL".into()),
            rate: 20,
            credentials_secret_arn: full.then(|| "arn:aws:secretsmanager:x".into()),
            ports: if full { vec![0, 1] } else { Vec::new() },
            created_at: "2026-01-01T00:00:00Z".into(),
            name: full.then(|| "Gateway Santiago".into()),
            description: None,
            disabled_at: None,
            paused_campaigns: Vec::new(),
        }
    }

    const ACCOUNT: &[&str] = &[
        "id",
        "provider",
        "channel",
        "sender",
        "default_country",
        "rate",
        "credentials",
        "created_at",
        "name",
        "description",
        "enabled",
    ];

    #[test]
    fn an_account_shows_whether_credentials_are_stored_never_where() {
        let (full, minimal) = (account(true), account(false));
        assert_eq!(keys(AccountSummary::from(&full)), with(ACCOUNT, &["ports"]));
        assert_eq!(keys(AccountSummary::from(&minimal)), set(ACCOUNT));
        assert_eq!(
            keys(AccountView::new(
                &full,
                Some("https://h/v1/webhooks/acc_1".into())
            )),
            with(ACCOUNT, &["ports", "webhook_url"])
        );
        // No base URL yet: `webhook_url` is null, not missing.
        let v = serde_json::to_value(AccountView::new(&minimal, None)).unwrap();
        assert_eq!(keys(&v), with(ACCOUNT, &["webhook_url"]));
        assert_eq!(v["webhook_url"], Value::Null);
        assert_eq!(v["credentials"], "none");
        assert_eq!(
            serde_json::to_value(AccountSummary::from(&full)).unwrap()["credentials"],
            "stored"
        );
    }

    fn template(full: bool) -> Template {
        Template {
            id: "tpl_1".into(),
            spec: NewTemplate {
                name: "aviso".into(),
                channel: Channel::Whatsapp,
                language: "es".into(),
                category: full.then_some(TemplateCategory::Utility),
                body: "Hola {{1}}".into(),
                params: 1,
                header: full.then(|| TemplateHeader {
                    kind: "image".into(),
                    text: None,
                    link: Some("https://example.com/a.png".into()),
                }),
                department: full.then(|| "cobranzas".into()),
                examples: Vec::new(),
            },
            status: TemplateStatus::Pending,
            account_id: full.then(|| "acc_1".into()),
            provider_template_id: full.then(|| "123".into()),
            rejected_reason: full.then(|| "bad".into()),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    const TEMPLATE: &[&str] = &[
        "id",
        "name",
        "channel",
        "language",
        "category",
        "body",
        "params",
        "header",
        "status",
        "created_at",
        "department",
        "examples",
    ];

    #[test]
    fn a_template_leaves_out_its_unset_registration_fields() {
        assert_eq!(
            keys(TemplateView::from(&template(true))),
            with(
                TEMPLATE,
                &["account_id", "provider_template_id", "rejected_reason"]
            )
        );
        // `category` and `header` are null when unset; the registration fields absent.
        let v = serde_json::to_value(TemplateView::from(&template(false))).unwrap();
        assert_eq!(keys(&v), set(TEMPLATE));
        assert_eq!((&v["category"], &v["header"]), (&Value::Null, &Value::Null));
    }

    fn campaign(full: bool) -> Campaign {
        let body = if full {
            json!({"name": "n", "channel": "sms", "account_id": "acc_1", "template_id": "tpl_1",
                "department": "ventas", "wait_for_reply_hours": 24, "allow_duplicates": true,
                "consent_confirmed": true, "metadata": [{"name": "rut", "type": "text"}],
                "send_at": "2026-12-01T09:00:00-03:00",
                "send_window": {"timezone": "America/Santiago", "days": ["mon"],
                    "from": "09:00", "to": "18:00"},
                "on_invalid_rows": "skip", "header_image": "https://example.com/a.png",
                "report_email": "a@example.com", "max_sms_segments": 3,
                "resend_unreported": true})
        } else {
            json!({"name": "n", "channel": "sms", "account_id": "acc_1",
                "consent_confirmed": true})
        };
        let settings = CampaignSettings::parse(&body).expect("valid settings");
        let now = "2026-01-01T00:00:00Z";
        let mut c = Campaign::new("cmp_1".into(), "ten_1", settings, 1, None, now);
        if full {
            c.status = CampaignStatus::Completed;
            c.default_country = Some("CL".into());
            c.counts.errors = 2;
            c.counts.warnings = 1;
            c.problems = vec![serde_json::from_value(json!({"row": 2, "column": "phone",
                "code": "invalid_phone", "severity": "error", "message": "m"}))
            .unwrap()];
            c.problems_omitted.insert(Code::InvalidPhone, 4);
            c.format = Some("csv".into());
            c.upload_id = Some("upl_1".into());
            c.validated_at = Some(now.into());
            c.sms = Some(SmsSummary::default());
            c.header_image_file = Some(HeaderImageFile {
                status: "ready".into(),
                upload_id: "img_1".into(),
                content_type: Some("image/png".into()),
                size: Some(10),
                reason: Some("why".into()),
                updated_at: now.into(),
            });
            c.report_email_state = Some(
                serde_json::from_value(json!({"status": "sent", "request_id": "r",
                    "requested_at": now, "attempts": 1, "sent_at": now, "reason": "ok"}))
                .unwrap(),
            );
            c.sending_started_at = Some(now.into());
            c.ended_at = Some(now.into());
            // Internal fields: never shown.
            c.report_key = Some("reports/x.csv".into());
            c.upload_etag = Some("etag".into());
            c.lease_until = Some(1);
            c.single = true;
        }
        c
    }

    const CAMPAIGN: &[&str] = &[
        "name",
        "channel",
        "account_id",
        "template_id",
        "department",
        "wait_for_reply_hours",
        "allow_duplicates",
        "consent_confirmed",
        "metadata",
        "send_at",
        "send_window",
        "on_invalid_rows",
        "header_image",
        "report_email",
        "resend_unreported",
        "id",
        "kind",
        "status",
        "params",
        "default_country",
        "counts",
        "problems_total",
        "problems_omitted",
        "format",
        "upload_id",
        "created_at",
        "updated_at",
        "validated_at",
        "created_by",
    ];

    /// What a campaign with every optional part shows besides [`CAMPAIGN`].
    const CAMPAIGN_SET: &[&str] = &[
        "max_sms_segments",
        "sms",
        "header_image_status",
        "header_image_error",
        "header_image_type",
        "report_email_status",
        "report_email_error",
        "report_email_sent_at",
    ];

    const REPORT: &[&str] = &["progress", "sending_started_at", "ended_at", "report_url"];

    #[test]
    fn a_campaign_shows_its_listed_fields_only() {
        let (full, minimal) = (campaign(true), campaign(false));
        let all = with(CAMPAIGN, CAMPAIGN_SET);
        assert_eq!(keys(CampaignSummary::from(&full)), all);
        assert_eq!(keys(CampaignSummary::from(&minimal)), set(CAMPAIGN));
        let mut view = all.clone();
        view.insert("problems".into());
        assert_eq!(keys(CampaignView::from(&full)), view);
        assert_eq!(
            keys(CampaignView::from(&minimal)),
            with(CAMPAIGN, &["problems"])
        );
        let report = CampaignView::with_report(
            &full,
            Some(Progress::default()),
            Some("https://s3/r".into()),
        );
        view.extend(REPORT.iter().map(|s| s.to_string()));
        assert_eq!(keys(report), view);
        // Not started, no report: no progress (even if given), no sending times.
        assert_eq!(
            keys(CampaignView::with_report(
                &minimal,
                Some(Progress::default()),
                None
            )),
            with(CAMPAIGN, &["problems"])
        );
        let v = serde_json::to_value(CampaignView::from(&minimal)).unwrap();
        assert_eq!(v["problems_omitted"], json!({}));
        assert_eq!(v["kind"], "campaign");
    }

    #[test]
    fn a_campaigns_optional_groups_are_present_with_nulls_inside() {
        let mut c = campaign(true);
        c.ended_at = None;
        if let Some(f) = c.header_image_file.as_mut() {
            f.reason = None;
            f.content_type = None;
        }
        c.report_email_state = Some(
            serde_json::from_value(json!({"status": "pending", "request_id": "r",
                "requested_at": "t", "attempts": 1}))
            .unwrap(),
        );
        let v = serde_json::to_value(CampaignView::with_report(&c, None, None)).unwrap();
        for k in [
            "ended_at",
            "header_image_error",
            "header_image_type",
            "report_email_error",
            "report_email_sent_at",
        ] {
            assert_eq!(v.get(k), Some(&Value::Null), "{k}");
        }
        assert_eq!(v["sending_started_at"], "2026-01-01T00:00:00Z");
        assert!(v.get("progress").is_none() && v.get("report_url").is_none());
    }

    fn recipient(full: bool) -> RecipientItem {
        let v = if full {
            json!({"row": 7, "phone": "+56911112222", "params": ["a"], "metadata": {"x": 1},
                "message": "hi", "priority": 1, "status": "sent",
                "provider_message_id": "wamid.1", "error_code": "e", "error_message": "em",
                "sent_at": "2026-01-01T00:00:00Z", "updated_at": "u", "claim_until": 1,
                "delivered_at": "d", "read_at": "r", "replied_at": "rp", "counted_at": 2,
                "parked": "p", "reported_id": "ri", "resent": true, "sms_encoding": "gsm7",
                "sms_segments": 2})
        } else {
            json!({"row": 7, "phone": "+56911112222", "params": [], "status": "pending"})
        };
        serde_json::from_value(v).expect("a recipient item")
    }

    const MESSAGE: &[&str] = &[
        "id",
        "row",
        "phone",
        "status",
        "provider_message_id",
        "error_code",
        "error_message",
        "sent_at",
        "delivered_at",
        "read_at",
        "replied_at",
        "updated_at",
        "sms_encoding",
        "sms_segments",
        "resent",
    ];

    #[test]
    fn a_message_shows_the_same_keys_set_or_not() {
        let c = campaign(false);
        assert_eq!(
            keys(MessageView::new("ten_1", &c, &recipient(true))),
            set(MESSAGE)
        );
        let v = serde_json::to_value(MessageView::new("ten_1", &c, &recipient(false))).unwrap();
        assert_eq!(keys(&v), set(MESSAGE));
        assert_eq!((&v["resent"], &v["sent_at"]), (&json!(false), &Value::Null));
    }

    const TICKET: &[&str] = &[
        "id",
        "kind",
        "status",
        "close_reason",
        "phone",
        "account_id",
        "campaign_id",
        "message_id",
        "department",
        "deadline",
        "created_at",
        "updated_at",
        "last_activity_at",
        "replied_at",
        "attended_at",
        "closed_at",
        "attended_by",
        "closed_by",
        "reopened_from",
    ];

    #[test]
    fn a_ticket_shows_every_key_set_or_not() {
        let minimal = Ticket::inbound("ten_1", "acc_1", "+56911112222", "2026-01-01T00:00:00Z");
        let mut full = minimal.clone();
        full.kind = TicketKind::Campaign;
        full.campaign_id = Some("cmp_1".into());
        full.message_id = Some("m".into());
        full.department = Some("ventas".into());
        full.status = TicketStatus::Closed;
        full.close_reason = Some(CloseReason::Agent);
        full.deadline = Some("d".into());
        full.replied_at = Some("r".into());
        full.attended_at = Some("a".into());
        full.closed_at = Some("c".into());
        full.reopened_from = Some("tk_0".into());
        assert_eq!(keys(TicketView::from(&full)), set(TICKET));
        assert_eq!(keys(TicketView::from(&minimal)), set(TICKET));
        assert_eq!(
            keys(TicketDetail::new(TicketView::from(&full), Vec::new())),
            with(TICKET, &["conversation"])
        );
        let c = campaign(true);
        for m in [recipient(true), recipient(false)] {
            let v = serde_json::to_value(TicketView::informative("ten_1", &c, &m)).unwrap();
            assert_eq!(keys(&v), set(TICKET));
            assert_eq!(
                (&v["kind"], &v["status"], &v["close_reason"]),
                (&json!("campaign"), &json!("closed"), &json!("informative"))
            );
        }
    }
}
