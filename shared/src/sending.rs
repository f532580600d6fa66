//! Sending (SPEC §2 steps 3–4, §5, §9, §10): the message states, the send job that
//! dispatch puts on a provider queue, and the rate rule every sender instance shares.
//!
//! A message is one recipient row. Its record moves forward only:
//! `pending → queued → sent → delivered → read → replied`, or ends `failed`,
//! `undelivered`, `blocked` (do-not-contact) or `skipped` (cancelled before sending).
//! Exactly once toward the provider: a sender claims the message (a conditional write
//! on a `queued` message without a claim) before calling; a second delivery of the
//! same job finds the claim and does not call again. A claim whose holder died before
//! recording the answer is never re-sent on a guess: once it expires the message ends
//! `failed` with `outcome_unknown` (unless a status callback settled it first).

use serde::{Deserialize, Serialize};

/// SPEC §5 message states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Pending,
    Queued,
    Sent,
    Delivered,
    Read,
    Replied,
    Failed,
    Undelivered,
    Blocked,
    Skipped,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Queued => "queued",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Replied => "replied",
            MessageStatus::Failed => "failed",
            MessageStatus::Undelivered => "undelivered",
            MessageStatus::Blocked => "blocked",
            MessageStatus::Skipped => "skipped",
        }
    }

    /// Whether the message has its send outcome (the campaign counts it as done).
    pub fn has_outcome(self) -> bool {
        !matches!(self, MessageStatus::Pending | MessageStatus::Queued)
    }

    /// Whether a callback's status moves a message in this state forward (SPEC §5).
    ///
    /// SPEC §5: "`pending` → `queued` → `sent` → `delivered` → `read` → `replied`, or
    /// `failed` (provider refused or gave up), `undelivered` (provider accepted, handset
    /// never got it), `blocked` (do-not-contact), `skipped` (cancelled before sending). A
    /// message whose send outcome is unknown after a crash is settled by a later status
    /// callback, or ends `failed` with error code `outcome_unknown` […]. Status only moves
    /// forward: a late `delivered` after `read` changes nothing; a duplicate callback
    /// changes nothing."
    ///
    /// So: a step up the ladder may skip steps (`read` before `delivered` arrives);
    /// `failed`/`undelivered` end a message not yet delivered (SPEC §6 counts "failed
    /// after acceptance"); `blocked`/`skipped` only before sending; `replied`, `failed`,
    /// `undelivered`, `blocked`, `skipped` are final. A `pending`/`queued` message (its
    /// outcome unknown) is settled by any later status. Once it has ended `failed` with
    /// `outcome_unknown`, it is final like any other failure.
    pub fn advances(self, next: MessageStatus) -> bool {
        use MessageStatus as S;
        let current = self;
        fn ladder(s: MessageStatus) -> Option<u8> {
            match s {
                S::Pending => Some(0),
                S::Queued => Some(1),
                S::Sent => Some(2),
                S::Delivered => Some(3),
                S::Read => Some(4),
                S::Replied => Some(5),
                S::Failed | S::Undelivered | S::Blocked | S::Skipped => None,
            }
        }
        match next {
            S::Failed | S::Undelivered => matches!(current, S::Pending | S::Queued | S::Sent),
            S::Blocked | S::Skipped => matches!(current, S::Pending | S::Queued),
            _ => match (ladder(current), ladder(next)) {
                (Some(c), Some(n)) => n > c,
                _ => false,
            },
        }
    }
}

impl std::str::FromStr for MessageStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        MessageStatus::deserialize(serde_json::Value::from(s))
            .map_err(|_| format!("'{s}' is not a message status"))
    }
}

/// The error code of a message whose send outcome is unknown (its sender died between
/// the provider's answer and the record): SPEC §5.
pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";

/// The error code of a message whose answer was lost and that its provider never
/// reported within [`LostAnswer`]'s wait: a provider that reports every message it
/// takes (Meta, Twilio) most likely never took it (SPEC §5, README "Sending").
pub const NOT_SENT: &str = "not_sent";

/// Whether a failure code says the send's outcome was never known (the provider may
/// still report the message, which then settles it with the reported status).
pub fn unknown_outcome(code: &str) -> bool {
    code == OUTCOME_UNKNOWN || code == NOT_SENT
}

/// How long after a lost answer's claim expired a provider that reports every message
/// is given to report it, by default (`UnreportedWaitSeconds`).
pub const UNREPORTED_WAIT_SECS: u64 = 120;

/// What becomes of a message whose sender's claim expired with no answer recorded
/// (the sender died, or the answer was lost) and no status reported for it yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostAnswer {
    /// Give its provider this much longer (ms) to report it.
    Wait { ms: i64 },
    /// Send it once more (the campaign allows it and it was not resent already).
    Resend,
    /// It ends `failed` with this code and reason.
    Settle { code: &'static str, why: String },
}

impl LostAnswer {
    /// The rule: a provider that reports every message it takes (Meta's and Twilio's
    /// status callbacks carry our id) gets `wait_ms` after the claim expired; still
    /// unreported, the message was most likely never taken: `not_sent`, or sent once
    /// more when the campaign's `resend_unreported` allows it (once only: a resent
    /// message is never resent again). A provider whose callbacks cannot name our
    /// message (Gupshup, gateways) leaves it `outcome_unknown` at once.
    pub fn decide(
        claim_until_ms: i64,
        now_ms: i64,
        reports_every_message: bool,
        wait_ms: i64,
        resend_allowed: bool,
        resent: bool,
    ) -> LostAnswer {
        if !reports_every_message {
            return LostAnswer::Settle {
                code: OUTCOME_UNKNOWN,
                why: "the sender stopped between calling the provider and recording its answer; the message was not sent again".into(),
            };
        }
        let left = claim_until_ms + wait_ms - now_ms;
        if left > 0 {
            return LostAnswer::Wait { ms: left };
        }
        if resend_allowed && !resent {
            return LostAnswer::Resend;
        }
        let why = if resent {
            "sent once more after a lost answer, and again no answer and no report from the provider; not sent again"
        } else {
            "the sender's answer was lost and the provider never reported the message: most likely it was not sent; not sent again (the campaign's resend_unreported is off)"
        };
        LostAnswer::Settle {
            code: NOT_SENT,
            why: why.into(),
        }
    }
}

/// One message to send, as dispatch enqueues it: everything the sender needs without
/// reading the recipient back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendJob {
    pub tenant: String,
    pub campaign: String,
    /// The recipient generation and spreadsheet row: the message's key.
    pub gen: u32,
    pub row: u64,
    pub account: String,
    /// E.164.
    pub phone: String,
    #[serde(default)]
    pub params: Vec<String>,
    /// SMS without a template: the row's own text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The message's place in the campaign's sending order (gateway port rotation).
    pub seq: u64,
    /// Answers of an unavailable provider (5xx, unreachable) so far: see [`SendJob::after_failure`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unavailable: u32,
    /// When (unix ms) the provider first throttled this job, while it still throttles it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttled_since: Option<i64>,
    /// Times the provider refused credentials the tenant had since replaced, for this
    /// job (each time it goes again, with the new ones); see [`CREDENTIAL_TRIES`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub credentials_refused: u32,
    /// Set on a job put back only to open its message's ticket (the message is recorded
    /// `sent` at this time, RFC 3339, but the ticket's writes failed): retried until the
    /// ticket and its due item both exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_at: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A job refused for credentials replaced since tries this many times (one per sender
/// that still held the old ones, at most).
pub const CREDENTIAL_TRIES: u32 = 10;

/// The error code of a message that gave up after transient provider trouble.
pub const RETRIES_EXHAUSTED: &str = "retries_exhausted";
/// The error code of a message whose job reached the send dead-letter queue.
pub const DEAD_LETTERED: &str = "dead_lettered";

/// A job keeps trying through throttling this long from the first throttled answer.
pub const THROTTLED_FOR_MS: i64 = 6 * 3600 * 1000;
/// A job tries this many times through an unavailable provider (5xx, unreachable),
/// backing off 5 s, 10 s, 20 s … up to 5 minutes between tries (615 s of waits, plus
/// up to a quarter more at random: about 10–13 minutes).
pub const UNAVAILABLE_TRIES: u32 = 8;
/// The longest back-off between two tries (and SQS's longest message delay is 900 s).
const MAX_BACKOFF_SECS: u32 = 300;

/// Transient trouble at the provider: the job goes back on the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transient {
    /// Over the provider's rate (429, Meta 130429/131056, Twilio 20429).
    Throttled,
    /// A 5xx, or the provider unreachable before the request left.
    Unavailable,
    /// The provider refused credentials the tenant has since replaced (401).
    CredentialsRefused,
}

/// What to do with a job after transient trouble.
#[derive(Debug, Clone, PartialEq)]
pub enum NextTry {
    /// Put this job (its counts brought up to date) back on the queue, visible after
    /// `after_secs`.
    Again { job: Box<SendJob>, after_secs: u32 },
    /// It tried long enough: the message ends `failed` with [`RETRIES_EXHAUSTED`].
    GiveUp { why: String },
}

impl SendJob {
    /// The rule for transient trouble (SPEC §10). Throttling is the provider asking us
    /// to slow down, not a fault of the message: a job keeps trying through it for
    /// [`THROTTLED_FOR_MS`] (6 hours), every 1, 2, 4 … 30 s. An unavailable provider
    /// gets [`UNAVAILABLE_TRIES`] tries, 5 s, 10 s … 300 s apart. Each try is a new
    /// queue message carrying these counts, so no storm uses up the queue's receives.
    pub fn after_failure(&self, trouble: Transient, now_ms: i64) -> NextTry {
        let mut job = self.clone();
        match trouble {
            Transient::Throttled => {
                let since = *job.throttled_since.get_or_insert(now_ms);
                if now_ms - since >= THROTTLED_FOR_MS {
                    return NextTry::GiveUp {
                        why: format!(
                            "the provider throttled it for {} minutes",
                            (now_ms - since) / 60_000
                        ),
                    };
                }
                let streak = ((now_ms - since) / 1000).max(1) as u64;
                // Back off with the storm's length: 1 s, then about a tenth of it, ≤ 30 s.
                let after = (streak / 10).clamp(1, 30) as u32;
                NextTry::Again {
                    job: Box::new(job),
                    after_secs: after,
                }
            }
            Transient::Unavailable => {
                // A storm ends with an answer that is not throttling.
                job.throttled_since = None;
                job.unavailable += 1;
                if job.unavailable >= UNAVAILABLE_TRIES {
                    return NextTry::GiveUp {
                        why: format!("the provider was unavailable {} times", job.unavailable),
                    };
                }
                let after = (5u32 << (job.unavailable - 1).min(6)).min(MAX_BACKOFF_SECS);
                NextTry::Again {
                    job: Box::new(job),
                    after_secs: after,
                }
            }
            Transient::CredentialsRefused => {
                // Each sender holding the old credentials refuses a job at most once
                // (it reads the new ones then): a few tries are enough.
                job.credentials_refused += 1;
                if job.credentials_refused >= CREDENTIAL_TRIES {
                    return NextTry::GiveUp {
                        why: format!(
                            "the provider refused the account's credentials {} times",
                            job.credentials_refused
                        ),
                    };
                }
                NextTry::Again {
                    job: Box::new(job),
                    after_secs: 1,
                }
            }
        }
    }
}

impl SendJob {
    /// Our id for the message, as providers echo it back (Meta
    /// `biz_opaque_callback_data`, a Twilio `StatusCallback` parameter):
    /// `{tenant}.{campaign}.{gen}.{row}`.
    pub fn message_id(&self) -> String {
        message_id(&self.tenant, &self.campaign, self.gen, self.row)
    }
}

pub fn message_id(tenant: &str, campaign: &str, gen: u32, row: u64) -> String {
    format!("{tenant}.{campaign}.{gen}.{row}")
}

/// A message id read back: (tenant, campaign, gen, row).
pub fn parse_message_id(id: &str) -> Option<(&str, &str, u32, u64)> {
    let mut p = id.split('.');
    let (t, c, g, r) = (p.next()?, p.next()?, p.next()?, p.next()?);
    if p.next().is_some() || t.is_empty() || c.is_empty() {
        return None;
    }
    Some((t, c, g.parse().ok()?, r.parse().ok()?))
}

/// The rate rule all sender instances share (SPEC §9): calls to one provider account
/// are counted per wall-clock second, and a second's count never passes the account's
/// rate. A call is only started early in the second it was counted in, so it reaches
/// the provider within that same second even with some clock and network slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSlot {
    /// The unix second the calls are counted in.
    pub second: i64,
    /// Wait this long (ms) before calling: the slot is the next second.
    pub wait_ms: u64,
}

/// Calls counted in a second start no later than this far into it.
pub const RATE_SLOT_CUTOFF_MS: u64 = 800;

/// The second to count calls in at `now_ms` (unix milliseconds).
pub fn rate_slot(now_ms: i64) -> RateSlot {
    rate_slot_within(now_ms, RATE_SLOT_CUTOFF_MS)
}

/// [`rate_slot`] with calls starting no later than `cutoff_ms` into their second.
pub fn rate_slot_within(now_ms: i64, cutoff_ms: u64) -> RateSlot {
    let second = now_ms.div_euclid(1000);
    let into = now_ms.rem_euclid(1000) as u64;
    if into <= cutoff_ms {
        RateSlot { second, wait_ms: 0 }
    } else {
        RateSlot {
            second: second + 1,
            wait_ms: 1000 - into,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageStatus as S;

    fn advances(current: MessageStatus, next: MessageStatus) -> bool {
        current.advances(next)
    }

    const ALL: [MessageStatus; 10] = [
        S::Pending,
        S::Queued,
        S::Sent,
        S::Delivered,
        S::Read,
        S::Replied,
        S::Failed,
        S::Undelivered,
        S::Blocked,
        S::Skipped,
    ];

    #[test]
    fn status_moves_up_the_ladder_and_may_skip_steps() {
        assert!(advances(S::Sent, S::Delivered));
        assert!(advances(S::Delivered, S::Read));
        assert!(advances(S::Read, S::Replied));
        // read may arrive before delivered (providers.md: order is not guaranteed)
        assert!(advances(S::Sent, S::Read));
        assert!(advances(S::Sent, S::Replied));
    }

    #[test]
    fn a_late_delivered_after_read_changes_nothing() {
        assert!(!advances(S::Read, S::Delivered));
        assert!(!advances(S::Read, S::Sent));
        assert!(!advances(S::Replied, S::Read));
    }

    #[test]
    fn a_duplicate_callback_changes_nothing() {
        for s in ALL {
            assert!(!advances(s, s), "{s:?}");
        }
    }

    #[test]
    fn a_status_settles_a_message_whose_outcome_is_unknown() {
        for next in [S::Sent, S::Delivered, S::Read, S::Failed, S::Undelivered] {
            assert!(advances(S::Queued, next), "{next:?}");
            assert!(advances(S::Pending, next), "{next:?}");
        }
    }

    #[test]
    fn failure_after_acceptance_ends_a_sent_message_but_not_a_delivered_one() {
        assert!(advances(S::Sent, S::Failed));
        assert!(advances(S::Sent, S::Undelivered));
        for cur in [S::Delivered, S::Read, S::Replied] {
            assert!(!advances(cur, S::Failed), "{cur:?}");
            assert!(!advances(cur, S::Undelivered), "{cur:?}");
        }
    }

    #[test]
    fn final_states_stay_final() {
        for cur in [
            S::Failed,
            S::Undelivered,
            S::Blocked,
            S::Skipped,
            S::Replied,
        ] {
            for next in ALL {
                assert!(!advances(cur, next), "{cur:?} → {next:?}");
            }
        }
    }

    #[test]
    fn blocked_and_skipped_only_before_sending() {
        assert!(advances(S::Pending, S::Blocked));
        assert!(advances(S::Queued, S::Skipped));
        assert!(!advances(S::Sent, S::Skipped));
        assert!(!advances(S::Sent, S::Blocked));
        assert!(advances(S::Pending, S::Queued));
        assert!(!advances(S::Sent, S::Queued));
        assert!(!advances(S::Queued, S::Pending));
    }

    #[test]
    fn message_ids_round_trip_and_refuse_other_shapes() {
        let id = message_id("ten_a", "cmp_b", 3, 42);
        assert_eq!(id, "ten_a.cmp_b.3.42");
        assert_eq!(parse_message_id(&id), Some(("ten_a", "cmp_b", 3, 42)));
        assert_eq!(parse_message_id("ten_a.cmp_b.3"), None);
        assert_eq!(parse_message_id("ten_a.cmp_b.x.1"), None);
        assert_eq!(parse_message_id("a.b.1.2.3"), None);
    }

    #[test]
    fn calls_late_in_a_second_are_counted_in_the_next() {
        assert_eq!(
            rate_slot(10_000),
            RateSlot {
                second: 10,
                wait_ms: 0
            }
        );
        assert_eq!(
            rate_slot(10_800),
            RateSlot {
                second: 10,
                wait_ms: 0
            }
        );
        assert_eq!(
            rate_slot(10_801),
            RateSlot {
                second: 11,
                wait_ms: 199
            }
        );
    }

    #[test]
    fn refused_credentials_since_replaced_go_again_a_bounded_number_of_times() {
        let mut j = job();
        for n in 1..CREDENTIAL_TRIES {
            match j.after_failure(Transient::CredentialsRefused, 0) {
                NextTry::Again { job, after_secs } => {
                    assert_eq!((job.credentials_refused, after_secs), (n, 1));
                    j = *job;
                }
                other => panic!("try {n}: {other:?}"),
            }
        }
        assert!(matches!(
            j.after_failure(Transient::CredentialsRefused, 0),
            NextTry::GiveUp { .. }
        ));
    }

    fn job() -> SendJob {
        SendJob {
            tenant: "t".into(),
            campaign: "c".into(),
            gen: 1,
            row: 2,
            account: "a".into(),
            phone: "+56962000001".into(),
            params: vec![],
            text: None,
            template: Some("tpl".into()),
            seq: 0,
            unavailable: 0,
            credentials_refused: 0,
            throttled_since: None,
            ticket_at: None,
        }
    }

    #[test]
    fn a_throttled_job_keeps_trying_for_six_hours_then_gives_up() {
        let start = 1_000_000;
        let NextTry::Again { job: j, after_secs } =
            job().after_failure(Transient::Throttled, start)
        else {
            panic!("gave up at once")
        };
        assert_eq!((j.throttled_since, after_secs), (Some(start), 1));
        // Three minutes into a storm: still trying, about every 18 s.
        let NextTry::Again { job: j, after_secs } =
            j.after_failure(Transient::Throttled, start + 180_000)
        else {
            panic!("gave up after 3 minutes")
        };
        assert_eq!((j.throttled_since, after_secs), (Some(start), 18));
        let late = j.after_failure(Transient::Throttled, start + 5 * 3600 * 1000);
        assert!(
            matches!(late, NextTry::Again { after_secs: 30, .. }),
            "{late:?}"
        );
        let over = j.after_failure(Transient::Throttled, start + THROTTLED_FOR_MS);
        assert!(matches!(over, NextTry::GiveUp { .. }), "{over:?}");
        // An answer that is not throttling ends the storm: the next one counts anew.
        let NextTry::Again { job: fresh, .. } = j.after_failure(Transient::Unavailable, start)
        else {
            panic!()
        };
        assert!(matches!(
            fresh.after_failure(Transient::Throttled, start + THROTTLED_FOR_MS),
            NextTry::Again { after_secs: 1, .. }
        ));
    }

    #[test]
    fn an_unavailable_provider_gets_eight_tries_backing_off() {
        let mut j = job();
        let mut waits = Vec::new();
        loop {
            match j.after_failure(Transient::Unavailable, 0) {
                NextTry::Again { job, after_secs } => {
                    waits.push(after_secs);
                    j = *job;
                }
                NextTry::GiveUp { why } => {
                    assert!(why.contains('8'), "{why}");
                    break;
                }
            }
        }
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300]);
    }

    #[test]
    fn old_jobs_without_counts_still_read_and_new_ones_carry_them() {
        let old =
            r#"{"tenant":"t","campaign":"c","gen":1,"row":2,"account":"a","phone":"+1","seq":0}"#;
        let j: SendJob = serde_json::from_str(old).unwrap();
        assert_eq!((j.unavailable, j.throttled_since), (0, None));
        let NextTry::Again { job, .. } = j.after_failure(Transient::Throttled, 5) else {
            panic!()
        };
        let back: SendJob = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
        assert_eq!(back.throttled_since, Some(5));
    }

    #[test]
    fn only_pending_and_queued_messages_lack_an_outcome() {
        assert!(!MessageStatus::Queued.has_outcome());
        assert!(MessageStatus::Blocked.has_outcome());
        assert!(MessageStatus::Failed.has_outcome());
        assert_eq!(
            "skipped".parse::<MessageStatus>(),
            Ok(MessageStatus::Skipped)
        );
    }

    #[test]
    fn a_lost_answer_waits_for_the_providers_report_then_is_not_sent_or_sent_once_more() {
        let (claim, wait) = (1_000_000, 120_000);
        // Gupshup, gateways: their reports cannot name our message.
        assert!(matches!(
            LostAnswer::decide(claim, claim + 1, false, wait, true, false),
            LostAnswer::Settle {
                code: OUTCOME_UNKNOWN,
                ..
            }
        ));
        // Meta, Twilio: wait for the report first.
        assert_eq!(
            LostAnswer::decide(claim, claim + 20_000, true, wait, true, false),
            LostAnswer::Wait { ms: 100_000 }
        );
        // Still unreported: not sent, or once more when the campaign allows it.
        assert!(matches!(
            LostAnswer::decide(claim, claim + wait, true, wait, false, false),
            LostAnswer::Settle { code: NOT_SENT, .. }
        ));
        assert_eq!(
            LostAnswer::decide(claim, claim + wait, true, wait, true, false),
            LostAnswer::Resend
        );
        // Never twice.
        assert!(matches!(
            LostAnswer::decide(claim, claim + wait, true, wait, true, true),
            LostAnswer::Settle { code: NOT_SENT, .. }
        ));
        assert!(unknown_outcome(NOT_SENT) && unknown_outcome(OUTCOME_UNKNOWN));
        assert!(!unknown_outcome(RETRIES_EXHAUSTED));
    }
}
