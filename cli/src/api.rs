//! The tenant API commands. They read `PREGON_API_URL` and `PREGON_API_KEY`; when unset,
//! the running local stack's (`.cache/local/stack.json`, written by `pregon-local up`).

use crate::client::{upload_granted, Client, Failure};
use clap::Subcommand;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Subcommand)]
pub enum CampaignCmd {
    /// Create a campaign; prints it with its pre-signed upload URL.
    Create {
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
    },
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
    /// Follow a sending campaign with a live progress bar until it ends: exit 0 when
    /// `completed`, 1 on any other end state.
    Watch {
        id: String,
        /// One JSON object per update instead of the bar.
        #[arg(long)]
        json: bool,
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
}

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

pub enum Cmd {
    Campaign(CampaignCmd),
    Account(AccountCmd),
    Template(TemplateCmd),
    Dnc(DncCmd),
    Message(MessageCmd),
    Ticket(TicketCmd),
    Settings(SettingsArgs),
    Analytics(AnalyticsArgs),
    Admin(AdminCmd),
}

/// The operator's commands (`/v1/admin`, with the operator key: `PREGON_ADMIN_KEY`, or
/// the local stack's `admin_key`).
#[derive(Subcommand)]
pub enum AdminCmd {
    /// The addresses a tenant may send its report emails from.
    #[command(subcommand)]
    ReportSender(ReportSenderCmd),
}

#[derive(Subcommand)]
pub enum ReportSenderCmd {
    /// Let the tenant send reports from this address (verified in the deployment's SES).
    Approve {
        #[arg(long)]
        tenant: String,
        address: String,
    },
    /// Withdraw an approval (the tenant's reports then come from the deployment's sender).
    Revoke {
        #[arg(long)]
        tenant: String,
        address: String,
    },
    /// The addresses approved for a tenant.
    List {
        #[arg(long)]
        tenant: String,
    },
}

/// KPIs over the tenant's campaigns, filtered.
#[derive(clap::Args)]
pub struct AnalyticsArgs {
    #[arg(long = "account")]
    pub account_id: Option<String>,
    #[arg(long)]
    pub department: Option<String>,
    #[arg(long = "campaign")]
    pub campaign_id: Option<String>,
    /// Campaigns created at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Campaigns created before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long)]
    pub json: bool,
}

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
    /// Mark the ticket as taken by a person.
    Attend { id: String },
    /// Close the ticket (reason `agent`).
    Close { id: String },
}

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

#[derive(Subcommand)]
pub enum DncCmd {
    /// Add phones to the do-not-contact list (tenant-wide, or for one campaign).
    Add {
        phones: Vec<String>,
        #[arg(long = "campaign")]
        campaign_id: Option<String>,
    },
    /// Remove a phone (or its entry for one campaign).
    Remove {
        phone: String,
        #[arg(long = "campaign")]
        campaign_id: Option<String>,
    },
    /// List the entries.
    List {
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Upload a `phone;campaign` CSV, as contact-centre dialers export it.
    Upload {
        file: PathBuf,
        /// Apply the good lines and list the bad ones (default: a bad line applies nothing).
        #[arg(long)]
        skip_invalid: bool,
    },
}

pub fn run(cmd: Cmd) -> ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Cmd::Campaign(CampaignCmd::Watch { id, json }) = &cmd {
        return rt.block_on(async {
            match Client::from_env() {
                Ok(c) => crate::watch::run(&c, id, *json).await,
                Err(e) => {
                    eprintln!("pregon: {e:?}");
                    ExitCode::from(2)
                }
            }
        });
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

fn put(obj: &mut Map<String, Value>, k: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        obj.insert(k.into(), v.into());
    }
}

async fn dispatch(cmd: Cmd) -> Result<Value, Failure> {
    use reqwest::Method;
    if let Cmd::Admin(AdminCmd::ReportSender(r)) = cmd {
        let c = Client::operator_from_env()?;
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        return match r {
            ReportSenderCmd::Approve { tenant, address } => {
                c.call(
                    Method::PUT,
                    &format!(
                        "/v1/admin/tenants/{}/report-senders/{}",
                        enc(&tenant),
                        enc(&address)
                    ),
                    None,
                )
                .await
            }
            ReportSenderCmd::Revoke { tenant, address } => {
                c.call(
                    Method::DELETE,
                    &format!(
                        "/v1/admin/tenants/{}/report-senders/{}",
                        enc(&tenant),
                        enc(&address)
                    ),
                    None,
                )
                .await
            }
            ReportSenderCmd::List { tenant } => {
                c.call(
                    Method::GET,
                    &format!("/v1/admin/tenants/{}/report-senders", enc(&tenant)),
                    None,
                )
                .await
            }
        };
    }
    let c = Client::from_env()?;
    match cmd {
        Cmd::Campaign(CampaignCmd::Create {
            name,
            channel,
            account_id,
            template_id,
            department,
            wait_for_reply_hours,
            allow_duplicates,
            metadata,
            on_invalid_rows,
            send_at,
            report_email,
            max_sms_segments,
            resend_unreported,
            consent_confirmed,
        }) => {
            let mut b = Map::new();
            b.insert("name".into(), name.into());
            b.insert("channel".into(), channel.into());
            b.insert("account_id".into(), account_id.into());
            b.insert("consent_confirmed".into(), consent_confirmed.into());
            b.insert("allow_duplicates".into(), allow_duplicates.into());
            put(&mut b, "template_id", template_id);
            put(&mut b, "department", department);
            put(&mut b, "wait_for_reply_hours", wait_for_reply_hours);
            put(&mut b, "on_invalid_rows", on_invalid_rows);
            put(&mut b, "send_at", send_at);
            put(&mut b, "report_email", report_email);
            put(&mut b, "max_sms_segments", max_sms_segments);
            if resend_unreported {
                b.insert("resend_unreported".into(), true.into());
            }
            if !metadata.is_empty() {
                let fields: Result<Vec<Value>, Failure> = metadata
                    .iter()
                    .map(|m| {
                        m.parse::<pregon::validate::MetadataField>()
                            .map(|f| serde_json::to_value(f).expect("json"))
                            .map_err(Failure::Io)
                    })
                    .collect();
                b.insert("metadata".into(), Value::Array(fields?));
            }
            c.call(Method::POST, "/v1/campaigns", Some(Value::Object(b)))
                .await
        }
        Cmd::Campaign(CampaignCmd::HeaderImage { id, file }) => {
            let bytes = tokio::fs::read(&file)
                .await
                .map_err(|e| Failure::Io(format!("cannot read {}: {e}", file.display())))?;
            let path = format!("/v1/campaigns/{id}");
            upload_granted(&c, &format!("{path}/header-image"), bytes).await?;
            // Until the image's verdict (its content is checked when it lands).
            for _ in 0..120 {
                let v = c.call(Method::GET, &path, None).await?;
                if v["header_image_status"] != "awaiting" {
                    return Ok(json!({"campaign_id": id,
                        "header_image_status": v["header_image_status"],
                        "header_image_type": v["header_image_type"],
                        "header_image_error": v["header_image_error"]}));
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(Failure::Io(
                "the image was not checked within a minute".into(),
            ))
        }
        Cmd::Campaign(CampaignCmd::Upload { id, file, wait }) => {
            let bytes = tokio::fs::read(&file)
                .await
                .map_err(|e| Failure::Io(format!("cannot read {}: {e}", file.display())))?;
            let path = format!("/v1/campaigns/{id}");
            let before = c.call(Method::GET, &path, None).await?["validated_at"].clone();
            let target = upload_granted(&c, &format!("{path}/upload"), bytes).await?;
            if !wait {
                return Ok(
                    json!({"campaign_id": id, "upload_id": target["upload_id"], "uploaded": file.display().to_string()}),
                );
            }
            // Until this upload's verdict: validated again, and no longer validating.
            for _ in 0..240 {
                let v = c.call(Method::GET, &path, None).await?;
                let status = v["status"].as_str().unwrap_or_default();
                let fresh = v["validated_at"] != before && !v["validated_at"].is_null();
                if fresh && status != "awaiting_file" && status != "validating" {
                    return Ok(v);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(Failure::Io(
                "validation did not finish within 2 minutes".into(),
            ))
        }
        Cmd::Campaign(CampaignCmd::Send { id, at }) => {
            let body = match at {
                Some(t) => json!({ "send_at": t }),
                None => json!({}),
            };
            c.call(
                Method::POST,
                &format!("/v1/campaigns/{id}/send"),
                Some(body),
            )
            .await
        }
        Cmd::Campaign(CampaignCmd::Pause { id }) => {
            c.call(Method::POST, &format!("/v1/campaigns/{id}/pause"), None)
                .await
        }
        Cmd::Campaign(CampaignCmd::Resume { id }) => {
            c.call(Method::POST, &format!("/v1/campaigns/{id}/resume"), None)
                .await
        }
        Cmd::Campaign(CampaignCmd::Cancel { id }) => {
            c.call(Method::POST, &format!("/v1/campaigns/{id}/cancel"), None)
                .await
        }
        Cmd::Campaign(CampaignCmd::Unschedule { id }) => {
            c.call(
                Method::POST,
                &format!("/v1/campaigns/{id}/unschedule"),
                None,
            )
            .await
        }
        Cmd::Campaign(CampaignCmd::Watch { .. }) => {
            Err(Failure::Io("watch is run by `run`".into()))
        }
        Cmd::Campaign(CampaignCmd::Messages {
            id,
            status,
            limit,
            cursor,
        }) => {
            let q = query(&[
                ("status", status),
                ("limit", limit.map(|l| l.to_string())),
                ("cursor", cursor),
            ]);
            c.call(
                Method::GET,
                &format!("/v1/campaigns/{id}/messages{q}"),
                None,
            )
            .await
        }
        Cmd::Message(MessageCmd::Send {
            account_id,
            phone,
            template_id,
            params,
            text,
        }) => {
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
        Cmd::Message(MessageCmd::Show { id }) => {
            c.call(Method::GET, &format!("/v1/messages/{id}"), None)
                .await
        }
        Cmd::Dnc(DncCmd::Add {
            phones,
            campaign_id,
        }) => {
            c.call(
                Method::POST,
                "/v1/dnc",
                Some(json!({"phones": phones, "campaign_id": campaign_id})),
            )
            .await
        }
        Cmd::Dnc(DncCmd::Remove { phone, campaign_id }) => {
            let phone: String = form_urlencoded::byte_serialize(phone.as_bytes()).collect();
            let q = query(&[("campaign_id", campaign_id)]);
            c.call(Method::DELETE, &format!("/v1/dnc/{phone}{q}"), None)
                .await
                .map(|v| {
                    if v.is_null() {
                        json!({"removed": true})
                    } else {
                        v
                    }
                })
        }
        Cmd::Ticket(TicketCmd::List {
            status,
            campaign_id,
            department,
            limit,
            cursor,
        }) => {
            let qs = query(&[
                ("status", status),
                ("campaign_id", campaign_id),
                ("department", department),
                ("limit", limit.map(|l| l.to_string())),
                ("cursor", cursor),
            ]);
            c.call(Method::GET, &format!("/v1/tickets{qs}"), None).await
        }
        Cmd::Ticket(TicketCmd::Show { id }) => {
            c.call(Method::GET, &format!("/v1/tickets/{}", seg(&id)), None)
                .await
        }
        Cmd::Ticket(TicketCmd::Reply { id, text }) => {
            c.call(
                Method::POST,
                &format!("/v1/tickets/{}/reply", seg(&id)),
                Some(json!({ "text": text })),
            )
            .await
        }
        Cmd::Ticket(TicketCmd::Attend { id }) => {
            c.call(
                Method::POST,
                &format!("/v1/tickets/{}/attend", seg(&id)),
                None,
            )
            .await
        }
        Cmd::Ticket(TicketCmd::Close { id }) => {
            c.call(
                Method::POST,
                &format!("/v1/tickets/{}/close", seg(&id)),
                None,
            )
            .await
        }
        Cmd::Settings(SettingsArgs {
            idle_close_hours,
            opt_out_words,
            report_sender,
            default_country,
        }) => {
            if idle_close_hours.is_none()
                && opt_out_words.is_none()
                && report_sender.is_none()
                && default_country.is_none()
            {
                c.call(Method::GET, "/v1/settings", None).await
            } else {
                let mut body = Map::new();
                put(&mut body, "idle_close_hours", idle_close_hours);
                put(&mut body, "opt_out_words", opt_out_words);
                put(&mut body, "report_sender", report_sender);
                put(&mut body, "default_country", default_country);
                c.call(Method::PATCH, "/v1/settings", Some(Value::Object(body)))
                    .await
            }
        }
        Cmd::Dnc(DncCmd::List { limit, cursor }) => {
            let q = query(&[("limit", limit.map(|l| l.to_string())), ("cursor", cursor)]);
            c.call(Method::GET, &format!("/v1/dnc{q}"), None).await
        }
        Cmd::Dnc(DncCmd::Upload { file, skip_invalid }) => {
            let text = tokio::fs::read(&file)
                .await
                .map_err(|e| Failure::Io(format!("cannot read {}: {e}", file.display())))?;
            let path = if skip_invalid {
                "/v1/dnc?on_invalid_rows=skip"
            } else {
                "/v1/dnc"
            };
            c.call_raw(Method::POST, path, "text/csv", text).await
        }
        Cmd::Campaign(CampaignCmd::Results { id, format, out }) => {
            crate::results::run(&c, &id, &format, out).await
        }
        Cmd::Campaign(CampaignCmd::Stats { id, .. }) => {
            c.call(
                Method::GET,
                &format!("/v1/campaigns/{}/stats", seg(&id)),
                None,
            )
            .await
        }
        Cmd::Analytics(AnalyticsArgs {
            account_id,
            department,
            campaign_id,
            from,
            to,
            ..
        }) => {
            let qs = query(&[
                ("account_id", account_id),
                ("department", department),
                ("campaign_id", campaign_id),
                ("from", from),
                ("to", to),
            ]);
            c.call(Method::GET, &format!("/v1/analytics{qs}"), None)
                .await
        }
        Cmd::Campaign(CampaignCmd::Show { id }) => {
            c.call(Method::GET, &format!("/v1/campaigns/{id}"), None)
                .await
        }
        Cmd::Campaign(CampaignCmd::List {
            status,
            department,
            kind,
            limit,
            cursor,
        }) => {
            let qs = query(&[
                ("status", status),
                ("department", department),
                ("kind", kind),
                ("limit", limit.map(|l| l.to_string())),
                ("cursor", cursor),
            ]);
            c.call(Method::GET, &format!("/v1/campaigns{qs}"), None)
                .await
        }
        Cmd::Account(AccountCmd::Create {
            provider,
            channel,
            sender,
            default_country,
            rate,
            credentials,
        }) => {
            let mut b = Map::new();
            b.insert("provider".into(), provider.into());
            b.insert("channel".into(), channel.into());
            b.insert("sender".into(), sender.into());
            put(&mut b, "default_country", default_country);
            put(&mut b, "rate", rate);
            if let Some(cred) = credentials {
                let v: Value = serde_json::from_str(&cred)
                    .map_err(|e| Failure::Io(format!("--credentials is not JSON: {e}")))?;
                b.insert("credentials".into(), v);
            }
            c.call(Method::POST, "/v1/accounts", Some(Value::Object(b)))
                .await
        }
        Cmd::Account(AccountCmd::Show { id }) => {
            c.call(Method::GET, &format!("/v1/accounts/{id}"), None)
                .await
        }
        Cmd::Account(AccountCmd::List) => c.call(Method::GET, "/v1/accounts", None).await,
        Cmd::Template(TemplateCmd::Create {
            name,
            channel,
            language,
            category,
            body,
            header_text,
            account_id,
        }) => {
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
        Cmd::Template(TemplateCmd::Sheet { id, format, out }) => {
            let bytes = c
                .download(&format!("/v1/templates/{id}/sheet?format={format}"))
                .await?;
            std::fs::write(&out, &bytes)
                .map_err(|e| Failure::Io(format!("cannot write {}: {e}", out.display())))?;
            Ok(
                json!({"template_id": id, "written": out.display().to_string(), "bytes": bytes.len()}),
            )
        }
        Cmd::Template(TemplateCmd::Show { id }) => {
            c.call(Method::GET, &format!("/v1/templates/{id}"), None)
                .await
        }
        Cmd::Template(TemplateCmd::List) => c.call(Method::GET, "/v1/templates", None).await,
        Cmd::Admin(_) => unreachable!("operator commands are answered above"),
    }
}

/// `?k=v&…` of the parameters that are set, percent-encoded.
/// One path segment, percent-encoded.
fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, v);
            any = true;
        }
    }
    if any {
        format!("?{}", q.finish())
    } else {
        String::new()
    }
}
