//! `pregon key …`: the tenant's API keys — made with a name and scopes (the secret is
//! printed once), listed (never the secret), rotated and revoked.

use super::request::seg;
use crate::client::{Client, Failure};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum KeyCmd {
    /// A new key; its secret is printed this once.
    Create {
        /// What the key is for ("supervisor Ana", "console").
        #[arg(long)]
        name: String,
        /// A scope it holds (repeat): read, campaigns:write, send, tickets:write,
        /// settings:write, keys:admin.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// When it stops working (RFC 3339, e.g. 2027-01-01T00:00:00Z).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// The tenant's keys (never their secrets).
    List,
    /// A new secret for the key (printed this once); the old one stops working.
    Rotate { id: String },
    /// The key stops working.
    Revoke { id: String },
}

/// The answer to one key command.
pub(super) async fn run(c: &Client, cmd: KeyCmd) -> Result<Value, Failure> {
    match cmd {
        KeyCmd::Create {
            name,
            scopes,
            expires_at,
        } => {
            let mut body = json!({"name": name, "scopes": scopes});
            if let Some(e) = expires_at {
                body["expires_at"] = json!(e);
            }
            c.call(Method::POST, "/v1/keys", Some(body)).await
        }
        KeyCmd::List => c.call(Method::GET, "/v1/keys", None).await,
        KeyCmd::Rotate { id } => {
            let path = format!("/v1/keys/{}/rotate", seg(&id));
            c.call(Method::POST, &path, None).await
        }
        KeyCmd::Revoke { id } => {
            let path = format!("/v1/keys/{}", seg(&id));
            c.call(Method::DELETE, &path, None).await
        }
    }
}
