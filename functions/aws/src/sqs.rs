//! The one SQS batch helper: handle each record of an `SqsEvent` and report the ones
//! that should be retried as `batchItemFailures` (the event source mapping must have
//! `ReportBatchItemFailures`). A record whose handler says `Done` is deleted; one that
//! says `Retry` comes back after the visibility timeout and, after `maxReceiveCount`
//! tries, lands in the dead-letter queue with its body intact.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use std::future::Future;

/// What became of one record.
#[derive(Debug)]
pub enum Outcome {
    Done,
    Retry(String),
}

pub async fn for_each_record<F, Fut>(event: SqsEvent, handle: F) -> SqsBatchResponse
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        match handle(record).await {
            Outcome::Done => {}
            Outcome::Retry(why) => {
                tracing::warn!(message_id = %id, reason = %why, "record will be retried");
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                response.batch_item_failures.push(f);
            }
        }
    }
    response
}
