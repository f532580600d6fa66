//! `pregon ticket …`: list tickets, show one with its conversation, reply, send a
//! template (reopening a closed ticket), attend, close.

use super::request::{limit, query, seg};
use crate::client::{Client, Failure};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum TicketCmd {
    /// List tickets (newest campaigns' and inbound conversations), filtered.
    List {
        /// open or closed
        #[arg(long)]
        status: Option<String>,
        #[arg(long = "campaign")]
        campaign_id: Option<String>,
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// A ticket and its conversation.
    Show { id: String },
    /// Reply with free text (WhatsApp: within 24 hours of the customer's last message).
    Reply { id: String, text: String },
    /// Send an approved template of the ticket's account to its phone (after WhatsApp's
    /// 24-hour window; a closed ticket reopens as a new one).
    Template {
        id: String,
        #[arg(long = "template")]
        template_id: String,
        /// One per `{{n}}`, in order.
        #[arg(long = "param")]
        params: Vec<String>,
    },
    /// Mark the ticket as taken by a person.
    Attend { id: String },
    /// Close the ticket (reason `agent`).
    Close { id: String },
}

/// The answer to one ticket command: each is one request.
pub(super) async fn run(c: &Client, cmd: TicketCmd) -> Result<Value, Failure> {
    let (method, path, body) = match cmd {
        TicketCmd::List {
            status,
            campaign_id,
            department,
            limit: l,
            cursor,
        } => {
            let qs = query(&[
                ("status", status),
                ("campaign_id", campaign_id),
                ("department", department),
                ("limit", limit(l)),
                ("cursor", cursor),
            ]);
            (Method::GET, format!("/v1/tickets{qs}"), None)
        }
        TicketCmd::Show { id } => (Method::GET, ticket(&id, ""), None),
        TicketCmd::Reply { id, text } => (
            Method::POST,
            ticket(&id, "/reply"),
            Some(json!({ "text": text })),
        ),
        TicketCmd::Template {
            id,
            template_id,
            params,
        } => (
            Method::POST,
            ticket(&id, "/template"),
            Some(json!({ "template_id": template_id, "params": params })),
        ),
        TicketCmd::Attend { id } => (Method::POST, ticket(&id, "/attend"), None),
        TicketCmd::Close { id } => (Method::POST, ticket(&id, "/close"), None),
    };
    c.call(method, &path, body).await
}

/// `/v1/tickets/ID` and what follows it, the id percent-encoded.
fn ticket(id: &str, rest: &str) -> String {
    format!("/v1/tickets/{}{rest}", seg(id))
}
