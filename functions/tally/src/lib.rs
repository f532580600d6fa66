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
//! Records of anything else (sends, tickets, counters…) are skipped; in AWS the event
//! source's filter drops them before the function runs (template.yaml).

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use pregon::keys;
use pregon::model::KpiCounts;
use pregon_aws::config::Aws;
use pregon_aws::events::{self, Events};
use pregon_aws::messages::{kpi_pairs, CounterAdd};
use pregon_aws::store::{Store, StoreError};
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
    })
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
            deltas: kpi_pairs(&k).into_iter().filter(|(_, v)| *v != 0).collect(),
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
    pub async fn handle(&self, event: &Event) -> Result<Summary, StoreError> {
        let moves: Vec<Move> = event.records.iter().filter_map(status_move).collect();
        let adds = counter_adds(&moves);
        for (i, chunk) in adds.chunks(TRANSACTION).enumerate() {
            // (One chunk but for a batch of more than 100 shards.)
            let token = batch_token(&event.records, i);
            self.store.add_counters_once(chunk, &token).await?;
        }
        let published: Vec<events::Event> = moves
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
        self.events.publish(published).await;
        pregon_aws::metrics::emit(
            &[("Function", "tally")],
            &[(
                "StatusMoves",
                moves.len() as f64,
                pregon_aws::metrics::Unit::Count,
            )],
        );
        let s = Summary {
            records: event.records.len(),
            moves: moves.len(),
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
