//! What every Pregón function shares: one config loader, one store, one SQS batch
//! helper, one logging set-up. Business rules stay in the `pregon` crate.

pub mod accounts;
pub mod apikeys;
pub mod campaigns;
pub mod config;
pub mod error;
pub mod events;
pub mod messages;
pub mod metrics;
pub mod reports;
pub mod sqs;
pub mod statuses;
pub mod store;
pub mod tickets;
pub mod transport;

pub use error::Error;

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`).
pub fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}
