//! Sender: send jobs (SQS, one queue per provider) → the provider's API. See `lib.rs`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pregon_aws::init_logging();
    let aws = pregon_aws::config::Aws::from_env().await?;
    let sender = &pregon_sender::Sender::new(aws)?;
    // Deployed once more on the send dead-letter queue: settles what reached it.
    if std::env::var("SENDER_ROLE").as_deref() == Ok("dead_letters") {
        return run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
            Ok::<SqsBatchResponse, Error>(sender.settle_dead_letters(event.payload).await)
        }))
        .await;
    }
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = event
            .context
            .deadline()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(u64::MAX);
        Ok::<SqsBatchResponse, Error>(sender.handle(event.payload, deadline).await)
    }))
    .await
}
