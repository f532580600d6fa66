//! The ingest function: for each S3 upload event, validate the spreadsheet with the
//! library's rules, store the recipients, write the problem report, and move the
//! campaign to `loaded` or `invalid`.
//!
//! - `s3:TestEvent` and keys outside `uploads/{tenant}/{campaign}/{upload_id}` are ignored.
//! - Each upload has its own key; only the upload the campaign expects (the last URL
//!   granted) is validated, so an older upload landing late never replaces a newer one.
//! - The same upload (entity tag) is validated once, however often its event arrives.
//! - A key naming an unknown campaign, another tenant's campaign, a superseded upload or
//!   a campaign that is already sending changes nothing; its object is deleted.
//! - A re-upload replaces the recipient set: rows go to a new generation, which becomes
//!   current when validation ends; older generations are then deleted.
//! - Bad files end as `invalid` with a code; only AWS failures are retried. An upload
//!   whose validation failed on every try (a crash, a timeout, AWS errors) reaches the
//!   upload-failures queue, also read by this function: the campaign becomes `invalid`
//!   with `internal_error`, and the event goes on to the dead-letter queue with the reason.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_s3::primitives::ByteStream;
use pregon::model::{
    parse_upload_key, problems_for_campaign, Campaign, CampaignStatus, Template, UploadKey,
    PROBLEMS_ON_CAMPAIGN,
};
use pregon::report::ProblemReport;
use pregon::validate::{
    validate, Channel, Code, Limits, Problem, Recipient, Severity, Sink, Status, Summary,
};
use pregon_aws::config::Aws;
use pregon_aws::metrics::Unit;
use pregon_aws::sqs::{for_each_record, DeadLetters, Outcome};
use pregon_aws::store::{Claim, Store};
use pregon_aws::Error as AwsError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tracing::{info, warn};

/// A validation claim's lease. The run renews it every third of it while it works, so a
/// run that died (killed, out of memory, timed out) loses the campaign within one lease:
/// a new upload URL can then be granted, and the event's retry can take over.
const LEASE_SECS: i64 = 120;
/// Batch writes in flight at once.
const WRITERS: usize = 12;

pub struct Ingest {
    aws: Aws,
    store: Store,
    dead_letters: Option<DeadLetters>,
    /// The queue S3 events reach after failing every try (`UPLOAD_FAILURES_QUEUE_ARN`).
    failures_queue_arn: Option<String>,
    limits: Limits,
}

/// One object of an S3 event.
struct Upload<'a> {
    key: UploadKey<'a>,
    full_key: &'a str,
    etag: &'a str,
    size: u64,
}

impl Ingest {
    pub fn new(aws: Aws) -> Self {
        let store = Store::new(aws.dynamodb.clone(), aws.table.clone());
        let env = |k: &str| std::env::var(k).ok().filter(|u| !u.is_empty());
        // Without it (misconfigured), poison messages still reach the DLQ by redrive.
        let dead_letters = env("DEAD_LETTER_QUEUE_URL").map(|queue_url| DeadLetters {
            client: aws.sqs.clone(),
            queue_url,
        });
        Ingest {
            aws,
            store,
            dead_letters,
            failures_queue_arn: env("UPLOAD_FAILURES_QUEUE_ARN"),
            limits: pregon_aws::config::file_limits(),
        }
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        for_each_record(event, self.dead_letters.as_ref(), |m| self.record(m)).await
    }

    async fn record(&self, m: SqsMessage) -> Outcome {
        let failed_every_try =
            self.failures_queue_arn.is_some() && m.event_source_arn == self.failures_queue_arn;
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
        let mut gave_up = Vec::new();
        for r in event.records {
            if !r.event_name.starts_with("ObjectCreated") {
                continue;
            }
            // S3 event keys are URL-encoded, with `+` for spaces.
            let full_key = pregon::text::percent_decode(&r.s3.object.key);
            if full_key.starts_with("images/") {
                match self.header_image(&full_key, r.s3.object.size).await {
                    Outcome::Done => continue,
                    other => return other,
                }
            }
            let Some(key) = parse_upload_key(&full_key) else {
                warn!(
                    key = %full_key,
                    "upload outside uploads/{{tenant}}/{{campaign}}/{{upload}}: ignored"
                );
                continue;
            };
            let upload = Upload {
                key,
                full_key: &full_key,
                etag: r.s3.object.e_tag.trim_matches('"'),
                size: r.s3.object.size,
            };
            let outcome = if failed_every_try {
                self.give_up(&upload).await
            } else {
                self.upload(&upload).await
            };
            match outcome {
                Outcome::Done => {}
                Outcome::Poison(why) => gave_up.push(why),
                retry => return retry,
            }
        }
        if gave_up.is_empty() {
            Outcome::Done
        } else {
            // On to the dead-letter queue, with the reason, for whoever investigates.
            Outcome::Poison(gave_up.join("; "))
        }
    }

    /// An upload whose validation failed on every try: the campaign must not stay
    /// `validating`, so it becomes `invalid` with an `internal_error` that says to upload again.
    async fn give_up(&self, u: &Upload<'_>) -> Outcome {
        let UploadKey {
            tenant,
            campaign,
            upload_id,
        } = u.key;
        let problem = Problem {
            row: None,
            column: None,
            code: Code::InternalError,
            severity: Severity::Error,
            message: "the file could not be validated (validation failed on every try); upload it again, and if it fails again, contact support".into(),
        };
        match self
            .store
            .fail_validation(tenant, campaign, upload_id, &problem)
            .await
        {
            Ok(marked) => {
                warn!(
                    tenant,
                    campaign, marked, "validation failed on every try: campaign marked invalid"
                );
                Outcome::Poison(format!(
                    "validation of {} failed on every try (crash, timeout or AWS errors); campaign {}",
                    u.full_key,
                    if marked { "marked invalid with internal_error" } else { "had already moved on" }
                ))
            }
            Err(e) => Outcome::from(e),
        }
    }

    /// One uploaded object.
    async fn upload(&self, u: &Upload<'_>) -> Outcome {
        let UploadKey {
            tenant,
            campaign,
            upload_id,
        } = u.key;
        let started = Instant::now();
        // Uploads that will change nothing are settled before downloading anything. (The
        // conditional claim below stays the authority; this only saves the transfer.)
        let current = match self.store.campaign(tenant, campaign).await {
            Ok(c) => c,
            Err(e) => return Outcome::from(e),
        };
        let Some(current) = current else {
            return self.settled(u, Claim::NotFound).await;
        };
        if let Some(early) = settled_early(&current, upload_id, u.etag) {
            let outcome = self.settled(u, early).await;
            return match self.clean_up(&current).await {
                Err(e) => Outcome::from(e),
                Ok(()) => outcome,
            };
        }
        let file = match self.fetch(u).await {
            Ok(Some(file)) => file,
            Ok(None) => {
                info!(
                    tenant,
                    campaign, "stale upload event (object replaced since): ignored"
                );
                return Outcome::Done;
            }
            Err(e) => return Outcome::from(e),
        };
        let file = TempFile(file);
        let claim = match self
            .store
            .claim_validation(
                tenant,
                campaign,
                upload_id,
                u.etag,
                pregon::clock::unix_now(),
                LEASE_SECS,
            )
            .await
        {
            Ok(c) => c,
            Err(e) => return Outcome::from(e),
        };
        let (campaign_rec, gen) = match claim {
            Claim::Claimed { campaign, gen } => (campaign, gen),
            other => return self.settled(u, other).await,
        };
        let work = self.validate_and_store(&campaign_rec, u, gen, file.0.as_deref());
        let result = tokio::select! {
            r = work => r,
            never = self.keep_lease(u) => match never {},
        };
        match result {
            Ok(summary) => {
                validated(tenant, campaign, &summary, started);
                if u.size > self.limits.max_bytes {
                    // Over the limit: never kept (S3 refuses it when the URL's signed
                    // length is honoured; this is the backstop).
                    self.delete_object(u.full_key).await;
                }
                Outcome::Done
            }
            Err(e) => {
                // Let the retry take over at once instead of waiting out the lease.
                if let Err(release) = self
                    .store
                    .release_claim(tenant, campaign, upload_id, u.etag)
                    .await
                {
                    warn!(tenant, campaign, error = %release, "could not release the validation claim");
                }
                Outcome::from(e)
            }
        }
    }

    /// The uploaded file, pinned to this event's version of the object: an event that
    /// arrives after the object was overwritten is stale (`None`), and the newer one has
    /// its own event. An object over the size limit is not downloaded (`Some(None)`),
    /// only checked to be this version.
    async fn fetch(&self, u: &Upload<'_>) -> Result<Option<Option<PathBuf>>, AwsError> {
        if u.size > self.limits.max_bytes {
            return Ok(self.current(u.full_key, u.etag).await?.then_some(None));
        }
        Ok(self.download(u.full_key, u.etag).await?.map(Some))
    }

    /// Renews the claim's lease until dropped (when the work it guards ends).
    async fn keep_lease(&self, u: &Upload<'_>) -> std::convert::Infallible {
        let UploadKey {
            tenant,
            campaign,
            upload_id,
        } = u.key;
        loop {
            tokio::time::sleep(Duration::from_secs(LEASE_SECS as u64 / 3)).await;
            match self
                .store
                .renew_claim(
                    tenant,
                    campaign,
                    upload_id,
                    u.etag,
                    pregon::clock::unix_now() + LEASE_SECS,
                )
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    warn!(
                        tenant,
                        campaign, "validation claim lost (a newer upload was granted)"
                    );
                    std::future::pending::<()>().await;
                }
                Err(e) => {
                    warn!(tenant, campaign, error = %e, "could not renew the validation lease")
                }
            }
        }
    }

    /// An upload that changes nothing: say why; delete an object that can never be used.
    async fn settled(&self, u: &Upload<'_>, claim: Claim) -> Outcome {
        let UploadKey {
            tenant, campaign, ..
        } = u.key;
        let (outcome, useless) = match claim {
            Claim::NotFound => {
                warn!(
                    tenant,
                    campaign, "upload for a campaign this tenant does not have: nothing changed"
                );
                (Outcome::Done, true)
            }
            Claim::Superseded => {
                info!(
                    tenant,
                    campaign, "upload superseded by a newer upload URL: ignored"
                );
                (Outcome::Done, true)
            }
            Claim::AlreadyDone => {
                info!(
                    tenant,
                    campaign, "this upload was already validated: duplicate event ignored"
                );
                (Outcome::Done, false)
            }
            Claim::Refused(st) => {
                warn!(
                    tenant,
                    campaign,
                    status = st.as_str(),
                    "upload refused: the campaign has started sending"
                );
                (Outcome::Done, true)
            }
            Claim::Busy => (
                Outcome::Retry("another invocation is validating this campaign".into()),
                false,
            ),
            // Not called with a live claim; if it were, the lease lets a retry take over.
            Claim::Claimed { .. } => (Outcome::Retry("claimed but not validated".into()), false),
        };
        if useless {
            self.delete_object(u.full_key).await;
        }
        outcome
    }

    /// A campaign's header image landed (`images/{tenant}/{campaign}/{upload_id}`): its
    /// first bytes say whether it is a PNG or JPEG (never its name), its size whether it
    /// fits 5 MB; the campaign records `ready` or `rejected` with the reason (an image
    /// that is neither is deleted). A superseded or unknown upload is deleted.
    async fn header_image(&self, key: &str, size: u64) -> Outcome {
        let parts: Vec<&str> = key.split('/').collect();
        let [_, tenant, campaign, upload_id] = parts[..] else {
            warn!(
                key,
                "image outside images/{{tenant}}/{{campaign}}/{{upload}}: ignored"
            );
            return Outcome::Done;
        };
        let c = match self.store.campaign(tenant, campaign).await {
            Ok(c) => c,
            Err(e) => return Outcome::from(e),
        };
        let expected = c
            .as_ref()
            .and_then(|c| c.header_image_file.as_ref())
            .is_some_and(|f| f.upload_id == upload_id && f.status == "awaiting");
        if !expected {
            self.delete_object(key).await;
            return Outcome::Done;
        }
        let head = match self
            .aws
            .s3
            .get_object()
            .bucket(&self.aws.bucket)
            .key(key)
            .range("bytes=0-15")
            .send()
            .await
        {
            Ok(o) => match o.body.collect().await {
                Ok(b) => b.into_bytes().to_vec(),
                Err(e) => return Outcome::Retry(format!("reading the image: {e}")),
            },
            Err(e) => return Outcome::Retry(format!("S3 GetObject: {e:?}")),
        };
        let now = pregon::clock::now_rfc3339();
        let f = match pregon::model::check_header_image(&head, size) {
            Ok(content_type) => pregon::model::HeaderImageFile {
                status: "ready".into(),
                upload_id: upload_id.into(),
                content_type: Some(content_type.into()),
                size: Some(size),
                reason: None,
                updated_at: now,
            },
            Err(why) => pregon::model::HeaderImageFile {
                status: "rejected".into(),
                upload_id: upload_id.into(),
                content_type: None,
                size: Some(size),
                reason: Some(why),
                updated_at: now,
            },
        };
        match self
            .store
            .set_header_image(tenant, campaign, &f, Some(upload_id))
            .await
        {
            Ok(_) => {
                info!(campaign, status = %f.status, "header image");
                if f.status != "ready" {
                    self.delete_object(key).await;
                }
                Outcome::Done
            }
            Err(e) => Outcome::from(e),
        }
    }

    async fn delete_object(&self, key: &str) {
        if let Err(e) = self
            .aws
            .s3
            .delete_object()
            .bucket(&self.aws.bucket)
            .key(key)
            .send()
            .await
        {
            // The bucket's lifecycle rule removes it later.
            warn!(error = ?e, "could not delete an unused upload");
        }
    }

    /// Deletes recipient generations older than the current one that a failed clean-up
    /// left behind, then records it.
    async fn clean_up(&self, c: &Campaign) -> Result<(), AwsError> {
        if c.clean_below >= c.recipient_gen {
            return Ok(());
        }
        let (tenant, id) = (c.tenant_id.as_str(), c.id.as_str());
        let mut removed = 0;
        for gen in c.clean_below..c.recipient_gen {
            removed += self.store.delete_generation(tenant, id, gen).await?;
        }
        self.store.mark_cleaned(tenant, id, c.recipient_gen).await?;
        info!(
            tenant,
            campaign = id,
            removed,
            "previous recipient sets deleted"
        );
        Ok(())
    }

    /// Whether the object still has this entity tag.
    async fn current(&self, key: &str, etag: &str) -> Result<bool, AwsError> {
        let res = self
            .aws
            .s3
            .head_object()
            .bucket(&self.aws.bucket)
            .key(key)
            .if_match(format!("\"{etag}\""))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.raw_response().map(|r| r.status().as_u16()),
                    Some(412 | 404)
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::s3("HeadObject", e)),
        }
    }

    async fn download(&self, key: &str, etag: &str) -> Result<Option<PathBuf>, AwsError> {
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
                return Err(AwsError::s3("GetObject", e));
            }
        };
        let path = temp_path("upload");
        let mut f = tokio::fs::File::create(&path)
            .await
            .map_err(|e| AwsError::Local(format!("temp file: {e}")))?;
        let mut body = obj.body;
        while let Some(chunk) = body.try_next().await.map_err(|e| AwsError::s3("read", e))? {
            f.write_all(&chunk)
                .await
                .map_err(|e| AwsError::Local(format!("temp file: {e}")))?;
        }
        f.flush()
            .await
            .map_err(|e| AwsError::Local(format!("temp file: {e}")))?;
        Ok(Some(path))
    }

    async fn validate_and_store(
        &self,
        c: &Campaign,
        u: &Upload<'_>,
        gen: u32,
        file: Option<&Path>,
    ) -> Result<Summary, AwsError> {
        // An SMS template's text: each row's message is rendered from it to count its
        // segments. (The parameter count is the campaign's own.)
        let template = match (&c.settings.template_id, c.settings.channel) {
            (Some(t), Channel::Sms) => {
                self.store
                    .get::<Template>(pregon::keys::template(&c.tenant_id, t))
                    .await?
            }
            _ => None,
        };
        let mut rules = c.rules_with(template.as_ref());
        rules.limits = self.limits;
        let rules = Arc::new(rules);
        let report_file = TempFile(Some(temp_path("report")));
        // Pass 1: validate, writing every problem (up to the cap) to the report as it goes.
        let (summary, first) = {
            let (rules, file, size) = (rules.clone(), file.map(Path::to_path_buf), u.size);
            let out = report_file.0.clone().expect("set");
            tokio::task::spawn_blocking(move || pass_one(&rules, file.as_deref(), size, &out))
                .await
                .map_err(|e| AwsError::Local(format!("validation task: {e}")))??
        };
        let (tenant, id) = (c.tenant_id.as_str(), c.id.as_str());
        // Leftovers of a crashed attempt at this generation must not mix in.
        self.store.delete_generation(tenant, id, gen).await?;
        if summary.status == Status::Valid {
            let file = file.ok_or_else(|| AwsError::Local("valid without a file".into()))?;
            self.write_recipients(c, gen, rules.clone(), file.to_path_buf(), u.size)
                .await?;
        }
        let report_key = Campaign::report_key_for(tenant, id);
        let body = ByteStream::from_path(report_file.0.as_deref().expect("set"))
            .await
            .map_err(|e| AwsError::Local(format!("report file: {e}")))?;
        self.aws
            .s3
            .put_object()
            .bucket(&self.aws.bucket)
            .key(&report_key)
            .content_type("text/csv; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(|e| AwsError::s3("PutObject report", e))?;
        let status = if summary.status == Status::Valid {
            CampaignStatus::Loaded
        } else {
            CampaignStatus::Invalid
        };
        let done = self
            .store
            .finish_validation(
                tenant,
                id,
                u.key.upload_id,
                u.etag,
                gen,
                status,
                &summary,
                &first,
                &report_key,
            )
            .await?;
        if !done {
            // Another run took the campaign over (its lease expired, or a newer upload
            // was granted). It owns generation `gen` now: leave it.
            warn!(
                tenant,
                campaign = id,
                "validation superseded by another run"
            );
            return Ok(summary);
        }
        let mut now_current = c.clone();
        now_current.recipient_gen = gen;
        self.clean_up(&now_current).await?;
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
    ) -> Result<(), AwsError> {
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
                    if self.batch.len() == pregon_aws::store::BATCH_WRITE_ITEMS && !self.closed {
                        let b = std::mem::replace(
                            &mut self.batch,
                            Vec::with_capacity(pregon_aws::store::BATCH_WRITE_ITEMS),
                        );
                        self.closed = self.tx.blocking_send(b).is_err();
                    }
                }
            }
            let mut sink = Batches {
                tx,
                batch: Vec::with_capacity(pregon_aws::store::BATCH_WRITE_ITEMS),
                closed: false,
            };
            let f = std::fs::File::open(&file)
                .map_err(|e| AwsError::Local(format!("temp file: {e}")))?;
            validate(
                std::io::BufReader::with_capacity(1 << 20, f),
                size,
                &rules,
                &mut sink,
            );
            if !sink.batch.is_empty() && !sink.closed {
                let _ = sink.tx.blocking_send(std::mem::take(&mut sink.batch));
            }
            Ok::<_, AwsError>(())
        });
        // Every row of this upload is removed by TTL after the campaign's retention.
        let expires_at = c.expires_at();
        let mut writes = futures::stream::FuturesUnordered::new();
        use futures::StreamExt;
        let mut failure = None;
        loop {
            tokio::select! {
                batch = rx.recv(), if writes.len() < WRITERS && failure.is_none() => {
                    let Some(batch) = batch else { break };
                    let reqs = batch
                        .iter()
                        .map(|r| self.store.recipient_put(&c.tenant_id, &c.id, gen, r, expires_at))
                        .collect::<Result<Vec<_>, _>>()?;
                    writes.push(self.store.batch_write(reqs));
                }
                Some(done) = writes.next(), if !writes.is_empty() => {
                    if let Err(e) = done {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        drop(rx);
        while let Some(done) = writes.next().await {
            if let Err(e) = done {
                failure.get_or_insert(e);
            }
        }
        reader
            .await
            .map_err(|e| AwsError::Local(format!("validation task: {e}")))??;
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What a finished validation reports: metrics and one log line.
fn validated(tenant: &str, campaign: &str, summary: &Summary, started: Instant) {
    pregon_aws::metrics::emit(
        &[("Function", "ingest")],
        &[
            ("RowsValidated", summary.counts.rows as f64, Unit::Count),
            (
                "InvalidRows",
                summary.counts.invalid_rows as f64,
                Unit::Count,
            ),
            (
                "ValidationTime",
                started.elapsed().as_millis() as f64,
                Unit::Milliseconds,
            ),
        ],
    );
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

/// Pass 1 on a blocking thread: the summary and the campaign's first problems; the full
/// report (file-level problems first) is written to `out`.
fn pass_one(
    rules: &pregon::validate::Rules,
    file: Option<&Path>,
    size: u64,
    out: &Path,
) -> Result<(Summary, Vec<Problem>), AwsError> {
    let io = |e: std::io::Error| AwsError::Local(format!("report file: {e}"));
    let rows_file = TempFile(Some(temp_path("report-rows")));
    let rows_path = rows_file.0.as_deref().expect("set");
    let rows = std::io::BufWriter::new(std::fs::File::create(rows_path).map_err(io)?);
    let mut report = ProblemReport::new(rows, PROBLEMS_ON_CAMPAIGN);
    let summary = match file {
        Some(f) => {
            let reader =
                std::fs::File::open(f).map_err(|e| AwsError::Local(format!("temp file: {e}")))?;
            validate(
                std::io::BufReader::with_capacity(1 << 20, reader),
                size,
                rules,
                &mut report,
            )
        }
        // Over the size limit: not downloaded.
        None => validate(std::io::Cursor::new(Vec::new()), size, rules, &mut report),
    };
    let first = problems_for_campaign(report.first());
    let final_out = std::io::BufWriter::new(std::fs::File::create(out).map_err(io)?);
    report
        .finish_into(final_out, |rows| {
            drop(rows.into_inner().map_err(|e| e.into_error())?);
            std::fs::File::open(rows_path).map(std::io::BufReader::new)
        })
        .map_err(io)?;
    Ok((summary, first))
}

/// Whether an upload can be settled from the campaign as read, before downloading.
fn settled_early(c: &Campaign, upload_id: &str, etag: &str) -> Option<Claim> {
    if c.upload_id.as_deref() != Some(upload_id) {
        return Some(Claim::Superseded);
    }
    if c.status.accepts_upload() && c.upload_etag.as_deref() == Some(etag) {
        return Some(Claim::AlreadyDone);
    }
    if !c.status.accepts_upload() && c.status != CampaignStatus::Validating {
        return Some(Claim::Refused(c.status));
    }
    None
}

fn temp_path(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pregon-{what}-{}", ulid::Ulid::new()))
}

/// A temporary file, removed when dropped (on every path out of a function).
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}
