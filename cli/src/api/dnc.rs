//! `pregon dnc …`: the do-not-contact list: add and remove phones, list the entries,
//! upload a dialer's `phone;campaign` CSV.

use super::request::{limit, query, read_local, seg};
use crate::client::{Client, Failure};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DncCmd {
    /// Add phones to the do-not-contact list (tenant-wide, or for one campaign).
    Add {
        phones: Vec<String>,
        #[arg(long = "campaign")]
        campaign_id: Option<String>,
    },
    /// Remove a phone (or its entry for one campaign).
    Remove {
        phone: String,
        #[arg(long = "campaign")]
        campaign_id: Option<String>,
    },
    /// List the entries.
    List {
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Upload a `phone;campaign` CSV, as contact-centre dialers export it.
    Upload {
        file: PathBuf,
        /// Apply the good lines and list the bad ones (default: a bad line applies nothing).
        #[arg(long)]
        skip_invalid: bool,
    },
}

/// The answer to one do-not-contact command.
pub(super) async fn run(c: &Client, cmd: DncCmd) -> Result<Value, Failure> {
    match cmd {
        DncCmd::Add {
            phones,
            campaign_id,
        } => {
            c.call(
                Method::POST,
                "/v1/dnc",
                Some(json!({"phones": phones, "campaign_id": campaign_id})),
            )
            .await
        }
        DncCmd::Remove { phone, campaign_id } => {
            let q = query(&[("campaign_id", campaign_id)]);
            c.call(Method::DELETE, &format!("/v1/dnc/{}{q}", seg(&phone)), None)
                .await
                .map(|v| {
                    if v.is_null() {
                        json!({"removed": true})
                    } else {
                        v
                    }
                })
        }
        DncCmd::List { limit: l, cursor } => {
            let q = query(&[("limit", limit(l)), ("cursor", cursor)]);
            c.call(Method::GET, &format!("/v1/dnc{q}"), None).await
        }
        DncCmd::Upload { file, skip_invalid } => {
            let text = read_local(&file).await?;
            let path = if skip_invalid {
                "/v1/dnc?on_invalid_rows=skip"
            } else {
                "/v1/dnc"
            };
            c.call_raw(Method::POST, path, "text/csv", text).await
        }
    }
}
