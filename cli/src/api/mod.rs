//! The tenant API commands. They read `PREGON_API_URL` and `PREGON_API_KEY`; when unset,
//! the running local stack's (`.cache/local/stack.json`, written by `pregon-local up`).
//!
//! [`run`] prints the answer and picks the exit code; each command group builds its
//! requests in its own module (`campaign`, `account`, …), from the shared pieces in
//! `request` and the HTTP client in `crate::client`.

mod account;
mod admin;
mod analytics;
mod campaign;
mod dnc;
mod key;
mod message;
mod request;
mod settings;
mod template;
mod ticket;

pub use account::AccountCmd;
pub use admin::AdminCmd;
pub use analytics::AnalyticsArgs;
pub use campaign::CampaignCmd;
pub use dnc::DncCmd;
pub use key::KeyCmd;
pub use message::MessageCmd;
pub use settings::SettingsArgs;
pub use template::TemplateCmd;
pub use ticket::TicketCmd;

use crate::client::{Client, Failure};
use serde_json::Value;
use std::process::ExitCode;

/// One API command, of any group.
pub enum Cmd {
    Campaign(CampaignCmd),
    Account(AccountCmd),
    Template(TemplateCmd),
    Dnc(DncCmd),
    Key(KeyCmd),
    Message(MessageCmd),
    Ticket(TicketCmd),
    Settings(SettingsArgs),
    Analytics(AnalyticsArgs),
    Admin(AdminCmd),
}

/// Runs one command and prints its answer: pretty JSON, or a table for `campaign stats`
/// and `analytics` without `--json`. Exit 0 on success, 1 when the API refused (its
/// answer printed), 2 when it could not be asked.
pub fn run(cmd: Cmd) -> ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Cmd::Campaign(CampaignCmd::Watch { id, json }) = &cmd {
        return rt.block_on(campaign::watch(id, *json));
    }
    let render: Option<fn(&Value) -> String> = match &cmd {
        Cmd::Campaign(CampaignCmd::Stats { json: false, .. }) => {
            Some(pregon::model::kpi::text::campaign)
        }
        Cmd::Analytics(AnalyticsArgs { json: false, .. }) => {
            Some(pregon::model::kpi::text::analytics)
        }
        _ => None,
    };
    match rt.block_on(dispatch(cmd)) {
        Ok(v) => {
            match render {
                Some(r) => print!("{}", r(&v)),
                None => println!("{}", serde_json::to_string_pretty(&v).expect("json")),
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Refused(status, v)) => {
            eprintln!("pregon: the API answered {status}");
            println!("{}", serde_json::to_string_pretty(&v).expect("json"));
            ExitCode::from(1)
        }
        Err(Failure::Io(e)) => {
            eprintln!("pregon: {e}");
            ExitCode::from(2)
        }
    }
}

/// Hands the command to its group, with the tenant's client (the operator's for `admin`).
async fn dispatch(cmd: Cmd) -> Result<Value, Failure> {
    let tenant = Client::from_env;
    match cmd {
        Cmd::Campaign(c) => campaign::run(&tenant()?, c).await,
        Cmd::Account(c) => account::run(&tenant()?, c).await,
        Cmd::Template(c) => template::run(&tenant()?, c).await,
        Cmd::Dnc(c) => dnc::run(&tenant()?, c).await,
        Cmd::Key(c) => key::run(&tenant()?, c).await,
        Cmd::Message(c) => message::run(&tenant()?, c).await,
        Cmd::Ticket(c) => ticket::run(&tenant()?, c).await,
        Cmd::Settings(a) => settings::run(&tenant()?, a).await,
        Cmd::Analytics(a) => analytics::run(&tenant()?, a).await,
        Cmd::Admin(a) => admin::run(&Client::operator_from_env()?, a).await,
    }
}
