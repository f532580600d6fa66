//! Plays a customer's inbound message (a reply) the way each provider delivers
//! it (providers.md: Meta's `messages` webhook with `messages[]` and
//! `contacts`, Twilio's form-encoded "Inbound message", Gupshup's version-2
//! `"type": "message"` callback), signed as that provider signs (Meta
//! `X-Hub-Signature-256` with the registration's `app_secret`, Twilio
//! `X-Twilio-Signature` with its `auth_token` over the URL exactly as
//! registered plus the sorted parameters; Gupshup unsigned, its URL carries
//! our secret) and posted once to the URL `POST /_sim/webhooks` registered for
//! that provider and business sender. `POST /_sim/inbound` answers with the
//! webhook's status and the start of its body, synchronously, so a test knows
//! at once whether our webhook took the message; every attempt is logged in
//! `/_sim/callbacks` with status `inbound`.
//!
//! This file holds what the providers share around the post: picking the
//! provider's shape, finding the registration and the handler that posts and
//! answers. The request and its checks (an [`Inbound`] with its fresh id) are
//! in `message`; how each provider shapes and signs the request is in
//! `providers/<provider>/inbound.rs`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::delivery::Prepared;
use crate::message::{Inbound, InboundRequest};
use crate::sim::{Delivery, Webhook};
use crate::{now_ms, providers, rfc3339, Provider, Sim};

/// How much of the webhook's answer `POST /_sim/inbound` hands back.
const BODY_CHARS: usize = 500;

impl Inbound {
    /// The request the provider would post to `hook`, signed as it signs
    /// (each provider's shape is in `providers/<provider>/inbound.rs`).
    pub(crate) fn prepare(&self, hook: &Webhook) -> Result<Prepared, String> {
        match self.provider {
            Provider::Meta => Ok(providers::meta::inbound::prepare(self, hook)),
            Provider::Twilio => providers::twilio::inbound::prepare(self, hook),
            Provider::Gupshup => Ok(providers::gupshup::inbound::prepare(self, hook)),
            Provider::Gateway => Ok(providers::gateway::inbound::prepare(self, hook)),
        }
    }
}

/// The registration for `sender`: as given, then Twilio's number without
/// `whatsapp:` (one URL for both channels), Meta's and Gupshup's without `+`.
pub fn find_hook(sim: &Sim, provider: Provider, sender: &str) -> Option<Webhook> {
    let other = match provider {
        Provider::Twilio => sender.strip_prefix("whatsapp:").map(str::trim),
        _ => sender.strip_prefix('+'),
    };
    sim.webhook(provider, sender)
        .or_else(|| other.and_then(|s| sim.webhook(provider, s)))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// `POST /_sim/inbound`: builds, signs and posts one inbound message, then
/// answers `{"status", "provider_message_id", "body"}` (502 with `error` when
/// the webhook could not be reached).
pub async fn play(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let request: InboundRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")),
    };
    let inbound = match Inbound::new(request, now_ms()) {
        Ok(i) => i,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let Some(hook) = find_hook(&sim, inbound.provider, &inbound.sender) else {
        let provider = json!(inbound.provider);
        let provider = provider.as_str().unwrap_or_default();
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "no webhook registered for provider {provider} and sender {:?}; register one with POST /_sim/webhooks",
                inbound.sender
            ),
        );
    };
    let prepared = match inbound.prepare(&hook) {
        Ok(p) => p,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let mut request = sim
        .http
        .post(&hook.url)
        .header("Content-Type", prepared.content_type)
        .body(prepared.body);
    for (name, value) in &prepared.headers {
        request = request.header(*name, value);
    }
    let (http_status, answer, failure) = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            (
                Some(status),
                text.chars().take(BODY_CHARS).collect::<String>(),
                None,
            )
        }
        Err(e) => (None, String::new(), Some(e.to_string())),
    };
    sim.lock().deliveries.push(Delivery {
        provider: inbound.provider,
        provider_message_id: inbound.id.clone(),
        recipient: inbound.from.clone(),
        status: "inbound".into(),
        url: hook.url.clone(),
        attempt: 1,
        duplicate: false,
        http_status,
        error: failure.clone(),
        at: rfc3339(now_ms()),
    });
    match (http_status, failure) {
        (Some(status), _) => Json(json!({
            "status": status,
            "provider_message_id": inbound.id,
            "body": answer,
        }))
        .into_response(),
        (None, failure) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({
                "status": null,
                "provider_message_id": inbound.id,
                "body": "",
                "error": failure.unwrap_or_default(),
            })),
        )
            .into_response(),
    }
}
