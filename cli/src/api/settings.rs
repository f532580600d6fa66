//! `pregon settings [flags]`: the tenant's settings; without flags it shows them, with
//! any it changes just those.

use super::request::put;
use crate::client::{Client, Failure};
use reqwest::Method;
use serde_json::{Map, Value};

/// Show the tenant's settings (tickets, opt-out words, report sender), or change them.
#[derive(clap::Args)]
pub struct SettingsArgs {
    /// Close a replied ticket after this many hours without activity (1–168).
    #[arg(long)]
    pub idle_close_hours: Option<u16>,
    /// Replace the opt-out words (comma-separated, e.g. "STOP,BAJA,NO MAS").
    #[arg(long, value_delimiter = ',')]
    pub opt_out_words: Option<Vec<String>>,
    /// The address report emails come from (one the operator approved for the tenant).
    #[arg(long)]
    pub report_sender: Option<String>,
    /// The country national numbers of do-not-contact files are read in (e.g. CL).
    #[arg(long)]
    pub default_country: Option<String>,
}

/// `GET /v1/settings` when no flag is given, else `PATCH` with the given ones.
pub(super) async fn run(c: &Client, a: SettingsArgs) -> Result<Value, Failure> {
    let SettingsArgs {
        idle_close_hours,
        opt_out_words,
        report_sender,
        default_country,
    } = a;
    if idle_close_hours.is_none()
        && opt_out_words.is_none()
        && report_sender.is_none()
        && default_country.is_none()
    {
        return c.call(Method::GET, "/v1/settings", None).await;
    }
    let mut body = Map::new();
    put(&mut body, "idle_close_hours", idle_close_hours);
    put(&mut body, "opt_out_words", opt_out_words);
    put(&mut body, "report_sender", report_sender);
    put(&mut body, "default_country", default_country);
    c.call(Method::PATCH, "/v1/settings", Some(Value::Object(body)))
        .await
}
