//! The sender: each SQS batch of send jobs becomes provider calls, exactly once per
//! message and never over the provider account's rate, however many instances run.
//!
//! A batch may mix campaigns, tenants, single messages and ticket replies. Per provider
//! account (accounts side by side):
//! 1. leave out jobs whose phone is on the tenant's do-not-contact list (read at most
//!    5 s before), or opted out of marketing for a MARKETING template: `blocked`;
//! 2. take a share of the account's calls for the current second (`reserve_rate`; a
//!    call is only started early in the second it was counted in) — waiting at most
//!    2 s in all: what the rate has no room for goes back on the queue;
//! 3. claim those messages (conditional writes, 25 to a request): a message already
//!    claimed, sent, blocked or skipped is not called again;
//! 4. call the provider, concurrently, through the one transport (connect and request
//!    timeouts), each job with its own content (its template, or its text); the
//!    provider adapter reads each answer into `Accepted` or a `ProviderError` that
//!    carries the decision;
//! 5. record `sent` + provider id or `failed` + code (batched). What the messages count
//!    as in the campaign's progress, and the campaign's end, follow from the table's
//!    stream (the tally function): exactly once.
//!
//! Before any of that, a job of a campaign that is not sending is not sent: a paused
//! campaign's job is parked (it leaves the queue, its message waits `pending` for resume
//! to enqueue it again), a cancelled campaign's job is dropped (dispatch marks its message
//! `skipped`). A pause therefore stops the sending within about a second (the campaign's
//! status is re-read at most once a second), not after the queue drains.
//!
//! Transient errors (throttling, 5xx, a connection refused) release the claim and the
//! job goes back on the queue as a new delayed message carrying its tries
//! ([`SendJob::after_failure`]: 6 hours of throttling, 8 tries through 5xx, then
//! `retries_exhausted`) — never a sleep here, and never a receive used up; permanent
//! ones fail the message at once. A call whose outcome is unknown (a timeout after the
//! request left, a dropped connection, a success without an id) keeps its claim: the
//! job's next delivery finds the claim expired and settles the message from what its
//! provider reported, else `failed` with `outcome_unknown` — and never calls again.
//! Deployed once more on the send dead-letter queue, it settles whatever reaches it.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_s3::presigning::PresigningConfig;
use pregon::model::Progress;
use pregon::model::{Account, Campaign, CampaignStatus, ProviderKind, Template, TemplateCategory};
use pregon::providers::{
    Accepted, Adapter, Content, Credentials, HttpReply, OptOut, Outgoing, ProviderError,
};
use pregon::sending::MessageStatus;
use pregon::sending::{
    rate_slot_within, LostAnswer, NextTry, SendJob, Transient, DEAD_LETTERED, RATE_SLOT_CUTOFF_MS,
    RETRIES_EXHAUSTED,
};
use pregon_aws::config::Aws;
use pregon_aws::messages::{ClaimResult, DncSnapshot, Outcome, Park};
use pregon_aws::metrics::Unit;
use pregon_aws::sqs::Retries;
use pregon_aws::store::Store;
use pregon_aws::transport::{CallError, Transport, REQUEST_TIMEOUT};
use pregon_aws::Error as AwsError;
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
/// A campaign's status (paused, cancelled) is re-read after this long.
const STATUS_FOR: Duration = Duration::from_secs(1);
/// The tenant's do-not-contact list is re-read after this long: an entry added while a
/// campaign sends stops its later messages within seconds (SPEC §8).
const DNC_FOR: Duration = Duration::from_secs(5);
/// Up to this many entries a tenant's list is kept in memory; beyond it, each batch's
/// phones are read by key.
const DNC_IN_MEMORY: usize = 20_000;

/// Records read from the table and kept a while in the process, by tenant and id: each
/// is read again once older than the cache's `ttl`.
struct Cached<V> {
    ttl: Duration,
    seen: Mutex<HashMap<(String, String), (Instant, V)>>,
}

impl<V: Clone> Cached<V> {
    fn new(ttl: Duration) -> Self {
        Cached {
            ttl,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `(tenant, id)`: kept, or read by `load` (and kept).
    async fn get<F>(&self, tenant: &str, id: &str, load: F) -> Result<V, AwsError>
    where
        F: std::future::Future<Output = Result<V, AwsError>>,
    {
        let key = (tenant.to_string(), id.to_string());
        if let Some((at, v)) = self.seen.lock().expect("cache").get(&key) {
            if at.elapsed() < self.ttl {
                return Ok(v.clone());
            }
        }
        let v = load.await?;
        self.seen
            .lock()
            .expect("cache")
            .insert(key, (Instant::now(), v.clone()));
        Ok(v)
    }

    /// Forgets one value: the next `get` reads it.
    fn forget(&self, tenant: &str, id: &str) {
        self.seen
            .lock()
            .expect("cache")
            .remove(&(tenant.to_string(), id.to_string()));
    }
}

pub struct Sender {
    aws: Aws,
    store: Store,
    transport: Transport,
    /// Where providers post statuses (the webhook function), when deployed.
    webhook_base: Option<String>,
    /// This function's send queue (`SEND_QUEUE_URL`), to time retries.
    queue_url: Option<String>,
    /// Accounts and their credentials, by tenant and account ([`CACHE_FOR`]).
    accounts: Cached<Context>,
    /// Templates, by tenant and template (`None`: gone; [`CACHE_FOR`]). Each job is sent
    /// with its own template: one batch may hold several campaigns' jobs for one account.
    templates: Cached<Option<Arc<Template>>>,
    /// Campaigns (status, size, reply wait), by tenant and campaign (`None`: the
    /// campaign is gone; [`STATUS_FOR`]).
    campaigns: Cached<Option<Arc<Campaign>>>,
    /// Do-not-contact lists, by tenant and campaign (`None`: too long, read by key;
    /// [`DNC_FOR`]).
    dnc: Cached<Option<Arc<DncSnapshot>>>,
    /// Recent provider answer time (ms), smoothed.
    answer_ms: AtomicU64,
    /// How long (ms) after a lost answer's claim expired its provider is given to report
    /// the message (`UNREPORTED_WAIT_SECS`, the `UnreportedWaitSeconds` parameter).
    unreported_wait_ms: i64,
}

/// What a job's account needs to send: its record and credentials.
#[derive(Clone)]
struct Context {
    account: Account,
    credentials: Credentials,
}

/// The templates a batch's jobs name, read once per batch (each cached a minute).
type Templates = HashMap<String, Option<Arc<Template>>>;

/// What became of one job in this invocation.
enum JobResult {
    Done,
    /// Back on the queue as `next` (the same job when `None`), visible again after
    /// `after` seconds.
    Retry {
        why: String,
        after: i32,
        next: Option<Box<SendJob>>,
    },
}

/// Retry after the default back-off.
fn retry(why: impl std::fmt::Display) -> JobResult {
    JobResult::Retry {
        why: why.to_string(),
        after: RETRY_SECS,
        next: None,
    }
}

/// A job to try again shortly (an AWS error).
const RETRY_SECS: i32 = 5;
/// How long a batch may wait in-process for its account's rate before what is left goes
/// back on the queue (ms).
const HOLD_MS: i64 = 2_000;

use pregon::clock::now_ms;

impl Sender {
    pub fn new(aws: Aws) -> Result<Self, AwsError> {
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
            accounts: Cached::new(CACHE_FOR),
            templates: Cached::new(CACHE_FOR),
            campaigns: Cached::new(STATUS_FOR),
            dnc: Cached::new(DNC_FOR),
            answer_ms: AtomicU64::new(100),
            unreported_wait_ms: std::env::var("UNREPORTED_WAIT_SECS")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(pregon::sending::UNREPORTED_WAIT_SECS)
                as i64
                * 1000,
        })
    }

    /// One SQS batch. `deadline` is the invocation's end (unix ms).
    pub async fn handle(&self, event: SqsEvent, deadline: u64) -> SqsBatchResponse {
        let mut jobs: Vec<(String, SendJob)> = Vec::new();
        let mut retries = Retries::new(&event);
        let mut again: Vec<(String, SendJob, i32)> = Vec::new();
        for r in event.records {
            let id = r.message_id.clone().unwrap_or_default();
            match serde_json::from_str::<SendJob>(r.body.as_deref().unwrap_or("")) {
                Ok(j) => jobs.push((id, j)),
                // Not a send job: it can never succeed. The queue's redrive takes it to
                // the dead-letter queue after its tries; say why in the log.
                Err(e) => {
                    warn!(message_id = %id, error = %e, "not a send job");
                    retries.retry(id);
                }
            }
        }
        let mut by_account: HashMap<(String, String), Vec<(String, SendJob)>> = HashMap::new();
        let (ticket_jobs, jobs): (Vec<_>, Vec<_>) =
            jobs.into_iter().partition(|(_, j)| j.ticket_at.is_some());
        for (id, j) in ticket_jobs {
            let at = j.ticket_at.clone().unwrap_or_default();
            if let JobResult::Retry { why, after, next } = self.open_ticket_again(&j, &at).await {
                info!(message = %j.message_id(), reason = %why, "ticket job will be retried");
                again.push((id, next.map_or(j, |n| *n), after));
            }
        }
        for (id, j) in jobs {
            by_account
                .entry((j.tenant.clone(), j.account.clone()))
                .or_default()
                .push((id, j));
        }
        // Accounts side by side: one account waiting for its rate never holds another's
        // jobs of the batch.
        let sends = by_account
            .iter()
            .map(|((tenant, account), group)| async move {
                (
                    group,
                    self.send_account(tenant, account, group, deadline).await,
                )
            });
        for (group, results) in futures::future::join_all(sends).await {
            for ((id, job), r) in group.iter().zip(results) {
                if let JobResult::Retry { why, after, next } = r {
                    info!(message = %job.message_id(), reason = %why, after, "send job will be retried");
                    let next = next.map_or_else(|| job.clone(), |n| *n);
                    again.push((id.clone(), next, after));
                }
            }
        }
        // Each retry goes back as a new queue message (its counts in the body), so a storm
        // never uses up the queue's receives; one that could not be put back stays a batch
        // failure and returns after its own back-off.
        let kept = self.requeue(&again).await;
        for ((id, _, after), ok) in again.into_iter().zip(kept) {
            if !ok {
                retries.retry_after(id, after);
            }
        }
        let queue = self.queue_url.as_deref().map(|q| (&self.aws.sqs, q));
        retries.respond(queue).await
    }

    /// A batch of the send dead-letter queue: each job that still reached it (the queue
    /// gave up on it, or its body is not a job) is settled, so its campaign can end. An
    /// unsent message ends `failed` with `dead_lettered`; one whose claim expired ends
    /// `outcome_unknown` (it may have been called); one a sender still holds comes back
    /// later; one with an outcome is left as it is.
    pub async fn settle_dead_letters(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut retries = Retries::new(&event);
        // Every dead letter is counted (the queue's depth alarm may not see one this
        // takes within a minute).
        pregon_aws::metrics::emit(
            &[("Function", "send-dead-letters")],
            &[(
                "DeadLettered",
                event.records.len() as f64,
                pregon_aws::metrics::Unit::Count,
            )],
        );
        for r in event.records {
            let id = r.message_id.clone().unwrap_or_default();
            let body = r.body.as_deref().unwrap_or("");
            let job = match serde_json::from_str::<SendJob>(body) {
                Ok(j) => j,
                Err(e) => {
                    // Nothing to settle: say why, once, and let it go.
                    warn!(message_id = %id, error = %e, bytes = body.len(), "a dead letter that is not a send job: dropped");
                    continue;
                }
            };
            if let JobResult::Retry { why, .. } = self.settle_dead_letter(&job).await {
                warn!(message = %job.message_id(), reason = %why, "dead letter not settled yet");
                retries.retry(id);
            }
        }
        retries.respond(None).await
    }

    async fn settle_dead_letter(&self, job: &SendJob) -> JobResult {
        let m = match self.store.message(job).await {
            Ok(Some(m)) => m,
            Ok(None) => return JobResult::Done,
            Err(e) => return retry(e.to_string()),
        };
        if m.status != "pending" && m.status != "queued" {
            return JobResult::Done;
        }
        if m.claim_until.is_some() {
            // (The queue gave up on it: settled now, without waiting for a report.)
            return self.already_taken(job, false).await;
        }
        let now = pregon::clock::now_rfc3339();
        let why =
            "the send queue gave up on this message's job (dead-letter queue); it was not sent";
        match self.store.fail_unsent(job, DEAD_LETTERED, why, &now).await {
            Ok(true) => {
                warn!(message = %job.message_id(), "dead-lettered job: message failed");
                self.unqueue(job).await;
                JobResult::Done
            }
            Ok(false) => JobResult::Done,
            Err(e) => retry(e.to_string()),
        }
    }

    /// A campaign's status, read at most once a second per campaign.
    async fn campaign_status(
        &self,
        tenant: &str,
        campaign: &str,
    ) -> Result<Option<CampaignStatus>, AwsError> {
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
    ) -> Result<Option<Arc<Campaign>>, AwsError> {
        let load = async { Ok(self.store.campaign(tenant, campaign).await?.map(Arc::new)) };
        self.campaigns.get(tenant, campaign, load).await
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
    async fn park(&self, job: &SendJob) -> Result<bool, AwsError> {
        match self.store.park_message(job).await? {
            Park::Parked => {
                self.unqueue(job).await;
                Ok(true)
            }
            Park::NotPending => Ok(true),
            Park::NotPaused => {
                self.campaigns.forget(&job.tenant, &job.campaign);
                Ok(false)
            }
        }
    }

    /// Puts retried jobs back on this function's queue as new messages, each visible after
    /// its back-off (at most SQS's 15 minutes); whether each one was put back.
    async fn requeue(&self, again: &[(String, SendJob, i32)]) -> Vec<bool> {
        let Some(queue) = &self.queue_url else {
            return vec![false; again.len()];
        };
        let mut kept = Vec::with_capacity(again.len());
        for chunk in again.chunks(10) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, (_, job, after))| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(serde_json::to_string(job).ok()?)
                        .delay_seconds((*after).clamp(0, 900))
                        .build()
                        .ok()
                })
                .collect();
            let sent = self
                .aws
                .sqs
                .send_message_batch()
                .queue_url(queue)
                .set_entries(Some(entries))
                .send()
                .await;
            match sent {
                Ok(out) => {
                    let ok: Vec<String> = out.successful.into_iter().map(|e| e.id).collect();
                    kept.extend((0..chunk.len()).map(|i| ok.contains(&i.to_string())));
                }
                Err(e) => {
                    warn!(error = ?e, "could not put retries back on the queue (they come back by visibility)");
                    kept.extend(chunk.iter().map(|_| false));
                }
            }
        }
        kept
    }

    async fn context(&self, tenant: &str, account: &str) -> Result<Context, AwsError> {
        let load = async {
            let account_rec: Account = self
                .store
                .get(pregon::keys::account(tenant, account))
                .await?
                .ok_or_else(|| AwsError::Shape("the account no longer exists".into()))?;
            let credentials = pregon_aws::transport::credentials(&self.aws, &account_rec).await?;
            Ok(Context {
                account: account_rec,
                credentials,
            })
        };
        self.accounts.get(tenant, account, load).await
    }

    /// A template (`None`: it no longer exists), read at most once a minute.
    async fn template(&self, tenant: &str, id: &str) -> Result<Option<Arc<Template>>, AwsError> {
        let load = async {
            Ok(self
                .store
                .get::<Template>(pregon::keys::template(tenant, id))
                .await?
                .map(Arc::new))
        };
        self.templates.get(tenant, id, load).await
    }

    /// Sends one account's jobs of the batch, as fast as its rate allows.
    async fn send_account(
        &self,
        tenant: &str,
        account: &str,
        group: &[(String, SendJob)],
        deadline: u64,
    ) -> Vec<JobResult> {
        let ctx = match self.context(tenant, account).await {
            Ok(c) => c,
            Err(e) => return group.iter().map(|_| retry(e.clone())).collect(),
        };
        let mut results: Vec<Option<JobResult>> = group.iter().map(|_| None).collect();
        let (templates, mut waiting) = self.templates_of(tenant, group, &mut results).await;
        // A batch holds its sender for at most HOLD_MS of the account's rate: what the
        // rate has no room for by then goes back on the queue, so a slow account's jobs
        // never hold the sender slots other accounts' jobs need.
        let hold_until = now_ms() + HOLD_MS;
        let mut left_why = "the invocation ran out of time";
        while !waiting.is_empty() {
            // Leave time to record what was sent before the invocation ends.
            if now_ms() + REQUEST_TIMEOUT.as_millis() as i64 + 3_000 > deadline as i64 {
                break;
            }
            if now_ms() >= hold_until {
                left_why = "waiting for the account's rate";
                break;
            }
            match self.screen(group, waiting, &templates, &mut results).await {
                Ok(still) => waiting = still,
                Err(still) => {
                    waiting = still;
                    break;
                }
            }
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
            let Some(outcomes) = self.send_some(&ctx, &templates, &take, latest_start).await else {
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
        left_over(results, waiting.len(), ctx.account.rate, left_why)
    }

    /// Each job's own template (the group may hold several campaigns' jobs, ticket
    /// replies and single messages of one account), and the jobs whose template could
    /// be read (the others are retried).
    async fn templates_of(
        &self,
        tenant: &str,
        group: &[(String, SendJob)],
        results: &mut [Option<JobResult>],
    ) -> (Templates, Vec<usize>) {
        let mut templates = Templates::new();
        let mut waiting: Vec<usize> = Vec::with_capacity(group.len());
        for (i, (_, job)) in group.iter().enumerate() {
            if let Some(t) = &job.template {
                if !templates.contains_key(t) {
                    match self.template(tenant, t).await {
                        Ok(found) => {
                            templates.insert(t.clone(), found);
                        }
                        Err(e) => {
                            results[i] = Some(retry(format!("template unreadable: {e}")));
                            continue;
                        }
                    }
                }
            }
            waiting.push(i);
        }
        (templates, waiting)
    }

    /// The waiting jobs that may still go, checked right before their call: a pause or
    /// a cancel while the batch waited for the rate takes hold (the job is parked or
    /// dropped), and a phone put on the do-not-contact list (or opted out by a reply)
    /// meanwhile is not sent. `Err` with the jobs still waiting when the list cannot be
    /// read (the batch stops there).
    async fn screen(
        &self,
        group: &[(String, SendJob)],
        waiting: Vec<usize>,
        templates: &Templates,
        results: &mut [Option<JobResult>],
    ) -> Result<Vec<usize>, Vec<usize>> {
        let mut still = Vec::with_capacity(waiting.len());
        for i in waiting {
            match self.gate(&group[i].1).await {
                None => still.push(i),
                Some(r) => results[i] = Some(r),
            }
        }
        match self.blocked(group, &still, templates).await {
            Ok(stop) if !stop.is_empty() => {
                let failed = self.block(group, &stop).await.err();
                for i in &stop {
                    results[*i] = Some(match &failed {
                        None => JobResult::Done,
                        Some(e) => retry(format!("could not block: {e}")),
                    });
                }
                still.retain(|i| !stop.contains(i));
                Ok(still)
            }
            Ok(_) => Ok(still),
            Err(e) => {
                warn!(error = %e, "do-not-contact list unreadable");
                Err(still)
            }
        }
    }

    /// A tenant's do-not-contact list for one campaign, read at most every [`DNC_FOR`].
    async fn dnc_snapshot(
        &self,
        tenant: &str,
        campaign: &str,
    ) -> Result<Option<Arc<DncSnapshot>>, AwsError> {
        let load = async {
            Ok(self
                .store
                .do_not_contact_snapshot(tenant, campaign, DNC_IN_MEMORY)
                .await?
                .map(Arc::new))
        };
        self.dnc.get(tenant, campaign, load).await
    }

    /// Which of the `waiting` jobs may not be sent now: the phone is on the tenant's
    /// do-not-contact list (tenant-wide or for the job's campaign), or it stopped
    /// marketing messages and the job's template is a MARKETING one.
    async fn blocked(
        &self,
        group: &[(String, SendJob)],
        waiting: &[usize],
        templates: &Templates,
    ) -> Result<Vec<usize>, AwsError> {
        let marketing = |job: &SendJob| {
            job.template
                .as_ref()
                .and_then(|t| templates.get(t))
                .and_then(Option::as_deref)
                .is_some_and(|t| t.spec.category == Some(TemplateCategory::Marketing))
        };
        let mut by_campaign: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        for i in waiting {
            let job = &group[*i].1;
            by_campaign
                .entry((job.tenant.as_str(), job.campaign.as_str()))
                .or_default()
                .push(*i);
        }
        let mut stop = Vec::new();
        for ((tenant, campaign), jobs) in by_campaign {
            match self.dnc_snapshot(tenant, campaign).await? {
                Some(list) => stop.extend(jobs.into_iter().filter(|i| {
                    let job = &group[*i].1;
                    if marketing(job) {
                        list.refuses_marketing(&job.phone)
                    } else {
                        list.contains(&job.phone)
                    }
                })),
                None => {
                    // A long list: these phones' entries by key.
                    let phones: Vec<&str> =
                        jobs.iter().map(|i| group[*i].1.phone.as_str()).collect();
                    let listed = self.store.do_not_contact(tenant, campaign, &phones).await?;
                    let opted = self
                        .store
                        .do_not_contact(tenant, pregon::keys::MARKETING_OPT_OUT, &phones)
                        .await?;
                    stop.extend(jobs.into_iter().filter(|i| {
                        let job = &group[*i].1;
                        listed.contains(&job.phone)
                            || (marketing(job) && opted.contains(&job.phone))
                    }));
                }
            }
        }
        Ok(stop)
    }

    /// Ends these jobs' messages `blocked` (only those nobody holds and not yet sent); the
    /// tally counts them.
    async fn block(&self, group: &[(String, SendJob)], stop: &[usize]) -> Result<(), AwsError> {
        let now = pregon::clock::now_rfc3339();
        let mut by_campaign: HashMap<(&str, &str, u32), Vec<u64>> = HashMap::new();
        for i in stop {
            let job = &group[*i].1;
            by_campaign
                .entry((job.tenant.as_str(), job.campaign.as_str(), job.gen))
                .or_default()
                .push(job.row);
        }
        for ((tenant, campaign, gen), rows) in by_campaign {
            // Conditional (only unclaimed, unsent messages): a retry counts nothing twice.
            let applied = self
                .store
                .mark_messages(tenant, campaign, gen, &rows, MessageStatus::Blocked, &now)
                .await?;
            let n = applied.iter().filter(|a| **a).count() as i64;
            info!(campaign, blocked = n, "do-not-contact: not sent");
            if n > 0 {
                let delta = Progress {
                    queued: -n,
                    ..Default::default()
                };
                if let Err(e) = self
                    .store
                    .add_progress(tenant, campaign, rand::random::<u32>(), &delta)
                    .await
                {
                    warn!(error = %e, "could not update progress counters");
                }
            }
        }
        Ok(())
    }

    /// Recipients who opted out through the provider's refusal (Twilio 21610: on the
    /// tenant's do-not-contact list; Meta 131050: no more MARKETING templates).
    async fn opt_outs(&self, ctx: &Context, record: &[(&SendJob, Outcome)], now: &str) {
        let mut entries: HashMap<&str, Vec<(String, Option<String>)>> = HashMap::new();
        for (job, o) in record {
            let Outcome::Failed { code, .. } = o else {
                continue;
            };
            let scope = match pregon::providers::opt_out(ctx.account.provider, code) {
                Some(OptOut::Everything) => None,
                Some(OptOut::Marketing) => Some(pregon::keys::MARKETING_OPT_OUT.to_string()),
                None => continue,
            };
            entries
                .entry(job.tenant.as_str())
                .or_default()
                .push((job.phone.clone(), scope));
        }
        for (tenant, list) in entries {
            info!(tenant, count = list.len(), "opted out through the provider");
            if let Err(e) = self.store.dnc_put(tenant, &list, now).await {
                warn!(error = %e, "could not record opt-outs");
            }
        }
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
        templates: &Templates,
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
                ClaimResult::Claimed => Some(self.call(ctx, templates, job).await),
                ClaimResult::Taken => None,
            }
        });
        let answers = futures::future::join_all(calls).await;
        let now = pregon::clock::now_rfc3339();
        let mut results = Vec::with_capacity(take.len());
        let mut batch = Batch::default();
        for (job, answer) in jobs.iter().zip(answers) {
            results.push(self.judge(ctx, job, answer, &mut batch).await);
        }
        self.batch_metrics(ctx, &batch);
        if !batch.release.is_empty() {
            if let Err(e) = self.store.release_claims(&batch.release, claim).await {
                warn!(error = %e, "could not release claims (they expire)");
            }
        }
        if !batch.record.is_empty() {
            if let Err(e) = self
                .record(ctx, &jobs, &mut results, &batch.record, claim, &now)
                .await
            {
                // The provider has them; the claims stay and the redelivery settles
                // them as outcome_unknown rather than sending again.
                warn!(error = %e, "could not record outcomes");
                return Some(take.iter().map(|_| retry(e.to_string())).collect());
            }
        }
        Some(results)
    }

    /// What one provider answer means for its job: recorded (sent or refused), released
    /// to try again later (throttled, unavailable), or kept claimed (outcome unknown).
    async fn judge<'a>(
        &self,
        ctx: &Context,
        job: &'a SendJob,
        answer: Option<Attempt>,
        batch: &mut Batch<'a>,
    ) -> JobResult {
        match answer {
            None => {
                self.already_taken(job, ctx.account.provider.reports_every_message())
                    .await
            }
            Some(Attempt::Accepted(a)) => {
                batch.record.push((
                    job,
                    Outcome::Sent {
                        provider_message_id: a.provider_message_id,
                    },
                ));
                JobResult::Done
            }
            Some(Attempt::Refused(e)) if e.retriable() => {
                let trouble = if matches!(e, ProviderError::Throttled { .. }) {
                    batch.throttled += 1;
                    Transient::Throttled
                } else {
                    Transient::Unavailable
                };
                let why = e.to_string();
                transient(job, trouble, why, &mut batch.release, &mut batch.record)
            }
            Some(Attempt::NotSent(why)) => transient(
                job,
                Transient::Unavailable,
                why,
                &mut batch.release,
                &mut batch.record,
            ),
            Some(Attempt::Unknown(why)) => {
                // Keep the claim: the redelivery, once it has expired, settles it as
                // outcome_unknown (unless a status callback did), never re-sends it.
                warn!(message = %job.message_id(), reason = %why, "send outcome unknown");
                JobResult::Retry {
                    why,
                    after: (CLAIM_MS / 1000) as i32 + 1,
                    next: None,
                }
            }
            Some(Attempt::Refused(e)) => {
                let (code, message) = e.code_and_message();
                batch.record.push((job, Outcome::Failed { code, message }));
                JobResult::Done
            }
        }
    }

    /// CloudWatch (EMF): what this batch did at the provider, by provider kind.
    fn batch_metrics(&self, ctx: &Context, batch: &Batch<'_>) {
        let sent = batch
            .record
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Sent { .. }))
            .count();
        pregon_aws::metrics::emit(
            &[("Provider", ctx.account.provider.as_str())],
            &[
                ("MessagesSent", sent as f64, Unit::Count),
                (
                    "MessagesFailed",
                    (batch.record.len() - sent) as f64,
                    Unit::Count,
                ),
                ("Throttled", batch.throttled as f64, Unit::Count),
                (
                    "ProviderLatency",
                    self.answer_ms.load(Ordering::Relaxed) as f64,
                    Unit::Milliseconds,
                ),
            ],
        );
    }

    /// Records the batch's outcomes (only under its claims), then what follows from
    /// them: opt-outs, progress, tickets — a job whose ticket could not be written is
    /// put back to open it apart.
    async fn record(
        &self,
        ctx: &Context,
        jobs: &[&SendJob],
        results: &mut [JobResult],
        record: &[(&SendJob, Outcome)],
        claim: i64,
        now: &str,
    ) -> Result<(), pregon_aws::Error> {
        let applied = self.store.record_outcomes(record, claim, now).await?;
        self.opt_outs(ctx, record, now).await;
        self.progress(record, &applied).await;
        let unticketed = self.open_tickets(record, &applied, now).await;
        for (job, r) in jobs.iter().zip(results.iter_mut()) {
            if unticketed.contains(&job.message_id()) {
                let mut again = (*job).clone();
                again.ticket_at = Some(now.to_string());
                *r = JobResult::Retry {
                    why: "its ticket is opened apart".into(),
                    after: 5,
                    next: Some(Box::new(again)),
                };
            }
        }
        Ok(())
    }

    /// Tickets for the messages just recorded `sent` whose campaign waits for a reply
    /// (SPEC §5): open until each message's own send time plus the wait. A sender that
    /// dies before this leaves the message without a ticket; a reply to it then opens
    /// an inbound ticket (no reply is dropped).
    /// The jobs whose tickets could not be written: each is put back (a new queue
    /// message with `ticket_at`) and retried until its ticket and due item exist.
    async fn open_tickets(
        &self,
        record: &[(&SendJob, Outcome)],
        applied: &[bool],
        now: &str,
    ) -> Vec<String> {
        let mut tickets = Vec::new();
        let mut whose = Vec::new();
        let mut unread = Vec::new();
        let mut informative: HashMap<&str, Vec<(&str, &str, String)>> = HashMap::new();
        for ((job, o), ok) in record.iter().zip(applied) {
            if !ok || !matches!(o, Outcome::Sent { .. }) {
                continue;
            }
            match self.campaign_seen(&job.tenant, &job.campaign).await {
                Ok(Some(c)) => {
                    if let Some(t) = job_ticket(job, &c, now) {
                        tickets.push(t);
                        whose.push(job.message_id());
                    } else if !c.single && c.settings.wait_for_reply_hours == 0 {
                        informative.entry(&job.tenant).or_default().push((
                            &job.account,
                            &job.phone,
                            job.message_id(),
                        ));
                    }
                }
                Ok(None) => {}
                // The campaign could not be read: its ticket is opened apart, later.
                Err(e) => {
                    warn!(error = %e, "campaign not read for a ticket: retried");
                    unread.push(job.message_id());
                }
            }
        }
        if !tickets.is_empty() {
            if let Err(e) = self.store.open_tickets(&tickets).await {
                warn!(error = %e, count = tickets.len(), "tickets not opened yet: retried");
                unread.extend(whose);
            }
        }
        // An informative campaign's message is its phone's latest from the account: a
        // reply that quotes nothing is counted on it (a lost note only leaves such a
        // reply uncounted; the reply itself still opens its inbound ticket).
        for (tenant, sent) in informative {
            if let Err(e) = self.store.note_sent(tenant, &sent, now).await {
                warn!(error = %e, count = sent.len(), "informative messages not noted for replies");
            }
        }
        unread
    }

    /// A job put back only to open its message's ticket ([`SendJob::ticket_at`]).
    async fn open_ticket_again(&self, job: &SendJob, at: &str) -> JobResult {
        let c = match self.campaign_seen(&job.tenant, &job.campaign).await {
            Ok(Some(c)) => c,
            Ok(None) => return JobResult::Done,
            Err(e) => return retry(e),
        };
        let Some(t) = job_ticket(job, &c, at) else {
            return JobResult::Done;
        };
        match self.store.open_tickets(&[t]).await {
            Ok(()) => JobResult::Done,
            Err(e) => JobResult::Retry {
                why: format!("ticket not opened yet: {e}"),
                after: 30,
                next: None,
            },
        }
    }

    /// A job whose message could not be claimed: a duplicate, or a claim to settle.
    /// `reports`: whether the account's provider reports every message it takes
    /// ([`LostAnswer`]).
    async fn already_taken(&self, job: &SendJob, reports: bool) -> JobResult {
        match self.store.message(job).await {
            Ok(None) => JobResult::Done,
            Ok(Some(m)) if m.status != "pending" && m.status != "queued" => JobResult::Done,
            Ok(Some(m)) => match m.claim_until {
                Some(until) if until < now_ms() => {
                    let now = pregon::clock::now_rfc3339();
                    // The provider reported it while the dead sender held it: its kept
                    // statuses settle it (sent, delivered, …), not outcome_unknown.
                    if let Some(pmid) = &m.reported_id {
                        match self.settle_reported(job, pmid, &now).await {
                            Ok(true) => return JobResult::Done,
                            Ok(false) => {}
                            Err(e) => return retry(e),
                        }
                    }
                    let resend = match self.campaign_seen(&job.tenant, &job.campaign).await {
                        Ok(c) => c.is_some_and(|c| c.settings.resend_unreported),
                        Err(e) => return retry(e),
                    };
                    let decision = LostAnswer::decide(
                        until,
                        now_ms(),
                        reports,
                        self.unreported_wait_ms,
                        resend,
                        m.resent.unwrap_or(false),
                    );
                    let (code, why) = match decision {
                        LostAnswer::Wait { ms } => return JobResult::Retry {
                            why:
                                "waiting for the provider to report a message whose answer was lost"
                                    .into(),
                            after: (ms / 1000) as i32 + 1,
                            next: None,
                        },
                        LostAnswer::Resend => {
                            return match self.store.release_for_resend(job, until).await {
                                Ok(true) => {
                                    warn!(message = %job.message_id(), "lost answer never reported: sending once more (resend_unreported)");
                                    JobResult::Retry {
                                        why: "sending once more".into(),
                                        after: 0,
                                        next: None,
                                    }
                                }
                                // Reported, taken or settled meanwhile: look again.
                                Ok(false) => retry("changed meanwhile"),
                                Err(e) => retry(e.to_string()),
                            };
                        }
                        LostAnswer::Settle { code, why } => (code, why),
                    };
                    match self
                        .store
                        .settle_unknown(job, code, &why, now_ms(), &now)
                        .await
                    {
                        Ok(true) => {
                            warn!(message = %job.message_id(), code, "claim expired without an outcome: failed");
                            self.unqueue(job).await;
                            JobResult::Done
                        }
                        Ok(false) => JobResult::Done,
                        Err(e) => retry(e.to_string()),
                    }
                }
                Some(until) => JobResult::Retry {
                    why: "another sender holds this message".into(),
                    after: ((until - now_ms()) / 1000) as i32 + 1,
                    next: None,
                },
                None => retry("not claimable yet"),
            },
            Err(e) => retry(e.to_string()),
        }
    }

    /// Settles a message whose claim expired from the statuses its provider reported
    /// for it (kept by the webhook under `provider_message_id`); whether it now has an
    /// outcome.
    async fn settle_reported(
        &self,
        job: &SendJob,
        provider_message_id: &str,
        now: &str,
    ) -> Result<bool, AwsError> {
        let kept = self
            .store
            .take_early_statuses(&job.account, &[provider_message_id])
            .await?;
        let message = job.message_id();
        for u in &kept {
            pregon_aws::statuses::apply(&self.store, &message, u, now).await?;
        }
        let now_seen = self.store.message(job).await?;
        let settled = now_seen.is_some_and(|m| m.status != "pending" && m.status != "queued");
        if settled {
            info!(message = %message, "claim expired; settled from the provider's reported status");
        }
        Ok(settled)
    }

    /// Takes recorded messages off their campaign's `queued` count. What they count as
    /// (`sent`, `failed`, `blocked`, `skipped`) and the campaign's end follow from the
    /// table's stream (the tally function): exactly once, whatever a retry repeats here.
    async fn progress(&self, record: &[(&SendJob, Outcome)], applied: &[bool]) {
        let mut per_campaign: HashMap<(&str, &str), Progress> = HashMap::new();
        for ((job, _), ok) in record.iter().zip(applied) {
            if *ok {
                per_campaign
                    .entry((job.tenant.as_str(), job.campaign.as_str()))
                    .or_default()
                    .queued -= 1;
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
        }
    }

    /// One message off its campaign's `queued` count (see [`Sender::progress`]).
    async fn unqueue(&self, job: &SendJob) {
        let delta = Progress {
            queued: -1,
            ..Default::default()
        };
        self.add_progress(job, &delta).await;
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
    async fn call(&self, ctx: &Context, templates: &Templates, job: &SendJob) -> Attempt {
        let message_id = job.message_id();
        let callback = self
            .webhook_base
            .as_ref()
            .map(|b| pregon::model::status_callback_url(b, &job.account, &message_id));
        let template = job
            .template
            .as_deref()
            .and_then(|t| templates.get(t))
            .and_then(Option::as_deref);
        let sms = ctx.account.provider == ProviderKind::SmsGateway
            || ctx.account.channel == pregon::validate::Channel::Sms;
        // The campaign's own image replaces the template's (SPEC §3): read only for a
        // template that has one.
        let campaign_image = match template {
            Some(t) if !sms && t.image_header().is_some() => self.campaign_image(job).await,
            _ => None,
        };
        let mut rendered = String::new();
        let content =
            match Content::of_job(job, template, sms, campaign_image.as_deref(), &mut rendered) {
                Ok(content) => content,
                Err(refused) => return Attempt::Refused(refused),
            };
        let m = Outgoing {
            to: &job.phone,
            content,
            correlation: &message_id,
            status_callback: callback.as_deref(),
        };
        let adapter = Adapter::new(&ctx.account, &ctx.credentials);
        let req = match adapter.send_request(&self.transport.endpoints, &m, job.seq) {
            Ok(req) => req,
            Err(refused) => return Attempt::Refused(refused),
        };
        let started = std::time::Instant::now();
        let sent = self.transport.send(req).await;
        // The provider's answer time, smoothed (the start cutoff follows it).
        let took = started.elapsed().as_millis() as u64;
        let old = self.answer_ms.load(Ordering::Relaxed);
        self.answer_ms
            .store((old * 7 + took) / 8, Ordering::Relaxed);
        let (status, body) = match sent {
            Ok(answer) => answer,
            Err(e) => return e.into(),
        };
        let reply = HttpReply {
            status,
            body: &body,
        };
        adapter.read_send_reply(reply, &message_id).into()
    }
}

/// What became of one call to the provider.
enum Attempt {
    /// The provider took the message.
    Accepted(Accepted),
    /// The provider answered no: for now (throttled, unavailable) or for good.
    Refused(ProviderError),
    /// The request never left: nothing can have been sent; try again later.
    NotSent(String),
    /// The provider may have taken it (the answer was cut, or said yes without an id):
    /// never sent again on a guess; its callbacks, else the claim's expiry, settle it.
    Unknown(String),
}

impl From<Result<Accepted, ProviderError>> for Attempt {
    fn from(answer: Result<Accepted, ProviderError>) -> Self {
        match answer {
            Ok(a) => Attempt::Accepted(a),
            Err(ProviderError::Unknown { reason }) => Attempt::Unknown(reason),
            Err(e) => Attempt::Refused(e),
        }
    }
}

impl From<CallError> for Attempt {
    fn from(e: CallError) -> Self {
        match e {
            CallError::NotSent(why) => Attempt::NotSent(why),
            CallError::Unknown(why) => Attempt::Unknown(why),
        }
    }
}

/// Every job's result: its own, or, for the `waiting` ones the batch did not reach, a
/// retry after about as long as the account's `rate` needs for them (with jitter).
fn left_over(
    results: Vec<Option<JobResult>>,
    waiting: usize,
    rate: u32,
    why: &str,
) -> Vec<JobResult> {
    let after = waiting.div_ceil(rate.max(1) as usize).clamp(1, 900) as i32;
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| JobResult::Retry {
                why: why.into(),
                after: after + rand::random_range(0..=after / 2),
                next: None,
            })
        })
        .collect()
}

/// A job the provider could not take now (throttled, unavailable): its claim is given
/// back and it goes back on the queue with its counts, or, once it has tried long enough
/// ([`SendJob::after_failure`]), the message fails `retries_exhausted` (claim kept, to
/// record it).
/// What a batch's answers asked for: outcomes to record, claims to give back, and how
/// many answers were throttling.
#[derive(Default)]
struct Batch<'a> {
    record: Vec<(&'a SendJob, Outcome)>,
    release: Vec<&'a SendJob>,
    throttled: u32,
}

fn transient<'a>(
    job: &'a SendJob,
    trouble: Transient,
    why: String,
    release: &mut Vec<&'a SendJob>,
    record: &mut Vec<(&'a SendJob, Outcome)>,
) -> JobResult {
    match job.after_failure(trouble, now_ms()) {
        NextTry::Again {
            job: next,
            after_secs,
        } => {
            release.push(job);
            // A little spread, so a storm's jobs do not all come back in one second.
            let after = after_secs + rand::random_range(0..=after_secs / 4);
            JobResult::Retry {
                why,
                after: after as i32,
                next: Some(next),
            }
        }
        NextTry::GiveUp { why: gave_up } => {
            warn!(message = %job.message_id(), reason = %why, "gave up after transient provider trouble");
            record.push((
                job,
                Outcome::Failed {
                    code: RETRIES_EXHAUSTED.into(),
                    message: format!("{gave_up}; last: {why}"),
                },
            ));
            JobResult::Done
        }
    }
}

/// The ticket a sent job's message opens, if its campaign waits for replies.
fn job_ticket(job: &SendJob, c: &Campaign, at: &str) -> Option<pregon::model::Ticket> {
    pregon_aws::tickets::campaign_ticket(
        &job.tenant,
        c,
        &job.account,
        job.gen,
        job.row,
        &job.phone,
        at,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[tokio::test]
    async fn a_cached_record_is_read_once_until_it_is_old_or_forgotten() {
        let reads = AtomicU32::new(0);
        let load = || async { Ok::<u32, AwsError>(reads.fetch_add(1, Ordering::SeqCst) + 1) };
        let kept = Cached::new(Duration::from_secs(60));
        assert_eq!(kept.get("t", "a", load()).await.ok(), Some(1));
        assert_eq!(kept.get("t", "a", load()).await.ok(), Some(1));
        // Another key, another read; the first stays.
        assert_eq!(kept.get("t", "b", load()).await.ok(), Some(2));
        assert_eq!(kept.get("t", "a", load()).await.ok(), Some(1));
        kept.forget("t", "a");
        assert_eq!(kept.get("t", "a", load()).await.ok(), Some(3));
        // A failed read keeps nothing.
        let failing = Cached::<u32>::new(Duration::from_secs(60));
        assert!(failing
            .get("t", "a", async { Err(AwsError::Dynamo("down".into())) })
            .await
            .is_err());
        assert_eq!(failing.get("t", "a", load()).await.ok(), Some(4));
        // Old values are read again.
        let short = Cached::new(Duration::ZERO);
        assert_eq!(short.get("t", "a", load()).await, Ok(5));
        assert_eq!(short.get("t", "a", load()).await, Ok(6));
        assert_eq!(reads.load(Ordering::SeqCst), 6);
    }
}
