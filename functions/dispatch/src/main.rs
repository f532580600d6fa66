//! Dispatch: a campaign to send (SQS) → send jobs on its provider's queue. See `lib.rs`.
#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pregon_aws::init_logging();
    let aws = pregon_aws::config::Aws::from_env().await?;
    let dispatch = &pregon_dispatch::Dispatch::new(aws)?;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(dispatch.handle(event.payload).await)
    }))
    .await
}
