//! Ingest: S3 `ObjectCreated` (through SQS) → validated campaign. See `lib.rs`.

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
