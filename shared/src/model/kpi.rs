//! Campaign KPIs (SPEC §6), counted over messages. Pure: the counts come from counters
//! kept as statuses change (never a scan).
//!
//! - sent: accepted by the provider, whatever happened after;
//! - refused: never accepted (failed at send), shown apart and kept out of every rate;
//! - unknown: sends whose outcome stayed unknown (`outcome_unknown`, `not_sent`): not
//!   refused (the provider may have taken them), shown apart, outside every rate;
//! - delivered counts read and replied; read counts replied;
//! - a rate whose denominator is 0 is `None` (`null`), never 0 or NaN.

use super::Campaign;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;

pub mod text;

/// Progress counters of a campaign (SPEC §5), summed over its shards, or a delta of
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    pub blocked: i64,
    pub skipped: i64,
    /// Of `failed`: those whose send outcome is unknown (`outcome_unknown`,
    /// `not_sent`), shown apart from the refused (SPEC §6).
    pub unknown: i64,
}

impl Progress {
    /// Messages with a send outcome.
    pub fn done(&self) -> i64 {
        self.sent + self.failed + self.blocked + self.skipped
    }

    /// As counter names and values.
    pub fn pairs(&self) -> [(&'static str, i64); 6] {
        [
            ("queued", self.queued),
            ("sent", self.sent),
            ("failed", self.failed),
            ("blocked", self.blocked),
            ("skipped", self.skipped),
            ("unknown", self.unknown),
        ]
    }
}

/// The counts a campaign's (or a set of campaigns') KPIs are computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KpiCounts {
    /// Accepted by the provider.
    pub sent: i64,
    /// Refused at send (never accepted).
    pub refused: i64,
    /// Sends whose outcome stayed unknown (`outcome_unknown`, `not_sent`).
    #[serde(default)]
    pub unknown: i64,
    /// Reached `delivered` or beyond (read and replied count).
    pub delivered: i64,
    /// Reached `read` or beyond (replied counts).
    pub read: i64,
    pub replied: i64,
    /// Accepted, then `undelivered` or `failed`.
    pub bounced: i64,
    /// Of the bounced, those `undelivered` (the rest failed after acceptance).
    pub undelivered: i64,
    /// Tickets a person took after the customer replied.
    pub attended: i64,
}

impl std::ops::AddAssign for KpiCounts {
    fn add_assign(&mut self, o: KpiCounts) {
        self.sent += o.sent;
        self.refused += o.refused;
        self.unknown += o.unknown;
        self.delivered += o.delivered;
        self.read += o.read;
        self.replied += o.replied;
        self.bounced += o.bounced;
        self.undelivered += o.undelivered;
        self.attended += o.attended;
    }
}

/// The five rates and the refused share, each `None` when its denominator is 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    /// (delivered + read + replied) / sent.
    pub delivery_rate: Option<f64>,
    /// (undelivered + failed after acceptance) / sent — never above 1.
    pub bounce_rate: Option<f64>,
    /// (read + replied) / delivered.
    pub read_rate: Option<f64>,
    /// replied / delivered.
    pub reply_rate: Option<f64>,
    /// attended after a reply / delivered.
    pub attended_rate: Option<f64>,
    /// refused / (sent + refused).
    pub refused_rate: Option<f64>,
}

fn ratio(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| {
        let r = n.max(0) as f64 / d as f64;
        // Four decimals: 0.1234 is 12.34 %.
        (r.min(1.0) * 10_000.0).round() / 10_000.0
    })
}

impl KpiCounts {
    /// The status levels a callback crosses (SPEC §6), as counter names and values.
    pub fn level_pairs(&self) -> [(&'static str, i64); 5] {
        [
            ("k_delivered", self.delivered),
            ("k_read", self.read),
            ("k_replied", self.replied),
            ("k_bounced", self.bounced),
            ("k_undelivered", self.undelivered),
        ]
    }

    pub fn rates(&self) -> Rates {
        Rates {
            delivery_rate: ratio(self.delivered, self.sent),
            bounce_rate: ratio(self.bounced, self.sent),
            read_rate: ratio(self.read, self.delivered),
            reply_rate: ratio(self.replied, self.delivered),
            attended_rate: ratio(self.attended, self.delivered),
            refused_rate: ratio(self.refused, self.sent + self.refused),
        }
    }
}

/// Where a message status stands on the way up (for counting what a change crossed).
fn level(status: &str) -> u8 {
    match status {
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        "replied" => 4,
        _ => 0,
    }
}

/// What a status change adds to the counts: each level it crosses once (a `read`
/// that came without a `delivered` counts delivered too), and a bounce when an
/// accepted message ends `undelivered`/`failed`. `before` is the stored status
/// (`pending`/`queued` when a callback settles an unrecorded message: the provider
/// accepted it, so it counts as sent — the progress counters do that part).
pub fn crossed(before: &str, after: &str) -> KpiCounts {
    let mut d = KpiCounts::default();
    let (b, a) = (level(before), level(after));
    if b < 2 && a >= 2 {
        d.delivered = 1;
    }
    if b < 3 && a >= 3 {
        d.read = 1;
    }
    if b < 4 && a >= 4 {
        d.replied = 1;
    }
    let accepted = matches!(
        before,
        "sent" | "delivered" | "read" | "replied" | "pending" | "queued"
    );
    if matches!(after, "undelivered" | "failed") && accepted {
        d.bounced = 1;
        d.undelivered = (after == "undelivered") as i64;
    }
    d
}

fn get(c: &HashMap<String, i64>, k: &str) -> i64 {
    c.get(k).copied().unwrap_or(0)
}

/// The KPI counts of one campaign's counters.
pub fn kpi_counts(c: &HashMap<String, i64>) -> KpiCounts {
    KpiCounts {
        sent: get(c, "sent"),
        refused: get(c, "failed") - get(c, "unknown"),
        unknown: get(c, "unknown"),
        delivered: get(c, "k_delivered"),
        read: get(c, "k_read"),
        replied: get(c, "k_replied"),
        bounced: get(c, "k_bounced"),
        undelivered: get(c, "k_undelivered"),
        attended: get(c, "k_attended"),
    }
}

/// How many of a campaign's tickets are still open (an informative campaign's are born
/// closed).
pub fn open_tickets(c: &Campaign, counters: &HashMap<String, i64>) -> i64 {
    if c.settings.wait_for_reply_hours == 0 {
        return 0;
    }
    let closed: i64 = ["no_reply", "agent", "opted_out", "idle"]
        .iter()
        .map(|r| get(counters, &format!("t_{r}")))
        .sum();
    (get(counters, "t_opened") - closed).max(0)
}

/// Tickets by state and close reason. An informative campaign's tickets are born
/// closed, one per sent message.
fn tickets(c: &Campaign, counters: &HashMap<String, i64>) -> Value {
    if c.settings.wait_for_reply_hours == 0 {
        let sent = get(counters, "sent");
        return json!({"open": 0, "closed": sent, "by_close_reason": {"informative": sent}});
    }
    let reasons = ["no_reply", "agent", "opted_out", "idle"];
    let closed: i64 = reasons
        .iter()
        .map(|r| get(counters, &format!("t_{r}")))
        .sum();
    let by: serde_json::Map<String, Value> = reasons
        .iter()
        .map(|r| (r.to_string(), json!(get(counters, &format!("t_{r}")))))
        .collect();
    json!({
        "open": open_tickets(c, counters),
        "closed": closed,
        "by_close_reason": by,
    })
}

/// A campaign's stats (`GET /v1/campaigns/{id}/stats`, the report email): counts by
/// status, the KPIs, tickets by state and close reason — all from its counters.
pub fn campaign_stats(c: &Campaign, counters: &HashMap<String, i64>) -> Value {
    let k = kpi_counts(counters);
    let total = c.counts.valid_rows as i64;
    let (queued, blocked, skipped) = (
        get(counters, "queued"),
        get(counters, "blocked"),
        get(counters, "skipped"),
    );
    // Where each message stands now, from the levels it reached.
    let failed_after = k.bounced - k.undelivered;
    let by_status = json!({
        "pending": (total - queued - k.sent - k.refused - k.unknown - blocked - skipped).max(0),
        "queued": queued.max(0),
        "sent": (k.sent - k.delivered - k.bounced).max(0),
        "delivered": (k.delivered - k.read).max(0),
        "read": (k.read - k.replied).max(0),
        "replied": k.replied,
        "undelivered": k.undelivered,
        "failed": k.refused + k.unknown + failed_after,
        "blocked": blocked,
        "skipped": skipped,
    });
    let first = c.sending_started_at.clone();
    let last = c.ended_at.clone();
    let seconds = match (first.as_deref(), last.as_deref()) {
        (Some(f), Some(l)) => match (super::parse_time(f), super::parse_time(l)) {
            (Some(f), Some(l)) => Some((l - f).as_seconds_f64()),
            _ => None,
        },
        _ => None,
    };
    let per_second = seconds
        .filter(|s| *s > 0.0)
        .map(|s| ((k.sent + k.refused + k.unknown) as f64 / s * 10.0).round() / 10.0);
    json!({
        "campaign_id": c.id,
        "name": c.settings.name,
        "status": c.status,
        "messages": total,
        "unique_phones": c.counts.unique_phones,
        "by_status": by_status,
        "sent": k.sent,
        "refused": k.refused,
        "unknown": k.unknown,
        "delivered": k.delivered,
        "read": k.read,
        "replied": k.replied,
        "bounced": k.bounced,
        "attended": k.attended,
        "rates": k.rates(),
        "tickets": tickets(c, counters),
        "first_send_at": first,
        "last_send_at": last,
        "messages_per_second": per_second,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_on_a_hand_computed_campaign() {
        // 100 accepted: 80 reached delivered (of which 50 read, of which 10 replied),
        // 5 undelivered, 3 failed after acceptance; 12 refused at send; 4 attended.
        let c = KpiCounts {
            sent: 100,
            refused: 12,
            unknown: 3,
            delivered: 80,
            read: 50,
            replied: 10,
            bounced: 8,
            undelivered: 5,
            attended: 4,
        };
        let r = c.rates();
        assert_eq!(r.delivery_rate, Some(0.8));
        assert_eq!(r.bounce_rate, Some(0.08));
        assert_eq!(r.read_rate, Some(0.625));
        assert_eq!(r.reply_rate, Some(0.125));
        assert_eq!(r.attended_rate, Some(0.05));
        assert_eq!(r.refused_rate, Some(0.1071));
    }

    #[test]
    fn a_zero_denominator_is_null_never_zero_or_nan() {
        let r = KpiCounts::default().rates();
        assert_eq!(r.delivery_rate, None);
        assert_eq!(r.bounce_rate, None);
        assert_eq!(r.read_rate, None);
        assert_eq!(r.reply_rate, None);
        assert_eq!(r.attended_rate, None);
        assert_eq!(r.refused_rate, None);
        // All refused: nothing sent, the refused share is 100 %.
        let r = KpiCounts {
            refused: 5,
            ..Default::default()
        }
        .rates();
        assert_eq!((r.delivery_rate, r.refused_rate), (None, Some(1.0)));
        // Sent but nothing delivered: read and reply rates are null, not 0.
        let r = KpiCounts {
            sent: 3,
            ..Default::default()
        }
        .rates();
        assert_eq!((r.delivery_rate, r.read_rate), (Some(0.0), None));
    }

    #[test]
    fn a_read_without_its_delivered_counts_delivered_once() {
        let mut c = KpiCounts::default();
        c += crossed("sent", "read");
        c += crossed("read", "delivered"); // late: not forward, never applied — and if it were, nothing crossed
        assert_eq!((c.delivered, c.read, c.replied), (1, 1, 0));
        c += crossed("read", "replied");
        assert_eq!((c.delivered, c.read, c.replied), (1, 1, 1));
        let c = crossed("sent", "replied");
        assert_eq!((c.delivered, c.read, c.replied), (1, 1, 1));
    }

    #[test]
    fn bounces_are_accepted_messages_that_failed_so_the_rate_stays_within_100_percent() {
        assert_eq!(crossed("sent", "undelivered").bounced, 1);
        assert_eq!(crossed("delivered", "failed").bounced, 1);
        assert_eq!(crossed("failed", "failed").bounced, 0);
        let c = KpiCounts {
            sent: 2,
            bounced: 2,
            ..Default::default()
        };
        assert_eq!(c.rates().bounce_rate, Some(1.0));
    }
}
