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
    fn only_pending_and_queued_messages_lack_an_outcome() {
        assert!(!MessageStatus::Queued.has_outcome());
        assert!(MessageStatus::Blocked.has_outcome());
        assert!(MessageStatus::Failed.has_outcome());
        assert_eq!(
            "skipped".parse::<MessageStatus>(),
            Ok(MessageStatus::Skipped)
        );
    }
}
