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

use pregon::model::{
    Account, CloseReason, MediaRef, Template, TenantSettings, Ticket, TicketEntry, TicketStatus,
};
use pregon::providers::inbound::{
    self, AuthError, Inbound, Reply, StatusUpdate, TemplateStatusUpdate,
};
use pregon::providers::{Adapter, Callback, Credentials};
use pregon::sending::MessageStatus;
use pregon_aws::config::Aws;
use pregon_aws::events::{self, Event, Events};
use pregon_aws::statuses::{apply, Applied};
use pregon_aws::store::Store;
use pregon_aws::tickets::{CloseIf, InboundClaim};
use pregon_aws::transport::{account_secret, AccountSecret};
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

/// An authenticated callback kept for later: its account, query and raw body.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    account: String,
    query: String,
    /// Base64 of the body as it came.
    body: String,
    /// 0: the store could not take it; n: its n-th application again because a status
    /// came before its message's record.
    #[serde(default)]
    early: u32,
}

/// How many times a callback is applied again for statuses that came before their
/// message's record (2 … 64 s apart, about two minutes): a status for a message that is
/// not ours stops there; one whose sender died settles the message from the kept
/// status (`reported_id`) when its claim expires.
const EARLY_TRIES: u32 = 6;

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

    async fn account(&self, id: &str) -> Result<Option<Arc<Known>>, AwsError> {
        if let Some((at, k)) = self.accounts.lock().expect("cache").get(id) {
            if at.elapsed() < CACHE_FOR {
                return Ok(Some(k.clone()));
            }
        }
        // An account id no account has is remembered a minute (at most 10,000 of them:
        // a flood of made-up ids clears the list rather than growing it).
        if self
            .unknown
            .lock()
            .expect("cache")
            .get(id)
            .is_some_and(|at| at.elapsed() < CACHE_FOR)
        {
            return Ok(None);
        }
        let found = self.load_account(id).await?;
        if found.is_none() {
            let mut unknown = self.unknown.lock().expect("cache");
            if unknown.len() >= 10_000 {
                unknown.clear();
            }
            unknown.insert(id.to_string(), Instant::now());
        }
        Ok(found)
    }

    async fn load_account(&self, id: &str) -> Result<Option<Arc<Known>>, AwsError> {
        let Some(tenant) = self.store.webhook_tenant(id).await? else {
            return Ok(None);
        };
        let Some(account) = self
            .store
            .get::<Account>(pregon::keys::account(&tenant, id))
            .await?
        else {
            return Ok(None);
        };
        let secret = account_secret(&self.aws, &account).await?;
        let settings = self.store.settings(&tenant).await?;
        let k = Arc::new(Known {
            tenant,
            account,
            secret,
            settings,
        });
        self.accounts
            .lock()
            .expect("cache")
            .insert(id.to_string(), (Instant::now(), k.clone()));
        Ok(Some(k))
    }

    /// Puts an authenticated callback on the retry queue (`INBOUND_RETRY_QUEUE_URL`):
    /// `early` 0 for one the store could not take (applied at once), else the how-many-th
    /// time it is applied again for a status that came before its message's record
    /// (after 2, 4, 8 … 64 s; [`EARLY_TRIES`] times at most).
    async fn keep(
        &self,
        account: &str,
        query: &str,
        body: &[u8],
        early: u32,
    ) -> Result<(), AwsError> {
        use base64::Engine;
        let queue = self
            .retry_queue
            .as_deref()
            .ok_or_else(|| AwsError::Config("no retry queue (INBOUND_RETRY_QUEUE_URL)".into()))?;
        let kept = Kept {
            account: account.to_string(),
            query: query.to_string(),
            body: base64::engine::general_purpose::STANDARD.encode(body),
            early,
        };
        let delay = if early == 0 { 0 } else { 1i32 << early.min(6) };
        self.aws
            .sqs
            .send_message()
            .queue_url(queue)
            .delay_seconds(delay)
            .message_body(serde_json::to_string(&kept).map_err(AwsError::shape)?)
            .send()
            .await
            .map_err(|e| AwsError::sqs("SendMessage", e))?;
        Ok(())
    }

    /// A batch of the retry queue: each kept callback applied as if it had just come
    /// (its signature was checked when it came). A store failure leaves it on the queue
    /// (the queue's redrive takes it to the dead-letter queue after its tries); a body
    /// that is not a callback is dropped with the reason.
    pub async fn apply_kept(
        &self,
        event: aws_lambda_events::event::sqs::SqsEvent,
    ) -> aws_lambda_events::event::sqs::SqsBatchResponse {
        use base64::Engine;
        let mut retries = pregon_aws::sqs::Retries::new(&event);
        for r in event.records {
            let id = r.message_id.clone().unwrap_or_default();
            let kept: Option<(Kept, Vec<u8>)> =
                serde_json::from_str::<Kept>(r.body.as_deref().unwrap_or(""))
                    .ok()
                    .and_then(|k| {
                        let body = base64::engine::general_purpose::STANDARD
                            .decode(&k.body)
                            .ok()?;
                        Some((k, body))
                    });
            let Some((k, body)) = kept else {
                warn!(message_id = %id, "not a kept callback: dropped");
                continue;
            };
            let failed = match self.account(&k.account).await {
                Ok(Some(known)) => match self.receive(&known, &k.query, &body).await {
                    Ok((n, still)) => {
                        info!(account = %k.account, events = n, "kept callback applied");
                        if still && k.early < EARLY_TRIES {
                            if let Err(e) =
                                self.keep(&k.account, &k.query, &body, k.early + 1).await
                            {
                                warn!(error = %e, "an early status stays kept (applied if its sender dies)");
                            }
                        }
                        false
                    }
                    Err(Bad::Payload(e)) => {
                        warn!(account = %k.account, error = %e, "kept callback is malformed: dropped");
                        false
                    }
                    Err(Bad::Store(e)) => {
                        warn!(account = %k.account, error = %e, "kept callback not applied yet");
                        true
                    }
                },
                Ok(None) => {
                    warn!(account = %k.account, "kept callback of an account that is gone: dropped");
                    false
                }
                Err(e) => {
                    warn!(error = %e, "account unreadable");
                    true
                }
            };
            if failed {
                retries.retry(id);
            }
        }
        retries.respond(None).await
    }

    /// Meta's `GET` handshake: `hub.challenge` back when `hub.verify_token` is the
    /// account's.
    fn verify_subscription(&self, k: &Known, query: &str) -> Answer {
        match k.adapter().verify_subscription(query) {
            None => answer(405, "only Meta accounts verify by GET"),
            Some(Ok(challenge)) => Answer {
                status: 200,
                content_type: "text/plain",
                body: challenge,
            },
            Some(Err(_)) => answer(403, "verify token does not match"),
        }
    }

    fn authenticate(
        &self,
        k: &Known,
        path: &str,
        query: &str,
        h: &Headers,
        body: &[u8],
    ) -> Result<(), AuthError> {
        // The URL exactly as given to the provider: the configured public base, never
        // one rebuilt from a `Host` header (without one, Twilio's signature is refused).
        let public_url = self.base.as_ref().map(|base| match query {
            "" => format!("{base}{path}"),
            q => format!("{base}{path}?{q}"),
        });
        let callback = Callback {
            public_url: public_url.as_deref(),
            query,
            body,
            meta_signature: h.meta_signature.as_deref(),
            twilio_signature: h.twilio_signature.as_deref(),
        };
        k.adapter()
            .authenticate(&callback, k.secret.webhook_secret.as_deref())
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

    /// The accounts a Meta change is for (SPEC §10, issue "two accounts on one app"):
    /// a status or a reply goes to the account of the number the change names — this
    /// URL's, or another account whose credentials hold the same app secret (the
    /// signature was checked with it); a template update to every such account of the
    /// business account it names. None: the number belongs to no account of this app
    /// here, and the change is ignored (counted, never applied). A change that names no
    /// number (not one Meta sends) stays with this URL's account.
    async fn meta_targets(
        &self,
        k: &Arc<Known>,
        route: &pregon::providers::meta::Route,
        e: &Inbound,
    ) -> Result<Vec<Arc<Known>>, Bad> {
        let Credentials::Meta {
            app_secret,
            phone_number_id,
            waba_id,
            ..
        } = &k.secret.credentials
        else {
            return Ok(vec![k.clone()]);
        };
        let (kind, id, own) = match e {
            Inbound::Ignored { .. } => return Ok(Vec::new()),
            Inbound::TemplateStatus(_) => ("waba", &route.waba_id, waba_id),
            _ => ("number", &route.phone_number_id, phone_number_id),
        };
        let Some(id) = id else {
            return Ok(vec![k.clone()]);
        };
        let mut to = Vec::new();
        if id == own {
            to.push(k.clone());
            if kind == "number" {
                return Ok(to);
            }
        }
        for account in self.meta_routes(kind, id).await? {
            if account == k.account.id {
                continue;
            }
            let Some(other) = self.account(&account).await.map_err(Bad::Store)? else {
                continue;
            };
            let same_app = matches!(&other.secret.credentials,
                Credentials::Meta { app_secret: theirs, phone_number_id: n, waba_id: w, .. }
                    if inbound::secret_eq(theirs, app_secret)
                        && (if kind == "number" { n } else { w }) == id);
            if same_app {
                to.push(other);
                if kind == "number" {
                    break;
                }
            }
        }
        Ok(to)
    }

    /// The accounts filed under a Meta number or business account, kept a minute.
    async fn meta_routes(&self, kind: &str, id: &str) -> Result<Vec<String>, Bad> {
        let key = format!("{kind}#{id}");
        if let Some((at, v)) = self.routes.lock().expect("cache").get(&key) {
            if at.elapsed() < CACHE_FOR {
                return Ok(v.clone());
            }
        }
        let found = self.store.meta_routes(kind, id).await?;
        self.routes
            .lock()
            .expect("cache")
            .insert(key, (Instant::now(), found.clone()));
        Ok(found)
    }

    /// Applies statuses, forward only, to this account's messages; keeps those whose
    /// message is not recorded yet.
    /// Whether a status is still kept for a message not recorded yet (the callback came
    /// before the sender's write): the caller has the callback applied again shortly.
    async fn statuses(&self, k: &Known, statuses: &[StatusUpdate]) -> Result<bool, Bad> {
        if statuses.is_empty() {
            return Ok(false);
        }
        let mut still_kept = false;
        let acc = k.account.id.as_str();
        let now = pregon::clock::now_rfc3339();
        // A status that names our message (Meta `biz_opaque_callback_data`, Twilio's
        // StatusCallback `m`) of this account's campaign goes straight to it; the
        // others are looked up by provider id (one batch read).
        let mut named = Vec::new();
        let mut by_index = Vec::new();
        for u in statuses {
            match self.correlated(k, u).await? {
                Some(message) => named.push((message, u)),
                None => by_index.push(u),
            }
        }
        let ours = if by_index.is_empty() {
            Default::default()
        } else {
            let ids: Vec<&str> = by_index
                .iter()
                .map(|s| s.provider_message_id.as_str())
                .collect();
            self.store.messages_by_provider_id(acc, &ids).await?
        };
        let mut kept = Vec::new();
        let mut found = Vec::new();
        for u in by_index {
            match ours.get(&u.provider_message_id) {
                Some(message) => found.push((message.clone(), u)),
                None => {
                    self.store.keep_early_status(acc, u).await?;
                    kept.push(u);
                }
            }
        }
        // Several statuses: one batch request moves the recorded messages they advance.
        // Each one it did not move (and a status alone) gets its own conditional
        // write, which also settles a message whose sender died, and tells a late
        // status from one whose message is not recorded yet.
        let pairs: Vec<(&str, &StatusUpdate)> = named
            .iter()
            .chain(found.iter())
            .map(|(m, u)| (m.as_str(), *u))
            .collect();
        let moved = if pairs.len() > 1 {
            self.store.apply_recorded(&pairs, &now).await?
        } else {
            vec![false; pairs.len()]
        };
        for (i, (message, u)) in pairs.iter().enumerate() {
            if moved[i] {
                continue;
            }
            let a = apply(&self.store, message, u, &now).await?;
            if a == Applied::Unchanged && i < named.len() {
                still_kept |= self.not_applied(acc, message, u, &now).await?;
            }
        }
        // As above: a message recorded while these were kept is applied here.
        if !kept.is_empty() {
            let ids: Vec<&str> = kept
                .iter()
                .map(|s| s.provider_message_id.as_str())
                .collect();
            let now_ours = self.store.messages_by_provider_id(acc, &ids).await?;
            for u in kept {
                match now_ours.get(&u.provider_message_id) {
                    Some(message) => {
                        apply(&self.store, message, u, &now).await?;
                    }
                    None => still_kept = true,
                }
            }
        }
        Ok(still_kept)
    }

    /// A status naming our message that did not apply: not forward — or the message is
    /// not recorded yet (its sender holds it: the callback came before the sender's own
    /// write). Keep it for the sender, as for an unknown provider id.
    async fn not_applied(
        &self,
        acc: &str,
        message: &str,
        u: &StatusUpdate,
        now: &str,
    ) -> Result<bool, Bad> {
        let unrecorded = |m: &Option<pregon_aws::store::RecipientItem>| {
            m.as_ref()
                .is_some_and(|m| m.status == "pending" || m.status == "queued")
        };
        let now_seen = self.store.message_by_id(message).await?;
        let behind = now_seen
            .as_ref()
            .and_then(|m| m.status.parse::<MessageStatus>().ok())
            .is_some_and(|cur| cur.advances(u.status));
        if behind && !unrecorded(&now_seen) {
            // Recorded between the write and this read (the write met an unrecorded
            // message): apply it now.
            apply(&self.store, message, u, now).await?;
        } else if unrecorded(&now_seen) {
            self.store.keep_early_status(acc, u).await?;
            // The provider took it: should its sender die before recording it, the
            // message is settled from this status, not as outcome_unknown.
            self.store
                .note_reported(message, &u.provider_message_id)
                .await?;
            // Recorded meanwhile: apply it here (forward only, so twice is harmless);
            // else the callback is applied again shortly from the retry queue.
            if !unrecorded(&self.store.message_by_id(message).await?) {
                apply(&self.store, message, u, now).await?;
            } else {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The message a status names by our own id, if that is a message of a campaign of
    /// this account (the campaign's account is read once per process).
    async fn correlated(&self, k: &Known, u: &StatusUpdate) -> Result<Option<String>, AwsError> {
        let Some(m) = u.correlation.as_deref() else {
            return Ok(None);
        };
        let Some((tenant, campaign, _, _)) = pregon::sending::parse_message_id(m) else {
            return Ok(None);
        };
        if tenant != k.tenant {
            return Ok(None);
        }
        let cached = self
            .campaign_accounts
            .lock()
            .expect("cache")
            .get(campaign)
            .cloned();
        let account = match cached {
            Some(a) => a,
            None => {
                let Some(c) = self.store.campaign(tenant, campaign).await? else {
                    return Ok(None);
                };
                let a = c.settings.account_id;
                self.campaign_accounts
                    .lock()
                    .expect("cache")
                    .insert(campaign.to_string(), a.clone());
                a
            }
        };
        Ok((account == k.account.id).then(|| m.to_string()))
    }

    /// Meta's `message_template_status_update`: the template registered with this
    /// account (by Meta's id, else name and language) takes the new status at once.
    async fn template_status(&self, k: &Known, u: &TemplateStatusUpdate) -> Result<(), Bad> {
        let Some(status) = u.status else {
            info!(account = %k.account.id, event = %u.event, "template event with no status of ours");
            return Ok(());
        };
        let pk = pregon::keys::tenant_pk(&k.tenant);
        let mut after = None;
        loop {
            let (page, next) = self
                .store
                .list::<Template>(
                    pk.clone(),
                    pregon::keys::TEMPLATE_PREFIX,
                    false,
                    100,
                    after.take(),
                    &[],
                )
                .await?;
            for mut t in page {
                let ours = t.account_id.as_deref() == Some(k.account.id.as_str());
                let same = t.provider_template_id.as_deref()
                    == Some(u.provider_template_id.as_str())
                    || (t.spec.name == u.name && t.spec.language == u.language);
                if ours && same && (t.status != status || t.rejected_reason != u.reason) {
                    t.status = status;
                    t.rejected_reason = u.reason.clone();
                    self.store
                        .put(pregon::keys::template(&k.tenant, &t.id), &t)
                        .await?;
                    info!(account = %k.account.id, template = %t.id, event = %u.event, "template status from the provider");
                }
            }
            match next {
                Some(n) => after = Some(n),
                None => return Ok(()),
            }
        }
    }

    /// A customer's message (SPEC §5): matched to the message it answers (the
    /// provider's context), else to the phone's latest open ticket with this account,
    /// else it opens an `inbound` ticket — never dropped. Stored on the ticket; the
    /// message becomes `replied`; the 24-hour window reopens; an opt-out word or "stop"
    /// button puts the phone on the do-not-contact list and closes the ticket
    /// `opted_out`; otherwise the ticket is scheduled to close `idle`.
    async fn reply(&self, k: &Known, r: &Reply, published: &mut Vec<Event>) -> Result<(), Bad> {
        let acc = k.account.id.as_str();
        let tenant = k.tenant.as_str();
        if !self.claim_reply(acc, r).await? {
            return Ok(());
        }
        let now = pregon::clock::now_rfc3339();
        let at = r.at.clone().unwrap_or_else(|| now.clone());
        let answered = self.quoted_message(acc, r).await?;
        let (ticket, mut touched) = self
            .take_open_ticket(k, r, answered.as_deref(), &now)
            .await?;
        let replied = self
            .replied_message(k, r, answered, ticket.as_ref(), &now, &at)
            .await?;
        let ticket = match ticket {
            Some(t) => t,
            None => {
                let t = Ticket::inbound(tenant, acc, &r.from_phone, &now);
                self.store.open_inbound_ticket(&t).await?;
                info!(account = acc, ticket = %t.id, "a message that matched no open ticket opened an inbound ticket");
                touched = self
                    .store
                    .touch_ticket(tenant, &t.id, &now, true, false)
                    .await?;
                t
            }
        };
        self.store
            .add_entry(tenant, &ticket.id, &reply_entry(r, &at))
            .await?;
        published.push(events::reply_received(
            tenant,
            acc,
            &ticket.id,
            ticket.campaign_id.as_deref(),
            replied.as_deref(),
            &r.from_phone,
            r.text.as_deref(),
            r.button_payload.as_deref(),
            &at,
        ));
        self.store.saw_inbound(acc, &r.from_phone, &at).await?;
        let words: Vec<&str> = k
            .settings
            .opt_out_words
            .iter()
            .map(String::as_str)
            .collect();
        if r.is_opt_out(&words) {
            self.opt_out(k, r, &ticket, &now, published).await?;
        } else if let Some(t) = touched {
            self.store
                .schedule_idle(&t, k.settings.idle_close_hours)
                .await?;
        }
        self.store
            .inbound_done(acc, &r.provider_message_id, &ticket.id)
            .await?;
        Ok(())
    }

    /// Claims an inbound message (a conditional put on the provider's id), so two
    /// deliveries of one message at once never both take it in: `false` when it was
    /// taken in already.
    async fn claim_reply(&self, acc: &str, r: &Reply) -> Result<bool, Bad> {
        match self
            .store
            .claim_inbound(acc, &r.provider_message_id)
            .await?
        {
            InboundClaim::Mine => Ok(true),
            InboundClaim::Done => {
                info!(
                    account = acc,
                    "a repeated inbound callback: already taken in"
                );
                Ok(false)
            }
            // Kept and applied again shortly; by then the other call has finished (or
            // its claim expired and this one takes it in).
            InboundClaim::InFlight => Err(Bad::Store(AwsError::Dynamo(
                "the same inbound message is being taken in by another call".into(),
            ))),
        }
    }

    /// Our message the reply quotes (the provider's context), if it names one of ours.
    async fn quoted_message(&self, acc: &str, r: &Reply) -> Result<Option<String>, Bad> {
        let Some(to) = &r.replied_to else {
            return Ok(None);
        };
        let ours = self
            .store
            .messages_by_provider_id(acc, &[to.as_str()])
            .await?;
        Ok(ours.get(to).cloned())
    }

    /// The open ticket the reply lands on — the quoted message's, else the phone's
    /// latest open ticket with the account — taken first (a conditional write marking
    /// it replied), so the closer can no longer close it `no_reply` or idle under this
    /// reply; a ticket that closed meanwhile gives way to an inbound one (no reply is
    /// dropped). The ticket, and the ticket as the write left it.
    async fn take_open_ticket(
        &self,
        k: &Known,
        r: &Reply,
        answered: Option<&str>,
        now: &str,
    ) -> Result<(Option<Ticket>, Option<Ticket>), Bad> {
        let (acc, tenant) = (k.account.id.as_str(), k.tenant.as_str());
        let open = |t: Option<Ticket>| t.filter(|t| t.status == TicketStatus::Open);
        let mut ticket = None;
        if let Some((_, c, gen, row)) = answered.and_then(pregon::sending::parse_message_id) {
            let id = pregon::model::campaign_ticket_id(c, gen, row);
            ticket = open(self.store.ticket(tenant, &id).await?);
        }
        if ticket.is_none() {
            if let Some((t, id)) = self.store.contact_ticket(acc, &r.from_phone).await? {
                if t == tenant {
                    ticket = open(self.store.ticket(tenant, &id).await?);
                }
            }
        }
        let Some(t) = ticket else {
            return Ok((None, None));
        };
        let touched = self
            .store
            .touch_ticket(tenant, &t.id, now, true, false)
            .await?;
        if touched.is_none() {
            info!(account = acc, ticket = %t.id, "the ticket closed meanwhile: the reply opens an inbound ticket");
            return Ok((None, None));
        }
        Ok((Some(t), touched))
    }

    /// The message the reply answers — named by the provider, else the matched
    /// ticket's, else the latest an informative campaign sent the phone from this
    /// account in the last day (SPEC §6: its reply counts as the campaign's) — moved to
    /// `replied`.
    async fn replied_message(
        &self,
        k: &Known,
        r: &Reply,
        answered: Option<String>,
        ticket: Option<&Ticket>,
        now: &str,
        at: &str,
    ) -> Result<Option<String>, Bad> {
        let (acc, tenant) = (k.account.id.as_str(), k.tenant.as_str());
        let mut replied = answered.or_else(|| ticket.and_then(|t| t.message_id.clone()));
        if replied.is_none() && ticket.is_none() {
            replied = self
                .store
                .latest_sent(acc, &r.from_phone, pregon::clock::unix_now())
                .await?
                .filter(|c| c.t == tenant)
                .map(|c| c.message_id);
        }
        if let Some(message) = &replied {
            let u = StatusUpdate {
                provider_message_id: r.replied_to.clone().unwrap_or_default(),
                status: MessageStatus::Replied,
                provider_status: "reply".into(),
                at: Some(at.to_string()),
                error_code: None,
                error_message: None,
                correlation: None,
            };
            apply(&self.store, message, &u, now).await?;
        }
        Ok(replied)
    }

    /// An opt-out reply (SPEC §8): the phone on the tenant's do-not-contact list, the
    /// ticket closed `opted_out`, both published.
    async fn opt_out(
        &self,
        k: &Known,
        r: &Reply,
        ticket: &Ticket,
        now: &str,
        published: &mut Vec<Event>,
    ) -> Result<(), Bad> {
        let (acc, tenant) = (k.account.id.as_str(), k.tenant.as_str());
        self.store
            .dnc_put(tenant, &[(r.from_phone.clone(), None)], now)
            .await?;
        let closed = self
            .store
            .close_ticket(
                tenant,
                &ticket.id,
                CloseReason::OptedOut,
                now,
                CloseIf::Open,
            )
            .await?;
        published.push(events::opted_out(
            tenant,
            acc,
            &r.from_phone,
            &ticket.id,
            now,
        ));
        if closed.is_some() {
            published.push(events::ticket_closed(
                tenant,
                &ticket.id,
                ticket.campaign_id.as_deref(),
                CloseReason::OptedOut.as_str(),
                now,
            ));
        }
        info!(
            account = acc,
            phone = %pregon::phone::mask(&r.from_phone),
            ticket = %ticket.id,
            "opt-out: the phone is on the do-not-contact list"
        );
        Ok(())
    }
}

/// A customer's message as a line of its ticket's conversation.
fn reply_entry(r: &Reply, at: &str) -> TicketEntry {
    TicketEntry {
        direction: "in".into(),
        kind: format!("{:?}", r.kind).to_lowercase(),
        text: r.text.clone(),
        button_payload: r.button_payload.clone(),
        media: r
            .media
            .iter()
            .map(|m| MediaRef {
                id: m.id.clone(),
                url: m.url.clone(),
                mime: m.mime.clone(),
            })
            .collect(),
        provider_message_id: Some(r.provider_message_id.clone()),
        message_id: None,
        at: at.to_string(),
    }
}

enum Bad {
    Payload(String),
    Store(AwsError),
}

impl From<AwsError> for Bad {
    fn from(e: AwsError) -> Self {
        Bad::Store(e)
    }
}
