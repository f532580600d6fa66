//! Closer: an EventBridge schedule → tickets closed at their time. See `lib.rs`.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    pregon_aws::init_logging();
    let aws = pregon_aws::config::Aws::from_env().await?;
    let closer = &pregon_closer::Closer::new(aws);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let summary = closer.handle(&event.payload).await?;
        Ok::<Value, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
