//! The one config loader: AWS clients and the resource names `template.yaml` gives each
//! function. In Lambda no endpoint is set; the local stack sets
//! `AWS_ENDPOINT_URL_<SERVICE>` to its loopback servers.

use std::env;

#[derive(Clone)]
pub struct Aws {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub table: String,
    pub bucket: String,
    /// Prefix for secrets this stack creates (`pregon/{stack}/`).
    pub secret_prefix: String,
    /// The loaded AWS configuration, for a function that needs one more client.
    pub sdk_config: aws_config::SdkConfig,
}

/// The local stack's endpoint for a service (`AWS_ENDPOINT_URL_<SERVICE>`), if set.
pub fn endpoint(service: &str) -> Option<String> {
    env::var(format!("AWS_ENDPOINT_URL_{service}"))
        .ok()
        .filter(|s| !s.is_empty())
}

/// A required environment variable, with an error that names it.
pub fn required(name: &str) -> Result<String, crate::Error> {
    env::var(name).map_err(|_| {
        crate::Error::Config(format!(
            "environment variable {name} is not set (see template.yaml)"
        ))
    })
}

impl Aws {
    pub async fn from_env() -> Result<Self, crate::Error> {
        // The SDK reads `AWS_ENDPOINT_URL_<SERVICE>` itself (the local stack's servers);
        // S3 on a local endpoint wants path-style addresses (no bucket subdomains).
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let s3 = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(endpoint("S3").is_some())
            .build();
        Ok(Aws {
            sqs: aws_sdk_sqs::Client::new(&shared),
            dynamodb: aws_sdk_dynamodb::Client::new(&shared),
            s3: aws_sdk_s3::Client::from_conf(s3),
            secrets: aws_sdk_secretsmanager::Client::new(&shared),
            table: required("TABLE_NAME")?,
            bucket: required("BUCKET_NAME")?,
            secret_prefix: env::var("SECRET_PREFIX").unwrap_or_else(|_| "pregon/".into()),
            sdk_config: shared,
        })
    }
}

/// The spreadsheet limits of SPEC §4 (100 MB, 1,000,000 data rows by default), or the
/// `MAX_FILE_BYTES` / `MAX_DATA_ROWS` that template.yaml gives the ingest and API functions.
pub fn file_limits() -> pregon::validate::Limits {
    let mut l = pregon::validate::Limits::default();
    let var = |k: &str| {
        env::var(k)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| *v > 0)
    };
    if let Some(b) = var("MAX_FILE_BYTES") {
        l.max_bytes = b;
    }
    if let Some(r) = var("MAX_DATA_ROWS") {
        l.max_rows = r;
    }
    l
}
