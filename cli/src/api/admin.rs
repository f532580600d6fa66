//! `pregon admin …`: the operator's commands — tenants (made with their first API key,
//! listed, shown) and the addresses a tenant may send its report emails from.

use super::request::{query, seg};
use crate::client::{Client, Failure};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

/// The operator's commands (`/v1/admin`, with the operator key: `PREGON_ADMIN_KEY`, or
/// the local stack's `admin_key`).
#[derive(Subcommand)]
pub enum AdminCmd {
    /// Tenants: each made with its first API key (every scope), printed once.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// The addresses a tenant may send its report emails from.
    #[command(subcommand)]
    ReportSender(ReportSenderCmd),
}

#[derive(Subcommand)]
pub enum TenantCmd {
    /// A new tenant and its first API key (printed this once).
    Create {
        #[arg(long)]
        name: String,
        /// Its id (1–64 of a-z, 0-9, _ and -); default a new `ten_…`.
        #[arg(long)]
        id: Option<String>,
    },
    /// Every tenant, oldest first.
    List {
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// One tenant.
    Show { tenant: String },
    /// Every key of the tenant refused and its sending paused.
    Disable { tenant: String },
    /// Its keys work again and what disabling paused resumes.
    Enable { tenant: String },
    /// The tenant's limits and today's sent messages; with flags, set them
    /// (`none` removes a limit: the deployment's default, or no quota).
    Limits {
        tenant: String,
        /// Messages a UTC day across all its campaigns (or `none`).
        #[arg(long)]
        messages_per_day: Option<String>,
        /// Report emails a UTC day (or `none`).
        #[arg(long)]
        report_emails_per_day: Option<String>,
    },
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
    let r = match cmd {
        AdminCmd::Tenant(t) => return tenant(c, t).await,
        AdminCmd::ReportSender(r) => r,
    };
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

/// The answer to one tenant command.
async fn tenant(c: &Client, cmd: TenantCmd) -> Result<Value, Failure> {
    match cmd {
        TenantCmd::Create { name, id } => {
            let mut body = json!({"name": name});
            if let Some(id) = id {
                body["id"] = json!(id);
            }
            c.call(Method::POST, "/v1/admin/tenants", Some(body)).await
        }
        TenantCmd::List { limit, cursor } => {
            let q = query(&[("limit", limit.map(|l| l.to_string())), ("cursor", cursor)]);
            c.call(Method::GET, &format!("/v1/admin/tenants{q}"), None)
                .await
        }
        TenantCmd::Show { tenant } => {
            let path = format!("/v1/admin/tenants/{}", seg(&tenant));
            c.call(Method::GET, &path, None).await
        }
        TenantCmd::Disable { tenant } => {
            let path = format!("/v1/admin/tenants/{}/disable", seg(&tenant));
            c.call(Method::POST, &path, None).await
        }
        TenantCmd::Enable { tenant } => {
            let path = format!("/v1/admin/tenants/{}/enable", seg(&tenant));
            c.call(Method::POST, &path, None).await
        }
        TenantCmd::Limits {
            tenant,
            messages_per_day,
            report_emails_per_day,
        } => {
            let path = format!("/v1/admin/tenants/{}/limits", seg(&tenant));
            let mut body = serde_json::Map::new();
            for (k, v) in [
                ("messages_per_day", messages_per_day),
                ("report_emails_per_day", report_emails_per_day),
            ] {
                match v.as_deref() {
                    None => {}
                    Some("none") => {
                        body.insert(k.into(), Value::Null);
                    }
                    Some(n) => {
                        let n: u64 = n.parse().map_err(|_| {
                            Failure::Io(format!(
                                "--{} must be a number or none",
                                k.replace('_', "-")
                            ))
                        })?;
                        body.insert(k.into(), n.into());
                    }
                }
            }
            if body.is_empty() {
                c.call(Method::GET, &path, None).await
            } else {
                c.call(Method::PUT, &path, Some(Value::Object(body))).await
            }
        }
    }
}
