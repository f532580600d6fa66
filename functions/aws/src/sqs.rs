//! The one SQS batch helper: handle each record of an `SqsEvent` and report the ones
//! that should be retried as `batchItemFailures` (the event source mapping must have
//! `ReportBatchItemFailures`). A record whose handler says `Done` is deleted; one that
//! says `Retry` comes back after the visibility timeout and, after `maxReceiveCount`
//! tries, lands in the dead-letter queue. One that says `Poison` (it can never succeed)
//! goes to the dead-letter queue at once, with the reason as its `reason` attribute.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, MessageAttributeValue};
use std::collections::HashMap;
use std::future::Future;

/// What became of one record.
#[derive(Debug)]
pub enum Outcome {
    Done,
    Retry(String),
    /// Bad input that no retry can fix.
    Poison(String),
}

impl From<crate::Error> for Outcome {
    /// A failure that can pass is retried; one that cannot (an item or message that does
    /// not match its type, a missing setting) goes to the dead-letter queue with why.
    fn from(e: crate::Error) -> Self {
        if e.retriable() {
            Outcome::Retry(e.to_string())
        } else {
            Outcome::Poison(e.to_string())
        }
    }
}

/// Where poison messages go: the queue's dead-letter queue.
#[derive(Clone)]
pub struct DeadLetters {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl DeadLetters {
    async fn send(&self, body: &str, reason: &str) -> Result<(), crate::Error> {
        let attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason)
            .build()
            .map_err(|e| crate::Error::sqs("MessageAttributeValue", e))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("reason", attr)
            .send()
            .await
            .map_err(|e| crate::Error::sqs("SendMessage", e))?;
        Ok(())
    }
}

/// The records of a batch that are to come back, and after how long: every SQS
/// function answers its batch through this, so a record is retried (and, after the
/// queue's `maxReceiveCount`, dead-lettered) the same way everywhere.
#[derive(Debug, Default)]
pub struct Retries {
    /// Each record to retry, with its own back-off (seconds) where it has one.
    items: Vec<(String, Option<i32>)>,
    /// The batch's receipt handles by message id, to shorten a record's visibility.
    receipts: HashMap<String, String>,
}

impl Retries {
    /// For the records of `event`.
    pub fn new(event: &SqsEvent) -> Self {
        let receipts = event
            .records
            .iter()
            .filter_map(|r| Some((r.message_id.clone()?, r.receipt_handle.clone()?)))
            .collect();
        Retries {
            items: Vec::new(),
            receipts,
        }
    }

    /// The record comes back after the queue's visibility timeout.
    pub fn retry(&mut self, message_id: impl Into<String>) {
        self.items.push((message_id.into(), None));
    }

    /// The record comes back after `secs` seconds (SQS allows up to 12 hours) rather than
    /// the queue's whole visibility timeout.
    pub fn retry_after(&mut self, message_id: impl Into<String>, secs: i32) {
        self.items
            .push((message_id.into(), Some(secs.clamp(0, 43_200))));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The batch's answer: first each delayed record's visibility is set to its
    /// back-off (through `queue`, when the function knows its queue's URL; else the
    /// queue's timeout applies), then every record to retry is a batch item failure.
    pub async fn respond(self, queue: Option<(&aws_sdk_sqs::Client, &str)>) -> SqsBatchResponse {
        if let Some((sqs, url)) = queue {
            let delayed: Vec<_> = self
                .items
                .iter()
                .filter_map(|(id, after)| {
                    let handle = self.receipts.get(id)?;
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(id.clone())
                        .receipt_handle(handle)
                        .visibility_timeout((*after)?)
                        .build()
                        .ok()
                })
                .collect();
            for chunk in delayed.chunks(10) {
                let sent = sqs
                    .change_message_visibility_batch()
                    .queue_url(url)
                    .set_entries(Some(chunk.to_vec()))
                    .send()
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(error = ?e, "could not shorten retries' visibility (the queue's timeout applies)");
                }
            }
        }
        let mut response = SqsBatchResponse::default();
        for (id, _) in self.items {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            response.batch_item_failures.push(f);
        }
        response
    }
}

pub async fn for_each_record<F, Fut>(
    event: SqsEvent,
    dead_letters: Option<&DeadLetters>,
    handle: F,
) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let mut retries = Retries::new(&event);
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.clone().unwrap_or_default();
        let outcome = match handle(record).await {
            Outcome::Poison(reason) => match dead_letters {
                Some(dl) => match dl.send(&body, &reason).await {
                    Ok(()) => {
                        tracing::error!(message_id = %id, reason = %reason, "poison message moved to the dead-letter queue");
                        let function =
                            std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
                        crate::metrics::emit(
                            &[("Function", function.as_str())],
                            &[("DeadLettered", 1.0, crate::metrics::Unit::Count)],
                        );
                        Outcome::Done
                    }
                    Err(e) => Outcome::Retry(format!(
                        "{reason}; and the dead-letter queue refused it: {e}"
                    )),
                },
                None => Outcome::Retry(reason),
            },
            other => other,
        };
        match outcome {
            Outcome::Done | Outcome::Poison(_) => {}
            Outcome::Retry(why) => {
                tracing::warn!(message_id = %id, reason = %why, "record will be retried");
                retries.retry(id);
            }
        }
    }
    retries.respond(None).await
}

/// Puts a JSON message on the queue an environment variable names (`DISPATCH_QUEUE_URL`,
/// `RESULTS_QUEUE_URL`): a dispatch request, a results or report request.
pub async fn send_json(
    sqs: &aws_sdk_sqs::Client,
    queue_env: &str,
    body: &impl serde::Serialize,
) -> Result<(), crate::Error> {
    use crate::Error;
    let body = serde_json::to_string(body).map_err(Error::shape)?;
    let queue =
        std::env::var(queue_env).map_err(|_| Error::Config(format!("{queue_env} is not set")))?;
    sqs.send_message()
        .queue_url(queue)
        .message_body(body)
        .send()
        .await
        .map_err(|e| Error::sqs("SendMessage", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ids: &[&str]) -> SqsEvent {
        let records: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| serde_json::json!({"messageId": id, "body": format!("body of {id}")}))
            .collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[tokio::test]
    async fn only_records_to_retry_are_reported_as_batch_item_failures() {
        let response = for_each_record(event(&["a", "b", "c"]), None, |m| async move {
            if m.body.as_deref() == Some("body of b") {
                Outcome::Retry("b failed".into())
            } else {
                Outcome::Done
            }
        })
        .await;
        let ids: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(ids, ["b"]);
    }

    #[tokio::test]
    async fn a_batch_that_all_succeeds_reports_no_failures() {
        let response = for_each_record(event(&["a", "b"]), None, |_| async { Outcome::Done }).await;
        assert!(response.batch_item_failures.is_empty());
    }
}
