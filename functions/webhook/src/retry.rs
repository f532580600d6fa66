//! The inbound retry queue: an authenticated callback kept for later — one the store
//! could not take, or one whose status came before its message's record — and the
//! batches of that queue applied again.

use crate::{Bad, Webhook};
use pregon_aws::Error as AwsError;
use tracing::{info, warn};

/// An authenticated callback kept for later: its account, query and raw body.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    account: String,
    query: String,
    /// Base64 of the body as it came.
    body: String,
    /// 0: the store could not take it; n: its n-th application again because a status
    /// came before its message's record.
    #[serde(default)]
    early: u32,
}

/// How many times a callback is applied again for statuses that came before their
/// message's record (2 … 64 s apart, about two minutes): a status for a message that is
/// not ours stops there; one whose sender died settles the message from the kept
/// status (`reported_id`) when its claim expires.
const EARLY_TRIES: u32 = 6;

impl Webhook {
    /// Puts an authenticated callback on the retry queue (`INBOUND_RETRY_QUEUE_URL`):
    /// `early` 0 for one the store could not take (applied at once), else the how-many-th
    /// time it is applied again for a status that came before its message's record
    /// (after 2, 4, 8 … 64 s; [`EARLY_TRIES`] times at most).
    pub(crate) async fn keep(
        &self,
        account: &str,
        query: &str,
        body: &[u8],
        early: u32,
    ) -> Result<(), AwsError> {
        use base64::Engine;
        let queue = self
            .retry_queue
            .as_deref()
            .ok_or_else(|| AwsError::Config("no retry queue (INBOUND_RETRY_QUEUE_URL)".into()))?;
        let kept = Kept {
            account: account.to_string(),
            query: query.to_string(),
            body: base64::engine::general_purpose::STANDARD.encode(body),
            early,
        };
        let delay = if early == 0 { 0 } else { 1i32 << early.min(6) };
        self.aws
            .sqs
            .send_message()
            .queue_url(queue)
            .delay_seconds(delay)
            .message_body(serde_json::to_string(&kept).map_err(AwsError::shape)?)
            .send()
            .await
            .map_err(|e| AwsError::sqs("SendMessage", e))?;
        Ok(())
    }

    /// A batch of the retry queue: each kept callback applied as if it had just come
    /// (its signature was checked when it came). A store failure leaves it on the queue
    /// (the queue's redrive takes it to the dead-letter queue after its tries); a body
    /// that is not a callback is dropped with the reason.
    pub async fn apply_kept(
        &self,
        event: aws_lambda_events::event::sqs::SqsEvent,
    ) -> aws_lambda_events::event::sqs::SqsBatchResponse {
        use base64::Engine;
        let mut retries = pregon_aws::sqs::Retries::new(&event);
        for r in event.records {
            let id = r.message_id.clone().unwrap_or_default();
            let kept: Option<(Kept, Vec<u8>)> =
                serde_json::from_str::<Kept>(r.body.as_deref().unwrap_or(""))
                    .ok()
                    .and_then(|k| {
                        let body = base64::engine::general_purpose::STANDARD
                            .decode(&k.body)
                            .ok()?;
                        Some((k, body))
                    });
            let Some((k, body)) = kept else {
                warn!(message_id = %id, "not a kept callback: dropped");
                continue;
            };
            let failed = match self.account(&k.account).await {
                Ok(Some(known)) => match self.receive(&known, &k.query, &body).await {
                    Ok((n, still)) => {
                        info!(account = %k.account, events = n, "kept callback applied");
                        if still && k.early < EARLY_TRIES {
                            if let Err(e) =
                                self.keep(&k.account, &k.query, &body, k.early + 1).await
                            {
                                warn!(error = %e, "an early status stays kept (applied if its sender dies)");
                            }
                        }
                        false
                    }
                    Err(Bad::Payload(e)) => {
                        warn!(account = %k.account, error = %e, "kept callback is malformed: dropped");
                        false
                    }
                    Err(Bad::Store(e)) => {
                        warn!(account = %k.account, error = %e, "kept callback not applied yet");
                        true
                    }
                },
                Ok(None) => {
                    warn!(account = %k.account, "kept callback of an account that is gone: dropped");
                    false
                }
                Err(e) => {
                    warn!(error = %e, "account unreadable");
                    true
                }
            };
            if failed {
                retries.retry(id);
            }
        }
        retries.respond(None).await
    }
}
