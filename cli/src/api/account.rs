//! `pregon account …`: register a provider account, show one, list them (filtered),
//! change one, disable or enable it, replace its credentials, delete it.

use super::request::{put, query, seg};
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
    /// List accounts, optionally only one provider's, channel's, or the enabled/disabled
    /// ones, or those whose name, description or sender contains `--q`.
    List {
        #[arg(long, value_parser = ["meta", "twilio", "gupshup", "sms_gateway"])]
        provider: Option<String>,
        #[arg(long, value_parser = ["whatsapp", "sms"])]
        channel: Option<String>,
        #[arg(long, value_parser = ["true", "false"])]
        enabled: Option<String>,
        #[arg(long)]
        q: Option<String>,
    },
    /// Disable the account: nothing is sent on it, its sending campaigns pause.
    Disable {
        id: String,
    },
    /// Enable it again: the campaigns disabling it paused resume.
    Enable {
        id: String,
    },
    /// Delete the account (refused while a campaign on it is sending, paused or
    /// scheduled); its credentials' secret is scheduled for deletion.
    Delete {
        id: String,
    },
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
        AccountCmd::List {
            provider,
            channel,
            enabled,
            q,
        } => {
            let pairs = [
                ("provider", provider),
                ("channel", channel),
                ("enabled", enabled),
                ("q", q),
            ];
            let path = format!("/v1/accounts{}", query(&pairs));
            c.call(Method::GET, &path, None).await
        }
        AccountCmd::Disable { id } => set_enabled(c, &id, false).await,
        AccountCmd::Enable { id } => set_enabled(c, &id, true).await,
        AccountCmd::Delete { id } => {
            let path = format!("/v1/accounts/{}", seg(&id));
            c.call(Method::DELETE, &path, None).await
        }
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
            let path = format!("/v1/accounts/{}", seg(&id));
            c.call(Method::PATCH, &path, Some(Value::Object(b))).await
        }
        AccountCmd::Credentials { id, credentials } => {
            let body = serde_json::json!({"credentials": json_arg(&credentials)?});
            let path = format!("/v1/accounts/{}/credentials", seg(&id));
            c.call(Method::PUT, &path, Some(body)).await
        }
    }
}

/// `PATCH /v1/accounts/{id} {"enabled": …}`.
async fn set_enabled(c: &Client, id: &str, enabled: bool) -> Result<Value, Failure> {
    let path = format!("/v1/accounts/{}", seg(id));
    let body = serde_json::json!({ "enabled": enabled });
    c.call(Method::PATCH, &path, Some(body)).await
}

/// `--credentials`, read as JSON.
fn json_arg(cred: &str) -> Result<Value, Failure> {
    serde_json::from_str(cred).map_err(|e| Failure::Io(format!("--credentials is not JSON: {e}")))
}
