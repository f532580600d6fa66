//! Tally: the table's DynamoDB stream (new and old images) → what provider statuses
//! changed, counted and announced off the webhook's request path.
//!
//! A status callback's request makes one conditional write to the message (forward
//! only; `inbound::Store::apply_status`), which also bumps the message's
//! `status_move` (a fresh ULID). Each stream record whose `status_move` changed is a status move
//! `old.status → new.status`; for a batch of records this function
//! 1. adds the KPI levels each move crossed (SPEC §6: delivered, read, replied,
//!    bounced, undelivered) to the campaign's counter shards — summed per shard, so a
//!    batch of 100 moves of one campaign is at most 16 writes, in one transaction whose
//!    idempotency token is the batch's first and last sequence numbers (a retried batch
//!    counts once);
//! 2. publishes one `Message Status Changed` event per move (`events::message_status`,
//!    10 to a `PutEvents` call, best effort).
//!
//! A message also gets its send outcome exactly once: statuses only move forward, so
//! one write takes it out of `pending`/`queued` (the sender's `sent` or refusal,
//! `blocked`, `skipped`, a dead letter, an unknown outcome settled, a callback settling
//! an unrecorded message). Each record of such a write
//! 3. adds to the campaign's progress (`sent`, `failed`, `blocked`, `skipped`) in the same
//!    transaction, so no retried write counts twice and no campaign ends early;
//! 4. asks whether the campaign has ended (every message has an outcome);
//! 5. publishes its `Message Status Changed` event when it is not a status move already
//!    (the send-time statuses: `sent`, `failed`, `blocked`, `skipped`).
//!
//! Records of anything else (tickets, counters…) are skipped; in AWS the event source's
//! filters drop them before the function runs (template.yaml).

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use pregon::keys;
use pregon::model::KpiCounts;
use pregon::sending::MessageStatus;
use pregon_aws::config::Aws;
use pregon_aws::events::{self, Events};
use pregon_aws::messages::CounterAdd;
use pregon_aws::store::Store;
use pregon_aws::Error as AwsError;
use serde::Deserialize;
use sha2::Digest;
use std::collections::BTreeMap;
use tracing::info;

/// What the stream shows of a message record.
#[derive(Debug, Default, Deserialize)]
struct Image {
    #[serde(default)]
    pk: String,
    #[serde(default)]
    sk: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    status_move: Option<String>,
    #[serde(default)]
    status_at: Option<String>,
    #[serde(default)]
    provider_message_id: Option<String>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

/// A message's status moved by a provider status (or a reply).
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    pub tenant: String,
    pub campaign: String,
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub at: String,
    pub provider_message_id: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The message was counted `failed` with an unknown outcome before this move.
    pub was_unknown: bool,
}

/// The status move a stream record shows, if it is one.
pub fn status_move(r: &EventRecord) -> Option<Move> {
    if r.event_name != "MODIFY" {
        return None;
    }
    let new: Image = serde_dynamo::from_item(r.change.new_image.clone()).ok()?;
    let old: Image = serde_dynamo::from_item(r.change.old_image.clone()).ok()?;
    if new.status_move.is_none() || new.status_move == old.status_move || new.status == old.status {
        return None;
    }
    let (t, c, gen, row) = keys::parse_recipient(&new.pk, &new.sk)?;
    Some(Move {
        tenant: t.to_string(),
        campaign: c.to_string(),
        message_id: pregon::sending::message_id(t, c, gen, row),
        from: old.status,
        to: new.status,
        at: new.status_at.unwrap_or_default(),
        provider_message_id: new.provider_message_id.unwrap_or_default(),
        error_code: new.error_code,
        error_message: new.error_message,
        was_unknown: false,
    })
}

/// The send outcome a stream record shows, if the write gave the message one (it
/// left `pending`/`queued`), as a move from its status before.
pub fn send_outcome(r: &EventRecord) -> Option<Move> {
    if r.event_name != "MODIFY" {
        return None;
    }
    let new: Image = serde_dynamo::from_item(r.change.new_image.clone()).ok()?;
    let old: Image = serde_dynamo::from_item(r.change.old_image.clone()).ok()?;
    let before: MessageStatus = old.status.parse().ok()?;
    let status: MessageStatus = new.status.parse().ok()?;
    // An `outcome_unknown` its provider reported after all: counted again as what it is.
    let unknown_settled = before == MessageStatus::Failed
        && old
            .error_code
            .as_deref()
            .is_some_and(pregon::sending::unknown_outcome)
        && !new
            .error_code
            .as_deref()
            .is_some_and(pregon::sending::unknown_outcome);
    if (before.has_outcome() && !unknown_settled) || !status.has_outcome() {
        return None;
    }
    let (t, c, gen, row) = keys::parse_recipient(&new.pk, &new.sk)?;
    Some(Move {
        tenant: t.to_string(),
        campaign: c.to_string(),
        message_id: pregon::sending::message_id(t, c, gen, row),
        from: old.status,
        to: new.status,
        at: new.status_at.or(new.updated_at).unwrap_or_default(),
        provider_message_id: new.provider_message_id.unwrap_or_default(),
        error_code: new.error_code,
        error_message: new.error_message,
        was_unknown: unknown_settled,
    })
}

/// The progress counter an outcome adds to.
fn progress_counter(status: &str) -> Option<&'static str> {
    match status.parse::<MessageStatus>().ok()? {
        MessageStatus::Sent
        | MessageStatus::Delivered
        | MessageStatus::Read
        | MessageStatus::Replied => Some("sent"),
        MessageStatus::Failed | MessageStatus::Undelivered => Some("failed"),
        MessageStatus::Blocked => Some("blocked"),
        MessageStatus::Skipped => Some("skipped"),
        MessageStatus::Pending | MessageStatus::Queued => None,
    }
}

/// The progress counter deltas of some send outcomes, summed per counter shard.
pub fn progress_adds(outcomes: &[Move]) -> Vec<CounterAdd> {
    let mut sums: BTreeMap<(String, String, u32), BTreeMap<&'static str, i64>> = BTreeMap::new();
    for o in outcomes {
        let Some(counter) = progress_counter(&o.to) else {
            continue;
        };
        let shard = keys::spread(&o.message_id) % pregon_aws::messages::COUNTER_SHARDS;
        let d = sums
            .entry((o.tenant.clone(), o.campaign.clone(), shard))
            .or_default();
        *d.entry(counter).or_default() += 1;
        // Of the failed: an unknown outcome (`outcome_unknown`, `not_sent`).
        if counter == "failed"
            && o.error_code
                .as_deref()
                .is_some_and(pregon::sending::unknown_outcome)
        {
            *d.entry("unknown").or_default() += 1;
        }
        // A message counted `failed` (outcome_unknown) that turned out sent.
        if let Some(was) = progress_counter(&o.from) {
            *d.entry(was).or_default() -= 1;
        }
        if o.was_unknown {
            *d.entry("unknown").or_default() -= 1;
        }
    }
    sums.into_iter()
        .map(|((tenant, campaign, shard), d)| CounterAdd {
            tenant,
            campaign,
            shard,
            deltas: d.into_iter().collect(),
        })
        .collect()
}

/// Counter adds to the same shard item made one (a transaction may name an item once).
pub fn merged(adds: impl Iterator<Item = CounterAdd>) -> Vec<CounterAdd> {
    let mut sums: BTreeMap<(String, String, u32), BTreeMap<&'static str, i64>> = BTreeMap::new();
    for a in adds {
        let d = sums.entry((a.tenant, a.campaign, a.shard)).or_default();
        for (k, v) in a.deltas {
            *d.entry(k).or_default() += v;
        }
    }
    sums.into_iter()
        .map(|((tenant, campaign, shard), d)| CounterAdd {
            tenant,
            campaign,
            shard,
            deltas: d.into_iter().filter(|(_, v)| *v != 0).collect(),
        })
        .filter(|a| !a.deltas.is_empty())
        .collect()
}

/// The KPI counter deltas of some moves, summed per campaign counter shard (the shard
/// a message's own writes use: `keys::spread` of its id).
pub fn counter_adds(moves: &[Move]) -> Vec<CounterAdd> {
    let mut sums: BTreeMap<(String, String, u32), KpiCounts> = BTreeMap::new();
    for m in moves {
        let d = pregon::model::crossed(&m.from, &m.to);
        let shard = keys::spread(&m.message_id) % pregon_aws::messages::COUNTER_SHARDS;
        let s = sums
            .entry((m.tenant.clone(), m.campaign.clone(), shard))
            .or_default();
        s.delivered += d.delivered;
        s.read += d.read;
        s.replied += d.replied;
        s.bounced += d.bounced;
        s.undelivered += d.undelivered;
    }
    sums.into_iter()
        .map(|((tenant, campaign, shard), k)| CounterAdd {
            tenant,
            campaign,
            shard,
            deltas: k
                .level_pairs()
                .into_iter()
                .filter(|(_, v)| *v != 0)
                .collect(),
        })
        .filter(|a| !a.deltas.is_empty())
        .collect()
}

/// The batch's idempotency token: its stream position (first and last sequence
/// numbers) and which chunk of its counter writes, hashed to DynamoDB's
/// 36-character limit. It holds while Lambda redelivers the same batch (its retries,
/// within DynamoDB's 10-minute token window); a batch split differently (bisecting,
/// not configured) would be a new token and count again.
pub fn batch_token(records: &[EventRecord], chunk: usize) -> String {
    let seq = |r: Option<&EventRecord>| {
        r.and_then(|r| r.change.sequence_number.clone())
            .unwrap_or_default()
    };
    let mut h = sha2::Sha256::new();
    h.update(
        records
            .first()
            .and_then(|r| r.event_source_arn.clone())
            .unwrap_or_default(),
    );
    h.update(b"|");
    h.update(seq(records.first()));
    h.update(b"|");
    h.update(seq(records.last()));
    h.update(b"|");
    h.update(chunk.to_string());
    hex::encode(h.finalize())[..36].to_string()
}

/// What one batch did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub records: usize,
    pub moves: usize,
    pub counter_writes: usize,
}

pub struct Tally {
    store: Store,
    events: Events,
}

/// DynamoDB takes at most 100 actions in one transaction.
const TRANSACTION: usize = 100;

impl Tally {
    pub fn new(aws: Aws) -> Self {
        Tally::with(
            Store::new(aws.dynamodb.clone(), aws.table.clone()),
            Events::from_env(&aws.sdk_config),
        )
    }

    pub fn with(store: Store, events: Events) -> Self {
        Tally { store, events }
    }

    /// Counts and announces a batch's moves. An error (the counters' write) fails the
    /// batch, which the event source retries; the events go after the counters, so a
    /// batch retried for its counters publishes them once (an invocation that dies
    /// while publishing is retried whole: events are at least once).
    pub async fn handle(&self, event: &Event) -> Result<Summary, AwsError> {
        let moves: Vec<Move> = event.records.iter().filter_map(status_move).collect();
        let outcomes: Vec<Move> = event.records.iter().filter_map(send_outcome).collect();
        let adds = merged(
            counter_adds(&moves)
                .into_iter()
                .chain(progress_adds(&outcomes)),
        );
        for (i, chunk) in adds.chunks(TRANSACTION).enumerate() {
            // (One chunk but for a batch of more than 100 shards.)
            let token = batch_token(&event.records, i);
            self.store.add_counters_once(chunk, &token).await?;
        }
        // A campaign whose messages got outcomes may have ended.
        let ended: std::collections::BTreeSet<(&str, &str)> = outcomes
            .iter()
            .map(|o| (o.tenant.as_str(), o.campaign.as_str()))
            .collect();
        for (tenant, campaign) in ended {
            pregon_aws::campaigns::maybe_complete(&self.store, tenant, campaign).await?;
        }
        // Send-time statuses are announced here; a status move announces itself below.
        let send_time = event
            .records
            .iter()
            .filter(|r| status_move(r).is_none())
            .filter_map(send_outcome);
        let published: Vec<events::Event> = moves
            .into_iter()
            .chain(send_time)
            .collect::<Vec<_>>()
            .iter()
            .filter_map(|m| {
                events::message_status(
                    &m.message_id,
                    &m.to,
                    &m.from,
                    &m.provider_message_id,
                    &m.at,
                    (m.error_code.as_deref(), m.error_message.as_deref()),
                )
            })
            .collect();
        let announced = published.len();
        self.events.publish(published).await;
        pregon_aws::metrics::emit(
            &[("Function", "tally")],
            &[(
                "StatusMoves",
                announced as f64,
                pregon_aws::metrics::Unit::Count,
            )],
        );
        let s = Summary {
            records: event.records.len(),
            moves: announced,
            counter_writes: adds.len(),
        };
        info!(
            records = s.records,
            moves = s.moves,
            counter_writes = s.counter_writes,
            "batch tallied"
        );
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A stream record as Lambda delivers it (DynamoDB JSON images).
    fn record(
        event: &str,
        old: serde_json::Value,
        new: serde_json::Value,
        seq: &str,
    ) -> EventRecord {
        serde_json::from_value(json!({
            "eventID": "1", "eventName": event, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x",
            "dynamodb": {"ApproximateCreationDateTime": 1764633600.0, "Keys": {},
                "NewImage": new, "OldImage": old, "SequenceNumber": seq, "SizeBytes": 10,
                "StreamViewType": "NEW_AND_OLD_IMAGES"}
        }))
        .unwrap()
    }

    fn image(row: u64, status: &str, moves: Option<i64>) -> serde_json::Value {
        let (pk, sk) = keys::recipient("ten_1", "cmp_2", 1, row);
        let mut v = json!({"pk": {"S": pk}, "sk": {"S": sk}, "status": {"S": status},
            "provider_message_id": {"S": "wamid.X"}, "status_at": {"S": "2026-12-01T12:00:00Z"}});
        if let Some(m) = moves {
            v["status_move"] = json!({"S": format!("01MOVE{m}")});
        }
        v
    }

    #[test]
    fn a_status_applied_by_a_callback_is_a_move_and_a_senders_record_is_not() {
        let cb = record(
            "MODIFY",
            image(7, "sent", None),
            image(7, "delivered", Some(1)),
            "1",
        );
        let m = status_move(&cb).expect("a move");
        assert_eq!(m.message_id, "ten_1.cmp_2.1.7");
        assert_eq!((m.from.as_str(), m.to.as_str()), ("sent", "delivered"));
        assert_eq!(m.at, "2026-12-01T12:00:00Z");
        // The sender recording its send: status changes, status_move does not.
        let sent = record(
            "MODIFY",
            image(7, "queued", None),
            image(7, "sent", None),
            "2",
        );
        assert!(status_move(&sent).is_none());
        // A refusal recorded by the sender is not a bounce.
        let refused = record(
            "MODIFY",
            image(7, "queued", None),
            image(7, "failed", None),
            "3",
        );
        assert!(status_move(&refused).is_none());
        // A write that left the status (a duplicate cannot, but a later field might).
        let same = record(
            "MODIFY",
            image(7, "read", Some(2)),
            image(7, "read", Some(3)),
            "4",
        );
        assert!(status_move(&same).is_none());
        // New items and other items.
        assert!(status_move(&record(
            "INSERT",
            json!({}),
            image(7, "delivered", Some(1)),
            "5"
        ))
        .is_none());
        let other = json!({"pk": {"S": "CNT#ten_1#cmp_2"}, "sk": {"S": "01"}, "status": {"S": "x"}, "status_move": {"S": "01MOVE2"}});
        assert!(
            status_move(&record("MODIFY", json!({"status": {"S": "y"}}), other, "6")).is_none()
        );
    }

    #[test]
    fn a_message_leaving_pending_or_queued_is_counted_once_in_its_progress() {
        let sent = record(
            "MODIFY",
            image(7, "pending", None),
            image(7, "sent", None),
            "1",
        );
        let o = send_outcome(&sent).expect("an outcome");
        assert_eq!((o.from.as_str(), o.to.as_str()), ("pending", "sent"));
        let refused = record(
            "MODIFY",
            image(8, "queued", None),
            image(8, "failed", None),
            "2",
        );
        let blocked = record(
            "MODIFY",
            image(9, "pending", None),
            image(9, "blocked", None),
            "3",
        );
        // A callback settling a message whose sender died: one outcome, and a move.
        let settled = record(
            "MODIFY",
            image(10, "pending", None),
            image(10, "delivered", Some(1)),
            "4",
        );
        assert!(status_move(&settled).is_some() && send_outcome(&settled).is_some());
        // Not outcomes: a later status, a park, a new item.
        let later = record(
            "MODIFY",
            image(7, "sent", None),
            image(7, "delivered", Some(1)),
            "5",
        );
        assert!(send_outcome(&later).is_none());
        let park = record(
            "MODIFY",
            image(11, "pending", None),
            image(11, "pending", None),
            "6",
        );
        assert!(send_outcome(&park).is_none());
        assert!(send_outcome(&record(
            "INSERT",
            json!({}),
            image(12, "pending", None),
            "7"
        ))
        .is_none());

        let outcomes: Vec<Move> = [&sent, &refused, &blocked, &settled]
            .into_iter()
            .filter_map(send_outcome)
            .collect();
        let moves: Vec<Move> = [&settled, &later]
            .into_iter()
            .filter_map(status_move)
            .collect();
        let adds = merged(
            counter_adds(&moves)
                .into_iter()
                .chain(progress_adds(&outcomes)),
        );
        let total = |k: &str| -> i64 {
            adds.iter()
                .flat_map(|a| a.deltas.iter())
                .filter(|(n, _)| *n == k)
                .map(|(_, v)| v)
                .sum()
        };
        assert_eq!(
            (
                total("sent"),
                total("failed"),
                total("blocked"),
                total("k_delivered")
            ),
            (2, 1, 1, 2)
        );
        // An `outcome_unknown` its provider reported after all: failed → sent.
        let mut unknown = image(13, "failed", None);
        unknown["error_code"] = json!({"S": "outcome_unknown"});
        let reported = record("MODIFY", unknown, image(13, "delivered", Some(1)), "8");
        let o = send_outcome(&reported).expect("counted again");
        let fix = progress_adds(&[o]);
        let d: Vec<(&str, i64)> = fix.iter().flat_map(|a| a.deltas.clone()).collect();
        assert!(
            d.contains(&("sent", 1)) && d.contains(&("failed", -1)),
            "{d:?}"
        );
        // Any other failed message moving is not an outcome (and cannot move: forward only).
        let refused_later = record(
            "MODIFY",
            image(8, "failed", None),
            image(8, "failed", Some(2)),
            "9",
        );
        assert!(send_outcome(&refused_later).is_none());
        // One write per counter item: a transaction may not name an item twice.
        let mut items: Vec<(String, u32)> =
            adds.iter().map(|a| (a.campaign.clone(), a.shard)).collect();
        let n = items.len();
        items.sort();
        items.dedup();
        assert_eq!(items.len(), n);
    }

    #[test]
    fn moves_are_summed_per_counter_shard_with_the_kpi_levels_they_cross() {
        let recs = vec![
            record(
                "MODIFY",
                image(1, "sent", None),
                image(1, "read", Some(1)),
                "1",
            ),
            record(
                "MODIFY",
                image(1, "read", Some(1)),
                image(1, "replied", Some(2)),
                "2",
            ),
            record(
                "MODIFY",
                image(2, "sent", None),
                image(2, "undelivered", Some(1)),
                "3",
            ),
            record(
                "MODIFY",
                image(3, "delivered", Some(1)),
                image(3, "read", Some(2)),
                "4",
            ),
        ];
        let moves: Vec<Move> = recs.iter().filter_map(status_move).collect();
        let adds = counter_adds(&moves);
        let total = |k: &str| -> i64 {
            adds.iter()
                .flat_map(|a| a.deltas.iter())
                .filter(|(n, _)| *n == k)
                .map(|(_, v)| v)
                .sum()
        };
        // sent→read crosses delivered and read; read→replied, replied; sent→undelivered
        // is a bounce; delivered→read, read.
        assert_eq!(total("k_delivered"), 1);
        assert_eq!(total("k_read"), 2);
        assert_eq!(total("k_replied"), 1);
        assert_eq!(total("k_bounced"), 1);
        assert_eq!(total("k_undelivered"), 1);
        // Each message's deltas land on its own shard, as the rest of the code counts.
        let shard = keys::spread("ten_1.cmp_2.1.1") % pregon_aws::messages::COUNTER_SHARDS;
        let a = adds.iter().find(|a| a.shard == shard).unwrap();
        assert!(a.deltas.contains(&("k_replied", 1)));
        // The same batch gets the same token; another batch another.
        assert_eq!(batch_token(&recs, 0), batch_token(&recs.clone(), 0));
        assert_ne!(batch_token(&recs, 0), batch_token(&recs[1..], 0));
        assert_ne!(batch_token(&recs, 0), batch_token(&recs, 1));
        assert_eq!(batch_token(&recs, 0).len(), 36);
    }
}
