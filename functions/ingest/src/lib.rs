//! The ingest function: for each S3 upload event, validate the spreadsheet with the
//! library's rules, store the recipients, write the problem report, and move the
//! campaign to `loaded` or `invalid`.
//!
//! - `s3:TestEvent` and keys outside `uploads/{tenant}/{campaign}/…` are ignored.
//! - The same upload (entity tag) is validated once, however often its event arrives.
//! - A key naming an unknown campaign, another tenant's campaign, or a campaign that is
//!   already sending changes nothing and is logged.
//! - A re-upload replaces the recipient set: rows go to a new generation, which becomes
//!   current when validation ends; the previous generation is then deleted.
//! - Bad files end as `invalid` with a code; only AWS failures are retried.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_s3::primitives::ByteStream;
use pregon::model::{Campaign, CampaignStatus, PROBLEMS_ON_CAMPAIGN};
use pregon::report::ProblemCsv;
use pregon::validate::{validate, Limits, Problem, Recipient, Sink, Status, Summary};
use pregon_aws::config::Aws;
use pregon_aws::sqs::{for_each_record, DeadLetters, Outcome};
use pregon_aws::store::{Claim, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use tracing::{info, warn};

/// A claim outlives the function's 15-minute timeout, so only a crashed run's claim expires.
const LEASE_SECS: i64 = 16 * 60;
/// Batch writes in flight at once.
const WRITERS: usize = 12;

pub struct Ingest {
    aws: Aws,
    store: Store,
    dead_letters: Option<DeadLetters>,
    limits: Limits,
}

/// The file limits: SPEC §4's defaults, or `MAX_FILE_BYTES` / `MAX_DATA_ROWS`.
fn limits_from_env() -> Limits {
    let mut l = Limits::default();
    let var = |k: &str| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| *v > 0)
    };
    if let Some(b) = var("MAX_FILE_BYTES") {
        l.max_bytes = b;
    }
    if let Some(r) = var("MAX_DATA_ROWS") {
        l.max_rows = r;
    }
    l
}

impl Ingest {
    pub fn new(aws: Aws) -> Self {
        let store = Store::new(aws.dynamodb.clone(), aws.table.clone());
        // Without it (misconfigured), poison messages still reach the DLQ by redrive.
        let dead_letters = std::env::var("DEAD_LETTER_QUEUE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(|queue_url| DeadLetters {
                client: aws.sqs.clone(),
                queue_url,
            });
        Ingest {
            aws,
            store,
            dead_letters,
            limits: limits_from_env(),
        }
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        for_each_record(event, self.dead_letters.as_ref(), |m| self.record(m)).await
    }

    async fn record(&self, m: SqsMessage) -> Outcome {
        let body = m.body.unwrap_or_default();
        let value: serde_json::Value = match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(e) => return Outcome::Poison(format!("the message body is not JSON ({e})")),
        };
        if value.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
            info!("ignoring s3:TestEvent");
            return Outcome::Done;
        }
        let event: UploadEvent = match serde_json::from_value(value) {
            Ok(e) => e,
            Err(e) => {
                return Outcome::Poison(format!(
                    "the message is not an S3 event notification ({e})"
                ))
            }
        };
        for r in event.records {
            if !r.event_name.starts_with("ObjectCreated") {
                continue;
            }
            // S3 event keys are URL-encoded, with `+` for spaces.
            let key = pregon::text::percent_decode(&r.s3.object.key);
            let etag = r.s3.object.e_tag.trim_matches('"').to_string();
            if let Outcome::Retry(why) = self.upload(&key, &etag, r.s3.object.size).await {
                return Outcome::Retry(why);
            }
        }
        Outcome::Done
    }

    /// One uploaded object.
    pub async fn upload(&self, key: &str, etag: &str, size: u64) -> Outcome {
        let Some((tenant, campaign)) = pregon::model::parse_upload_key(key) else {
            warn!(
                key,
                "upload outside uploads/{{tenant}}/{{campaign}}/: ignored"
            );
            return Outcome::Done;
        };
        let started = Instant::now();
        // Uploads that will change nothing are settled before downloading anything. (The
        // conditional claim below stays the authority; this only saves the transfer.)
        match self.store.campaign(tenant, campaign).await {
            Ok(None) => return self.settled(tenant, campaign, Claim::NotFound, None),
            Ok(Some(c)) if !c.status.accepts_upload() && c.status != CampaignStatus::Validating => {
                return self.settled(tenant, campaign, Claim::Refused(c.status), None)
            }
            Ok(Some(c))
                if c.status != CampaignStatus::AwaitingFile
                    && c.upload_etag.as_deref() == Some(etag) =>
            {
                if c.status != CampaignStatus::Validating {
                    return self.settled(tenant, campaign, Claim::AlreadyDone, None);
                }
            }
            Ok(Some(_)) => {}
            Err(e) => return Outcome::Retry(e.to_string()),
        }
        // Download first, pinned to this event's version of the object: an event that
        // arrives after a newer upload is stale, and the newer upload has its own event.
        let file = if size > self.limits.max_bytes {
            None
        } else {
            match self.download(key, etag).await {
                Ok(Some(f)) => Some(f),
                Ok(None) => {
                    info!(
                        tenant,
                        campaign, "stale upload event (object replaced since): ignored"
                    );
                    return Outcome::Done;
                }
                Err(e) => return Outcome::Retry(e),
            }
        };
        let now = unix_now();
        let claim = match self
            .store
            .claim_validation(tenant, campaign, etag, now, LEASE_SECS)
            .await
        {
            Ok(c) => c,
            Err(e) => return cleanup(file, Outcome::Retry(e.to_string())),
        };
        let (campaign_rec, gen) = match claim {
            Claim::Claimed { campaign, gen } => (campaign, gen),
            other => return self.settled(tenant, campaign, other, file),
        };
        let result = self
            .validate_and_store(&campaign_rec, etag, gen, file.as_ref(), size)
            .await;
        let outcome = match result {
            Ok(summary) => {
                info!(
                    tenant,
                    campaign,
                    status = ?summary.status,
                    rows = summary.counts.rows,
                    valid_rows = summary.counts.valid_rows,
                    invalid_rows = summary.counts.invalid_rows,
                    seconds = started.elapsed().as_secs_f64(),
                    "spreadsheet validated"
                );
                Outcome::Done
            }
            Err(e) => {
                // Let the retry take over at once instead of waiting out the lease.
                if let Err(release) = self.store.release_claim(tenant, campaign, etag).await {
                    warn!(tenant, campaign, error = %release, "could not release the validation claim");
                }
                Outcome::Retry(e)
            }
        };
        cleanup(file, outcome)
    }

    /// An upload that changes nothing: say why, drop the download.
    fn settled(
        &self,
        tenant: &str,
        campaign: &str,
        claim: Claim,
        file: Option<PathBuf>,
    ) -> Outcome {
        let outcome = match claim {
            Claim::NotFound => {
                warn!(
                    tenant,
                    campaign, "upload for a campaign this tenant does not have: nothing changed"
                );
                Outcome::Done
            }
            Claim::AlreadyDone => {
                info!(
                    tenant,
                    campaign, "this upload was already validated: duplicate event ignored"
                );
                Outcome::Done
            }
            Claim::Refused(st) => {
                warn!(
                    tenant,
                    campaign,
                    status = st.as_str(),
                    "upload refused: the campaign has started sending"
                );
                Outcome::Done
            }
            Claim::Busy => Outcome::Retry("another invocation is validating this campaign".into()),
            // Not called with a live claim; if it were, the lease lets a retry take over.
            Claim::Claimed { .. } => Outcome::Retry("claimed but not validated".into()),
        };
        cleanup(file, outcome)
    }

    async fn download(&self, key: &str, etag: &str) -> Result<Option<PathBuf>, String> {
        let res = self
            .aws
            .s3
            .get_object()
            .bucket(&self.aws.bucket)
            .key(key)
            .if_match(format!("\"{etag}\""))
            .send()
            .await;
        let obj = match res {
            Ok(o) => o,
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                if matches!(status, Some(412) | Some(404)) {
                    return Ok(None);
                }
                return Err(format!("S3 GetObject: {e:?}"));
            }
        };
        let path = std::env::temp_dir().join(format!("pregon-upload-{}", ulid::Ulid::new()));
        let mut f = tokio::fs::File::create(&path)
            .await
            .map_err(|e| format!("temp file: {e}"))?;
        let mut body = obj.body;
        while let Some(chunk) = body.try_next().await.map_err(|e| format!("S3 read: {e}"))? {
            f.write_all(&chunk)
                .await
                .map_err(|e| format!("temp file: {e}"))?;
        }
        f.flush().await.map_err(|e| format!("temp file: {e}"))?;
        Ok(Some(path))
    }

    async fn validate_and_store(
        &self,
        c: &Campaign,
        etag: &str,
        gen: u32,
        file: Option<&PathBuf>,
        size: u64,
    ) -> Result<Summary, String> {
        let mut rules = c.rules();
        rules.limits = self.limits;
        let rules = Arc::new(rules);
        // Pass 1: validate, keeping the first problems and writing all of them as CSV.
        let (summary, first, report) = {
            let (rules, file) = (rules.clone(), file.cloned());
            tokio::task::spawn_blocking(move || {
                let mut sink = ReportSink {
                    first: Vec::new(),
                    csv: ProblemCsv::new(Vec::new()).expect("in memory"),
                };
                let summary = match file {
                    Some(f) => {
                        let reader =
                            std::fs::File::open(&f).map_err(|e| format!("temp file: {e}"))?;
                        validate(
                            std::io::BufReader::with_capacity(1 << 20, reader),
                            size,
                            &rules,
                            &mut sink,
                        )
                    }
                    // Over the size limit: not downloaded.
                    None => validate(std::io::Cursor::new(Vec::new()), size, &rules, &mut sink),
                };
                let csv = sink.csv.finish().map_err(|e| format!("report: {e}"))?;
                Ok::<_, String>((summary, sink.first, csv))
            })
            .await
            .map_err(|e| format!("validation task: {e}"))??
        };
        let (tenant, id) = (c.tenant_id.as_str(), c.id.as_str());
        // Leftovers of a crashed attempt at this generation must not mix in.
        self.store
            .delete_generation(tenant, id, gen)
            .await
            .map_err(|e| e.to_string())?;
        if summary.status == Status::Valid {
            let file = file.cloned().ok_or("valid without a file")?;
            self.write_recipients(c, gen, rules.clone(), file, size)
                .await?;
        }
        let report_key = Campaign::report_key_for(tenant, id);
        self.aws
            .s3
            .put_object()
            .bucket(&self.aws.bucket)
            .key(&report_key)
            .content_type("text/csv; charset=utf-8")
            .body(ByteStream::from(report))
            .send()
            .await
            .map_err(|e| format!("S3 PutObject report: {e:?}"))?;
        let status = if summary.status == Status::Valid {
            CampaignStatus::Loaded
        } else {
            CampaignStatus::Invalid
        };
        let format = summary.format.map(|f| f.as_str());
        let done = self
            .store
            .finish_validation(
                tenant,
                id,
                etag,
                gen,
                status,
                &summary.counts,
                &first,
                format,
                &report_key,
            )
            .await
            .map_err(|e| e.to_string())?;
        if !done {
            // Another run took the campaign over (only possible once our lease, longer than
            // the function's timeout, has expired). It owns generation `gen` now: leave it.
            warn!(
                tenant,
                campaign = id,
                "validation superseded by another run"
            );
            return Ok(summary);
        }
        if c.recipient_gen > 0 || c.counts.valid_rows > 0 {
            let removed = self
                .store
                .delete_generation(tenant, id, c.recipient_gen)
                .await
                .map_err(|e| e.to_string())?;
            info!(
                tenant,
                campaign = id,
                removed,
                "previous recipient set deleted"
            );
        }
        Ok(summary)
    }

    /// Pass 2: the valid rows, streamed from the validator thread into concurrent batch writes.
    async fn write_recipients(
        &self,
        c: &Campaign,
        gen: u32,
        rules: Arc<pregon::validate::Rules>,
        file: PathBuf,
        size: u64,
    ) -> Result<(), String> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Recipient>>(WRITERS * 4);
        let reader = tokio::task::spawn_blocking(move || {
            struct Batches {
                tx: tokio::sync::mpsc::Sender<Vec<Recipient>>,
                batch: Vec<Recipient>,
                closed: bool,
            }
            impl Sink for Batches {
                fn problem(&mut self, _: Problem) {}
                fn recipient(&mut self, r: Recipient) {
                    self.batch.push(r);
                    if self.batch.len() == 25 && !self.closed {
                        let b = std::mem::replace(&mut self.batch, Vec::with_capacity(25));
                        self.closed = self.tx.blocking_send(b).is_err();
                    }
                }
            }
            let mut sink = Batches {
                tx,
                batch: Vec::with_capacity(25),
                closed: false,
            };
            let f = std::fs::File::open(&file).map_err(|e| format!("temp file: {e}"))?;
            validate(
                std::io::BufReader::with_capacity(1 << 20, f),
                size,
                &rules,
                &mut sink,
            );
            if !sink.batch.is_empty() && !sink.closed {
                let _ = sink.tx.blocking_send(std::mem::take(&mut sink.batch));
            }
            Ok::<_, String>(())
        });
        let mut writes = futures::stream::FuturesUnordered::new();
        use futures::StreamExt;
        let mut failure = None;
        loop {
            tokio::select! {
                batch = rx.recv(), if writes.len() < WRITERS && failure.is_none() => {
                    let Some(batch) = batch else { break };
                    let reqs = batch
                        .iter()
                        .map(|r| self.store.recipient_put(&c.tenant_id, &c.id, gen, r))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| e.to_string())?;
                    writes.push(self.store.batch_write(reqs));
                }
                Some(done) = writes.next(), if !writes.is_empty() => {
                    if let Err(e) = done {
                        failure = Some(e.to_string());
                        break;
                    }
                }
            }
        }
        drop(rx);
        while let Some(done) = writes.next().await {
            if let Err(e) = done {
                failure.get_or_insert(e.to_string());
            }
        }
        reader
            .await
            .map_err(|e| format!("validation task: {e}"))??;
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The fields of an S3 event notification this function uses. Read leniently: the
/// fields AWS adds over time (and emulators leave out) do not matter here.
#[derive(serde::Deserialize)]
struct UploadEvent {
    #[serde(rename = "Records")]
    records: Vec<UploadRecord>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadRecord {
    event_name: String,
    s3: UploadS3,
}

#[derive(serde::Deserialize)]
struct UploadS3 {
    object: UploadObject,
}

#[derive(serde::Deserialize)]
struct UploadObject {
    key: String,
    #[serde(rename = "eTag", default)]
    e_tag: String,
    #[serde(default)]
    size: u64,
}

struct ReportSink {
    first: Vec<Problem>,
    csv: ProblemCsv<Vec<u8>>,
}

impl Sink for ReportSink {
    fn problem(&mut self, p: Problem) {
        let _ = self.csv.write(&p);
        if self.first.len() < PROBLEMS_ON_CAMPAIGN {
            self.first.push(p);
        }
    }
}

fn cleanup(file: Option<PathBuf>, outcome: Outcome) -> Outcome {
    if let Some(f) = file {
        let _ = std::fs::remove_file(f);
    }
    outcome
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
