//! Campaign KPIs (SPEC §6), counted over messages. Pure: the counts come from counters
//! kept as statuses change (never a scan).
//!
//! - sent: accepted by the provider, whatever happened after;
//! - refused: never accepted (failed at send), shown apart and kept out of every rate;
//! - delivered counts read and replied; read counts replied;
//! - a rate whose denominator is 0 is `None` (`null`), never 0 or NaN.

use serde::{Deserialize, Serialize};

/// The counts a campaign's (or a set of campaigns') KPIs are computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KpiCounts {
    /// Accepted by the provider.
    pub sent: i64,
    /// Refused at send (never accepted), including sends whose outcome stayed unknown.
    pub refused: i64,
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
