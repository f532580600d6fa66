//! Results (SPEC §7): a request on the results queue `{tenant, campaign, format,
//! request_id}` → the campaign's results file in S3 (`results/{tenant}/{campaign}/
//! {request_id}.{csv|xlsx}`), then the campaign's `results_{format}` says `ready` with
//! its key (the API signs a fresh URL on each call).
//!
//! Rows come out in spreadsheet order: the 16 recipient shards are read a page at a
//! time (1,000 rows each) and merged by row, so memory holds at most one page per
//! shard whatever the campaign's size. CSV is written through a buffer to a temporary
//! file; XLSX by rust_xlsxwriter in constant-memory mode (each row goes to disk as it
//! is written). No cell can run as a formula: in CSV every cell goes through
//! `pregon::report::safe_cell` (one that starts with `=`, `+`, `-`, `@`, tab or carriage
//! return gets a leading `'`, as in the validation report — a `+56…` phone stays text
//! too); in XLSX every cell is a string cell.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use pregon::keys;
use pregon::model::{Campaign, ReportEmailState, ResultsFile, RESULTS_COLUMNS};
use pregon::report::safe_cell;
use pregon_aws::config::Aws;
use pregon_aws::metrics::Unit;
use pregon_aws::sqs::{for_each_record, Outcome};
use pregon_aws::store::{RecipientItem, Store};
use pregon_aws::Error as AwsError;
use std::collections::VecDeque;
use tracing::{info, warn};

pub mod email;

pub use pregon::queue::ResultsRequest;

const PAGE: i32 = 1_000;

pub struct Results {
    aws: Aws,
    store: Store,
    ses: aws_sdk_sesv2::Client,
}

/// One shard's rows, a page at a time.
struct Shard {
    pk: String,
    page: VecDeque<RecipientItem>,
    after: Option<String>,
    done: bool,
}

/// A results file being written, in either format.
enum Sink {
    Csv(Box<csv::Writer<std::io::BufWriter<std::fs::File>>>),
    Xlsx(Box<rust_xlsxwriter::Workbook>, u32),
}

impl Sink {
    fn row(&mut self, cells: &[String]) -> Result<(), Failure> {
        match self {
            Sink::Csv(w) => w
                .write_record(cells.iter().map(|c| safe_cell(c).into_owned()))
                .map_err(file),
            Sink::Xlsx(wb, row) => {
                let ws = wb.worksheet_from_index(0).map_err(file)?;
                for (col, c) in cells.iter().enumerate() {
                    // A string cell: shown as text, never run as a formula (no
                    // apostrophe needed, unlike CSV, where the reader guesses types).
                    ws.write_string(*row, col as u16, c).map_err(file)?;
                }
                *row += 1;
                Ok(())
            }
        }
    }

    fn finish(self, path: &std::path::Path) -> Result<(), Failure> {
        match self {
            Sink::Csv(mut w) => w.flush().map_err(file),
            Sink::Xlsx(mut wb, _) => wb.save(path).map_err(file),
        }
    }
}

/// A results file that could not be written.
fn file(e: impl std::fmt::Display) -> Failure {
    Failure::File(e.to_string())
}

/// A results row: the SPEC §7 columns, then the parameters and the metadata.
pub fn row(tenant: &str, c: &Campaign, m: &RecipientItem) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let sent = m.provider_message_id.is_some();
    let ticket = if sent && !c.single {
        pregon::model::campaign_ticket_id(&c.id, c.recipient_gen, m.row)
    } else {
        String::new()
    };
    let mut cells = vec![
        c.id.clone(),
        m.row.to_string(),
        m.phone.clone(),
        m.status.clone(),
        ticket,
        c.validated_at
            .clone()
            .unwrap_or_else(|| c.created_at.clone()),
        m.updated_at.clone().unwrap_or_default(),
        opt(&m.provider_message_id),
        opt(&m.error_code),
        opt(&m.error_message),
        opt(&m.delivered_at),
        opt(&m.read_at),
        opt(&m.replied_at),
    ];
    let _ = tenant;
    for i in 0..c.params {
        cells.push(m.params.get(i).cloned().unwrap_or_default());
    }
    for f in &c.settings.metadata {
        cells.push(match m.metadata.get(&f.name) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        });
    }
    cells
}

/// The header: the SPEC §7 columns, `param_1…param_n`, the metadata field names.
pub fn header(c: &Campaign) -> Vec<String> {
    let mut h: Vec<String> = RESULTS_COLUMNS.iter().map(|s| s.to_string()).collect();
    h.extend((1..=c.params).map(|i| format!("param_{i}")));
    h.extend(c.settings.metadata.iter().map(|f| f.name.clone()));
    h
}

impl Results {
    pub fn new(aws: Aws) -> Self {
        Results {
            store: Store::new(aws.dynamodb.clone(), aws.table.clone()),
            ses: aws_sdk_sesv2::Client::new(&aws.sdk_config),
            aws,
        }
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        for_each_record(event, None, |m| async move {
            match serde_json::from_str::<ResultsRequest>(m.body.as_deref().unwrap_or("")) {
                Ok(r) if r.report && r.format == "xlsx" => self.report(&r).await,
                Ok(r) if r.format == "csv" || r.format == "xlsx" => self.build(&r).await,
                Ok(r) => Outcome::Poison(format!("unknown results format {:?}", r.format)),
                Err(e) => Outcome::Poison(format!("not a results request ({e})")),
            }
        })
        .await
    }

    async fn build(&self, r: &ResultsRequest) -> Outcome {
        let Ok(Some(c)) = self.store.campaign(&r.tenant, &r.campaign).await else {
            return Outcome::Done;
        };
        let current = match r.format.as_str() {
            "csv" => &c.results_csv,
            _ => &c.results_xlsx,
        };
        if current.as_ref().map(|f| f.request_id.as_str()) != Some(r.request_id.as_str()) {
            // A newer request superseded this one.
            return Outcome::Done;
        }
        let started = std::time::Instant::now();
        match self.write(r, &c).await {
            Ok((key, rows)) => {
                let f = ResultsFile {
                    status: "ready".into(),
                    request_id: r.request_id.clone(),
                    requested_at: current
                        .as_ref()
                        .map(|f| f.requested_at.clone())
                        .unwrap_or_default(),
                    key: Some(key),
                    built_at: Some(pregon::clock::now_rfc3339()),
                    rows: Some(rows),
                    reason: None,
                };
                match self.save(r, &f).await {
                    Ok(()) => {
                        pregon_aws::metrics::emit(
                            &[("Function", "results")],
                            &[
                                ("ResultRows", rows as f64, Unit::Count),
                                (
                                    "ResultsBuildTime",
                                    started.elapsed().as_millis() as f64,
                                    Unit::Milliseconds,
                                ),
                            ],
                        );
                        info!(campaign = %r.campaign, format = %r.format, rows, seconds = started.elapsed().as_secs_f64(), "results built");
                        Outcome::Done
                    }
                    Err(e) => Outcome::from(e),
                }
            }
            Err(Failure::Store(e)) => Outcome::from(e),
            Err(Failure::File(why)) => {
                warn!(campaign = %r.campaign, reason = %why, "results not built");
                let f = ResultsFile {
                    status: "failed".into(),
                    request_id: r.request_id.clone(),
                    requested_at: current
                        .as_ref()
                        .map(|f| f.requested_at.clone())
                        .unwrap_or_default(),
                    key: None,
                    built_at: None,
                    rows: None,
                    reason: Some(why),
                };
                match self.save(r, &f).await {
                    Ok(()) => Outcome::Done,
                    Err(e) => Outcome::from(e),
                }
            }
        }
    }

    /// Records the build's end on the campaign, if the request is still the latest.
    async fn save(&self, r: &ResultsRequest, f: &ResultsFile) -> Result<(), AwsError> {
        let attr = format!("results_{}", r.format);
        let item = serde_dynamo::to_attribute_value(f).map_err(AwsError::shape)?;
        let (pk, sk) = keys::campaign(&r.tenant, &r.campaign);
        let res = self
            .aws
            .dynamodb
            .update_item()
            .table_name(&self.aws.table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk))
            .update_expression("SET #r = :f")
            .condition_expression("#r.request_id = :id")
            .expression_attribute_names("#r", attr)
            .expression_attribute_values(":f", item)
            .expression_attribute_values(
                ":id",
                aws_sdk_dynamodb::types::AttributeValue::S(r.request_id.clone()),
            )
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(AwsError::dynamo(e)),
        }
    }

    /// Writes the file and uploads it; its key and row count.
    async fn write(&self, r: &ResultsRequest, c: &Campaign) -> Result<(String, u64), Failure> {
        let (dir, path, rows) = self.write_local(r, c).await?;
        let key = format!(
            "results/{}/{}/{}.{}",
            r.tenant, c.id, r.request_id, r.format
        );
        let body = aws_sdk_s3::primitives::ByteStream::from_path(&path)
            .await
            .map_err(file)?;
        let content_type = match r.format.as_str() {
            "csv" => "text/csv; charset=utf-8",
            _ => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        };
        self.aws
            .s3
            .put_object()
            .bucket(&self.aws.bucket)
            .key(&key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::Store(AwsError::s3("PutObject", e)))?;
        drop(dir);
        Ok((key, rows))
    }

    /// Writes the file into a temporary directory (removed when dropped): the
    /// directory, the file's path and its row count.
    async fn write_local(
        &self,
        r: &ResultsRequest,
        c: &Campaign,
    ) -> Result<(tempfile::TempDir, std::path::PathBuf, u64), Failure> {
        let dir = tempfile::tempdir().map_err(file)?;
        let path = dir.path().join(format!("results.{}", r.format));
        let mut sink = match r.format.as_str() {
            "csv" => Sink::Csv(Box::new(
                csv::WriterBuilder::new()
                    .quote_style(csv::QuoteStyle::NonNumeric)
                    .from_writer(std::io::BufWriter::new(
                        std::fs::File::create(&path).map_err(file)?,
                    )),
            )),
            _ => {
                let mut wb = rust_xlsxwriter::Workbook::new();
                wb.add_worksheet_with_constant_memory().map_err(file)?;
                Sink::Xlsx(Box::new(wb), 0)
            }
        };
        sink.row(&header(c))?;
        let mut shards: Vec<Shard> = (0..keys::RECIPIENT_SHARDS)
            .map(|s| Shard {
                pk: keys::recipient_pk(&r.tenant, &c.id, c.recipient_gen, s),
                page: VecDeque::new(),
                after: None,
                done: false,
            })
            .collect();
        let mut rows = 0u64;
        loop {
            for s in shards.iter_mut() {
                if s.page.is_empty() && !s.done {
                    let (items, next) = self
                        .store
                        .list::<RecipientItem>(s.pk.clone(), "", false, PAGE, s.after.take(), &[])
                        .await
                        .map_err(Failure::Store)?;
                    s.page.extend(items);
                    s.done = next.is_none();
                    s.after = next;
                }
            }
            let Some(next) = shards
                .iter_mut()
                .filter(|s| !s.page.is_empty())
                .min_by_key(|s| s.page.front().map(|m| m.row))
            else {
                break;
            };
            let m = next.page.pop_front().expect("not empty");
            sink.row(&row(&r.tenant, c, &m))?;
            rows += 1;
        }
        sink.finish(&path)?;
        Ok((dir, path, rows))
    }

    /// The report email: the stats and the results file (attached under 10 MB, else
    /// linked), sent through SES; the outcome goes on the campaign.
    async fn report(&self, r: &ResultsRequest) -> Outcome {
        let c = match self.store.campaign(&r.tenant, &r.campaign).await {
            Ok(Some(c)) => c,
            Ok(None) => return Outcome::Done,
            Err(e) => return Outcome::from(e),
        };
        let Some(state) = c.report_email_state.clone().filter(|s| {
            s.status == pregon::model::ReportEmailStatus::Pending && s.request_id == r.request_id
        }) else {
            // Answered already, or superseded by a later request.
            return Outcome::Done;
        };
        let Some(to) = c.settings.report_email.clone() else {
            return Outcome::Done;
        };
        let from = match self.report_sender(&r.tenant).await {
            Ok(f) => f,
            Err(e) => return Outcome::from(e),
        };
        let (within_quota, quota, day) = match self.email_quota(&r.tenant, from.is_some()).await {
            Ok(q) => q,
            Err(e) => return Outcome::from(e),
        };
        let outcome = match from {
            None => Err(
                "no report sender: set the template parameter ReportSender (REPORT_SENDER) \
                 or the tenant's report_sender"
                    .to_string(),
            ),
            Some(_) if !within_quota => Err(format!(
                "the tenant's daily quota of {quota} report emails (UTC day {day}) is used up; \
                 the results are still available from GET /v1/campaigns/{{id}}/results"
            )),
            Some(from) => match self.compose_and_send(r, &c, &from, &to).await {
                Ok(attached) => Ok(attached),
                Err(Failure::Store(e)) => return Outcome::from(e),
                Err(Failure::File(why)) => Err(why),
            },
        };
        let now = pregon::clock::now_rfc3339();
        let done = match outcome {
            Ok(attached) => ReportEmailState {
                status: pregon::model::ReportEmailStatus::Sent,
                sent_at: Some(now),
                attached: Some(attached),
                reason: None,
                ..state
            },
            Err(why) => {
                warn!(campaign = %r.campaign, reason = %why, "report email not sent");
                ReportEmailState {
                    status: pregon::model::ReportEmailStatus::Failed,
                    reason: Some(why),
                    ..state
                }
            }
        };
        match self
            .store
            .settle_report(&r.tenant, &r.campaign, &r.request_id, &done)
            .await
        {
            Ok(_) => {
                let name = if done.status == pregon::model::ReportEmailStatus::Sent {
                    "ReportEmailsSent"
                } else {
                    "ReportEmailsFailed"
                };
                pregon_aws::metrics::emit(&[("Function", "results")], &[(name, 1.0, Unit::Count)]);
                info!(campaign = %r.campaign, status = done.status.as_str(), "report email");
                Outcome::Done
            }
            Err(e) => Outcome::from(e),
        }
    }

    /// Who sends a tenant's report emails: the tenant's own sender only while the
    /// operator approves it for this tenant (approvals can be revoked after it was set);
    /// else the deployment's (`REPORT_SENDER`); `None` when there is neither.
    async fn report_sender(&self, tenant: &str) -> Result<Option<String>, AwsError> {
        let settings = self.store.settings(tenant).await?;
        let own = match settings.report_sender {
            Some(a) if self.store.report_sender_approved(tenant, &a).await? => Some(a),
            Some(_) => {
                warn!(tenant = %tenant, "the tenant's report_sender is not approved: the deployment's sender is used");
                None
            }
            None => None,
        };
        Ok(own.or_else(|| {
            std::env::var("REPORT_SENDER")
                .ok()
                .filter(|s| !s.trim().is_empty())
        }))
    }

    /// One report email taken from the tenant's daily quota (the deployment's SES
    /// reputation is shared), when there is a sender (`sending`): whether it was within
    /// the quota, the quota, and the UTC day it counts in.
    async fn email_quota(
        &self,
        tenant: &str,
        sending: bool,
    ) -> Result<(bool, u32, String), AwsError> {
        let limits = self.store.limits(tenant).await?;
        let quota = limits.report_emails_per_day.unwrap_or_else(|| {
            std::env::var("REPORT_EMAILS_PER_DAY")
                .ok()
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(200)
        });
        let now_t = time::OffsetDateTime::now_utc();
        let day = format!(
            "{:04}-{:02}-{:02}",
            now_t.year(),
            u8::from(now_t.month()),
            now_t.day()
        );
        let within = !sending
            || self
                .store
                .take_email_quota(tenant, &day, quota, now_t.unix_timestamp() + 3 * 86_400)
                .await?;
        Ok((within, quota, day))
    }

    /// Builds the file and the message and sends it: whether the file went attached.
    /// `Failure::File` is a final refusal (SES's reason); `Failure::Store` is worth a retry.
    async fn compose_and_send(
        &self,
        r: &ResultsRequest,
        c: &Campaign,
        from: &str,
        to: &str,
    ) -> Result<bool, Failure> {
        let counters = self
            .store
            .counters(&r.tenant, &c.id)
            .await
            .map_err(Failure::Store)?;
        let stats = pregon::model::kpi::campaign_stats(c, &counters);
        let (dir, path, rows) = self.write_local(r, c).await?;
        let size = std::fs::metadata(&path).map_err(file)?.len();
        let results = if size < email::ATTACH_LIMIT {
            email::Results::Attached {
                name: format!("results-{}.xlsx", c.id),
                bytes: std::fs::read(&path).map_err(file)?,
            }
        } else {
            email::Results::Linked { size }
        };
        drop(dir);
        let attached = matches!(results, email::Results::Attached { .. });
        let api = std::env::var("WEBHOOK_BASE_URL").unwrap_or_default();
        let text = email::body(c, &stats, rows, &results, &api);
        let raw = email::compose(from, to, c, text, results)?;
        use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
        let content = EmailContent::builder()
            .raw(
                RawMessage::builder()
                    .data(aws_sdk_sesv2::primitives::Blob::new(raw))
                    .build()
                    .map_err(file)?,
            )
            .build();
        let res = self
            .ses
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(content)
            .send()
            .await;
        match res {
            Ok(_) => Ok(attached),
            Err(e) => match e.as_service_error() {
                // SES refused this message (unverified identity, account paused, a
                // malformed address): record why; another try would be refused too.
                Some(se)
                    if !se.is_too_many_requests_exception()
                        && !se.is_limit_exceeded_exception() =>
                {
                    let code = aws_sdk_sesv2::error::ProvideErrorMetadata::code(se)
                        .unwrap_or("SES error")
                        .to_string();
                    let msg = aws_sdk_sesv2::error::ProvideErrorMetadata::message(se)
                        .unwrap_or("")
                        .to_string();
                    Err(Failure::File(format!(
                        "SES refused the email: {code}: {msg}"
                    )))
                }
                _ => Err(Failure::Store(AwsError::Ses(format!("SendEmail: {e:?}")))),
            },
        }
    }
}

/// Why a results file or report email was not made, and so what follows.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Worth retrying (the store, S3).
    #[error(transparent)]
    Store(AwsError),
    /// Writing the file failed (disk, a library error): recorded as `failed`.
    #[error("{0}")]
    File(String),
}
