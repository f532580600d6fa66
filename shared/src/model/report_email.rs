//! A campaign's report email (SPEC §5, §7): where it stands, and the rule that decides
//! when the closer asks the results function for it — once the campaign has ended and
//! its last ticket has closed (an informative campaign: a few minutes after its end, so
//! the first statuses count), asked again when a request stays unanswered, given up
//! after a few tries.

use super::{parse_time, Campaign};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// `pending` (asked for, not yet answered), `sent` or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportEmailStatus {
    Pending,
    Sent,
    Failed,
}

impl ReportEmailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportEmailStatus::Pending => "pending",
            ReportEmailStatus::Sent => "sent",
            ReportEmailStatus::Failed => "failed",
        }
    }
}

/// Where a campaign's report email stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportEmailState {
    pub status: ReportEmailStatus,
    /// The request being answered; a stale one is asked again under a new id.
    pub request_id: String,
    pub requested_at: String,
    /// How many times it has been asked for (at most [`REPORT_EMAIL_ATTEMPTS`]).
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// Why it failed, in SES's words when SES refused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the results file went attached (else the email links to the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached: Option<bool>,
}

/// A report email not answered after this many requests is recorded as `failed`.
pub const REPORT_EMAIL_ATTEMPTS: u32 = 3;

/// An informative campaign's report waits this long after its end (statuses arriving).
pub const REPORT_SETTLE_MINUTES: i64 = 5;
/// A report request unanswered this long is asked again.
pub const REPORT_RETRY_MINUTES: i64 = 30;
/// A campaign whose tickets are still open this long after its end gets its report
/// anyway (counters a crash left short must not hold it back forever).
pub const REPORT_MAX_WAIT_HOURS: i64 = 48;

/// What to do about one campaign's report email.
#[derive(Debug, PartialEq)]
pub enum ReportNext {
    /// Not yet: still sending, tickets open, or a request in flight.
    Wait,
    /// Nothing to send any more (sent, failed, no address, the campaign is gone).
    Forget,
    /// Ask the results function (the previous pending request id, if any).
    Ask {
        previous: Option<String>,
        attempt: u32,
    },
    /// Asked too many times: record it failed.
    GiveUp,
}

/// The report rule (pure): the campaign, how many of its tickets are open, the clock.
pub fn report_next(c: Option<&Campaign>, open: i64, now: OffsetDateTime) -> ReportNext {
    let Some(c) = c else {
        return ReportNext::Forget;
    };
    if c.settings.report_email.is_none() {
        return ReportNext::Forget;
    }
    if let Some(st) = &c.report_email_state {
        if st.status != ReportEmailStatus::Pending {
            return ReportNext::Forget;
        }
        let asked = parse_time(&st.requested_at).unwrap_or(now);
        if now - asked < Duration::minutes(REPORT_RETRY_MINUTES) {
            return ReportNext::Wait;
        }
        if st.attempts >= REPORT_EMAIL_ATTEMPTS {
            return ReportNext::GiveUp;
        }
        return ReportNext::Ask {
            previous: Some(st.request_id.clone()),
            attempt: st.attempts + 1,
        };
    }
    let ended = c.status.is_end();
    let Some(ended_at) = c.ended_at.as_deref().and_then(parse_time).filter(|_| ended) else {
        return ReportNext::Wait;
    };
    let since = now - ended_at;
    let settled = if open > 0 {
        since >= Duration::hours(REPORT_MAX_WAIT_HOURS)
    } else {
        c.settings.wait_for_reply_hours > 0 || since >= Duration::minutes(REPORT_SETTLE_MINUTES)
    };
    if settled {
        ReportNext::Ask {
            previous: None,
            attempt: 1,
        }
    } else {
        ReportNext::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CampaignSettings, CampaignStatus};
    use serde_json::json;

    fn at(s: &str) -> OffsetDateTime {
        parse_time(s).unwrap()
    }

    fn ended(wait: u8, status: CampaignStatus, ended_at: &str) -> Campaign {
        let settings = CampaignSettings::parse(&json!({"name": "c",
            "channel": "sms", "account_id": "a", "consent_confirmed": true,
            "wait_for_reply_hours": wait, "report_email": "jefa@empresa.cl"}))
        .unwrap();
        let mut c = Campaign::new("cmp".into(), "t", settings, 0, None, "2026-12-01T00:00:00Z");
        c.status = status;
        c.ended_at = Some(ended_at.into());
        c
    }

    const FIRST: ReportNext = ReportNext::Ask {
        previous: None,
        attempt: 1,
    };

    #[test]
    fn the_report_waits_for_the_end_and_the_last_ticket() {
        let now = at("2026-12-01T12:00:00Z");
        let sending = ended(2, CampaignStatus::Sending, "2026-12-01T11:00:00Z");
        assert_eq!(report_next(Some(&sending), 0, now), ReportNext::Wait);
        let c = ended(2, CampaignStatus::Completed, "2026-12-01T11:00:00Z");
        assert_eq!(report_next(Some(&c), 3, now), ReportNext::Wait);
        assert_eq!(report_next(Some(&c), 0, now), FIRST);
        // Counters a crash left short do not hold it back forever.
        assert_eq!(report_next(Some(&c), 3, at("2026-12-03T11:00:00Z")), FIRST);
        // Cancelled campaigns report too; a deleted one is forgotten.
        let x = ended(2, CampaignStatus::Cancelled, "2026-12-01T11:00:00Z");
        assert_eq!(report_next(Some(&x), 0, now), FIRST);
        assert_eq!(report_next(None, 0, now), ReportNext::Forget);
    }

    #[test]
    fn an_informative_campaign_reports_a_few_minutes_after_its_end() {
        let c = ended(0, CampaignStatus::Completed, "2026-12-01T12:00:00Z");
        assert_eq!(
            report_next(Some(&c), 0, at("2026-12-01T12:02:00Z")),
            ReportNext::Wait
        );
        assert_eq!(report_next(Some(&c), 0, at("2026-12-01T12:05:00Z")), FIRST);
    }

    #[test]
    fn a_pending_request_is_asked_again_when_stale_then_given_up() {
        let mut c = ended(0, CampaignStatus::Completed, "2026-12-01T12:00:00Z");
        let mut st = ReportEmailState {
            status: ReportEmailStatus::Pending,
            request_id: "rep_1".into(),
            requested_at: "2026-12-01T12:10:00Z".into(),
            attempts: 1,
            sent_at: None,
            reason: None,
            attached: None,
        };
        c.report_email_state = Some(st.clone());
        assert_eq!(
            report_next(Some(&c), 0, at("2026-12-01T12:20:00Z")),
            ReportNext::Wait
        );
        assert_eq!(
            report_next(Some(&c), 0, at("2026-12-01T12:40:00Z")),
            ReportNext::Ask {
                previous: Some("rep_1".into()),
                attempt: 2
            }
        );
        st.attempts = REPORT_EMAIL_ATTEMPTS;
        c.report_email_state = Some(st.clone());
        assert_eq!(
            report_next(Some(&c), 0, at("2026-12-01T12:40:00Z")),
            ReportNext::GiveUp
        );
        st.status = ReportEmailStatus::Sent;
        c.report_email_state = Some(st);
        assert_eq!(
            report_next(Some(&c), 0, at("2026-12-01T12:40:00Z")),
            ReportNext::Forget
        );
    }
}
