//! Plays the providers' status callbacks (providers.md, "Webhooks", "Status
//! callback", "Callbacks"): after a message is accepted the simulator posts
//! its statuses with small delays — Meta's `statuses` webhook signed with
//! `X-Hub-Signature-256`, Twilio's form-encoded callback to the message's
//! `StatusCallback` signed with `X-Twilio-Signature`, Gupshup's unsigned
//! version-2 `message-event`s. A `callbacks` rule may delay, duplicate,
//! reorder, drop or fail them, the way real providers do (late, twice, out of
//! order). Every attempt is logged for `GET /_sim/callbacks`. The gateway has
//! no push here: its results are read with `query_sms_result`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::rules::FailSpec;
use crate::sim::{Delivery, Message, Webhook};
use crate::{now_ms, rfc3339, signing, Provider, Sim};

/// Where and how a message's statuses go.
#[derive(Debug, Clone)]
pub enum Target {
    Meta {
        hook: Webhook,
    },
    Twilio {
        url: String,
        auth_token: String,
        account_sid: String,
        /// `From` as sent (`whatsapp:` kept), or `None` with a messaging service.
        from: Option<String>,
        messaging_service_sid: Option<String>,
        /// `To` as sent.
        to: String,
    },
    Gupshup {
        hook: Webhook,
        app: String,
        whatsapp_message_id: String,
        template: bool,
    },
}

/// A request ready to post (status callbacks here, inbound messages in
/// `inbound`).
pub(crate) struct Prepared {
    pub(crate) body: Vec<u8>,
    pub(crate) content_type: &'static str,
    pub(crate) headers: Vec<(&'static str, String)>,
}

/// The statuses a message goes through, in the provider's order.
fn statuses(target: &Target, whatsapp: bool, fail: Option<&FailSpec>) -> Vec<&'static str> {
    match (target, fail) {
        (Target::Meta { .. }, None) => vec!["sent", "delivered", "read"],
        (Target::Meta { .. }, Some(_)) => vec!["failed"],
        (Target::Twilio { .. }, None) if whatsapp => vec!["sent", "delivered", "read"],
        (Target::Twilio { .. }, None) => vec!["sent", "delivered"],
        (Target::Twilio { .. }, Some(_)) => vec!["sent", "undelivered"],
        (Target::Gupshup { .. }, None) => vec!["enqueued", "sent", "delivered", "read"],
        (Target::Gupshup { .. }, Some(_)) => vec!["failed"],
    }
}

fn digits(e164: &str) -> &str {
    e164.trim_start_matches('+')
}

impl Target {
    fn provider(&self) -> Provider {
        match self {
            Target::Meta { .. } => Provider::Meta,
            Target::Twilio { .. } => Provider::Twilio,
            Target::Gupshup { .. } => Provider::Gupshup,
        }
    }

    fn url(&self) -> &str {
        match self {
            Target::Meta { hook } | Target::Gupshup { hook, .. } => &hook.url,
            Target::Twilio { url, .. } => url,
        }
    }

    fn prepare(
        &self,
        message: &Message,
        status: &str,
        fail: Option<&FailSpec>,
        at_ms: u64,
    ) -> Prepared {
        match self {
            Target::Meta { hook } => {
                let mut entry = json!({
                    "id": message.provider_message_id,
                    "status": status,
                    "timestamp": (at_ms / 1000).to_string(),
                    "recipient_id": digits(&message.recipient),
                });
                if let Some(data) = message
                    .correlation
                    .as_ref()
                    .and_then(|c| c.get("biz_opaque_callback_data"))
                {
                    entry["biz_opaque_callback_data"] = data.clone();
                }
                if let (Some(f), "failed") = (fail, status) {
                    let text = f
                        .message
                        .clone()
                        .unwrap_or_else(|| crate::meta_errors::text(f.code).to_string());
                    entry["errors"] = json!([{
                        "code": f.code,
                        "title": text,
                        "message": text,
                        "error_data": {"details": text},
                    }]);
                }
                let body = json!({
                    "object": "whatsapp_business_account",
                    "entry": [{
                        "id": hook.waba_id.clone().unwrap_or_else(|| "0".into()),
                        "changes": [{
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": hook
                                        .display_phone_number
                                        .clone()
                                        .unwrap_or_else(|| message.sender.clone()),
                                    "phone_number_id": message.sender,
                                },
                                "statuses": [entry],
                            },
                            "field": "messages",
                        }],
                    }],
                });
                let body = serde_json::to_vec(&body).unwrap_or_default();
                let mut headers = Vec::new();
                if let Some(secret) = &hook.app_secret {
                    headers.push((
                        "X-Hub-Signature-256",
                        signing::meta_signature(secret, &body),
                    ));
                }
                Prepared {
                    body,
                    content_type: "application/json",
                    headers,
                }
            }
            Target::Twilio {
                url,
                auth_token,
                account_sid,
                from,
                messaging_service_sid,
                to,
            } => {
                let sid = &message.provider_message_id;
                let mut params: Vec<(String, String)> = vec![
                    ("SmsSid".into(), sid.clone()),
                    ("SmsStatus".into(), status.into()),
                    ("MessageStatus".into(), status.into()),
                    ("To".into(), to.clone()),
                    ("MessageSid".into(), sid.clone()),
                    ("AccountSid".into(), account_sid.clone()),
                ];
                if let Some(from) = from {
                    params.push(("From".into(), from.clone()));
                }
                if let Some(mg) = messaging_service_sid {
                    params.push(("MessagingServiceSid".into(), mg.clone()));
                }
                params.push(("ApiVersion".into(), "2010-04-01".into()));
                if let (Some(f), "undelivered") = (fail, status) {
                    params.push(("ErrorCode".into(), f.code.to_string()));
                }
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params.iter())
                    .finish()
                    .into_bytes();
                Prepared {
                    body,
                    content_type: "application/x-www-form-urlencoded",
                    headers: vec![(
                        "X-Twilio-Signature",
                        signing::twilio_signature(auth_token, url, &params),
                    )],
                }
            }
            Target::Gupshup {
                app,
                whatsapp_message_id,
                template,
                ..
            } => {
                let gs_id = &message.provider_message_id;
                let destination = digits(&message.recipient);
                let payload = match (status, fail) {
                    ("enqueued", _) => json!({
                        "id": gs_id,
                        "type": "enqueued",
                        "destination": destination,
                        "payload": {
                            "whatsappMessageId": whatsapp_message_id,
                            "type": if *template { "template" } else { "session" },
                        },
                    }),
                    ("failed", f) => {
                        let f = f.cloned().unwrap_or_default();
                        json!({
                            "id": gs_id,
                            "gsId": gs_id,
                            "type": "failed",
                            "destination": destination,
                            "payload": {
                                "code": f.code,
                                "reason": f.message.unwrap_or_else(|| "Message failed".into()),
                            },
                        })
                    }
                    _ => json!({
                        "id": whatsapp_message_id,
                        "gsId": gs_id,
                        "type": status,
                        "destination": destination,
                        "payload": {"ts": at_ms / 1000},
                    }),
                };
                let body = json!({
                    "app": app,
                    "timestamp": at_ms,
                    "version": 2,
                    "type": "message-event",
                    "payload": payload,
                });
                Prepared {
                    body: serde_json::to_vec(&body).unwrap_or_default(),
                    content_type: "application/json",
                    headers: Vec::new(),
                }
            }
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
    let mut list = statuses(&target, whatsapp, spec.fail.as_ref());
    if spec.reorder {
        list.reverse();
    }
    tokio::spawn(async move {
        for (i, status) in list.into_iter().enumerate() {
            let wait = spec.delay_ms.unwrap_or(if i == 0 { 50 } else { 100 });
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let copies = if spec.duplicate { 2 } else { 1 };
            for copy in 0..copies {
                let prepared = target.prepare(&message, status, spec.fail.as_ref(), now_ms());
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
