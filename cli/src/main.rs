//! `pregon`: check a spreadsheet offline, and drive the tenant API.
//!
//! Exit codes: 0 success (for `validate`: the file is valid), 1 the file is invalid
//! (including unreadable and unsupported files) or the API refused the request,
//! 2 usage or I/O errors.

mod api;
mod client;
mod results;

mod validate;
mod watch;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pregon",
    version,
    about = "Pregón: mass WhatsApp and SMS campaigns"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a spreadsheet offline with the same rules as the ingest function.
    Validate(validate::Args),
    /// Campaigns: create, upload a spreadsheet, send, pause, resume, cancel, watch, show, list.
    #[command(subcommand)]
    Campaign(api::CampaignCmd),
    /// Provider accounts: create, show, list.
    #[command(subcommand)]
    Account(api::AccountCmd),
    /// Message templates: create, show, list.
    #[command(subcommand)]
    Template(api::TemplateCmd),
    /// The do-not-contact list: add, remove, list, upload a dialer CSV.
    #[command(subcommand)]
    Dnc(api::DncCmd),
    /// Single messages: send, show.
    #[command(subcommand)]
    Message(api::MessageCmd),
    /// Tickets: list, show, reply, attend, close.
    #[command(subcommand)]
    Ticket(api::TicketCmd),
    /// KPIs over campaigns (account, department, campaign, created from/to).
    Analytics(api::AnalyticsArgs),
    /// The tenant's ticket settings (idle close, opt-out words): show or change.
    Settings(api::SettingsArgs),
    /// The tenant's API keys: create (with scopes), list, rotate, revoke.
    #[command(subcommand)]
    Key(api::KeyCmd),
    /// The operator's commands (the operator key, not a tenant's): tenants, report senders.
    #[command(subcommand)]
    Admin(api::AdminCmd),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Campaign(c) => api::run(api::Cmd::Campaign(c)),
        Command::Account(c) => api::run(api::Cmd::Account(c)),
        Command::Template(c) => api::run(api::Cmd::Template(c)),
        Command::Dnc(c) => api::run(api::Cmd::Dnc(c)),
        Command::Message(c) => api::run(api::Cmd::Message(c)),
        Command::Ticket(c) => api::run(api::Cmd::Ticket(c)),
        Command::Settings(a) => api::run(api::Cmd::Settings(a)),
        Command::Analytics(a) => api::run(api::Cmd::Analytics(a)),
        Command::Key(c) => api::run(api::Cmd::Key(c)),
        Command::Admin(a) => api::run(api::Cmd::Admin(a)),
    }
}
