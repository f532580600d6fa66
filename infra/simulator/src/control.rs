//! The simulator's own endpoints under `/_sim/` (README.md lists them):
//! rules (`/_sim/rules`), counters (`/_sim/stats`), accepted messages
//! (`/_sim/messages`), reset, per-sender rates (`/_sim/senders`), callback
//! URLs (`/_sim/webhooks`), customers' inbound messages played to them
//! (`/_sim/inbound`, in `inbound`) and the log of callback attempts
//! (`/_sim/callbacks`), and seeded templates (`/_sim/templates`). These are
//! how a test proves from outside that each message went out exactly once and
//! that no sender ever went over its rate (providers.md, "Limits that shape
//! the design").

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::callbacks;
use crate::rules::{Kind, RuleSpec};
use crate::sim::Webhook;
use crate::templates::{Status, Template};
use crate::{ids, inbound, phone, Provider, Sim};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/health", get(|| async { "ok" }))
        .route(
            "/_sim/rules",
            post(add_rule).get(list_rules).delete(clear_rules),
        )
        .route("/_sim/rules/{id}", delete(delete_rule))
        .route("/_sim/stats", get(stats))
        .route("/_sim/messages", get(messages))
        .route("/_sim/reset", post(reset))
        .route("/_sim/senders", post(set_sender).get(list_senders))
        .route("/_sim/webhooks", post(add_webhook).get(list_webhooks))
        .route("/_sim/inbound", post(inbound::play))
        .route("/_sim/callbacks", get(list_callbacks))
        .route("/_sim/templates", post(seed_template).get(list_templates))
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.into()})),
    )
        .into_response()
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

async fn add_rule(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let spec: RuleSpec = match parse(&body) {
        Ok(s) => s,
        Err(message) => return bad_request(message),
    };
    let mut state = sim.lock();
    let state = &mut *state;
    let rule = match state.rules.add(spec) {
        Ok(rule) => rule,
        Err(message) => return bad_request(message),
    };
    // A pause rule also pauses matching templates already approved.
    if rule.kind == Kind::Template && rule.spec.pause == Some(true) {
        let pattern = rule.spec.template.clone().unwrap_or_default();
        let after = Duration::from_millis(rule.spec.after_ms.unwrap_or(0));
        for t in state.templates.iter_mut() {
            let provider_ok = rule.spec.provider.is_none_or(|p| p == t.provider);
            let approved = t.status().map(|(s, _)| s) == Some(Status::Approved);
            if provider_ok && approved && phone::glob_matches(&pattern, &t.name) {
                t.set_status_after(Status::Paused, None, after);
            }
        }
    }
    (
        StatusCode::CREATED,
        Json(json!({"id": rule.id, "rule": rule})),
    )
        .into_response()
}

async fn list_rules(State(sim): State<Arc<Sim>>) -> Response {
    Json(json!({"rules": sim.lock().rules.list()})).into_response()
}

async fn clear_rules(State(sim): State<Arc<Sim>>) -> Response {
    let mut state = sim.lock();
    let deleted = state.rules.list().len();
    state.rules.clear();
    Json(json!({ "deleted": deleted })).into_response()
}

async fn delete_rule(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    if sim.lock().rules.remove(&id) {
        Json(json!({ "deleted": 1 })).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such rule"})),
        )
            .into_response()
    }
}

async fn stats(State(sim): State<Arc<Sim>>) -> Response {
    let state = sim.lock();
    let s = &state.stats;
    Json(json!({
        "accepted": s.totals.accepted,
        "throttled": s.totals.throttled,
        "rejected": s.totals.rejected,
        "accepted_by_recipient": s.accepted_by_recipient,
        "max_accepted_in_any_second": state.limiter.max_accepted_in_any_second(),
        "dropped": s.dropped,
        "by_provider": s.by_provider,
    }))
    .into_response()
}

async fn messages(
    State(sim): State<Arc<Sim>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let recipient = match query.get("recipient").filter(|r| !r.trim().is_empty()) {
        None => None,
        // A `+` left unescaped in a query string arrives as a space.
        Some(raw) => match phone::to_e164(raw) {
            Some(r) => Some(r),
            None => return bad_request(format!("recipient {raw:?} is not a phone number")),
        },
    };
    let provider = match query.get("provider") {
        None => None,
        Some(p) => match serde_json::from_value::<Provider>(json!(p)) {
            Ok(p) => Some(p),
            Err(_) => return bad_request(format!("unknown provider {p:?}")),
        },
    };
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => None,
        Some(Ok(l)) => Some(l),
        Some(Err(_)) => return bad_request("limit must be a number"),
    };
    let state = sim.lock();
    let mut found: Vec<&crate::sim::Message> = state
        .messages
        .iter()
        .filter(|m| recipient.as_ref().is_none_or(|r| &m.recipient == r))
        .filter(|m| provider.is_none_or(|p| m.provider == p))
        .filter(|m| query.get("sender").is_none_or(|s| &m.sender == s))
        .collect();
    if let Some(limit) = limit {
        let skip = found.len().saturating_sub(limit);
        found.drain(..skip);
    }
    Json(json!(found)).into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    #[serde(default)]
    templates: bool,
}

async fn reset(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let request: ResetRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ResetRequest::default()
    } else {
        match parse(&body) {
            Ok(r) => r,
            Err(message) => return bad_request(message),
        }
    };
    sim.reset(request.templates);
    Json(json!({"reset": true, "templates": request.templates})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SenderRate {
    sender: String,
    rate: u32,
}

async fn set_sender(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let request: SenderRate = match parse(&body) {
        Ok(r) => r,
        Err(message) => return bad_request(message),
    };
    if request.sender.is_empty() {
        return bad_request("sender is required");
    }
    sim.lock().limiter.set_rate(&request.sender, request.rate);
    Json(json!({"sender": request.sender, "rate": request.rate})).into_response()
}

async fn list_senders(State(sim): State<Arc<Sim>>) -> Response {
    let state = sim.lock();
    Json(json!({
        "default_rate": state.limiter.default_rate(),
        "senders": state.limiter.rates(),
    }))
    .into_response()
}

async fn add_webhook(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let hook: Webhook = match parse(&body) {
        Ok(h) => h,
        Err(message) => return bad_request(message),
    };
    match hook.provider {
        Provider::Meta | Provider::Gupshup => {}
        // The number's incoming-message URL ("A message comes in"), for
        // `/_sim/inbound`; status callbacks still go to each message's
        // StatusCallback.
        Provider::Twilio => {
            let missing = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
            if missing(&hook.auth_token) || missing(&hook.account_sid) {
                return bad_request(
                    "twilio needs auth_token (signs X-Twilio-Signature) and account_sid; \
                     its status callbacks still go to each message's StatusCallback",
                );
            }
        }
        // The URL a gateway pushes received SMS to (`sender`: its serial number);
        // its send results are still read with /api/query_sms_result.
        Provider::Gateway => {}
    }
    if hook.sender.is_empty() || !hook.url.starts_with("http") {
        return bad_request("sender and an http(s) url are required");
    }
    let view = callbacks::describe(std::slice::from_ref(&hook));
    sim.lock()
        .webhooks
        .insert((hook.provider, hook.sender.clone()), hook);
    (StatusCode::CREATED, Json(view[0].clone())).into_response()
}

async fn list_webhooks(State(sim): State<Arc<Sim>>) -> Response {
    let state = sim.lock();
    let hooks: Vec<Webhook> = state.webhooks.values().cloned().collect();
    Json(callbacks::describe(&hooks)).into_response()
}

async fn list_callbacks(State(sim): State<Arc<Sim>>) -> Response {
    Json(json!(sim.lock().deliveries)).into_response()
}

/// A template placed directly in a provider's registry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Seed {
    provider: Provider,
    /// Meta WABA id, Twilio Account SID or Gupshup app id.
    account: String,
    name: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    category: Option<String>,
    body: String,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

fn seed_view(t: &Template) -> Value {
    let (status, reason) = t.status().unwrap_or((Status::Pending, None));
    json!({
        "provider": t.provider,
        "id": t.id,
        "account": t.account,
        "name": t.name,
        "language": t.language,
        "category": t.category,
        "body": t.body,
        "header": t.header,
        "placeholders": t.placeholders(),
        "status": status.upper(),
        "reason": reason,
    })
}

async fn seed_template(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let seed: Seed = match parse(&body) {
        Ok(s) => s,
        Err(message) => return bad_request(message),
    };
    if seed.provider == Provider::Gateway {
        return bad_request("the gateway has no templates");
    }
    let status = match seed.status.as_deref() {
        None => Status::Approved,
        Some(text) => match Status::parse(text) {
            Some(s) => s,
            None => return bad_request(format!("unknown status {text:?}")),
        },
    };
    let id = seed.id.unwrap_or_else(|| match seed.provider {
        Provider::Twilio => ids::twilio_sid("HX"),
        Provider::Gupshup => ids::uuid(),
        _ => ids::numeric_id(),
    });
    let mut template = Template::new(seed.provider, id, seed.account, seed.name);
    template.language = seed.language.unwrap_or_else(|| "es".into());
    template.category = seed.category.unwrap_or_else(|| "UTILITY".into());
    template.header = seed.header.map(|h| h.to_ascii_uppercase());
    template.definition = match seed.provider {
        Provider::Twilio => json!({
            "friendly_name": template.name,
            "language": template.language,
            "variables": {},
            "types": {"twilio/text": {"body": seed.body}},
        }),
        _ => json!({"components": [{"type": "BODY", "text": seed.body}]}),
    };
    template.body = seed.body;
    template.set_status_after(status, seed.reason, Duration::ZERO);
    let view = seed_view(&template);
    sim.lock().templates.insert(template);
    (StatusCode::CREATED, Json(view)).into_response()
}

async fn list_templates(State(sim): State<Arc<Sim>>) -> Response {
    let state = sim.lock();
    let all: Vec<Value> = state.templates.all().iter().map(seed_view).collect();
    Json(json!(all)).into_response()
}
