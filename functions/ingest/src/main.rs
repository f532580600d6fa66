//! Ingest: S3 `ObjectCreated` (through SQS) → validated campaign. See `lib.rs`.
// The ingest future is deep (SDK calls inside select! and spawn_blocking): the compiler
// needs more than the default 128 levels to lay it out in test builds.
#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pregon_aws::init_logging();
    let aws = pregon_aws::config::Aws::from_env().await?;
    let ingest = &pregon_ingest::Ingest::new(aws);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(ingest.handle(event.payload).await)
    }))
    .await
}
