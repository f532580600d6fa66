//! `pregon message …`: send one message, show one.

use super::request::put;
use crate::client::{Client, Failure};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Map, Value};

#[derive(Subcommand)]
pub enum MessageCmd {
    /// Send one message: a template with its parameters, or (SMS) a text.
    Send {
        #[arg(long = "account")]
        account_id: String,
        #[arg(long)]
        phone: String,
        #[arg(long = "template")]
        template_id: Option<String>,
        /// `{{1}}`, `{{2}}`… in order; repeat for each.
        #[arg(long = "param")]
        params: Vec<String>,
        #[arg(long, conflicts_with = "template_id")]
        text: Option<String>,
    },
    /// A message: status, provider id, error.
    Show { id: String },
}

/// The answer to one message command.
pub(super) async fn run(c: &Client, cmd: MessageCmd) -> Result<Value, Failure> {
    match cmd {
        MessageCmd::Send {
            account_id,
            phone,
            template_id,
            params,
            text,
        } => {
            let mut b = Map::new();
            b.insert("account_id".into(), account_id.into());
            b.insert("phone".into(), phone.into());
            put(&mut b, "template_id", template_id);
            put(&mut b, "text", text);
            if !params.is_empty() {
                b.insert("params".into(), json!(params));
            }
            c.call(Method::POST, "/v1/messages", Some(Value::Object(b)))
                .await
        }
        MessageCmd::Show { id } => {
            c.call(Method::GET, &format!("/v1/messages/{id}"), None)
                .await
        }
    }
}
