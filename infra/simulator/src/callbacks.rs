//! Plays the providers' status callbacks (providers.md, "Webhooks", "Status
//! callback", "Callbacks"): after a message is accepted the simulator posts
//! its statuses with small delays — Meta's `statuses` webhook signed with
//! `X-Hub-Signature-256`, Twilio's form-encoded callback to the message's
//! `StatusCallback` signed with `X-Twilio-Signature`, Gupshup's unsigned
//! version-2 `message-event`s. A `callbacks` rule may delay, duplicate,
//! reorder, drop or fail them, the way real providers do (late, twice, out of
//! order). Every attempt is logged for `GET /_sim/callbacks`. The gateway has
//! no push here: its results are read with `query_sms_result`.
//!
//! This file holds what the providers share: the [`Target`] a send hands
//! over, scheduling, posting with retries and the log. The event a callback
//! is shaped from and the request it becomes are in `delivery`; each
//! provider's statuses and the shape and signature of its bodies are in
//! `providers/<provider>/callbacks.rs`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::delivery::{Prepared, StatusEvent};
use crate::providers::gupshup::callbacks::GupshupTarget;
use crate::providers::meta::callbacks::MetaTarget;
use crate::providers::twilio::callbacks::TwilioTarget;
use crate::rules::FailSpec;
use crate::sim::{Delivery, Message, Webhook};
use crate::{now_ms, rfc3339, Provider, Sim};

/// Where and how a message's statuses go: one provider's target, which
/// knows its statuses and shapes and signs their bodies.
#[derive(Debug, Clone)]
pub enum Target {
    Meta(MetaTarget),
    Twilio(TwilioTarget),
    Gupshup(GupshupTarget),
}

impl Target {
    fn provider(&self) -> Provider {
        match self {
            Target::Meta(_) => Provider::Meta,
            Target::Twilio(_) => Provider::Twilio,
            Target::Gupshup(_) => Provider::Gupshup,
        }
    }

    fn url(&self) -> &str {
        match self {
            Target::Meta(t) => &t.hook.url,
            Target::Twilio(t) => &t.url,
            Target::Gupshup(t) => &t.hook.url,
        }
    }

    /// The statuses a message goes through, in the provider's order.
    fn statuses(&self, whatsapp: bool, fail: Option<&FailSpec>) -> Vec<&'static str> {
        match self {
            Target::Meta(t) => t.statuses(fail),
            Target::Twilio(t) => t.statuses(whatsapp, fail),
            Target::Gupshup(t) => t.statuses(fail),
        }
    }

    /// The callback for one status, shaped and signed as the provider does.
    fn prepare(&self, event: &StatusEvent) -> Prepared {
        match self {
            Target::Meta(t) => t.prepare(event),
            Target::Twilio(t) => t.prepare(event),
            Target::Gupshup(t) => t.prepare(event),
        }
    }
}

/// Tries per status callback: a webhook that answers an error or does not answer
/// within 5 s is tried again after 0.5, 1, 2, 4, 8, 16 and 30 s (about a minute in
/// all), as providers retry (Meta for days).
const ATTEMPTS: u32 = 8;

/// Posts `message`'s statuses to `target` in the background, as its
/// `callbacks` rule (if any) says. `whatsapp` adds `read` where the provider
/// reports it.
pub fn schedule(sim: Arc<Sim>, target: Target, message: Message, whatsapp: bool) {
    let spec = message.callbacks.clone().unwrap_or_default();
    if spec.drop {
        return;
    }
    let generation = sim.lock().generation;
    let mut list = target.statuses(whatsapp, spec.fail.as_ref());
    if spec.reorder {
        list.reverse();
    }
    tokio::spawn(async move {
        for (i, status) in list.into_iter().enumerate() {
            let wait = spec.delay_ms.unwrap_or(if i == 0 { 50 } else { 100 });
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let copies = if spec.duplicate { 2 } else { 1 };
            for copy in 0..copies {
                let prepared = target.prepare(&StatusEvent {
                    message: &message,
                    status,
                    fail: spec.fail.as_ref(),
                    at_ms: now_ms(),
                });
                if !post(
                    &sim,
                    generation,
                    &target,
                    &message,
                    status,
                    prepared,
                    copy > 0,
                )
                .await
                {
                    return;
                }
            }
        }
    });
}

/// Posts with up to `ATTEMPTS` tries; `false` when a reset made the message
/// history moot.
async fn post(
    sim: &Sim,
    generation: u64,
    target: &Target,
    message: &Message,
    status: &str,
    prepared: Prepared,
    duplicate: bool,
) -> bool {
    for attempt in 1..=ATTEMPTS {
        if sim.lock().generation != generation {
            return false;
        }
        let mut request = sim
            .http
            .post(target.url())
            .header("Content-Type", prepared.content_type)
            .body(prepared.body.clone());
        for (name, value) in &prepared.headers {
            request = request.header(*name, value);
        }
        let result = request.send().await;
        let (http_status, error) = match &result {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let ok = http_status.is_some_and(|s| (200..300).contains(&s));
        {
            let mut state = sim.lock();
            if state.generation != generation {
                return false;
            }
            state.deliveries.push(Delivery {
                provider: target.provider(),
                provider_message_id: message.provider_message_id.clone(),
                recipient: message.recipient.clone(),
                status: status.to_string(),
                url: target.url().to_string(),
                attempt,
                duplicate,
                http_status,
                error,
                at: rfc3339(now_ms()),
            });
        }
        if ok {
            return true;
        }
        if attempt < ATTEMPTS {
            let pause = (500u64 << (attempt - 1)).min(30_000);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }
    true
}

/// For `GET /_sim/webhooks`: registrations without secrets (`app_secret`,
/// `auth_token`).
pub fn describe(hooks: &[Webhook]) -> Value {
    Value::Array(
        hooks
            .iter()
            .map(|h| {
                let mut v = serde_json::to_value(h).unwrap_or_default();
                v["signed"] = Value::Bool(h.app_secret.is_some() || h.auth_token.is_some());
                v
            })
            .collect(),
    )
}
