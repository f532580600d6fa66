//! `pregon template …`: record a message template, show one, list them (filtered),
//! preview one, download the empty spreadsheet for one, delete one.

use super::request::{put, query, seg};
use crate::client::{Client, Failure};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum TemplateCmd {
    /// Record a message template (body with {{1}}, {{2}}… placeholders); with --account,
    /// a WhatsApp template is registered at that account's provider for approval.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "whatsapp")]
        channel: String,
        #[arg(long)]
        language: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        body: String,
        #[arg(long)]
        header_text: Option<String>,
        /// The provider account it is registered with (WhatsApp: approval is per account).
        #[arg(long = "account")]
        account_id: Option<String>,
        /// The team it belongs to (campaigns with it take it).
        #[arg(long)]
        department: Option<String>,
        /// A sample value for each {{n}}, in order, for the provider's review (repeat).
        #[arg(long = "example")]
        examples: Vec<String>,
    },
    Show {
        id: String,
    },
    /// List templates, optionally only those of a status, channel, account or
    /// department, or whose name or body contains `--q`.
    List {
        #[arg(long, value_parser = ["pending", "approved", "rejected", "paused"])]
        status: Option<String>,
        #[arg(long, value_parser = ["whatsapp", "sms"])]
        channel: Option<String>,
        #[arg(long = "account")]
        account_id: Option<String>,
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        q: Option<String>,
    },
    /// The text exactly as a recipient would read it for these parameters (SMS: with
    /// its encoding and segments).
    Preview {
        id: String,
        /// One value per {{n}}, in order (repeat).
        #[arg(long = "param")]
        params: Vec<String>,
        /// An https image that replaces the template's image header.
        #[arg(long)]
        header_image: Option<String>,
    },
    /// Delete the template here and at its provider (refused while a campaign using it
    /// sends, is paused or scheduled).
    Delete {
        id: String,
    },
    /// Download the empty spreadsheet for a template (phone + parameter columns).
    Sheet {
        id: String,
        #[arg(long, default_value = "xlsx", value_parser = ["xlsx", "csv"])]
        format: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
}

/// The answer to one template command.
pub(super) async fn run(c: &Client, cmd: TemplateCmd) -> Result<Value, Failure> {
    match cmd {
        TemplateCmd::Create {
            name,
            channel,
            language,
            category,
            body,
            header_text,
            account_id,
            department,
            examples,
        } => {
            let mut b = Map::new();
            put(&mut b, "account_id", account_id);
            put(&mut b, "department", department);
            if !examples.is_empty() {
                b.insert("examples".into(), examples.into());
            }
            b.insert("name".into(), name.into());
            b.insert("channel".into(), channel.into());
            b.insert("body".into(), body.into());
            put(&mut b, "language", language);
            put(&mut b, "category", category);
            if let Some(t) = header_text {
                b.insert("header".into(), json!({"type": "text", "text": t}));
            }
            c.call(Method::POST, "/v1/templates", Some(Value::Object(b)))
                .await
        }
        TemplateCmd::Sheet { id, format, out } => {
            let path = format!("/v1/templates/{}/sheet?format={format}", seg(&id));
            let bytes = super::request::download_to(c, &path, &out).await?;
            Ok(json!({"template_id": id, "written": out.display().to_string(), "bytes": bytes}))
        }
        TemplateCmd::Show { id } => {
            c.call(Method::GET, &format!("/v1/templates/{id}"), None)
                .await
        }
        TemplateCmd::List {
            status,
            channel,
            account_id,
            department,
            q,
        } => {
            let pairs = [
                ("status", status),
                ("channel", channel),
                ("account_id", account_id),
                ("department", department),
                ("q", q),
            ];
            let path = format!("/v1/templates{}", query(&pairs));
            c.call(Method::GET, &path, None).await
        }
        TemplateCmd::Preview {
            id,
            params,
            header_image,
        } => {
            let mut b = Map::new();
            b.insert("params".into(), params.into());
            put(&mut b, "header_image", header_image);
            let path = format!("/v1/templates/{}/preview", seg(&id));
            c.call(Method::POST, &path, Some(Value::Object(b))).await
        }
        TemplateCmd::Delete { id } => {
            let path = format!("/v1/templates/{}", seg(&id));
            c.call(Method::DELETE, &path, None).await
        }
    }
}
