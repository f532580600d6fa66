//! `pregon campaign …`: create a campaign, upload its spreadsheet and header image, send,
//! pause, resume, cancel or unschedule it, and read it back (show, messages, stats,
//! list). `watch` and `results` live in their own files (`crate::watch`,
//! `crate::results`): they follow the campaign over time rather than answer once.

use super::request::{limit, poll, put, query, read_local, seg};
use crate::client::{upload_granted, Client, Failure};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum CampaignCmd {
    /// Create a campaign; prints it with its pre-signed upload URL.
    Create(CreateArgs),
    /// Upload a spreadsheet to a campaign (a new pre-signed URL each time).
    Upload {
        id: String,
        file: PathBuf,
        /// Wait until validation ends and print the campaign.
        #[arg(long)]
        wait: bool,
    },
    /// Upload the campaign's own header image (PNG or JPEG, at most 5 MB; checked by
    /// content) and wait for its verdict.
    HeaderImage { id: String, file: PathBuf },
    /// Show a campaign: status, counts, first 100 problems, report link, progress.
    Show { id: String },
    /// Start sending now, or at a time (`--at 2026-12-01T09:00:00-03:00`: scheduled).
    Send {
        id: String,
        #[arg(long = "at")]
        at: Option<String>,
    },
    /// Stop enqueuing (messages already queued still go out).
    Pause { id: String },
    /// Continue from where dispatch stopped.
    Resume { id: String },
    /// Cancel: every message not sent yet becomes `skipped`.
    Cancel { id: String },
    /// A scheduled campaign back to `loaded` (it will not start by itself).
    Unschedule { id: String },
    /// A new campaign with this one's settings, awaiting its file (re-run).
    Clone {
        id: String,
        /// Its name (default: this one's and " (copia)").
        #[arg(long)]
        name: Option<String>,
    },
    /// Follow a sending campaign with a live progress bar until it ends: exit 0 when
    /// `completed`, 1 on any other end state.
    Watch {
        id: String,
        /// One JSON object per update instead of the bar.
        #[arg(long)]
        json: bool,
    },
    /// Download the empty spreadsheet for the campaign: the phone, its template's
    /// parameters (or `message`), then its metadata columns.
    Sheet {
        id: String,
        #[arg(long, default_value = "xlsx", value_parser = ["xlsx", "csv"])]
        format: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Download the campaign's results (SPEC §7) once it has ended: CSV or XLSX.
    Results {
        id: String,
        #[arg(long, default_value = "csv", value_parser = ["csv", "xlsx"])]
        format: String,
        /// Where to write it (default: ID.csv / ID.xlsx).
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
    },
    /// The campaign's KPIs (SPEC §6): counts, the five rates, tickets; a table, or `--json`.
    Stats {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The campaign's messages: phone, status, provider id, error.
    Messages {
        id: String,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// List campaigns, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        department: Option<String>,
        /// campaign (default), message, reply or all: the hidden one-message campaigns
        /// of single sends and ticket replies only when asked for.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
}

/// The flags of `pregon campaign create` (a struct of their own so that the body is
/// built in one function).
#[derive(clap::Args)]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "whatsapp")]
    channel: String,
    #[arg(long = "account")]
    account_id: String,
    #[arg(long = "template")]
    template_id: Option<String>,
    #[arg(long)]
    department: Option<String>,
    #[arg(long)]
    wait_for_reply_hours: Option<u8>,
    #[arg(long)]
    allow_duplicates: bool,
    /// NAME:TYPE (text, paragraph, yes_no); repeat for each field.
    #[arg(long = "metadata")]
    metadata: Vec<String>,
    #[arg(long)]
    on_invalid_rows: Option<String>,
    #[arg(long)]
    send_at: Option<String>,
    #[arg(long)]
    report_email: Option<String>,
    /// SMS: warn about messages over this many segments (1–10, default 3).
    #[arg(long)]
    max_sms_segments: Option<u8>,
    /// Send once more a message whose answer was lost and that Meta or Twilio never
    /// reported (risk: a lost callback means the recipient gets it twice).
    #[arg(long)]
    resend_unreported: bool,
    /// Confirm the recipients agreed to be contacted (required).
    #[arg(long)]
    consent_confirmed: bool,
}

/// The answer to one campaign command (all but `watch`, which [`watch`] runs).
pub(super) async fn run(c: &Client, cmd: CampaignCmd) -> Result<Value, Failure> {
    match cmd {
        CampaignCmd::Create(a) => {
            c.call(Method::POST, "/v1/campaigns", Some(create_body(a)?))
                .await
        }
        CampaignCmd::Upload { id, file, wait } => upload(c, &id, &file, wait).await,
        CampaignCmd::HeaderImage { id, file } => header_image(c, &id, &file).await,
        CampaignCmd::Show { id } => {
            c.call(Method::GET, &format!("/v1/campaigns/{id}"), None)
                .await
        }
        CampaignCmd::Send { id, at } => {
            let body = match at {
                Some(t) => json!({ "send_at": t }),
                None => json!({}),
            };
            action(c, &id, "send", Some(body)).await
        }
        CampaignCmd::Pause { id } => action(c, &id, "pause", None).await,
        CampaignCmd::Resume { id } => action(c, &id, "resume", None).await,
        CampaignCmd::Cancel { id } => action(c, &id, "cancel", None).await,
        CampaignCmd::Unschedule { id } => action(c, &id, "unschedule", None).await,
        CampaignCmd::Clone { id, name } => {
            let body = match name {
                Some(n) => json!({ "name": n }),
                None => json!({}),
            };
            c.call(
                Method::POST,
                &format!("/v1/campaigns/{}/clone", seg(&id)),
                Some(body),
            )
            .await
        }
        CampaignCmd::Watch { .. } => Err(Failure::Io("watch is run by `run`".into())),
        CampaignCmd::Results { id, format, out } => crate::results::run(c, &id, &format, out).await,
        CampaignCmd::Sheet { id, format, out } => {
            let path = format!("/v1/campaigns/{}/sheet?format={format}", seg(&id));
            let bytes = super::request::download_to(c, &path, &out).await?;
            Ok(json!({"campaign_id": id, "written": out.display().to_string(), "bytes": bytes}))
        }
        CampaignCmd::Stats { id, .. } => {
            c.call(
                Method::GET,
                &format!("/v1/campaigns/{}/stats", seg(&id)),
                None,
            )
            .await
        }
        CampaignCmd::Messages {
            id,
            status,
            limit: l,
            cursor,
        } => {
            let q = query(&[("status", status), ("limit", limit(l)), ("cursor", cursor)]);
            c.call(
                Method::GET,
                &format!("/v1/campaigns/{id}/messages{q}"),
                None,
            )
            .await
        }
        CampaignCmd::List {
            status,
            department,
            kind,
            limit: l,
            cursor,
        } => {
            let qs = query(&[
                ("status", status),
                ("department", department),
                ("kind", kind),
                ("limit", limit(l)),
                ("cursor", cursor),
            ]);
            c.call(Method::GET, &format!("/v1/campaigns{qs}"), None)
                .await
        }
    }
}

/// `pregon campaign watch ID`: a live bar rather than one answer, so it prints and picks
/// its exit code itself ([`crate::watch::run`]).
pub(super) async fn watch(id: &str, json: bool) -> ExitCode {
    match Client::from_env() {
        Ok(c) => crate::watch::run(&c, id, json).await,
        Err(e) => {
            eprintln!("pregon: {e:?}");
            ExitCode::from(2)
        }
    }
}

/// `POST /v1/campaigns/ID/VERB`: send, pause, resume, cancel, unschedule.
async fn action(c: &Client, id: &str, verb: &str, body: Option<Value>) -> Result<Value, Failure> {
    c.call(Method::POST, &format!("/v1/campaigns/{id}/{verb}"), body)
        .await
}

/// The body of `POST /v1/campaigns`: the flags given, and each `--metadata` parsed
/// here, so that a malformed one is refused before anything is sent.
fn create_body(a: CreateArgs) -> Result<Value, Failure> {
    let mut b = Map::new();
    b.insert("name".into(), a.name.into());
    b.insert("channel".into(), a.channel.into());
    b.insert("account_id".into(), a.account_id.into());
    b.insert("consent_confirmed".into(), a.consent_confirmed.into());
    b.insert("allow_duplicates".into(), a.allow_duplicates.into());
    put(&mut b, "template_id", a.template_id);
    put(&mut b, "department", a.department);
    put(&mut b, "wait_for_reply_hours", a.wait_for_reply_hours);
    put(&mut b, "on_invalid_rows", a.on_invalid_rows);
    put(&mut b, "send_at", a.send_at);
    put(&mut b, "report_email", a.report_email);
    put(&mut b, "max_sms_segments", a.max_sms_segments);
    if a.resend_unreported {
        b.insert("resend_unreported".into(), true.into());
    }
    if !a.metadata.is_empty() {
        let fields: Result<Vec<Value>, Failure> = a
            .metadata
            .iter()
            .map(|m| {
                m.parse::<pregon::validate::MetadataField>()
                    .map(|f| serde_json::to_value(f).expect("json"))
                    .map_err(Failure::Io)
            })
            .collect();
        b.insert("metadata".into(), Value::Array(fields?));
    }
    Ok(Value::Object(b))
}

/// `pregon campaign upload ID FILE [--wait]`: the spreadsheet through a pre-signed PUT;
/// with `--wait`, the campaign once this upload has its verdict.
async fn upload(c: &Client, id: &str, file: &Path, wait: bool) -> Result<Value, Failure> {
    let bytes = read_local(file).await?;
    let path = format!("/v1/campaigns/{id}");
    let before = c.call(Method::GET, &path, None).await?["validated_at"].clone();
    let target = upload_granted(c, &format!("{path}/upload"), bytes).await?;
    if !wait {
        return Ok(
            json!({"campaign_id": id, "upload_id": target["upload_id"], "uploaded": file.display().to_string()}),
        );
    }
    // Until this upload's verdict: validated again, and no longer validating.
    poll(
        c,
        &path,
        240,
        "validation did not finish within 2 minutes",
        |v| {
            let status = v["status"].as_str().unwrap_or_default();
            let fresh = v["validated_at"] != before && !v["validated_at"].is_null();
            fresh && status != "awaiting_file" && status != "validating"
        },
    )
    .await
}

/// `pregon campaign header-image ID FILE`: the image through a pre-signed PUT, then
/// its verdict (its content is checked when it lands).
async fn header_image(c: &Client, id: &str, file: &Path) -> Result<Value, Failure> {
    let bytes = read_local(file).await?;
    let path = format!("/v1/campaigns/{id}");
    upload_granted(c, &format!("{path}/header-image"), bytes).await?;
    let v = poll(
        c,
        &path,
        120,
        "the image was not checked within a minute",
        |v| v["header_image_status"] != "awaiting",
    )
    .await?;
    Ok(json!({"campaign_id": id,
        "header_image_status": v["header_image_status"],
        "header_image_type": v["header_image_type"],
        "header_image_error": v["header_image_error"]}))
}
