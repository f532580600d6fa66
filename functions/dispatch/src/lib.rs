//! Dispatch (SPEC §2 step 3): pages a `sending` campaign's recipients (a query per shard,
//! never a scan), marks do-not-contact ones `blocked` (checked now, not at upload), and
//! enqueues the others as send jobs, ten to an SQS request, on the provider's queue.
//!
//! Each shard's position is checkpointed on the campaign after every page, so a crash or
//! a timeout resumes where it stopped: at most one page is enqueued twice, and the
//! senders' claims make that harmless. Pause or cancel stops it at the next page;
//! resume sends a new dispatch request that continues from the checkpoint. An
//! invocation that runs long hands over to a fresh one (a continuation message).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use pregon::keys;
use pregon::model::Progress;
use pregon::model::{Account, Campaign, CampaignStatus, ProviderKind};
use pregon::sending::{MessageStatus, SendJob};
use pregon_aws::config::Aws;
use pregon_aws::messages::DncSnapshot;
use pregon_aws::metrics::Unit;
use pregon_aws::sqs::{for_each_record, Outcome};
use pregon_aws::store::{RecipientItem, Store};
use pregon_aws::Error as AwsError;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Recipients read per query (DynamoDB also stops a page at 1 MB).
const PAGE: i32 = 1000;
/// A do-not-contact list up to this size is read whole at the start of an invocation
/// and checked in memory; a longer one is checked by key, page by page.
const DNC_IN_MEMORY: usize = 50_000;
/// An invocation hands over to a new one after this long (Lambda stops at 15 minutes).
const BUDGET: Duration = Duration::from_secs(600);
/// Dispatch puts about this many seconds of the account's rate on the send queue at a
/// time, then comes back for the next slice: a slow account's backlog waits in the
/// table, not in the queue every tenant's jobs share (SPEC §9, fairness). The stack's
/// `DispatchSliceSeconds` parameter (`DISPATCH_SLICE_SECS`) sets it.
const SLICE_SECS: u64 = 20;
/// The next slice is asked for once half of the current one should have been sent: the
/// queue holds between about a half and one and a half slices of the account's work,
/// never runs dry while the senders keep the rate, and never holds more.
/// A slice is never smaller than this many recipients.
const MIN_SLICE: u64 = 50;

/// How many recipients one dispatch run enqueues for a campaign of an account sending at
/// `rate` per second, `slice_secs` of it.
fn slice_for(rate: u32, slice_secs: u64) -> u64 {
    (rate as u64).saturating_mul(slice_secs).max(MIN_SLICE)
}

/// This run's share of the campaign: at most `per_shard` recipients read from each shard,
/// and how many jobs were enqueued in all.
struct Slice {
    per_shard: u64,
    enqueued: std::sync::atomic::AtomicU64,
}

/// How one shard's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShardEnd {
    /// Every recipient of the shard is dispatched.
    Finished,
    /// The slice is full: the rest waits for the next run.
    Paced,
    /// Paused, cancelled, out of time or outside the window.
    Stopped,
}

pub use pregon::queue::{DispatchRequest, Watch};

/// The first wait of a watch; it doubles while nothing moves, up to SQS's 15 minutes.
const WATCH_SECS: i32 = 30;

/// How long every message must have been quiet (no write changing what it counts as)
/// before the watch trusts a count of them over the counters: longer than a sender's
/// 60 s timeout, so no live sender still has a counter write to make for them.
const QUIET_SECS: i64 = 90;

pub struct Dispatch {
    aws: Aws,
    store: Store,
    queue_url: String,
    /// The send queue of each provider kind (`SEND_QUEUE_META`, …).
    send_queues: Vec<(ProviderKind, String)>,
    /// Seconds of an account's rate enqueued at a time (`DISPATCH_SLICE_SECS`).
    slice_secs: u64,
}

impl Dispatch {
    pub fn new(aws: Aws) -> Result<Self, AwsError> {
        let store = Store::new(aws.dynamodb.clone(), aws.table.clone());
        let mut send_queues = Vec::new();
        for (kind, var) in [
            (ProviderKind::Meta, "SEND_QUEUE_META"),
            (ProviderKind::Twilio, "SEND_QUEUE_TWILIO"),
            (ProviderKind::Gupshup, "SEND_QUEUE_GUPSHUP"),
            (ProviderKind::SmsGateway, "SEND_QUEUE_SMS_GATEWAY"),
        ] {
            send_queues.push((kind, pregon_aws::config::required(var)?));
        }
        Ok(Dispatch {
            queue_url: pregon_aws::config::required("DISPATCH_QUEUE_URL")?,
            aws,
            store,
            send_queues,
            slice_secs: std::env::var("DISPATCH_SLICE_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|s| *s > 0)
                .unwrap_or(SLICE_SECS),
        })
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        for_each_record(event, None, |m| async move {
            match serde_json::from_str::<DispatchRequest>(m.body.as_deref().unwrap_or("")) {
                Ok(r) => self.dispatch(&r).await,
                Err(e) => Outcome::Poison(format!("not a dispatch request ({e})")),
            }
        })
        .await
    }

    async fn dispatch(&self, r: &DispatchRequest) -> Outcome {
        match self.run(r).await {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::from(e),
        }
    }

    async fn run(&self, r: &DispatchRequest) -> Result<(), AwsError> {
        if let Some(w) = r.watch {
            return self.watch(r, w).await;
        }
        if let Some(gens) = r.purge {
            return self.purge(r, gens).await;
        }
        let started = Instant::now();
        let Some(c) = self.store.campaign(&r.tenant, &r.campaign).await? else {
            return Ok(());
        };
        let c = match c.status {
            CampaignStatus::Scheduled => match self.start_when_due(&c).await? {
                Some(c) => c,
                None => return Ok(()),
            },
            CampaignStatus::Cancelled => return self.skip_unsent(&c).await,
            _ => c,
        };
        if c.status != CampaignStatus::Sending || (c.dispatch.done && !c.dispatch.sweep) {
            info!(campaign = %c.id, status = c.status.as_str(), "nothing to dispatch");
            return Ok(());
        }
        if let Some(wait) = closed_for(&c) {
            info!(campaign = %c.id, wait, "outside the send window: dispatch waits");
            return request_dispatch(
                &self.aws.sqs,
                &self.queue_url,
                &c.tenant_id,
                &c.id,
                wait.clamp(1, 900) as i32,
            )
            .await;
        }
        let account: Account = self
            .store
            .get(keys::account(&c.tenant_id, &c.settings.account_id))
            .await?
            .ok_or_else(|| AwsError::Shape("the campaign's account is gone".into()))?;
        let queue = self
            .send_queues
            .iter()
            .find(|(k, _)| *k == account.provider)
            .map(|(_, q)| q.clone())
            .ok_or_else(|| AwsError::Config("no send queue for the provider".into()))?;
        if c.dispatch.sweep {
            if !self.sweep_parked(&c, &queue).await? {
                return Ok(());
            }
            self.store.sweep_done(&c.tenant_id, &c.id).await?;
        }
        let dnc = self
            .store
            .do_not_contact_snapshot(&c.tenant_id, &c.id, DNC_IN_MEMORY)
            .await?;
        // A single message is one job: never paced.
        let slice = if c.single {
            u64::MAX
        } else {
            slice_for(account.rate, self.slice_secs)
        };
        let slice = Slice {
            per_shard: slice.div_ceil(keys::RECIPIENT_SHARDS as u64),
            enqueued: std::sync::atomic::AtomicU64::new(0),
        };
        let shards = (0..keys::RECIPIENT_SHARDS).map(|shard| {
            let (c, queue, dnc, slice) = (&c, queue.as_str(), dnc.as_ref(), &slice);
            async move { self.shard(c, shard, queue, dnc, started, slice).await }
        });
        let results = futures::future::join_all(shards).await;
        let mut finished = true;
        let mut paced = false;
        for r in results {
            match r? {
                ShardEnd::Finished => {}
                ShardEnd::Paced => {
                    finished = false;
                    paced = true;
                }
                ShardEnd::Stopped => finished = false,
            }
        }
        let enqueued = slice.enqueued.load(std::sync::atomic::Ordering::Relaxed);
        self.after_pass(&c, &account, finished, paced, enqueued, started)
            .await
    }

    /// A gone campaign's recipient generations `from..=to`, deleted (only a campaign that
    /// is gone: a new one never reuses an id).
    async fn purge(&self, r: &DispatchRequest, (from, to): (u32, u32)) -> Result<(), AwsError> {
        if self.store.campaign(&r.tenant, &r.campaign).await?.is_none() {
            let mut n = 0;
            for gen in from..=to {
                n += self
                    .store
                    .delete_generation(&r.tenant, &r.campaign, gen)
                    .await?;
            }
            info!(campaign = %r.campaign, recipients = n, "deleted campaign purged");
        }
        Ok(())
    }

    /// After a pass over the shards: a finished dispatch is recorded (and the campaign
    /// completed, or watched until its messages settle); an unfinished one asks for the
    /// next pass, at the window's next opening, or once about half of the `enqueued`
    /// slice is sent when it was `paced`, else at once.
    async fn after_pass(
        &self,
        c: &Campaign,
        account: &Account,
        finished: bool,
        paced: bool,
        enqueued: u64,
        started: Instant,
    ) -> Result<(), AwsError> {
        if finished {
            if self.store.dispatch_done(&c.tenant_id, &c.id).await? {
                info!(campaign = %c.id, seconds = started.elapsed().as_secs_f64(), "dispatch done");
            }
            if pregon_aws::campaigns::maybe_complete(&self.store, &c.tenant_id, &c.id)
                .await?
                .is_none()
            {
                let first = Watch {
                    done: -1,
                    wait: WATCH_SECS,
                };
                self.send_watch(&c.tenant_id, &c.id, first).await?;
            }
        } else if self.still_sending(c).await? {
            // Out of time, the window closed, or the slice is on the queue: a fresh
            // invocation continues from the checkpoints (at the next opening; once this
            // slice is nearly sent).
            let sending_for = enqueued / account.rate.max(1) as u64;
            let wait = match closed_for(c) {
                Some(w) => w,
                None if paced => (sending_for / 2) as i64,
                None => 0,
            }
            .clamp(0, 900) as i32;
            request_dispatch(&self.aws.sqs, &self.queue_url, &c.tenant_id, &c.id, wait).await?;
        }
        Ok(())
    }

    /// A scheduled campaign starts sending once its `send_at` has come; until then the
    /// request comes back (SQS delays up to 15 minutes at a time).
    async fn start_when_due(&self, c: &Campaign) -> Result<Option<Campaign>, AwsError> {
        let due = c.settings.send_at.as_deref().and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        });
        let wait = due.map_or(0, |t| (t - time::OffsetDateTime::now_utc()).whole_seconds());
        if wait > 0 {
            request_dispatch(
                &self.aws.sqs,
                &self.queue_url,
                &c.tenant_id,
                &c.id,
                wait.min(900) as i32,
            )
            .await?;
            return Ok(None);
        }
        let now = pregon::clock::now_rfc3339();
        let (tenant, id) = (c.tenant_id.as_str(), c.id.as_str());
        let account: Option<Account> = self
            .store
            .get(keys::account(tenant, &c.settings.account_id))
            .await?;
        let tenant_off = self
            .store
            .get::<pregon_aws::apikeys::TenantItem>(keys::tenant(tenant))
            .await?
            .is_some_and(|t| t.disabled_at.is_some());
        let account_off = account.is_some_and(|a| !a.enabled());
        if tenant_off || account_off {
            // Due on a disabled tenant or account: it waits paused, and enabling it
            // resumes it (unless it was enabled meanwhile: then it starts now).
            let (scheduled, paused) = (CampaignStatus::Scheduled, CampaignStatus::Paused);
            if !self
                .store
                .move_campaign(tenant, id, scheduled, paused, &now, None)
                .await?
            {
                return Ok(None);
            }
            let ids = [c.id.clone()];
            let account = &c.settings.account_id;
            let kept = if tenant_off {
                self.store.add_tenant_paused(tenant, &ids).await?
            } else {
                self.store.add_account_paused(tenant, account, &ids).await?
            };
            if kept {
                info!(campaign = %c.id, tenant_off, account_off, "due while disabled: paused");
                return Ok(None);
            }
            self.store
                .move_campaign(tenant, id, paused, CampaignStatus::Sending, &now, None)
                .await?;
        } else {
            self.store
                .move_campaign(
                    tenant,
                    id,
                    CampaignStatus::Scheduled,
                    CampaignStatus::Sending,
                    &now,
                    None,
                )
                .await?;
        }
        self.store.campaign(tenant, id).await
    }

    /// A cancelled campaign: every message not sent yet becomes `skipped` (a sender that
    /// finds it so does not call the provider).
    async fn skip_unsent(&self, c: &Campaign) -> Result<(), AwsError> {
        let (tenant, id, gen) = (c.tenant_id.as_str(), c.id.as_str(), c.recipient_gen);
        let shards = (0..keys::RECIPIENT_SHARDS).map(|shard| async move {
            let pk = keys::recipient_pk(tenant, id, gen, shard);
            let mut after = None;
            let mut skipped = 0i64;
            loop {
                let filters = [];
                let (items, next) = self
                    .store
                    .list::<RecipientItem>(pk.clone(), "", false, PAGE, after.take(), &filters)
                    .await?;
                let unsent: Vec<&RecipientItem> = items
                    .iter()
                    .filter(|i| i.status == "pending" || i.status == "queued")
                    .collect();
                let rows: Vec<u64> = unsent.iter().map(|i| i.row).collect();
                let now = pregon::clock::now_rfc3339();
                let applied = self
                    .store
                    .mark_messages(tenant, id, gen, &rows, MessageStatus::Skipped, &now)
                    .await?;
                // (`skipped` is counted from the table's stream: the tally function.)
                let mut delta = Progress::default();
                for (i, ok) in unsent.iter().zip(&applied) {
                    if *ok {
                        skipped += 1;
                        // Its job was counted `queued` when enqueued (and not parked since).
                        if c.dispatch.passed(i.row) && i.parked.is_none() {
                            delta.queued -= 1;
                        }
                    }
                }
                if delta != Progress::default() {
                    self.store.add_progress(tenant, id, shard, &delta).await?;
                }
                match next {
                    Some(n) => after = Some(n),
                    None => return Ok::<i64, AwsError>(skipped),
                }
            }
        });
        let mut total = 0;
        for r in futures::future::join_all(shards).await {
            total += r?;
        }
        info!(
            campaign = id,
            skipped = total,
            "cancelled: unsent messages skipped"
        );
        Ok(())
    }

    /// Watches a dispatched campaign until it ends. Its counters are kept by the senders
    /// and the webhook with a write after each record; a process killed between the
    /// two leaves them short, and the campaign would never end. So while the campaign
    /// is `sending`, this looks at its counters every little while (30 s, doubling while
    /// nothing moves, at most 15 minutes): when they have not moved since last time and
    /// still say some messages have no outcome, it counts the messages themselves and
    /// corrects the counters (then the campaign ends if every message has an outcome).
    async fn watch(&self, r: &DispatchRequest, w: Watch) -> Result<(), AwsError> {
        let Some(c) = self.store.campaign(&r.tenant, &r.campaign).await? else {
            return Ok(());
        };
        if c.status != CampaignStatus::Sending || !c.dispatch.done {
            return Ok(());
        }
        let p = self.store.progress(&c.tenant_id, &c.id).await?;
        let total = c.message_count() as i64;
        let mut next = Watch {
            done: p.done(),
            wait: WATCH_SECS,
        };
        if p.done() == w.done && p.done() < total {
            let (counted, last) = self.recount(&c).await?;
            // A writer that changed a message recently may still have its counter write
            // in flight (it records first, then counts): correcting now could count it
            // twice. Only messages quiet for longer than a live writer can take are
            // trusted, and only counters that stood still through the count corrected.
            let still = self.store.progress(&c.tenant_id, &c.id).await?;
            let quiet = pregon_aws::messages::counted_now() - last >= QUIET_SECS;
            if still != p {
                next.done = still.done();
            } else if counted != p && !quiet {
                // Look again soon, once they are quiet.
            } else if counted != p {
                warn!(campaign = %c.id, counters = ?p, messages = ?counted, "progress counters corrected from the messages");
                let delta = Progress {
                    queued: counted.queued - p.queued,
                    sent: counted.sent - p.sent,
                    failed: counted.failed - p.failed,
                    blocked: counted.blocked - p.blocked,
                    skipped: counted.skipped - p.skipped,
                    unknown: counted.unknown - p.unknown,
                };
                self.store
                    .add_progress(&c.tenant_id, &c.id, 0, &delta)
                    .await?;
                if pregon_aws::campaigns::maybe_complete(&self.store, &c.tenant_id, &c.id)
                    .await?
                    .is_some()
                {
                    return Ok(());
                }
                next.done = counted.done();
            } else {
                next.wait = (w.wait * 2).min(900);
            }
        }
        self.send_watch(&c.tenant_id, &c.id, next).await
    }

    /// The campaign's progress counted from its messages (every shard, one query a page),
    /// and the latest `counted_at` among them.
    async fn recount(&self, c: &Campaign) -> Result<(Progress, i64), AwsError> {
        let (tenant, id, gen) = (c.tenant_id.as_str(), c.id.as_str(), c.recipient_gen);
        let shards = (0..keys::RECIPIENT_SHARDS).map(|shard| async move {
            let pk = keys::recipient_pk(tenant, id, gen, shard);
            let mut p = Progress::default();
            let mut last = 0i64;
            let mut after = None;
            loop {
                let (items, next) = self
                    .store
                    .list::<RecipientItem>(pk.clone(), "", false, PAGE, after.take(), &[])
                    .await?;
                for i in &items {
                    last = last.max(i.counted_at.unwrap_or(0));
                    match i.status.as_str() {
                        "sent" | "delivered" | "read" | "replied" => p.sent += 1,
                        "failed" | "undelivered" => {
                            p.failed += 1;
                            if i.error_code
                                .as_deref()
                                .is_some_and(pregon::sending::unknown_outcome)
                            {
                                p.unknown += 1;
                            }
                        }
                        "blocked" => p.blocked += 1,
                        "skipped" => p.skipped += 1,
                        _ if i.parked.is_none() && c.dispatch.passed(i.row) => p.queued += 1,
                        _ => {}
                    }
                }
                match next {
                    Some(n) => after = Some(n),
                    None => return Ok::<(Progress, i64), AwsError>((p, last)),
                }
            }
        });
        let mut total = Progress::default();
        let mut latest = 0i64;
        for r in futures::future::join_all(shards).await {
            let (p, last) = r?;
            latest = latest.max(last);
            total.queued += p.queued;
            total.sent += p.sent;
            total.failed += p.failed;
            total.blocked += p.blocked;
            total.skipped += p.skipped;
            total.unknown += p.unknown;
        }
        Ok((total, latest))
    }

    async fn send_watch(&self, tenant: &str, campaign: &str, w: Watch) -> Result<(), AwsError> {
        let body = serde_json::to_string(&DispatchRequest {
            tenant: tenant.into(),
            campaign: campaign.into(),
            watch: Some(w),
            purge: None,
        })
        .expect("json");
        self.aws
            .sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(w.wait.clamp(0, 900))
            .send()
            .await
            .map_err(|e| AwsError::sqs("SendMessage", e))?;
        Ok(())
    }

    /// After a resume: enqueues again the jobs senders parked during the pause (they left
    /// the queue; their messages wait `pending` with `parked`). `Ok(false)` when the
    /// campaign stopped sending meanwhile (the flag stays for the next resume).
    async fn sweep_parked(&self, c: &Campaign, queue: &str) -> Result<bool, AwsError> {
        let (tenant, id, gen) = (c.tenant_id.as_str(), c.id.as_str(), c.recipient_gen);
        let shards = (0..keys::RECIPIENT_SHARDS).map(|shard| async move {
            let pk = keys::recipient_pk(tenant, id, gen, shard);
            let filters = [pregon_aws::store::Filter::Eq(
                "parked",
                pregon_aws::messages::PARKED.to_string(),
            )];
            let mut after = None;
            let mut swept = 0i64;
            loop {
                let (items, next) = self
                    .store
                    .list::<RecipientItem>(pk.clone(), "", false, PAGE, after.take(), &filters)
                    .await?;
                let waiting: Vec<&RecipientItem> =
                    items.iter().filter(|i| i.status == "pending").collect();
                let jobs: Vec<SendJob> = waiting.iter().map(|i| send_job(c, i)).collect();
                self.enqueue(queue, &jobs).await?;
                let rows: Vec<u64> = waiting.iter().map(|i| i.row).collect();
                let unparked = self.store.unpark_messages(tenant, id, gen, &rows).await?;
                let n = unparked.iter().filter(|u| **u).count() as i64;
                if n > 0 {
                    let delta = Progress {
                        queued: n,
                        ..Default::default()
                    };
                    self.store.add_progress(tenant, id, shard, &delta).await?;
                }
                swept += n;
                match next {
                    Some(n) => after = Some(n),
                    None => return Ok::<i64, AwsError>(swept),
                }
            }
        });
        let mut total = 0;
        for r in futures::future::join_all(shards).await {
            total += r?;
        }
        info!(
            campaign = id,
            jobs = total,
            "resumed: parked jobs enqueued again"
        );
        self.still_sending(c).await
    }

    async fn still_sending(&self, c: &Campaign) -> Result<bool, AwsError> {
        Ok(self
            .store
            .campaign(&c.tenant_id, &c.id)
            .await?
            .is_some_and(|now| now.status == CampaignStatus::Sending))
    }

    /// One shard, page by page, reading at most the slice's share: [`ShardEnd::Finished`]
    /// when the shard is exhausted, [`ShardEnd::Paced`] when the budget is spent,
    /// [`ShardEnd::Stopped`] when it stopped early (paused, cancelled, out of time).
    async fn shard(
        &self,
        c: &Campaign,
        shard: u32,
        queue: &str,
        dnc: Option<&DncSnapshot>,
        started: Instant,
        slice: &Slice,
    ) -> Result<ShardEnd, AwsError> {
        let budget = slice.per_shard;
        let (tenant, id, gen) = (c.tenant_id.as_str(), c.id.as_str(), c.recipient_gen);
        let pk = keys::recipient_pk(tenant, id, gen, shard);
        let mut after = c
            .dispatch
            .after
            .get(&shard.to_string())
            .map(|row| format!("{row:010}"));
        let mut read = 0u64;
        loop {
            if started.elapsed() > BUDGET || closed_for(c).is_some() {
                return Ok(ShardEnd::Stopped);
            }
            if read >= budget {
                return Ok(ShardEnd::Paced);
            }
            let limit = (budget - read).min(PAGE as u64) as i32;
            let (items, next) = self
                .store
                .list::<RecipientItem>(pk.clone(), "", false, limit, after.clone(), &[])
                .await?;
            read += items.len() as u64;
            let Some(last) = items.last().map(|i| i.row) else {
                return Ok(if next.is_none() {
                    ShardEnd::Finished
                } else {
                    ShardEnd::Stopped
                });
            };
            let pending: Vec<&RecipientItem> =
                items.iter().filter(|i| i.status == "pending").collect();
            let blocked = match dnc {
                Some(list) => pending
                    .iter()
                    .filter(|i| list.contains(&i.phone))
                    .map(|i| i.phone.clone())
                    .collect(),
                None => {
                    let phones: Vec<&str> = pending.iter().map(|i| i.phone.as_str()).collect();
                    self.store.do_not_contact(tenant, id, &phones).await?
                }
            };
            let (stop, go): (Vec<&RecipientItem>, Vec<&RecipientItem>) = pending
                .into_iter()
                .partition(|i| blocked.contains(&i.phone));
            let mut delta = Progress::default();
            let mut n_blocked = 0i64;
            if !stop.is_empty() {
                let now = pregon::clock::now_rfc3339();
                let rows: Vec<u64> = stop.iter().map(|i| i.row).collect();
                let applied = self
                    .store
                    .mark_messages(tenant, id, gen, &rows, MessageStatus::Blocked, &now)
                    .await?;
                // (Counted in `blocked` from the table's stream: the tally function.)
                n_blocked = applied.iter().filter(|a| **a).count() as i64;
            }
            let jobs: Vec<SendJob> = go.iter().map(|i| send_job(c, i)).collect();
            self.enqueue(queue, &jobs).await?;
            // The records stay `pending` (one write per recipient saved): the shard's
            // checkpoint says which were enqueued, and views show those as `queued`.
            // `queued` counts jobs enqueued and not yet recorded (the sender takes each
            // one off when it records its outcome).
            // A page is counted `queued` once its checkpoint holds: a page enqueued again
            // after a crash or a pause is counted once, and cancel's count of what was
            // dispatched (the checkpoints) agrees with it.
            let passed = self.store.checkpoint(tenant, id, shard, last).await?;
            if passed {
                delta.queued += jobs.len() as i64;
                slice
                    .enqueued
                    .fetch_add(jobs.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            if delta != Progress::default() || n_blocked > 0 {
                if delta != Progress::default() {
                    self.store.add_progress(tenant, id, shard, &delta).await?;
                }
                pregon_aws::metrics::emit(
                    &[("Function", "dispatch")],
                    &[
                        ("MessagesEnqueued", delta.queued as f64, Unit::Count),
                        ("MessagesBlocked", n_blocked as f64, Unit::Count),
                    ],
                );
            }
            if !passed {
                info!(
                    campaign = id,
                    shard, "dispatch stopped: the campaign is no longer sending"
                );
                return Ok(ShardEnd::Stopped);
            }
            after = Some(format!("{last:010}"));
            if next.is_none() {
                return Ok(ShardEnd::Finished);
            }
        }
    }

    /// Send jobs, ten to a request, several requests at once.
    async fn enqueue(&self, queue: &str, jobs: &[SendJob]) -> Result<(), AwsError> {
        let batches = jobs.chunks(10).map(|chunk| async move {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, j)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(serde_json::to_string(j).expect("json"))
                        .build()
                        .expect("id and body are set")
                })
                .collect::<Vec<_>>();
            let mut entries = entries;
            for _ in 0..5 {
                let out = self
                    .aws
                    .sqs
                    .send_message_batch()
                    .queue_url(queue)
                    .set_entries(Some(entries.clone()))
                    .send()
                    .await
                    .map_err(|e| AwsError::sqs("SendMessageBatch", e))?;
                if out.failed.is_empty() {
                    return Ok(());
                }
                let failed: Vec<String> = out.failed.iter().map(|f| f.id.clone()).collect();
                warn!(
                    failed = failed.len(),
                    "some send jobs were not enqueued; retrying them"
                );
                entries.retain(|e| failed.contains(&e.id));
            }
            Err(AwsError::Sqs("it kept refusing send jobs".into()))
        });
        for r in futures::future::join_all(batches).await {
            r?;
        }
        Ok(())
    }
}

/// The send job of one recipient: everything the sender needs without reading it back.
fn send_job(c: &Campaign, i: &RecipientItem) -> SendJob {
    SendJob {
        tenant: c.tenant_id.clone(),
        campaign: c.id.clone(),
        gen: c.recipient_gen,
        row: i.row,
        account: c.settings.account_id.clone(),
        phone: i.phone.clone(),
        params: i.params.clone(),
        text: i.message.clone(),
        template: c.settings.template_id.clone(),
        // Rows are consecutive in the sheet: the sending order for port rotation.
        seq: i.row.saturating_sub(2),
        unavailable: 0,
        credentials_refused: 0,
        throttled_since: None,
        ticket_at: None,
    }
}

/// Puts a dispatch request for a campaign on the dispatch queue (the API's send and
/// resume use it too).
pub async fn request_dispatch(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    tenant: &str,
    campaign: &str,
    delay_secs: i32,
) -> Result<(), AwsError> {
    let body = serde_json::to_string(&DispatchRequest {
        tenant: tenant.into(),
        campaign: campaign.into(),
        watch: None,
        purge: None,
    })
    .expect("json");
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(body)
        .delay_seconds(delay_secs)
        .send()
        .await
        .map_err(|e| AwsError::sqs("SendMessage", e))?;
    Ok(())
}

/// Seconds until the campaign's send window opens; `None` when it is open (or it has
/// none). A window that cannot be read never blocks sending forever: it is logged.
fn closed_for(c: &Campaign) -> Option<i64> {
    let w = c.settings.send_window.as_ref()?;
    match pregon::window::opens_in(w, jiff::Timestamp::now()) {
        Ok(wait) => wait,
        Err(e) => {
            warn!(campaign = %c.id, error = %e, "send window ignored");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_is_twenty_seconds_of_the_rate_and_never_tiny() {
        assert_eq!(slice_for(2, SLICE_SECS), MIN_SLICE);
        assert_eq!(slice_for(80, SLICE_SECS), 1_600);
        assert_eq!(slice_for(1, 100_000), 100_000);
        assert_eq!(slice_for(u32::MAX, u64::MAX), u64::MAX);
    }
}
