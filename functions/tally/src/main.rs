//! Tally: the table's DynamoDB stream → KPI counters and status events. See `lib.rs`.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pregon_aws::init_logging();
    let aws = pregon_aws::config::Aws::from_env().await?;
    let tally = &pregon_tally::Tally::new(aws);
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        let summary = tally.handle(&event.payload).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
