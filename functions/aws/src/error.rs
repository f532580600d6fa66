//! One error for everything the functions ask of AWS, named by the service that
//! failed, so a caller decides by kind: [`Error::retriable`] says whether the same
//! request can succeed later (a service that refused or did not answer), or never
//! will (an item that does not match its type, a missing setting).

use std::fmt::Debug;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("DynamoDB: {0}")]
    Dynamo(String),
    #[error("S3: {0}")]
    S3(String),
    #[error("SQS: {0}")]
    Sqs(String),
    #[error("SES: {0}")]
    Ses(String),
    #[error("Secrets Manager: {0}")]
    Secrets(String),
    #[error("EventBridge: {0}")]
    Events(String),
    /// A stored item, message or file that does not match its type.
    #[error("stored item does not match its type: {0}")]
    Shape(String),
    /// The function's own work failed: a file in its `/tmp`, a task it started.
    #[error("{0}")]
    Local(String),
    /// A setting the function needs is missing or wrong.
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether trying again later can succeed: a service's failure can pass; a shape
    /// or a configuration that is wrong stays wrong.
    pub fn retriable(&self) -> bool {
        !matches!(self, Error::Shape(_) | Error::Config(_))
    }

    /// A DynamoDB call's failure, with the SDK's detail.
    pub fn dynamo(e: impl Debug) -> Self {
        Error::Dynamo(format!("{e:?}"))
    }

    /// An S3 call's failure: what was asked (`PutObject`, `presign`), with the detail.
    pub fn s3(what: &str, e: impl Debug) -> Self {
        Error::S3(format!("{what}: {e:?}"))
    }

    /// An SQS call's failure: what was asked (`SendMessage`), with the detail.
    pub fn sqs(what: &str, e: impl Debug) -> Self {
        Error::Sqs(format!("{what}: {e:?}"))
    }

    /// A Secrets Manager call's failure.
    pub fn secrets(what: &str, e: impl Debug) -> Self {
        Error::Secrets(format!("{what}: {e:?}"))
    }

    /// A value that did not (de)serialise as its type.
    pub fn shape(e: impl std::fmt::Display) -> Self {
        Error::Shape(e.to_string())
    }
}
