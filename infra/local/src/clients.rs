//! The SDK clients the stack is set up with, each pointed at the local server that
//! plays its service, and the SES identity the report emails are sent from.

use crate::servers::Urls;
use crate::template::REGION;
use anyhow::{Context, Result};

/// The domain the local stack verifies in SES for report emails.
pub const LOCAL_REPORT_DOMAIN: &str = "pregon.local";

/// One client per service the set-up talks to.
pub struct Clients {
    /// DynamoDB Local (through the fault switch).
    pub ddb: aws_sdk_dynamodb::Client,
    /// moto's S3.
    pub s3: aws_sdk_s3::Client,
    /// moto's SQS: the queues S3 notifies, and those they redrive to.
    pub sqs: aws_sdk_sqs::Client,
    /// fauxqs: every other queue (send jobs).
    pub jobs_sqs: aws_sdk_sqs::Client,
    /// moto's SESv2.
    pub ses: aws_sdk_sesv2::Client,
    /// moto's EventBridge.
    pub events: aws_sdk_eventbridge::Client,
}

/// A service's client on one local server: its config built from the shared one, with
/// the server as its endpoint, then any further builder calls given
/// (`client!(aws_sdk_s3, &shared, url, force_path_style(true))`). The endpoint is set
/// on the service's own builder, so it wins over any `AWS_ENDPOINT_URL_*` around.
macro_rules! client {
    ($sdk:ident, $shared:expr, $url:expr $(, $call:ident($arg:expr))*) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($shared)
                .endpoint_url($url)
                $(.$call($arg))*
                .build(),
        )
    };
}

/// Every set-up client, on the servers' URLs: any credentials, one region.
pub async fn connect(urls: &Urls) -> Clients {
    std::env::set_var("AWS_ACCESS_KEY_ID", "local");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "local");
    std::env::set_var("AWS_REGION", REGION);
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let moto = &urls.moto;
    Clients {
        ddb: client!(aws_sdk_dynamodb, &shared, &urls.dynamodb),
        s3: client!(aws_sdk_s3, &shared, moto, force_path_style(true)),
        sqs: client!(aws_sdk_sqs, &shared, moto),
        jobs_sqs: client!(aws_sdk_sqs, &shared, &urls.fauxqs),
        ses: client!(aws_sdk_sesv2, &shared, moto),
        events: client!(aws_sdk_eventbridge, &shared, moto),
    }
}

/// SES: the report emails' sender domain is a verified identity (in Lambda, the
/// deployer verifies theirs; REPORT_SENDER names it). Sent messages stay readable in
/// moto (`GET /moto-api/data.json`, ses → RawMessage).
pub async fn verify_report_domain(ses: &aws_sdk_sesv2::Client) -> Result<()> {
    ses.create_email_identity()
        .email_identity(LOCAL_REPORT_DOMAIN)
        .send()
        .await
        .context("creating the SES identity for report emails")?;
    Ok(())
}
