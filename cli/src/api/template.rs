//! `pregon template …`: record a message template, show one, list them, download the
//! empty spreadsheet for one.

use super::request::put;
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
    },
    Show {
        id: String,
    },
    List,
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
        } => {
            let mut b = Map::new();
            put(&mut b, "account_id", account_id);
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
            let bytes = c
                .download(&format!("/v1/templates/{id}/sheet?format={format}"))
                .await?;
            std::fs::write(&out, &bytes)
                .map_err(|e| Failure::Io(format!("cannot write {}: {e}", out.display())))?;
            Ok(
                json!({"template_id": id, "written": out.display().to_string(), "bytes": bytes.len()}),
            )
        }
        TemplateCmd::Show { id } => {
            c.call(Method::GET, &format!("/v1/templates/{id}"), None)
                .await
        }
        TemplateCmd::List => c.call(Method::GET, "/v1/templates", None).await,
    }
}
