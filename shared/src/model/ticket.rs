//! Tickets (SPEC §5): the conversation a sent message may start, and the rules that
//! open and close them. Pure: the clock is a parameter.
//!
//! - A campaign with `wait_for_reply_hours` gives each sent message an `open` ticket
//!   whose deadline is that message's own send time plus the wait.
//! - A campaign without it is informative: its tickets are born `closed`
//!   (`informative`). They are a view of its sent messages, never stored.
//! - A reply keeps a ticket open for an agent; a replied ticket closes as `idle`
//!   after the tenant's `idle_close_hours` without activity.
//! - An inbound message that matches no open ticket opens an `inbound` one: no reply
//!   is ever dropped.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{err, FieldError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    /// Opened by a campaign's sent message.
    Campaign,
    /// Opened by a customer's message that matched no open ticket.
    Inbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Closed,
}

impl std::str::FromStr for TicketStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(TicketStatus::Open),
            "closed" => Ok(TicketStatus::Closed),
            _ => Err("must be open or closed".into()),
        }
    }
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The campaign waits for no reply.
    Informative,
    /// The wait ran out without a reply.
    NoReply,
    /// A person (or the inbox API) closed it.
    Agent,
    /// The customer asked not to be contacted.
    OptedOut,
    /// Replied, then nothing happened for the tenant's `idle_close_hours`.
    Idle,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Informative => "informative",
            CloseReason::NoReply => "no_reply",
            CloseReason::Agent => "agent",
            CloseReason::OptedOut => "opted_out",
            CloseReason::Idle => "idle",
        }
    }
}

/// A ticket as stored (campaign tickets with a wait, and inbound tickets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub tenant_id: String,
    pub kind: TicketKind,
    pub account_id: String,
    /// E.164.
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    /// The campaign message this ticket follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    pub status: TicketStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<CloseReason>,
    /// Until when an unanswered campaign ticket waits for a reply (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The last reply, agent reply or attend (RFC 3339): the idle clock runs from it.
    pub last_activity_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replied_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attended_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    /// The name of the API key that took the ticket (`attend`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attended_by: Option<String>,
    /// The name of the API key that closed it (`close`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    /// When (unix seconds) DynamoDB's TTL removes it and its conversation: the tenant's
    /// retention after it opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The closed ticket this one reopened (an agent sent a template to its phone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reopened_from: Option<String>,
}

impl Ticket {
    /// An `inbound` ticket, open from `now`: a customer wrote to the account and no open
    /// ticket matched (SPEC §5: no reply is dropped).
    pub fn inbound(tenant: &str, account: &str, phone: &str, now: &str) -> Ticket {
        Ticket {
            id: super::new_id("tk"),
            tenant_id: tenant.to_string(),
            kind: TicketKind::Inbound,
            account_id: account.to_string(),
            phone: phone.to_string(),
            campaign_id: None,
            message_id: None,
            department: None,
            status: TicketStatus::Open,
            close_reason: None,
            deadline: None,
            created_at: now.to_string(),
            updated_at: now.to_string(),
            last_activity_at: now.to_string(),
            replied_at: None,
            attended_at: None,
            closed_at: None,
            attended_by: None,
            closed_by: None,
            expires_at: None,
            reopened_from: None,
        }
    }
}

/// One line of a ticket's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEntry {
    /// `in` (the customer) or `out` (an agent's reply).
    pub direction: String,
    /// `text`, `button`, `media`, `reaction`, `location`, `other`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_payload: Option<String>,
    /// Media references (the provider's id or URL; the media stays at the provider).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MediaRef>,
    /// The provider's id of an inbound message; our message id of a reply we sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The name of the API key that sent an agent's reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
}

/// A campaign ticket's id, from its message's key: one ticket per message, so a
/// repeated write of the same ticket is the same item.
pub fn campaign_ticket_id(campaign: &str, gen: u32, row: u64) -> String {
    format!("tk.{campaign}.{gen}.{row}")
}

/// The campaign, generation and row a campaign ticket id names.
pub fn parse_campaign_ticket_id(id: &str) -> Option<(&str, u32, u64)> {
    let rest = id.strip_prefix("tk.")?;
    let mut parts = rest.rsplitn(3, '.');
    let row = parts.next()?.parse().ok()?;
    let gen = parts.next()?.parse().ok()?;
    let campaign = parts.next()?;
    (!campaign.is_empty() && !campaign.contains(['#', '/'])).then_some((campaign, gen, row))
}

pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

pub fn format_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .expect("formats")
}

/// A wait campaign's ticket deadline: the message's own send time plus the wait.
pub fn deadline(sent_at: &str, wait_hours: u8) -> Option<String> {
    let sent = parse_time(sent_at)?;
    Some(format_time(sent + Duration::hours(wait_hours as i64)))
}

/// When a replied ticket with this last activity closes as idle.
pub fn idle_until(last_activity_at: &str, idle_close_hours: u16) -> Option<String> {
    let at = parse_time(last_activity_at)?;
    Some(format_time(at + Duration::hours(idle_close_hours as i64)))
}

/// Whether a ticket is due to close at `now`, and why: an unanswered campaign ticket,
/// or one an agent reopened with a template, at its deadline (`no_reply`); a replied or
/// inbound one after `idle_close_hours` without activity (`idle`). The closer applies
/// exactly this rule.
pub fn due(t: &Ticket, now: OffsetDateTime, idle_close_hours: u16) -> Option<CloseReason> {
    if t.status != TicketStatus::Open {
        return None;
    }
    let waits = t.kind == TicketKind::Campaign || t.reopened_from.is_some();
    let unanswered = t.replied_at.is_none() && waits;
    if unanswered {
        let deadline = t.deadline.as_deref().and_then(parse_time)?;
        return (now >= deadline).then_some(CloseReason::NoReply);
    }
    let idle = idle_until(&t.last_activity_at, idle_close_hours).and_then(|s| parse_time(&s))?;
    (now >= idle).then_some(CloseReason::Idle)
}

/// The 24-hour customer-service window (SPEC §9): a free-form WhatsApp message is
/// allowed only within 24 hours of the customer's last inbound message.
pub fn window_open(last_inbound_at: Option<&str>, now: OffsetDateTime) -> bool {
    last_inbound_at
        .and_then(parse_time)
        .is_some_and(|at| now < at + Duration::hours(24))
}

/// Tenant-wide ticket and opt-out settings (`GET`/`PATCH /v1/settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// A replied ticket closes after this long without activity (1–168, default 24).
    #[serde(default = "default_idle")]
    pub idle_close_hours: u16,
    /// Replies that opt the customer out (trimmed, case- and accent-insensitive).
    #[serde(default = "default_opt_out_words")]
    pub opt_out_words: Vec<String>,
    /// The address report emails come from for this tenant (an identity verified in
    /// the deployment's SES); absent: the deployment's `REPORT_SENDER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_sender: Option<String>,
    /// The country national numbers of do-not-contact lists are read in (ISO 3166,
    /// e.g. `CL`); absent: the campaign's, or the one its accounts share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_country: Option<String>,
    /// Days a campaign's messages and recipients, and tickets and their conversations,
    /// are kept (DynamoDB TTL from when each is written; 30–3650, default 400). A
    /// campaign keeps the retention in force when it was created.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
}

fn default_idle() -> u16 {
    24
}

/// The retention of a tenant that never set one.
pub const DEFAULT_RETENTION_DAYS: u32 = 400;

pub(crate) fn default_retention() -> u32 {
    DEFAULT_RETENTION_DAYS
}

/// When (unix seconds, DynamoDB's TTL) an item written `now_secs` is removed after
/// `retention_days`.
pub fn retention_expiry(now_secs: i64, retention_days: u32) -> i64 {
    now_secs + i64::from(retention_days) * 86_400
}

fn default_opt_out_words() -> Vec<String> {
    crate::providers::inbound::DEFAULT_OPT_OUT_WORDS
        .iter()
        .map(|w| w.to_string())
        .collect()
}

/// What the operator allows a tenant (`/v1/admin/tenants/{t}/limits`); absent: the
/// deployment's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLimits {
    /// Report emails a UTC day (absent: `ReportEmailsPerTenantPerDay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_emails_per_day: Option<u32>,
    /// Messages sent to providers a UTC day, across all the tenant's campaigns and single
    /// messages (absent: no quota). Jobs over it wait for the next UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages_per_day: Option<u64>,
}

impl TenantLimits {
    /// Applies a `PUT /v1/admin/tenants/{t}/limits` body (`null` clears a limit).
    pub fn with_changes(&self, body: &serde_json::Value) -> Result<TenantLimits, Vec<FieldError>> {
        let mut f = super::Fields::new(body)?;
        let mut next = self.clone();
        match f.get("report_emails_per_day") {
            None => {}
            Some(serde_json::Value::Null) => next.report_emails_per_day = None,
            Some(_) => {
                if let Some(n) = f.integer("report_emails_per_day", 0..=1_000_000) {
                    next.report_emails_per_day = Some(n as u32);
                }
            }
        }
        match f.get("messages_per_day") {
            None => {}
            Some(serde_json::Value::Null) => next.messages_per_day = None,
            Some(_) => {
                if let Some(n) = f.integer("messages_per_day", 1..=1_000_000_000) {
                    next.messages_per_day = Some(n as u64);
                }
            }
        }
        f.finish().map(|_| next)
    }
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            idle_close_hours: default_idle(),
            opt_out_words: default_opt_out_words(),
            report_sender: None,
            default_country: None,
            retention_days: default_retention(),
        }
    }
}

impl TenantSettings {
    /// Applies a `PATCH /v1/settings` body: every bad field named at once.
    pub fn patched(&self, body: &serde_json::Value) -> Result<TenantSettings, Vec<FieldError>> {
        let mut f = super::Fields::new(body)?;
        let mut next = self.clone();
        if let Some(h) = f.integer("idle_close_hours", 1..=168) {
            next.idle_close_hours = h as u16;
        }
        if let Some(d) = f.integer("retention_days", 30..=3650) {
            next.retention_days = d as u32;
        }
        if let Some(v) = f.get("opt_out_words") {
            match v.as_array() {
                Some(words) if !words.is_empty() && words.len() <= 50 => {
                    let mut out = Vec::new();
                    for (i, w) in words.iter().enumerate() {
                        match w.as_str().map(str::trim) {
                            Some(w)
                                if !w.is_empty()
                                    && w.chars().count() <= 40
                                    && !w.chars().any(char::is_control) =>
                            {
                                out.push(w.to_string())
                            }
                            _ => f.errors.push(err(
                                &format!("opt_out_words[{i}]"),
                                "must be a word or short phrase (1–40 characters)",
                            )),
                        }
                    }
                    next.opt_out_words = out;
                }
                _ => f.errors.push(err(
                    "opt_out_words",
                    "must be a list of 1 to 50 words or short phrases",
                )),
            }
        }
        match f.get("report_sender") {
            None => {}
            Some(serde_json::Value::Null) => next.report_sender = None,
            Some(v) => match v.as_str().map(|e| (e, super::valid_email(e))) {
                Some((e, Ok(()))) => next.report_sender = Some(e.to_string()),
                _ => f.errors.push(err(
                    "report_sender",
                    "must be an email address verified in the deployment's SES, or null",
                )),
            },
        }
        match f.get("default_country") {
            None => {}
            Some(serde_json::Value::Null) => next.default_country = None,
            Some(v) => match v.as_str().map(str::parse::<crate::phone::DefaultCountry>) {
                Some(Ok(c)) => next.default_country = Some(c.code().to_string()),
                Some(Err(e)) => f.errors.push(err("default_country", e)),
                None => f.errors.push(err(
                    "default_country",
                    "must be an ISO 3166 country code (e.g. CL), or null",
                )),
            },
        }
        f.finish().map(|_| next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> OffsetDateTime {
        parse_time(s).unwrap()
    }

    fn ticket() -> Ticket {
        Ticket {
            id: campaign_ticket_id("cmp_1", 1, 7),
            tenant_id: "ten".into(),
            kind: TicketKind::Campaign,
            account_id: "acc".into(),
            phone: "+56962000001".into(),
            campaign_id: Some("cmp_1".into()),
            message_id: Some("ten.cmp_1.1.7".into()),
            department: None,
            status: TicketStatus::Open,
            close_reason: None,
            deadline: deadline("2026-12-01T10:00:00Z", 2),
            created_at: "2026-12-01T10:00:00Z".into(),
            updated_at: "2026-12-01T10:00:00Z".into(),
            last_activity_at: "2026-12-01T10:00:00Z".into(),
            replied_at: None,
            attended_at: None,
            closed_at: None,
            attended_by: None,
            closed_by: None,
            expires_at: None,
            reopened_from: None,
        }
    }

    #[test]
    fn the_deadline_runs_from_each_messages_own_send_time() {
        assert_eq!(
            deadline("2026-12-01T23:30:00Z", 24).as_deref(),
            Some("2026-12-02T23:30:00Z")
        );
        assert_eq!(
            deadline("2026-12-01T10:00:00.123Z", 1).as_deref(),
            Some("2026-12-01T11:00:00Z")
        );
    }

    #[test]
    fn an_unanswered_ticket_closes_no_reply_at_its_deadline_not_before() {
        let t = ticket();
        assert_eq!(due(&t, at("2026-12-01T11:59:59Z"), 24), None);
        assert_eq!(
            due(&t, at("2026-12-01T12:00:00Z"), 24),
            Some(CloseReason::NoReply)
        );
    }

    #[test]
    fn a_replied_ticket_outlives_its_deadline_and_closes_idle() {
        let mut t = ticket();
        t.replied_at = Some("2026-12-01T11:00:00Z".into());
        t.last_activity_at = "2026-12-01T11:00:00Z".into();
        assert_eq!(due(&t, at("2026-12-01T13:00:00Z"), 24), None);
        assert_eq!(due(&t, at("2026-12-02T10:59:00Z"), 24), None);
        assert_eq!(
            due(&t, at("2026-12-02T11:00:00Z"), 24),
            Some(CloseReason::Idle)
        );
        assert_eq!(
            due(&t, at("2026-12-01T14:00:00Z"), 3),
            Some(CloseReason::Idle)
        );
    }

    #[test]
    fn an_inbound_ticket_closes_only_when_idle_and_a_closed_one_never_again() {
        let mut t = ticket();
        t.kind = TicketKind::Inbound;
        t.deadline = None;
        assert_eq!(due(&t, at("2026-12-01T20:00:00Z"), 24), None);
        assert_eq!(
            due(&t, at("2026-12-02T10:00:00Z"), 24),
            Some(CloseReason::Idle)
        );
        t.status = TicketStatus::Closed;
        assert_eq!(due(&t, at("2027-01-01T00:00:00Z"), 24), None);
    }

    #[test]
    fn a_reopened_ticket_waits_for_its_deadline_and_then_closes_unanswered() {
        let mut t = Ticket::inbound("ten", "acc", "+56962000001", "2026-12-01T10:00:00Z");
        t.reopened_from = Some("tk_old".into());
        t.deadline = deadline("2026-12-01T10:00:00Z", 24);
        assert_eq!(due(&t, at("2026-12-02T09:59:59Z"), 3), None);
        assert_eq!(
            due(&t, at("2026-12-02T10:00:00Z"), 3),
            Some(CloseReason::NoReply)
        );
        // Answered, it closes like any conversation: idle.
        t.replied_at = Some("2026-12-01T11:00:00Z".into());
        t.last_activity_at = "2026-12-01T11:00:00Z".into();
        assert_eq!(
            due(&t, at("2026-12-01T14:00:00Z"), 3),
            Some(CloseReason::Idle)
        );
    }

    #[test]
    fn the_customer_service_window_is_24_hours_from_the_last_inbound_message() {
        assert!(!window_open(None, at("2026-12-01T10:00:00Z")));
        let last = Some("2026-12-01T10:00:00Z");
        assert!(window_open(last, at("2026-12-02T09:59:59Z")));
        assert!(!window_open(last, at("2026-12-02T10:00:00Z")));
    }

    #[test]
    fn campaign_ticket_ids_round_trip() {
        let id = campaign_ticket_id("cmp_01hx", 3, 1042);
        assert_eq!(id, "tk.cmp_01hx.3.1042");
        assert_eq!(parse_campaign_ticket_id(&id), Some(("cmp_01hx", 3, 1042)));
        assert_eq!(parse_campaign_ticket_id("tk_01hxyz"), None);
        assert_eq!(parse_campaign_ticket_id("tk.a#b.1.2"), None);
    }

    #[test]
    fn settings_patch_names_every_bad_field() {
        let s = TenantSettings::default();
        let e = s
            .patched(&json!({"idle_close_hours": 0, "opt_out_words": ["ok", ""], "colour": 1}))
            .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"idle_close_hours"), "{e:?}");
        assert!(fields.contains(&"opt_out_words[1]"), "{e:?}");
        assert!(fields.contains(&"colour"), "{e:?}");
        let ok = s
            .patched(&json!({"idle_close_hours": 48, "opt_out_words": ["NO MÁS", "salir"]}))
            .unwrap();
        assert_eq!(ok.idle_close_hours, 48);
        assert_eq!(ok.opt_out_words, vec!["NO MÁS", "salir"]);
    }
}
