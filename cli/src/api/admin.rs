//! `pregon admin report-sender …`: the operator approves, revokes and lists the
//! addresses a tenant may send its report emails from.

use super::request::seg;
use crate::client::{Client, Failure};
use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

/// The operator's commands (`/v1/admin`, with the operator key: `PREGON_ADMIN_KEY`, or
/// the local stack's `admin_key`).
#[derive(Subcommand)]
pub enum AdminCmd {
    /// The addresses a tenant may send its report emails from.
    #[command(subcommand)]
    ReportSender(ReportSenderCmd),
}

#[derive(Subcommand)]
pub enum ReportSenderCmd {
    /// Let the tenant send reports from this address (verified in the deployment's SES).
    Approve {
        #[arg(long)]
        tenant: String,
        address: String,
    },
    /// Withdraw an approval (the tenant's reports then come from the deployment's sender).
    Revoke {
        #[arg(long)]
        tenant: String,
        address: String,
    },
    /// The addresses approved for a tenant.
    List {
        #[arg(long)]
        tenant: String,
    },
}

/// The answer to one operator command, asked with the operator's client `c`.
pub(super) async fn run(c: &Client, cmd: AdminCmd) -> Result<Value, Failure> {
    let AdminCmd::ReportSender(r) = cmd;
    let (method, path) = match r {
        ReportSenderCmd::Approve { tenant, address } => (Method::PUT, sender(&tenant, &address)),
        ReportSenderCmd::Revoke { tenant, address } => (Method::DELETE, sender(&tenant, &address)),
        ReportSenderCmd::List { tenant } => (Method::GET, senders(&tenant)),
    };
    c.call(method, &path, None).await
}

/// `/v1/admin/tenants/T/report-senders`, the tenant percent-encoded.
fn senders(tenant: &str) -> String {
    format!("/v1/admin/tenants/{}/report-senders", seg(tenant))
}

/// One approved address of a tenant, both percent-encoded.
fn sender(tenant: &str, address: &str) -> String {
    format!("{}/{}", senders(tenant), seg(address))
}
