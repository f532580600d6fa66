//! Provider callbacks (SPEC §2 steps 5–6, §5, §8, §10): `POST /v1/webhooks/{account_id}`
//! for every provider kind, `GET` for Meta's verification handshake.
//!
//! Each request is authenticated by its provider's own scheme before its body is read:
//! Meta `X-Hub-Signature-256` with the account's `app_secret`; Twilio
//! `X-Twilio-Signature` over the configured public URL (`WEBHOOK_BASE_URL`, never the
//! request's `Host`) and the form parameters, with the account's `auth_token`; Gupshup
//! and gateways, which sign nothing, by the long random `key` in the account's
//! `webhook_url`. All comparisons are constant time. A missing signature is 401, a
//! wrong one 403, and neither changes anything.
//!
//! Statuses move messages forward only (one conditional write each; a late or repeated
//! status changes nothing) and only messages of the account the callback came for (its
//! provider ids are looked up under that account). A status for a message not recorded
//! yet is kept, and the callback is applied again from the inbound retry queue 2, 4 …
//! 64 s later, by when its sender has recorded the message. A status that
//! settles a message whose send answer was lost counts it `sent` (or `failed`). A reply
//! marks the message it answers `replied`; an opt-out word or a "stop" button puts the
//! phone on the tenant's do-not-contact list.

mod auth;
mod replies;
mod retry;
mod routes;
mod statuses;

use pregon::model::{Account, TenantSettings};
use pregon::providers::inbound::{AuthError, Inbound, Reply, StatusUpdate};
use pregon::providers::Adapter;
use pregon_aws::config::Aws;
use pregon_aws::events::Events;
use pregon_aws::store::Store;
use pregon_aws::transport::AccountSecret;
use pregon_aws::Error as AwsError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// An account, its tenant and secret are re-read after this long.
const CACHE_FOR: Duration = Duration::from_secs(60);

/// The signature headers a callback may carry.
#[derive(Debug, Default, Clone)]
pub struct Headers {
    pub meta_signature: Option<String>,
    pub twilio_signature: Option<String>,
}

/// The HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

fn answer(status: u16, body: &str) -> Answer {
    Answer {
        status,
        content_type: "application/json",
        body: serde_json::json!({ "message": body }).to_string(),
    }
}

struct Known {
    tenant: String,
    account: Account,
    secret: AccountSecret,
    /// The tenant's opt-out words and idle close (re-read with the account).
    settings: TenantSettings,
}

impl Known {
    /// The account's provider, ready to check and read its callbacks.
    fn adapter(&self) -> Adapter<'_> {
        Adapter::new(&self.account, &self.secret.credentials)
    }
}

pub struct Webhook {
    aws: Aws,
    store: Store,
    /// The public base URL providers call (`WEBHOOK_BASE_URL`): what Twilio signs.
    base: Option<String>,
    accounts: Mutex<HashMap<String, (Instant, Arc<Known>)>>,
    /// Campaign → its account (it never changes), for statuses that name our message.
    campaign_accounts: Mutex<HashMap<String, String>>,
    /// Meta number or business account → the accounts filed under it, and when read.
    routes: Mutex<HashMap<String, (Instant, Vec<String>)>>,
    /// Account ids no account has, and when that was read: a flood at an unknown URL
    /// costs no DynamoDB read per request.
    unknown: Mutex<HashMap<String, Instant>>,
    events: Events,
    /// Where an authenticated callback the store could not take goes
    /// (`INBOUND_RETRY_QUEUE_URL`).
    retry_queue: Option<String>,
}

impl Webhook {
    pub fn new(aws: Aws) -> Self {
        let store = Store::new(aws.dynamodb.clone(), aws.table.clone());
        let events = Events::from_env(&aws.sdk_config);
        Webhook {
            events,
            aws,
            store,
            base: std::env::var("WEBHOOK_BASE_URL")
                .ok()
                .filter(|b| !b.is_empty())
                .map(|b| b.trim_end_matches('/').to_string()),
            accounts: Mutex::new(HashMap::new()),
            campaign_accounts: Mutex::new(HashMap::new()),
            routes: Mutex::new(HashMap::new()),
            unknown: Mutex::new(HashMap::new()),
            retry_queue: std::env::var("INBOUND_RETRY_QUEUE_URL")
                .ok()
                .filter(|q| !q.is_empty()),
        }
    }

    pub async fn handle(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &Headers,
        body: &[u8],
    ) -> Answer {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let ["v1", "webhooks", account_id] = segments.as_slice() else {
            return answer(404, "not found");
        };
        let known = match self.account(account_id).await {
            Ok(Some(k)) => k,
            Ok(None) => return answer(404, "no such account"),
            Err(e) => {
                warn!(error = %e, "account unreadable");
                return answer(500, "try again");
            }
        };
        let provider = known.account.provider.as_str();
        let count = |name: &str, n: usize| {
            pregon_aws::metrics::emit(
                &[("Provider", provider)],
                &[(name, n as f64, pregon_aws::metrics::Unit::Count)],
            )
        };
        match method {
            "GET" => self.verify_subscription(&known, query),
            "POST" => match self.authenticate(&known, path, query, headers, body) {
                Err(AuthError::Missing) => {
                    count("CallbacksRefused", 1);
                    answer(401, "signature missing")
                }
                Err(AuthError::Mismatch) => {
                    count("CallbacksRefused", 1);
                    answer(403, "signature does not match")
                }
                Ok(()) => match self.timed_receive(&known, query, body).await {
                    (Ok((n, kept)), took) => {
                        // A status came before its message's record: the callback is
                        // applied again shortly, from the retry queue (the sender does
                        // not look for early statuses: no read per batch for them).
                        if kept {
                            if let Err(e) = self.keep(account_id, query, body, 1).await {
                                warn!(error = %e, "an early status stays kept (applied if its sender dies)");
                            }
                        }
                        // Events taken, and the time spent applying them (its DynamoDB
                        // work: beside the invocation's duration, what the handler
                        // itself costs).
                        pregon_aws::metrics::emit(
                            &[("Provider", provider)],
                            &[
                                ("CallbackEvents", n as f64, pregon_aws::metrics::Unit::Count),
                                ("ApplyTime", took, pregon_aws::metrics::Unit::Milliseconds),
                            ],
                        );
                        answer(200, &format!("{n} events"))
                    }
                    (Err(Bad::Payload(e)), _) => answer(400, &e),
                    (Err(Bad::Store(e)), _) => {
                        // Authenticated, but the store failed (throttled, a claim held
                        // by another call): kept on the retry queue and applied from
                        // there, so a provider that retries little loses nothing.
                        match self.keep(account_id, query, body, 0).await {
                            Ok(()) => {
                                warn!(error = %e, "callback kept on the retry queue");
                                count("CallbacksKept", 1);
                                answer(200, "kept; applied shortly")
                            }
                            Err(k) => {
                                warn!(error = %e, keep = %k, "callback not applied; the provider retries");
                                answer(500, "try again")
                            }
                        }
                    }
                },
            },
            _ => answer(405, "method not allowed"),
        }
    }

    /// Reads an authenticated callback and applies what it says; how many events.
    /// [`Self::receive`], and how long it took (ms).
    async fn timed_receive(
        &self,
        k: &Arc<Known>,
        query: &str,
        body: &[u8],
    ) -> (Result<(usize, bool), Bad>, f64) {
        let started = Instant::now();
        let r = self.receive(k, query, body).await;
        (r, started.elapsed().as_secs_f64() * 1000.0)
    }

    /// How many events, and whether a status is still kept for a message not recorded
    /// yet ([`Self::statuses`]).
    async fn receive(
        &self,
        k: &Arc<Known>,
        query: &str,
        body: &[u8],
    ) -> Result<(usize, bool), Bad> {
        // Each event with the account it is for: the URL's own, or (Meta) the account
        // of the number its change names, on the same app.
        let parsed = k
            .adapter()
            .parse_callback(body)
            .map_err(|e| Bad::Payload(e.to_string()))?;
        let mut events: Vec<(Vec<Arc<Known>>, Inbound)> = Vec::with_capacity(parsed.len());
        for (route, e) in parsed {
            let to = match route {
                Some(route) => self.meta_targets(k, &route, &e).await?,
                None => vec![k.clone()],
            };
            events.push((to, e));
        }
        // Twilio posts each message's statuses to the StatusCallback the sender gave it,
        // `…?m={our message id}` (inside the signed URL).
        let ours_in_url = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "m")
            .map(|(_, v)| v.into_owned());
        let n = events.len();
        let mut statuses: Vec<(Arc<Known>, Vec<StatusUpdate>)> = Vec::new();
        let mut replies: Vec<(Arc<Known>, Reply)> = Vec::new();
        let mut unrouted = 0usize;
        for (to, e) in events {
            if to.is_empty() && !matches!(e, Inbound::Ignored { .. }) {
                unrouted += 1;
                continue;
            }
            match e {
                Inbound::Status(mut s) => {
                    if s.correlation.is_none() {
                        s.correlation = ours_in_url.clone();
                    }
                    let target = to[0].clone();
                    match statuses
                        .iter_mut()
                        .find(|(t, _)| t.account.id == target.account.id)
                    {
                        Some((_, list)) => list.push(s),
                        None => statuses.push((target, vec![s])),
                    }
                }
                Inbound::Reply(r) => replies.push((to[0].clone(), r)),
                Inbound::TemplateStatus(t) => {
                    for target in &to {
                        self.template_status(target, &t).await?
                    }
                }
                Inbound::Ignored { why } => {
                    info!(account = %k.account.id, why, "callback event ignored")
                }
            }
        }
        if unrouted > 0 {
            // A change for a number no account of this app has here: never applied.
            warn!(account = %k.account.id, events = unrouted, "callback events for a number of no account on this app: ignored");
            pregon_aws::metrics::emit(
                &[("Provider", k.account.provider.as_str())],
                &[(
                    "CallbacksUnrouted",
                    unrouted as f64,
                    pregon_aws::metrics::Unit::Count,
                )],
            );
        }
        let mut published = Vec::new();
        let outcome = async {
            let mut kept = false;
            for (target, list) in &statuses {
                kept |= self.statuses(target, list).await?;
            }
            for (target, r) in &replies {
                self.reply(target, r, &mut published).await?;
            }
            Ok::<bool, Bad>(kept)
        }
        .await;
        // What was stored is published, even when a later event failed (the provider
        // retries that one; a change already made is not made, nor published, again).
        self.events.publish(published).await;
        outcome.map(|kept| (n, kept))
    }
}

/// Why a callback was not applied: a body that is not a callback (400, dropped), or a
/// store failure (kept on the retry queue, or the provider retries).
enum Bad {
    Payload(String),
    Store(AwsError),
}

impl From<AwsError> for Bad {
    fn from(e: AwsError) -> Self {
        Bad::Store(e)
    }
}
