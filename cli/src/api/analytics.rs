//! `pregon analytics [filters]`: the KPIs over the tenant's campaigns (printed as a table
//! by `super::run` unless `--json`).

use super::request::query;
use crate::client::{Client, Failure};
use reqwest::Method;
use serde_json::Value;

/// KPIs over the tenant's campaigns, filtered.
#[derive(clap::Args)]
pub struct AnalyticsArgs {
    #[arg(long = "account")]
    pub account_id: Option<String>,
    #[arg(long)]
    pub department: Option<String>,
    #[arg(long = "campaign")]
    pub campaign_id: Option<String>,
    /// Campaigns created at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Campaigns created before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// `GET /v1/analytics` with the filters that are set.
pub(super) async fn run(c: &Client, a: AnalyticsArgs) -> Result<Value, Failure> {
    let qs = query(&[
        ("account_id", a.account_id),
        ("department", a.department),
        ("campaign_id", a.campaign_id),
        ("from", a.from),
        ("to", a.to),
    ]);
    c.call(Method::GET, &format!("/v1/analytics{qs}"), None)
        .await
}
