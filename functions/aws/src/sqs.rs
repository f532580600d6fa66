//! The one SQS batch helper: handle each record of an `SqsEvent` and report the ones
//! that should be retried as `batchItemFailures` (the event source mapping must have
//! `ReportBatchItemFailures`). A record whose handler says `Done` is deleted; one that
//! says `Retry` comes back after the visibility timeout and, after `maxReceiveCount`
//! tries, lands in the dead-letter queue. One that says `Poison` (it can never succeed)
//! goes to the dead-letter queue at once, with the reason as its `reason` attribute.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageAttributeValue;
use std::future::Future;

/// What became of one record.
#[derive(Debug)]
pub enum Outcome {
    Done,
    Retry(String),
    /// Bad input that no retry can fix.
    Poison(String),
}

/// Where poison messages go: the queue's dead-letter queue.
#[derive(Clone)]
pub struct DeadLetters {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl DeadLetters {
    async fn send(&self, body: &str, reason: &str) -> Result<(), String> {
        let attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason)
            .build()
            .map_err(|e| e.to_string())?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("reason", attr)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(())
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
    let mut response = SqsBatchResponse::default();
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
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                response.batch_item_failures.push(f);
            }
        }
    }
    response
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
