//! `pregon account …`: register a provider account, show one, list them, change one,
//! replace its credentials.

use super::request::put;
use crate::client::{Client, Failure};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value};

#[derive(Subcommand)]
pub enum AccountCmd {
    /// Register a provider account (credentials go to Secrets Manager).
    Create {
        #[arg(long)]
        provider: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        sender: String,
        #[arg(long)]
        default_country: Option<String>,
        #[arg(long)]
        rate: Option<u32>,
        /// Provider credentials as a JSON object.
        #[arg(long)]
        credentials: Option<String>,
    },
    Show {
        id: String,
    },
    List,
    /// Change the account's name, description, rate, default country or (gateways) ports.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        rate: Option<u32>,
        #[arg(long)]
        default_country: Option<String>,
        /// Gateway ports: "0-3" or "0,2".
        #[arg(long)]
        ports: Option<String>,
    },
    /// Replace the account's credentials (rotation): the new ones are used within a minute.
    Credentials {
        id: String,
        /// The provider's new credentials as a JSON object.
        #[arg(long)]
        credentials: String,
    },
}

/// The answer to one account command.
pub(super) async fn run(c: &Client, cmd: AccountCmd) -> Result<Value, Failure> {
    match cmd {
        AccountCmd::Create {
            provider,
            channel,
            sender,
            default_country,
            rate,
            credentials,
        } => {
            let mut b = Map::new();
            b.insert("provider".into(), provider.into());
            b.insert("channel".into(), channel.into());
            b.insert("sender".into(), sender.into());
            put(&mut b, "default_country", default_country);
            put(&mut b, "rate", rate);
            if let Some(cred) = credentials {
                b.insert("credentials".into(), json_arg(&cred)?);
            }
            c.call(Method::POST, "/v1/accounts", Some(Value::Object(b)))
                .await
        }
        AccountCmd::Show { id } => {
            c.call(Method::GET, &format!("/v1/accounts/{id}"), None)
                .await
        }
        AccountCmd::List => c.call(Method::GET, "/v1/accounts", None).await,
        AccountCmd::Update {
            id,
            name,
            description,
            rate,
            default_country,
            ports,
        } => {
            let mut b = Map::new();
            put(&mut b, "name", name);
            put(&mut b, "description", description);
            put(&mut b, "rate", rate);
            put(&mut b, "default_country", default_country);
            put(&mut b, "ports", ports);
            let path = format!("/v1/accounts/{}", super::request::seg(&id));
            c.call(Method::PATCH, &path, Some(Value::Object(b))).await
        }
        AccountCmd::Credentials { id, credentials } => {
            let body = serde_json::json!({"credentials": json_arg(&credentials)?});
            let path = format!("/v1/accounts/{}/credentials", super::request::seg(&id));
            c.call(Method::PUT, &path, Some(body)).await
        }
    }
}

/// `--credentials`, read as JSON.
fn json_arg(cred: &str) -> Result<Value, Failure> {
    serde_json::from_str(cred).map_err(|e| Failure::Io(format!("--credentials is not JSON: {e}")))
}
