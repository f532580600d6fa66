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
use pregon::model::{Campaign, ResultsFile, RESULTS_COLUMNS};
use pregon::report::safe_cell;
use pregon_aws::config::Aws;
use pregon_aws::sqs::{for_each_record, Outcome};
use pregon_aws::store::{RecipientItem, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use tracing::{info, warn};

/// What the API puts on the results queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultsRequest {
    pub tenant: String,
    pub campaign: String,
    /// `csv` or `xlsx`.
    pub format: String,
    pub request_id: String,
}

const PAGE: i32 = 1_000;

pub struct Results {
    aws: Aws,
    store: Store,
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
    fn row(&mut self, cells: &[String]) -> Result<(), String> {
        match self {
            Sink::Csv(w) => w
                .write_record(cells.iter().map(|c| safe_cell(c).into_owned()))
                .map_err(|e| e.to_string()),
            Sink::Xlsx(wb, row) => {
                let ws = wb.worksheet_from_index(0).map_err(|e| e.to_string())?;
                for (col, c) in cells.iter().enumerate() {
                    // A string cell: shown as text, never run as a formula (no
                    // apostrophe needed, unlike CSV, where the reader guesses types).
                    ws.write_string(*row, col as u16, c)
                        .map_err(|e| e.to_string())?;
                }
                *row += 1;
                Ok(())
            }
        }
    }

    fn finish(self, path: &std::path::Path) -> Result<(), String> {
        match self {
            Sink::Csv(mut w) => w.flush().map_err(|e| e.to_string()),
            Sink::Xlsx(mut wb, _) => wb.save(path).map_err(|e| e.to_string()),
        }
    }
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
            aws,
        }
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        for_each_record(event, None, |m| async move {
            match serde_json::from_str::<ResultsRequest>(m.body.as_deref().unwrap_or("")) {
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
                    built_at: Some(pregon::model::now_rfc3339()),
                    rows: Some(rows),
                    reason: None,
                };
                match self.save(r, &f).await {
                    Ok(()) => {
                        info!(campaign = %r.campaign, format = %r.format, rows, seconds = started.elapsed().as_secs_f64(), "results built");
                        Outcome::Done
                    }
                    Err(e) => Outcome::Retry(e.to_string()),
                }
            }
            Err(Failure::Store(e)) => Outcome::Retry(e.to_string()),
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
                    Err(e) => Outcome::Retry(e.to_string()),
                }
            }
        }
    }

    /// Records the build's end on the campaign, if the request is still the latest.
    async fn save(&self, r: &ResultsRequest, f: &ResultsFile) -> Result<(), StoreError> {
        let attr = format!("results_{}", r.format);
        let item =
            serde_dynamo::to_attribute_value(f).map_err(|e| StoreError::Shape(e.to_string()))?;
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
            Err(e) => Err(StoreError::Dynamo(format!("{e:?}"))),
        }
    }

    /// Writes the file and uploads it; its key and row count.
    async fn write(&self, r: &ResultsRequest, c: &Campaign) -> Result<(String, u64), Failure> {
        let dir = tempfile::tempdir().map_err(|e| Failure::File(e.to_string()))?;
        let path = dir.path().join(format!("results.{}", r.format));
        let mut sink = match r.format.as_str() {
            "csv" => Sink::Csv(Box::new(
                csv::WriterBuilder::new()
                    .quote_style(csv::QuoteStyle::NonNumeric)
                    .from_writer(std::io::BufWriter::new(
                        std::fs::File::create(&path).map_err(|e| Failure::File(e.to_string()))?,
                    )),
            )),
            _ => {
                let mut wb = rust_xlsxwriter::Workbook::new();
                wb.add_worksheet_with_constant_memory()
                    .map_err(|e| Failure::File(e.to_string()))?;
                Sink::Xlsx(Box::new(wb), 0)
            }
        };
        sink.row(&header(c)).map_err(Failure::File)?;
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
            sink.row(&row(&r.tenant, c, &m)).map_err(Failure::File)?;
            rows += 1;
        }
        sink.finish(&path).map_err(Failure::File)?;
        let key = format!(
            "results/{}/{}/{}.{}",
            r.tenant, c.id, r.request_id, r.format
        );
        let body = aws_sdk_s3::primitives::ByteStream::from_path(&path)
            .await
            .map_err(|e| Failure::File(e.to_string()))?;
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
            .map_err(|e| Failure::Store(StoreError::Dynamo(format!("S3 PutObject: {e:?}"))))?;
        Ok((key, rows))
    }
}

enum Failure {
    /// Worth retrying (the store, S3).
    Store(StoreError),
    /// Writing the file failed (disk, a library error): recorded as `failed`.
    File(String),
}
