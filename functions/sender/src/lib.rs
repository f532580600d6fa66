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

mod after;
mod batch;
mod call;
mod claims;

use pregon::model::{Account, Campaign, Template};
use pregon::providers::Credentials;
use pregon::sending::SendJob;
use pregon_aws::config::Aws;
use pregon_aws::messages::DncSnapshot;
use pregon_aws::store::Store;
use pregon_aws::transport::Transport;
use pregon_aws::Error as AwsError;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a claim holds a message: longer than a provider call can take (the request
/// timeout), shorter than the send queue's visibility timeout, so a job redelivered after
/// a crash always finds the claim expired and settles it.
pub const CLAIM_MS: i64 = 30_000;
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
    /// Tenants' daily message quotas (`None`: no quota; [`CACHE_FOR`]).
    quotas: Cached<Option<u64>>,
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
    /// When it was read (which read a job was sent with).
    loaded: Instant,
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

/// A job over its tenant's daily quota: back when the next UTC day starts, or in
/// [`QUOTA_RECHECK_SECS`] if sooner (an operator may raise the quota meanwhile), with a
/// little spread so they do not all come at once.
fn over_quota() -> JobResult {
    let into_day = pregon::clock::unix_now().rem_euclid(86_400);
    let wait = (86_400 - into_day).min(QUOTA_RECHECK_SECS) as i32;
    JobResult::Retry {
        why: "the tenant's daily message quota is used up".into(),
        after: wait + rand::random_range(0..=30),
        next: None,
    }
}

/// How often a job held back by its tenant's daily quota looks again.
const QUOTA_RECHECK_SECS: i64 = 900;

/// A job to try again shortly (an AWS error).
const RETRY_SECS: i32 = 5;
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
            quotas: Cached::new(CACHE_FOR),
            answer_ms: AtomicU64::new(100),
            unreported_wait_ms: std::env::var("UNREPORTED_WAIT_SECS")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(pregon::sending::UNREPORTED_WAIT_SECS)
                as i64
                * 1000,
        })
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
                loaded: Instant::now(),
            })
        };
        self.accounts.get(tenant, account, load).await
    }

    /// Whether the account's credentials are no longer the ones `used` (the tenant
    /// replaced them, and the provider refused the old ones): read again unless another
    /// job has had them read again since. Unreadable counts as replaced (try again).
    async fn credentials_replaced(&self, used: &Context, job: &SendJob) -> bool {
        let (tenant, account) = (job.tenant.as_str(), job.account.as_str());
        if let Ok(now) = self.context(tenant, account).await {
            if now.loaded != used.loaded {
                return now.credentials != used.credentials;
            }
        }
        self.accounts.forget(tenant, account);
        match self.context(tenant, account).await {
            Ok(now) => now.credentials != used.credentials,
            Err(_) => true,
        }
    }

    /// How many of `want` messages the tenant's daily quota lets go now, taken from it:
    /// all of them when it has none (the operator's `messages_per_day`, read at most once
    /// a minute). The quota's UTC day is returned with them, to give back what is not
    /// sent after all ([`Sender::quota_give_back`]).
    async fn quota_allows(
        &self,
        tenant: &str,
        want: usize,
    ) -> Result<(usize, Option<String>), AwsError> {
        let load = async { Ok(self.store.limits(tenant).await?.messages_per_day) };
        let Some(limit) = self.quotas.get(tenant, "", load).await? else {
            return Ok((want, None));
        };
        let day = pregon::clock::now_rfc3339()[..10].to_string();
        let taken = self
            .store
            .take_message_quota(tenant, &day, want as u64, limit)
            .await?;
        Ok((taken as usize, Some(day)))
    }

    /// Gives `n` messages taken from the quota of `day` back: they were not sent.
    async fn quota_give_back(&self, tenant: &str, day: Option<&str>, n: usize) {
        let Some(day) = day else { return };
        if let Err(e) = self
            .store
            .give_back_message_quota(tenant, day, n as u64)
            .await
        {
            tracing::warn!(error = %e, "could not give quota back");
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

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
