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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ids: &[&str]) -> SqsEvent {
        let records: Vec<serde_json::Value> =
            ids.iter().map(|id| serde_json::json!({"messageId": id, "body": format!("body of {id}")})).collect();
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[tokio::test]
    async fn only_records_to_retry_are_reported_as_batch_item_failures() {
        let response = for_each_record(event(&["a", "b", "c"]), |m| async move {
            if m.body.as_deref() == Some("body of b") {
                Outcome::Retry("b failed".into())
            } else {
                Outcome::Done
            }
        })
        .await;
        let ids: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(ids, ["b"]);
    }

    #[tokio::test]
    async fn a_batch_that_all_succeeds_reports_no_failures() {
        let response = for_each_record(event(&["a", "b"]), |_| async { Outcome::Done }).await;
        assert!(response.batch_item_failures.is_empty());
    }
}
