//! The sender: each SQS batch of send jobs becomes provider calls, exactly once per
//! message and never over the provider account's rate, however many instances run.
//!
//! For each batch, per provider account:
//! 1. take a share of the account's calls for the current second (`reserve_rate`; a
//!    call is only started early in the second it was counted in);
//! 2. claim those messages (conditional writes, 25 to a request): a message already
//!    claimed, sent, blocked or skipped is not called again;
//! 3. call the provider, concurrently, through the one transport (connect and request
//!    timeouts); the provider adapter reads each answer into `Accepted` or a
//!    `ProviderError` that carries the decision;
//! 4. record `sent` + provider id or `failed` + code (batched), update the campaign's
//!    progress counters, and end the campaign when every message has an outcome.
//!
//! Before any of that, a job of a campaign that is not sending is not sent: a paused
//! campaign's job is parked (it leaves the queue, its message waits `pending` for resume
//! to enqueue it again), a cancelled campaign's job is dropped (dispatch marks its message
//! `skipped`). A pause therefore stops the sending within about a second (the campaign's
//! status is re-read at most once a second), not after the queue drains.
//!
//! Transient errors (429, 5xx, a connection refused) release the claim and the job
//! comes back through the queue's visibility timeout (never a sleep here); permanent
//! ones fail the message at once. A call whose outcome is unknown (a timeout after the
//! request left, a dropped connection) keeps its claim: the job's next delivery finds
//! the claim expired and ends the message `failed` with `outcome_unknown` — unless a
//! status callback settled it — and never calls again.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_s3::presigning::PresigningConfig;
use pregon::model::{Account, Campaign, CampaignStatus, ProviderKind, Template};
use pregon::providers::{self, Accepted, Content, Credentials, HttpReply, Outgoing, ProviderError};
use pregon::sending::{rate_slot_within, SendJob, RATE_SLOT_CUTOFF_MS};
use pregon_aws::config::Aws;
use pregon_aws::messages::{ClaimResult, Outcome, Park, Progress};
use pregon_aws::metrics::Unit;
use pregon_aws::store::Store;
use pregon_aws::transport::{CallError, Transport, REQUEST_TIMEOUT};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long a claim holds a message: longer than a provider call can take (the request
/// timeout), shorter than the send queue's visibility timeout, so a job redelivered after
/// a crash always finds the claim expired and settles it.
pub const CLAIM_MS: i64 = 30_000;
/// How long a provider may take to fetch a campaign's uploaded header image.
const IMAGE_LINK_TTL: Duration = Duration::from_secs(3600);
/// Account, template and credentials are re-read after this long.
const CACHE_FOR: Duration = Duration::from_secs(60);
/// A campaign's status and message count as last read, and when (`None`: the campaign
/// is gone).
type SeenStatus = (Instant, Option<Arc<Campaign>>);
/// A campaign's status (paused, cancelled) is re-read after this long.
const STATUS_FOR: Duration = Duration::from_secs(1);

pub struct Sender {
    aws: Aws,
    store: Store,
    transport: Transport,
    /// Where providers post statuses (the webhook function), when deployed.
    webhook_base: Option<String>,
    /// This function's send queue (`SEND_QUEUE_URL`), to time retries.
    queue_url: Option<String>,
    cache: Mutex<HashMap<String, (Instant, Context)>>,
    /// Campaign statuses, by tenant and campaign (`None`: the campaign is gone).
    statuses: Mutex<HashMap<(String, String), SeenStatus>>,
    /// Recent provider answer time (ms), smoothed.
    answer_ms: AtomicU64,
}

/// What a job's account needs to send: its record, credentials and template.
#[derive(Clone)]
struct Context {
    account: Account,
    credentials: Credentials,
    template: Option<Template>,
}

/// What became of one job in this invocation.
enum JobResult {
    Done,
    /// Back on the queue, visible again after `after` seconds.
    Retry {
        why: String,
        after: i32,
    },
}

/// Retry after the default back-off.
fn retry(why: impl Into<String>) -> JobResult {
    JobResult::Retry {
        why: why.into(),
        after: RETRY_SECS,
    }
}

/// A job to try again shortly (5xx, an AWS error).
const RETRY_SECS: i32 = 5;
/// A throttled job: the next second has new room.
const THROTTLED_SECS: i32 = 1;

use pregon_aws::inbound::now_ms;

impl Sender {
    pub fn new(aws: Aws) -> Result<Self, String> {
        let store = Store::new(aws.dynamodb.clone(), aws.table.clone());
        Ok(Sender {
            aws,
            store,
            transport: Transport::from_env()?,
            webhook_base: std::env::var("WEBHOOK_BASE_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            queue_url: std::env::var("SEND_QUEUE_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            cache: Mutex::new(HashMap::new()),
            statuses: Mutex::new(HashMap::new()),
            answer_ms: AtomicU64::new(100),
        })
    }

    /// One SQS batch. `deadline` is the invocation's end (unix ms).
    pub async fn handle(&self, event: SqsEvent, deadline: u64) -> SqsBatchResponse {
        let mut jobs: Vec<(String, SendJob)> = Vec::new();
        let mut failures = Vec::new();
        let mut delays: Vec<(String, i32)> = Vec::new();
        let mut receipts: HashMap<String, String> = HashMap::new();
        for r in event.records {
            let id = r.message_id.clone().unwrap_or_default();
            if let Some(h) = &r.receipt_handle {
                receipts.insert(id.clone(), h.clone());
            }
            match serde_json::from_str::<SendJob>(r.body.as_deref().unwrap_or("")) {
                Ok(j) => jobs.push((id, j)),
                // Not a send job: it can never succeed. The queue's redrive takes it to
                // the dead-letter queue after its tries; say why in the log.
                Err(e) => {
                    warn!(message_id = %id, error = %e, "not a send job");
                    failures.push(id);
                }
            }
        }
        let mut by_account: HashMap<(String, String), Vec<(String, SendJob)>> = HashMap::new();
        for (id, j) in jobs {
            by_account
                .entry((j.tenant.clone(), j.account.clone()))
                .or_default()
                .push((id, j));
        }
        for ((tenant, account), group) in by_account {
            let results = self.send_account(&tenant, &account, &group, deadline).await;
            for ((id, job), r) in group.iter().zip(results) {
                if let JobResult::Retry { why, after } = r {
                    info!(message = %job.message_id(), reason = %why, after, "send job will be retried");
                    failures.push(id.clone());
                    delays.push((id.clone(), after));
                }
            }
        }
        self.delay(&delays, &receipts).await;
        let mut response = SqsBatchResponse::default();
        for id in failures {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            response.batch_item_failures.push(f);
        }
        response
    }

    /// A campaign's status, read at most once a second per campaign.
    async fn campaign_status(
        &self,
        tenant: &str,
        campaign: &str,
    ) -> Result<Option<CampaignStatus>, String> {
        Ok(self
            .campaign_seen(tenant, campaign)
            .await?
            .map(|c| c.status))
    }

    /// A job's campaign (its status, size, reply wait), read at most once a second per
    /// campaign.
    async fn campaign_seen(
        &self,
        tenant: &str,
        campaign: &str,
    ) -> Result<Option<Arc<Campaign>>, String> {
        let key = (tenant.to_string(), campaign.to_string());
        if let Some((at, c)) = self.statuses.lock().expect("statuses").get(&key) {
            if at.elapsed() < STATUS_FOR {
                return Ok(c.clone());
            }
        }
        let c = self
            .store
            .campaign(tenant, campaign)
            .await
            .map_err(|e| e.to_string())?
            .map(Arc::new);
        self.statuses
            .lock()
            .expect("statuses")
            .insert(key, (Instant::now(), c.clone()));
        Ok(c)
    }

    /// Whether a job's campaign is still sending; else what became of the job: a paused
    /// campaign's job is parked, a cancelled (or gone) campaign's job is dropped.
    async fn gate(&self, job: &SendJob) -> Option<JobResult> {
        match self.campaign_status(&job.tenant, &job.campaign).await {
            Ok(Some(CampaignStatus::Paused)) => match self.park(job).await {
                Ok(true) => Some(JobResult::Done),
                Ok(false) => None,
                Err(why) => Some(retry(format!("could not park: {why}"))),
            },
            // Dispatch marks a cancelled campaign's unsent messages `skipped`.
            Ok(Some(CampaignStatus::Cancelled)) | Ok(None) => Some(JobResult::Done),
            Ok(Some(_)) => None,
            Err(why) => Some(retry(format!("campaign unreadable: {why}"))),
        }
    }

    /// Parks a paused campaign's job; `Ok(false)` when the campaign was resumed meanwhile
    /// (send it).
    async fn park(&self, job: &SendJob) -> Result<bool, String> {
        match self
            .store
            .park_message(job)
            .await
            .map_err(|e| e.to_string())?
        {
            Park::Parked => {
                let delta = Progress {
                    queued: -1,
                    ..Default::default()
                };
                self.add_progress(job, &delta).await;
                Ok(true)
            }
            Park::NotPending => Ok(true),
            Park::NotPaused => {
                self.statuses
                    .lock()
                    .expect("statuses")
                    .remove(&(job.tenant.clone(), job.campaign.clone()));
                Ok(false)
            }
        }
    }

    /// Makes retried jobs visible again after their own back-off rather than the queue's
    /// whole visibility timeout (still through the queue: nothing sleeps here).
    async fn delay(&self, delays: &[(String, i32)], receipts: &HashMap<String, String>) {
        let Some(queue) = &self.queue_url else { return };
        for chunk in delays.chunks(10) {
            let entries: Vec<_> = chunk
                .iter()
                .filter_map(|(id, after)| {
                    let handle = receipts.get(id)?;
                    aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(id.clone())
                        .receipt_handle(handle)
                        .visibility_timeout((*after).clamp(0, 43_200))
                        .build()
                        .ok()
                })
                .collect();
            if entries.is_empty() {
                continue;
            }
            if let Err(e) = self
                .aws
                .sqs
                .change_message_visibility_batch()
                .queue_url(queue)
                .set_entries(Some(entries))
                .send()
                .await
            {
                warn!(error = ?e, "could not shorten retries' visibility (the queue's timeout applies)");
            }
        }
    }

    async fn context(
        &self,
        tenant: &str,
        account: &str,
        template: Option<&str>,
    ) -> Result<Context, String> {
        let key = format!("{tenant}/{account}/{}", template.unwrap_or(""));
        if let Some((at, c)) = self.cache.lock().expect("cache").get(&key) {
            if at.elapsed() < CACHE_FOR {
                return Ok(c.clone());
            }
        }
        let account_rec: Account = self
            .store
            .get(pregon::keys::account(tenant, account))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the account no longer exists")?;
        let credentials = pregon_aws::transport::credentials(&self.aws, &account_rec).await?;
        let template = match template {
            Some(t) => self
                .store
                .get::<Template>(pregon::keys::template(tenant, t))
                .await
                .map_err(|e| e.to_string())?,
            None => None,
        };
        let c = Context {
            account: account_rec,
            credentials,
            template,
        };
        self.cache
            .lock()
            .expect("cache")
            .insert(key, (Instant::now(), c.clone()));
        Ok(c)
    }

    /// Sends one account's jobs of the batch, as fast as its rate allows.
    async fn send_account(
        &self,
        tenant: &str,
        account: &str,
        group: &[(String, SendJob)],
        deadline: u64,
    ) -> Vec<JobResult> {
        let template = group[0].1.template.as_deref();
        let ctx = match self.context(tenant, account, template).await {
            Ok(c) => c,
            Err(e) => return group.iter().map(|_| retry(e.clone())).collect(),
        };
        let mut results: Vec<Option<JobResult>> = group.iter().map(|_| None).collect();
        let mut waiting: Vec<usize> = (0..group.len()).collect();
        while !waiting.is_empty() {
            // Leave time to record what was sent before the invocation ends.
            if now_ms() + REQUEST_TIMEOUT.as_millis() as i64 + 3_000 > deadline as i64 {
                break;
            }
            // A batch can wait seconds for the rate: a pause or a cancel meanwhile takes
            // hold before the next call, not after the batch.
            let mut still = Vec::with_capacity(waiting.len());
            for i in waiting {
                match self.gate(&group[i].1).await {
                    None => still.push(i),
                    Some(r) => results[i] = Some(r),
                }
            }
            waiting = still;
            if waiting.is_empty() {
                break;
            }
            // Calls must reach the provider inside the second they were counted in: start
            // them early enough for the provider's observed answer time to fit.
            let cutoff = self.start_cutoff_ms();
            let slot = rate_slot_within(now_ms(), cutoff);
            if slot.wait_ms > 0 {
                tokio::time::sleep(Duration::from_millis(slot.wait_ms)).await;
            }
            let want = waiting.len() as u32;
            let granted = match self
                .store
                .reserve_rate(account, slot, ctx.account.rate, want)
                .await
            {
                Ok(g) => g as usize,
                Err(e) => {
                    warn!(error = %e, "rate reservation failed");
                    break;
                }
            };
            if granted == 0 {
                // This second is used up: wait for the next one.
                let into = now_ms().rem_euclid(1000);
                tokio::time::sleep(Duration::from_millis((1000 - into) as u64)).await;
                continue;
            }
            let picked: Vec<usize> = waiting.drain(..granted).collect();
            let take: Vec<(String, SendJob)> = picked.iter().map(|i| group[*i].clone()).collect();
            let latest_start = slot.second * 1000 + cutoff as i64;
            let Some(outcomes) = self.send_some(&ctx, &take, latest_start).await else {
                // Too late in the second to call: the count is spent, the claims were
                // given back; the next second takes them.
                let mut back = picked;
                back.append(&mut waiting);
                waiting = back;
                continue;
            };
            for (i, r) in picked.into_iter().zip(outcomes) {
                results[i] = Some(r);
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(retry("the invocation ran out of time")))
            .collect()
    }

    /// How far into a second calls may start: 900 ms less the provider's recent answer
    /// time, between 300 and 800 ms.
    fn start_cutoff_ms(&self) -> u64 {
        let answer = self.answer_ms.load(Ordering::Relaxed);
        900u64
            .saturating_sub(answer)
            .clamp(300, RATE_SLOT_CUTOFF_MS)
    }

    /// Claims, calls and records a few jobs the rate allows now; `None` (nothing called,
    /// claims given back) when the claims took past `latest_start` (unix ms).
    async fn send_some(
        &self,
        ctx: &Context,
        take: &[(String, SendJob)],
        latest_start: i64,
    ) -> Option<Vec<JobResult>> {
        let claim = now_ms() + CLAIM_MS;
        let jobs: Vec<&SendJob> = take.iter().map(|(_, j)| j).collect();
        let claims = match self.store.claim_messages(&jobs, claim).await {
            Ok(c) => c,
            Err(e) => return Some(take.iter().map(|_| retry(e.to_string())).collect()),
        };
        if now_ms() > latest_start {
            let mine: Vec<&SendJob> = jobs
                .iter()
                .zip(&claims)
                .filter(|(_, c)| **c == ClaimResult::Claimed)
                .map(|(j, _)| *j)
                .collect();
            if let Err(e) = self.store.release_claims(&mine, claim).await {
                warn!(error = %e, "could not release claims (they expire)");
            }
            return None;
        }
        let calls = jobs.iter().zip(&claims).map(|(job, c)| async move {
            match c {
                ClaimResult::Claimed => Some(self.call(ctx, job).await),
                ClaimResult::Taken => None,
            }
        });
        let answers = futures::future::join_all(calls).await;
        let now = pregon::model::now_rfc3339();
        let mut results = Vec::with_capacity(take.len());
        let mut record: Vec<(&SendJob, Outcome)> = Vec::new();
        let mut release: Vec<&SendJob> = Vec::new();
        let mut throttled = 0u32;
        for (job, answer) in jobs.iter().zip(answers) {
            let r = match answer {
                None => self.already_taken(job).await,
                Some(Ok(a)) => {
                    record.push((
                        job,
                        Outcome::Sent {
                            provider_message_id: a.provider_message_id,
                        },
                    ));
                    JobResult::Done
                }
                Some(Err(Ok(e))) if e.retriable() => {
                    throttled += matches!(e, ProviderError::Throttled { .. }) as u32;
                    release.push(job);
                    JobResult::Retry {
                        after: if matches!(e, ProviderError::Throttled { .. }) {
                            THROTTLED_SECS
                        } else {
                            RETRY_SECS
                        },
                        why: e.to_string(),
                    }
                }
                Some(Err(Ok(e))) => {
                    let (code, message) = e.code_and_message();
                    record.push((job, Outcome::Failed { code, message }));
                    JobResult::Done
                }
                Some(Err(Err(CallError::NotSent(why)))) => {
                    release.push(job);
                    retry(why)
                }
                Some(Err(Err(CallError::Unknown(why)))) => {
                    // Keep the claim: the redelivery, once it has expired, settles it as
                    // outcome_unknown (unless a status callback did), never re-sends it.
                    warn!(message = %job.message_id(), reason = %why, "send outcome unknown");
                    JobResult::Retry {
                        why,
                        after: (CLAIM_MS / 1000) as i32 + 1,
                    }
                }
            };
            results.push(r);
        }
        // CloudWatch (EMF): what this batch did at the provider, by provider kind.
        let provider = ctx.account.provider.as_str();
        let sent = record
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Sent { .. }))
            .count();
        pregon_aws::metrics::emit(
            &[("Provider", provider)],
            &[
                ("MessagesSent", sent as f64, Unit::Count),
                ("MessagesFailed", (record.len() - sent) as f64, Unit::Count),
                ("Throttled", throttled as f64, Unit::Count),
                (
                    "ProviderLatency",
                    self.answer_ms.load(Ordering::Relaxed) as f64,
                    Unit::Milliseconds,
                ),
            ],
        );
        if !release.is_empty() {
            if let Err(e) = self.store.release_claims(&release, claim).await {
                warn!(error = %e, "could not release claims (they expire)");
            }
        }
        if !record.is_empty() {
            match self.store.record_outcomes(&record, claim, &now).await {
                Ok(applied) => {
                    self.progress(&record, &applied).await;
                    self.open_tickets(&record, &applied, &now).await;
                    self.apply_early(ctx, &record, &now).await;
                }
                Err(e) => {
                    // The provider has them; the claims stay and the redelivery settles
                    // them as outcome_unknown rather than sending again.
                    warn!(error = %e, "could not record outcomes");
                    return Some(take.iter().map(|_| retry(e.to_string())).collect());
                }
            }
        }
        Some(results)
    }

    /// Tickets for the messages just recorded `sent` whose campaign waits for a reply
    /// (SPEC §5): open until each message's own send time plus the wait. A sender that
    /// dies before this leaves the message without a ticket; a reply to it then opens
    /// an inbound ticket (no reply is dropped).
    async fn open_tickets(&self, record: &[(&SendJob, Outcome)], applied: &[bool], now: &str) {
        let mut tickets = Vec::new();
        for ((job, o), ok) in record.iter().zip(applied) {
            if !ok || !matches!(o, Outcome::Sent { .. }) {
                continue;
            }
            let Ok(Some(c)) = self.campaign_seen(&job.tenant, &job.campaign).await else {
                continue;
            };
            if let Some(t) = pregon_aws::tickets::campaign_ticket(
                &job.tenant,
                &c,
                &job.account,
                job.gen,
                job.row,
                &job.phone,
                now,
            ) {
                tickets.push(t);
            }
        }
        if tickets.is_empty() {
            return;
        }
        if let Err(e) = self.store.open_tickets(&tickets).await {
            warn!(error = %e, count = tickets.len(), "tickets not opened");
        }
    }

    /// Statuses the provider called back before these messages were recorded (the
    /// webhook kept them): applied now, forward only.
    async fn apply_early(&self, ctx: &Context, record: &[(&SendJob, Outcome)], now: &str) {
        let sent: Vec<(&str, String)> = record
            .iter()
            .filter_map(|(j, o)| match o {
                Outcome::Sent {
                    provider_message_id,
                } => Some((provider_message_id.as_str(), j.message_id())),
                _ => None,
            })
            .collect();
        if sent.is_empty() {
            return;
        }
        let ids: Vec<&str> = sent.iter().map(|(p, _)| *p).collect();
        let early = match self.store.take_early_statuses(&ctx.account.id, &ids).await {
            Ok(e) => e,
            Err(e) => {
                warn!(error = %e, "early statuses unreadable (they stay kept)");
                return;
            }
        };
        for u in early {
            let Some((_, message)) = sent.iter().find(|(p, _)| *p == u.provider_message_id) else {
                continue;
            };
            // (Its KPI counts and event follow from the table's stream: the tally function.)
            if let Err(e) = pregon_aws::inbound::apply(&self.store, message, &u, now).await {
                warn!(error = %e, "an early status was not applied");
            }
        }
    }

    /// A job whose message could not be claimed: a duplicate, or a claim to settle.
    async fn already_taken(&self, job: &SendJob) -> JobResult {
        match self.store.message(job).await {
            Ok(None) => JobResult::Done,
            Ok(Some(m)) if m.status != "pending" && m.status != "queued" => JobResult::Done,
            Ok(Some(m)) => match m.claim_until {
                Some(until) if until < now_ms() => {
                    let now = pregon::model::now_rfc3339();
                    match self.store.settle_unknown(job, now_ms(), &now).await {
                        Ok(true) => {
                            warn!(message = %job.message_id(), "claim expired without an outcome: failed as outcome_unknown");
                            let delta = Progress {
                                queued: -1,
                                failed: 1,
                                ..Default::default()
                            };
                            self.add_progress(job, &delta).await;
                            self.maybe_complete(&job.tenant, &job.campaign).await;
                            JobResult::Done
                        }
                        Ok(false) => JobResult::Done,
                        Err(e) => retry(e.to_string()),
                    }
                }
                Some(until) => JobResult::Retry {
                    why: "another sender holds this message".into(),
                    after: ((until - now_ms()) / 1000) as i32 + 1,
                },
                None => retry("not claimable yet"),
            },
            Err(e) => retry(e.to_string()),
        }
    }

    async fn progress(&self, record: &[(&SendJob, Outcome)], applied: &[bool]) {
        let mut per_campaign: HashMap<(&str, &str), Progress> = HashMap::new();
        for ((job, o), ok) in record.iter().zip(applied) {
            if !ok {
                continue;
            }
            let p = per_campaign
                .entry((job.tenant.as_str(), job.campaign.as_str()))
                .or_default();
            p.queued -= 1;
            match o {
                Outcome::Sent { .. } => p.sent += 1,
                Outcome::Failed { .. } => p.failed += 1,
            }
        }
        for ((tenant, campaign), delta) in per_campaign {
            let shard = rand::random::<u32>();
            if let Err(e) = self
                .store
                .add_progress(tenant, campaign, shard, &delta)
                .await
            {
                warn!(error = %e, "could not update progress counters");
            }
            self.maybe_complete(tenant, campaign).await;
        }
    }

    async fn add_progress(&self, job: &SendJob, delta: &Progress) {
        if let Err(e) = self
            .store
            .add_progress(&job.tenant, &job.campaign, rand::random::<u32>(), delta)
            .await
        {
            warn!(error = %e, "could not update progress counters");
        }
    }

    /// Ends the campaign once dispatch is done and every message has an outcome.
    /// Ends the campaign if every message has an outcome: one read of its counters (the
    /// campaign itself is read only when they say so).
    async fn maybe_complete(&self, tenant: &str, campaign: &str) {
        let total = match self.campaign_seen(tenant, campaign).await {
            Ok(Some(c)) => pregon_aws::campaigns::total(&c),
            _ => 0,
        };
        let store = &self.store;
        if let Err(e) =
            pregon_aws::campaigns::maybe_complete_of(store, tenant, campaign, total).await
        {
            warn!(error = %e, "could not check the campaign's end");
        }
    }

    /// The link to the campaign's own header image, when it has one: its uploaded image
    /// (a pre-signed GET, valid [`IMAGE_LINK_TTL`], long enough for the provider to fetch
    /// it), else the `header_image` link it was created with.
    async fn campaign_image(&self, job: &SendJob) -> Option<String> {
        let c = self
            .campaign_seen(&job.tenant, &job.campaign)
            .await
            .ok()??;
        match &c.header_image_file {
            Some(f) if f.status == "ready" => {
                let cfg = PresigningConfig::expires_in(IMAGE_LINK_TTL).ok()?;
                let req = self
                    .aws
                    .s3
                    .get_object()
                    .bucket(&self.aws.bucket)
                    .key(pregon::model::header_image_key(
                        &job.tenant,
                        &job.campaign,
                        &f.upload_id,
                    ))
                    .presigned(cfg)
                    .await
                    .ok()?;
                Some(req.uri().to_string())
            }
            _ => c.settings.header_image.clone(),
        }
    }

    /// One provider call through the transport; the adapter reads the answer.
    async fn call(
        &self,
        ctx: &Context,
        job: &SendJob,
    ) -> Result<Accepted, Result<ProviderError, CallError>> {
        let message_id = job.message_id();
        let callback = self.webhook_base.as_ref().map(|b| {
            format!(
                "{}/v1/webhooks/{}?m={message_id}",
                b.trim_end_matches('/'),
                job.account
            )
        });
        let rendered;
        let campaign_image;
        let content = match (&job.text, &ctx.template) {
            (Some(text), _) => Content::Text { body: text },
            (None, Some(t))
                if ctx.account.provider == ProviderKind::SmsGateway
                    || ctx.account.channel == pregon::validate::Channel::Sms =>
            {
                rendered = pregon::model::render(&t.spec.body, &job.params);
                Content::Text { body: &rendered }
            }
            (None, Some(t)) => Content::Template {
                name: &t.spec.name,
                language: &t.spec.language,
                params: &job.params,
                header_image: match t.spec.header.as_ref().and_then(|h| h.link.as_deref()) {
                    // The campaign's own image replaces the template's (SPEC §3).
                    Some(template_link) => {
                        campaign_image = self.campaign_image(job).await;
                        Some(campaign_image.as_deref().unwrap_or(template_link))
                    }
                    None => None,
                },
                provider_template_id: t.provider_template_id.as_deref(),
            },
            (None, None) => {
                return Err(Ok(ProviderError::Rejected {
                    code: "no_content".into(),
                    message: "the message has neither a template nor a text".into(),
                }))
            }
        };
        let m = Outgoing {
            to: &job.phone,
            content,
            correlation: &message_id,
            status_callback: callback.as_deref(),
        };
        let user_id = job.seq;
        let req = match &ctx.credentials {
            Credentials::Meta {
                access_token,
                phone_number_id,
                ..
            } => Ok(providers::meta::send_request(
                &self.transport.endpoints.meta,
                access_token,
                phone_number_id,
                &m,
            )),
            Credentials::Twilio {
                account_sid,
                auth_token,
            } => providers::twilio::send_request(
                &self.transport.endpoints.twilio,
                account_sid,
                auth_token,
                &ctx.account.sender,
                ctx.account.channel == pregon::validate::Channel::Whatsapp,
                &m,
            ),
            Credentials::Gupshup {
                api_key, app_name, ..
            } => providers::gupshup::send_request(
                &self.transport.endpoints.gupshup,
                api_key,
                app_name,
                &ctx.account.sender,
                &m,
            ),
            Credentials::SmsGateway {
                url,
                user,
                password,
            } => {
                let port = providers::gateway::port_for(&ctx.account_ports(), job.seq);
                providers::gateway::send_request(url, user, password, port, user_id, &m)
            }
        };
        let req = req.map_err(Ok)?;
        let started = std::time::Instant::now();
        let sent = self.transport.send(req).await;
        // The provider's answer time, smoothed (the start cutoff follows it).
        let took = started.elapsed().as_millis() as u64;
        let old = self.answer_ms.load(Ordering::Relaxed);
        self.answer_ms
            .store((old * 7 + took) / 8, Ordering::Relaxed);
        let (status, body) = sent.map_err(Err)?;
        let reply = HttpReply {
            status,
            body: &body,
        };
        let read = match &ctx.credentials {
            Credentials::Meta { .. } => providers::meta::read_send_reply(reply),
            Credentials::Twilio { .. } => providers::twilio::read_send_reply(reply),
            Credentials::Gupshup { .. } => providers::gupshup::read_send_reply(reply),
            Credentials::SmsGateway { .. } => providers::gateway::read_send_reply(reply, user_id),
        };
        read.map_err(Ok)
    }
}

impl Context {
    /// The gateway ports messages rotate over (SPEC §9); port 0 when none are listed.
    fn account_ports(&self) -> Vec<u16> {
        if self.account.ports.is_empty() {
            vec![0]
        } else {
            self.account.ports.clone()
        }
    }
}
