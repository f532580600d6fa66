//! The webhook function: provider callbacks over HTTP API events → `Webhook::handle`.
//! Its own Lambda, apart from the tenant API, so a flood of callbacks never slows it.

use lambda_http::{run, service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pregon_aws::init_logging();
    let aws = pregon_aws::config::Aws::from_env().await?;
    let hook = &pregon_webhook::Webhook::new(aws);
    // Deployed once more on the inbound retry queue: applies the callbacks kept there.
    if std::env::var("WEBHOOK_ROLE").as_deref() == Ok("retry") {
        use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
        return lambda_runtime::run(lambda_runtime::service_fn(
            move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
                Ok::<SqsBatchResponse, Error>(hook.apply_kept(event.payload).await)
            },
        ))
        .await;
    }
    run(service_fn(move |req: Request| async move {
        let path = lambda_http::RequestExt::raw_http_path(&req).to_string();
        let query = req.uri().query().unwrap_or_default().to_string();
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let headers = pregon_webhook::Headers {
            meta_signature: header("x-hub-signature-256"),
            twilio_signature: header("x-twilio-signature"),
        };
        let answer = hook
            .handle(
                req.method().as_str(),
                &path,
                &query,
                &headers,
                req.body().as_ref(),
            )
            .await;
        Ok::<_, Error>(
            Response::builder()
                .status(answer.status)
                .header("content-type", answer.content_type)
                .body(Body::Text(answer.body))?,
        )
    }))
    .await
}
