//! The simulator's one shared state and the path every send takes once its
//! provider module has checked credentials and body (providers.md gives each
//! provider's own checks): latency rule, then bad-credentials, throttle and
//! fail rules, then the per-sender rate, then acceptance, recorded with the
//! counters that `/_sim/stats` reports. Everything decided for one send
//! happens under one lock, so the counters cannot disagree with the answers.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rate::RateLimiter;
use crate::rules::{CallbackSpec, FailSpec, Kind, Rules, SendKey};
use crate::templates::Registry;
use crate::{now_ms, Config, Provider};

/// A message a provider accepted.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub seq: u64,
    pub provider: Provider,
    pub sender: String,
    /// `+E164`.
    pub recipient: String,
    pub provider_message_id: String,
    /// What would reach the handset: template name, language and parameters,
    /// body text, ContentSid and variables, gateway text (see README).
    pub content: Value,
    /// What the provider hands back on status callbacks: Meta
    /// `biz_opaque_callback_data`, Twilio `StatusCallback`, gateway `user_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<Value>,
    /// The gateway port it went out on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    /// Accepted, then the connection was closed without a response.
    pub dropped: bool,
    pub accepted_at: String,
    pub accepted_at_ms: u64,
    #[serde(skip)]
    pub accepted_instant: Instant,
    /// The callbacks rule that matched it, if any.
    #[serde(skip)]
    pub callbacks: Option<CallbackSpec>,
}

/// A message before the verdict.
pub struct NewMessage {
    pub recipient: String,
    pub provider_message_id: String,
    pub content: Value,
    pub correlation: Option<Value>,
    /// Gateway: the ports this message may go out on (rotated per account).
    pub ports: Option<Vec<u32>>,
}

/// One send request: one message, or several for the gateway.
pub struct Admission {
    pub provider: Provider,
    pub sender: String,
    /// The secret the request was made with (Meta Bearer token, Twilio auth
    /// token, Gupshup `apikey`, gateway password), so a `bad_credentials`
    /// rule naming a `credential` refuses only that one (a rotated-out
    /// secret) and lets the new one through.
    pub credential: String,
    pub messages: Vec<NewMessage>,
}

impl Admission {
    fn recipients(&self) -> Vec<String> {
        self.messages.iter().map(|m| m.recipient.clone()).collect()
    }
}

pub enum Verdict {
    Accepted { messages: Vec<Message>, drop: bool },
    BadCredentials,
    Throttled,
    Failed(FailSpec),
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Counts {
    pub accepted: u64,
    pub throttled: u64,
    pub rejected: u64,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub totals: Counts,
    pub dropped: u64,
    pub accepted_by_recipient: BTreeMap<String, u64>,
    pub by_provider: BTreeMap<Provider, Counts>,
}

impl Stats {
    fn bump(&mut self, provider: Provider, n: u64, pick: fn(&mut Counts) -> &mut u64) {
        *pick(&mut self.totals) += n;
        *pick(self.by_provider.entry(provider).or_default()) += n;
    }
}

pub struct State {
    pub rules: Rules,
    pub stats: Stats,
    pub messages: Vec<Message>,
    pub templates: Registry,
    pub limiter: RateLimiter,
    pub webhooks: HashMap<(Provider, String), Webhook>,
    pub deliveries: Vec<Delivery>,
    /// Bumped by reset, so callbacks scheduled before it stop.
    pub generation: u64,
    seq: u64,
    gateway_cursor: HashMap<String, usize>,
    pub gateway_task: u64,
}

pub struct Sim {
    pub config: Config,
    state: Mutex<State>,
    pub http: reqwest::Client,
}

impl Sim {
    pub fn new(config: Config) -> Arc<Sim> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client with default TLS");
        Arc::new(Sim {
            state: Mutex::new(State {
                rules: Rules::default(),
                stats: Stats::default(),
                messages: Vec::new(),
                templates: Registry::default(),
                limiter: RateLimiter::new(config.default_rate),
                webhooks: HashMap::new(),
                deliveries: Vec::new(),
                generation: 0,
                seq: 0,
                gateway_cursor: HashMap::new(),
                gateway_task: 0,
            }),
            config,
            http,
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn approve_after(&self) -> Duration {
        Duration::from_millis(self.config.approve_after_ms)
    }

    /// Counts `n` messages refused before any rule looked at them (missing
    /// credentials, a body the provider would not take).
    pub fn refuse(&self, provider: Provider, n: u64) {
        self.lock().stats.bump(provider, n, |c| &mut c.rejected);
    }

    /// One send request after its provider's own checks: a latency rule's
    /// wait, then [`Sim::decide`].
    pub async fn admit(&self, admission: Admission) -> Verdict {
        let recipients = admission.recipients();
        let key = SendKey {
            provider: admission.provider,
            sender: &admission.sender,
            recipients: &recipients,
            credential: Some(&admission.credential),
        };
        let latency = self.lock().rules.take(Kind::Latency, &key);
        if let Some(ms) = latency.and_then(|spec| spec.latency_ms) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        self.decide(admission)
    }

    /// Rules, rate and acceptance, under one lock.
    fn decide(&self, admission: Admission) -> Verdict {
        let mut state = self.lock();
        let state = &mut *state;
        let n = admission.messages.len() as u64;
        let provider = admission.provider;
        let recipients = admission.recipients();
        let key = SendKey {
            provider,
            sender: &admission.sender,
            recipients: &recipients,
            credential: Some(&admission.credential),
        };
        if state.rules.take(Kind::BadCredentials, &key).is_some() {
            state.stats.bump(provider, n, |c| &mut c.rejected);
            return Verdict::BadCredentials;
        }
        if state.rules.take(Kind::Throttle, &key).is_some() {
            state.stats.bump(provider, n, |c| &mut c.throttled);
            return Verdict::Throttled;
        }
        if let Some(spec) = state.rules.take(Kind::Fail, &key) {
            state.stats.bump(provider, n, |c| &mut c.rejected);
            return Verdict::Failed(spec.fail.unwrap_or_default());
        }
        let second = now_ms() / 1000;
        if !state.limiter.try_take(&admission.sender, n as u32, second) {
            state.stats.bump(provider, n, |c| &mut c.throttled);
            return Verdict::Throttled;
        }
        let drop = state.rules.take(Kind::Drop, &key).is_some();

        let accepted_at_ms = now_ms();
        let accepted_at = crate::rfc3339(accepted_at_ms);
        let mut accepted = Vec::with_capacity(admission.messages.len());
        for new in admission.messages {
            state.seq += 1;
            // Callback rules apply message by message (a gateway request may
            // carry several recipients).
            let one = [new.recipient.clone()];
            let callbacks = state
                .rules
                .take(
                    Kind::Callbacks,
                    &SendKey {
                        recipients: &one,
                        ..key
                    },
                )
                .and_then(|s| s.callbacks);
            let port = new.ports.as_ref().filter(|p| !p.is_empty()).map(|ports| {
                let cursor = state
                    .gateway_cursor
                    .entry(admission.sender.clone())
                    .or_default();
                let port = ports[*cursor % ports.len()];
                *cursor += 1;
                port
            });
            let message = Message {
                seq: state.seq,
                provider,
                sender: admission.sender.clone(),
                recipient: new.recipient,
                provider_message_id: new.provider_message_id,
                content: new.content,
                correlation: new.correlation,
                port,
                dropped: drop,
                accepted_at: accepted_at.clone(),
                accepted_at_ms,
                accepted_instant: Instant::now(),
                callbacks,
            };
            *state
                .stats
                .accepted_by_recipient
                .entry(message.recipient.clone())
                .or_default() += 1;
            state.messages.push(message.clone());
            accepted.push(message);
        }
        state.stats.bump(provider, n, |c| &mut c.accepted);
        if drop {
            state.stats.dropped += n;
        }
        Verdict::Accepted {
            messages: accepted,
            drop,
        }
    }

    /// Clears counters, messages, rules and callback history; templates only
    /// when asked. Configured rates and webhooks stay.
    pub fn reset(&self, templates: bool) {
        let mut state = self.lock();
        state.rules.clear();
        state.stats = Stats::default();
        state.messages.clear();
        state.limiter.reset_counts();
        state.deliveries.clear();
        state.gateway_cursor.clear();
        state.generation += 1;
        if templates {
            state.templates.clear();
        }
    }

    /// Whether a bad-credentials rule refuses a request that is not a send
    /// (template endpoints), matched on the account id as sender and on the
    /// `credential` presented (Meta Bearer token, Twilio auth token, Gupshup
    /// partner or app token).
    pub fn credentials_refused(&self, provider: Provider, account: &str, credential: &str) -> bool {
        let key = SendKey {
            provider,
            sender: account,
            recipients: &[],
            credential: Some(credential),
        };
        self.lock().rules.take(Kind::BadCredentials, &key).is_some()
    }

    pub fn webhook(&self, provider: Provider, sender: &str) -> Option<Webhook> {
        self.lock()
            .webhooks
            .get(&(provider, sender.to_string()))
            .cloned()
    }
}

/// A registered callback URL. Meta and Gupshup get status callbacks and
/// inbound messages there; Twilio only inbound messages (the number's "A
/// message comes in" URL), since its status callbacks go to each message's
/// `StatusCallback`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub provider: Provider,
    /// Meta: `phone_number_id`; Gupshup: `source`; Twilio: the number
    /// (`+15550003333`, or `whatsapp:+1…` for a WhatsApp-only URL).
    pub sender: String,
    pub url: String,
    /// Meta: signs the webhook; never shown back.
    #[serde(default, skip_serializing)]
    pub app_secret: Option<String>,
    /// Twilio: signs inbound messages (`X-Twilio-Signature`); never shown back.
    #[serde(default, skip_serializing)]
    pub auth_token: Option<String>,
    /// Twilio: the inbound message's `AccountSid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_sid: Option<String>,
    /// Meta: `entry[].id` (default "0").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_id: Option<String>,
    /// Meta: `metadata.display_phone_number` (default: the sender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    /// Gupshup: the `app` field (default: the message's `src.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

/// One callback attempt, as `GET /_sim/callbacks` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub provider: Provider,
    pub provider_message_id: String,
    pub recipient: String,
    pub status: String,
    pub url: String,
    pub attempt: u32,
    pub duplicate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: String,
}
