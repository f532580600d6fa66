//! Plays Twilio Programmable Messaging and the Content API (providers.md,
//! "Twilio Programmable Messaging"): `POST /2010-04-01/Accounts/{AccountSid}/
//! Messages.json` with HTTP Basic `AccountSid:AuthToken` (or an `SK…` API
//! key), form fields `To`, `From` or `MessagingServiceSid`, `Body` or
//! `ContentSid` + `ContentVariables`, `MediaUrl`, `StatusCallback`; success is
//! 201 with `sid`, `status` `queued`, `num_segments`, `error_code` null;
//! errors are `{code,message,more_info,status}` (20003/401, 21211, 21602,
//! 21603, 21604, 21654, 21655, 21656, 20429/429, …). The Content API
//! (content.twilio.com in reality, same base URL here): `/v1/Content`,
//! `/v1/Content/{sid}`, `/v1/Content/{sid}/ApprovalRequests/whatsapp`
//! (submit) and `/v1/Content/{sid}/ApprovalRequests` (fetch), as Twilio's
//! OpenAPI spec (twilio/twilio-oai) and changelog describe them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;

use crate::callbacks::{self, Target};
use crate::conn::DropHandle;
use crate::rules::{CallbackSpec, FailSpec};
use crate::sim::{Admission, NewMessage, Verdict};
use crate::templates::{self, Status, Template};
use crate::wire::{basic_auth, segments, Form};
use crate::{ids, phone, Provider, Sim};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account_sid}/Messages.json",
            post(send),
        )
        .route("/v1/Content", get(list_content).post(create_content))
        .route("/v1/Content/{sid}", get(fetch_content))
        .route("/v1/Content/{sid}/ApprovalRequests", get(fetch_approval))
        .route(
            "/v1/Content/{sid}/ApprovalRequests/whatsapp",
            post(create_approval),
        )
}

fn default_message(code: i64) -> &'static str {
    match code {
        20003 => "Authenticate",
        20404 => "The requested resource was not found",
        20429 => "Too Many Requests",
        21211 => "Invalid 'To' Phone Number",
        21408 => "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
        21602 => "Message body is required.",
        21603 => "A 'From' phone number is required.",
        21604 => "A 'To' phone number is required.",
        21610 => "Attempt to send to unsubscribed recipient",
        21614 => "'To' number is not a valid mobile number",
        21617 => "The concatenated message body exceeds the 1600 character limit.",
        21654 => "ContentSid Required",
        21655 => "The ContentSid is Invalid",
        21656 => "The ContentVariables Parameter is invalid",
        63016 => "Failed to send freeform message because you are outside the allowed window.",
        63018 => "Rate limit exceeded for Channel",
        _ => "Twilio error",
    }
}

fn default_status(code: i64) -> u16 {
    match code {
        20003 => 401,
        20404 => 404,
        20429 => 429,
        _ => 400,
    }
}

/// Twilio's error body.
pub fn error(fail: &FailSpec) -> Response {
    let status = fail.status.unwrap_or_else(|| default_status(fail.code));
    let message = fail
        .message
        .clone()
        .unwrap_or_else(|| default_message(fail.code).to_string());
    let body = json!({
        "code": fail.code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{}", fail.code),
        "status": status,
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(body)).into_response()
}

fn code(code: i64) -> FailSpec {
    FailSpec {
        code,
        ..FailSpec::default()
    }
}

fn with_message(c: i64, message: String) -> FailSpec {
    FailSpec {
        code: c,
        message: Some(message),
        ..FailSpec::default()
    }
}

fn rfc2822(ms: u64) -> String {
    OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .ok()
        .and_then(|t| t.format(&Rfc2822).ok())
        .unwrap_or_default()
}

/// What a valid send asks for.
struct Send {
    to: String,
    recipient: String,
    from: Option<String>,
    messaging_service_sid: Option<String>,
    sender: String,
    whatsapp: bool,
    body: Option<String>,
    content: Value,
    status_callback: Option<String>,
    media: Vec<String>,
    /// WhatsApp content whose approval is not `approved`: Twilio takes the
    /// message and fails it later (63016), so the callbacks do.
    late_failure: Option<FailSpec>,
}

fn parse_send(sim: &Sim, account_sid: &str, form: &Form) -> Result<Send, FailSpec> {
    let to = form.get("To").ok_or_else(|| code(21604))?.to_string();
    let recipient = phone::to_e164(&to)
        .ok_or_else(|| with_message(21211, format!("Invalid 'To' Phone Number: {to}")))?;
    let whatsapp = to.starts_with("whatsapp:");
    let from = form.get("From").map(str::to_string);
    let messaging_service_sid = form.get("MessagingServiceSid").map(str::to_string);
    let sender = match (&from, &messaging_service_sid) {
        (Some(f), _) => f.strip_prefix("whatsapp:").unwrap_or(f).to_string(),
        (None, Some(mg)) => mg.clone(),
        (None, None) => return Err(code(21603)),
    };
    let body = form.get("Body").map(str::to_string);
    let media = form.all("MediaUrl");
    let content_sid = form.get("ContentSid");
    let variables = form.get("ContentVariables");
    if variables.is_some() && content_sid.is_none() {
        return Err(code(21654));
    }
    if let Some(b) = &body {
        if b.chars().count() > 1600 {
            return Err(code(21617));
        }
    }
    let mut late_failure = None;
    let content = match content_sid {
        Some(sid) => {
            let vars: Map<String, Value> = match variables {
                None => Map::new(),
                Some(text) => serde_json::from_str::<Map<String, Value>>(text)
                    .ok()
                    .filter(|m| {
                        m.values()
                            .all(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                    })
                    .ok_or_else(|| code(21656))?,
            };
            let state = sim.lock();
            let template = state
                .templates
                .by_id(Provider::Twilio, sid)
                .filter(|t| t.account == account_sid)
                .ok_or_else(|| code(21655))?;
            let needed = templates::placeholders(&template.body);
            if let Some(missing) = needed.iter().find(|p| !vars.contains_key(p.as_str())) {
                return Err(with_message(
                    21656,
                    format!(
                        "The ContentVariables Parameter is invalid: no value for {{{{{missing}}}}}"
                    ),
                ));
            }
            if whatsapp && template.status().map(|(s, _)| s) != Some(Status::Approved) {
                late_failure = Some(code(63016));
            }
            let named: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            json!({
                "channel": if whatsapp { "whatsapp" } else { "sms" },
                "content_sid": sid,
                "content_variables": vars,
                "template_name": template.name,
                "rendered": templates::render(&template.body, &[], &named),
                "media_url": media,
            })
        }
        None => {
            if body.is_none() && media.is_empty() {
                return Err(code(21602));
            }
            json!({
                "channel": if whatsapp { "whatsapp" } else { "sms" },
                "body": body,
                "media_url": media,
            })
        }
    };
    Ok(Send {
        to,
        recipient,
        from,
        messaging_service_sid,
        sender,
        whatsapp,
        body,
        content,
        status_callback: form.get("StatusCallback").map(str::to_string),
        media,
        late_failure,
    })
}

/// The account's credentials: user equal to the path's AccountSid (or an API
/// key `SK…`) and a non-empty secret.
fn credentials(headers: &HeaderMap, account_sid: &str) -> Option<String> {
    let (user, secret) = basic_auth(headers)?;
    (user == account_sid || user.starts_with("SK")).then_some(secret)
}

async fn send(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(conn): ConnectInfo<DropHandle>,
    Path(account_sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(auth_token) = credentials(&headers, &account_sid) else {
        sim.refuse(Provider::Twilio, 1);
        return error(&code(20003));
    };
    let form = Form::parse(&body);
    let send = match parse_send(&sim, &account_sid, &form) {
        Ok(send) => send,
        Err(fail) => {
            sim.refuse(Provider::Twilio, 1);
            return error(&fail);
        }
    };
    let sid = ids::twilio_sid(if send.media.is_empty() { "SM" } else { "MM" });
    let verdict = sim
        .admit(Admission {
            provider: Provider::Twilio,
            sender: send.sender.clone(),
            messages: vec![NewMessage {
                recipient: send.recipient.clone(),
                provider_message_id: sid.clone(),
                content: send.content.clone(),
                correlation: send
                    .status_callback
                    .as_ref()
                    .map(|url| json!({ "status_callback": url })),
                ports: None,
            }],
        })
        .await;
    match verdict {
        Verdict::Accepted { messages, drop } => {
            for mut message in messages {
                if let Some(fail) = &send.late_failure {
                    let spec = message.callbacks.get_or_insert_with(CallbackSpec::default);
                    spec.fail.get_or_insert_with(|| fail.clone());
                }
                if let Some(url) = &send.status_callback {
                    let target = Target::Twilio {
                        url: url.clone(),
                        auth_token: auth_token.clone(),
                        account_sid: account_sid.clone(),
                        from: send.from.clone(),
                        messaging_service_sid: send.messaging_service_sid.clone(),
                        to: send.to.clone(),
                    };
                    callbacks::schedule(sim.clone(), target, message, send.whatsapp);
                }
            }
            if drop {
                conn.drop_connection();
            }
            (
                StatusCode::CREATED,
                Json(created(&account_sid, &sid, &send)),
            )
                .into_response()
        }
        Verdict::BadCredentials => error(&code(20003)),
        Verdict::Throttled => error(&code(20429)),
        Verdict::Failed(fail) => error(&fail),
    }
}

fn created(account_sid: &str, sid: &str, send: &Send) -> Value {
    let now = rfc2822(crate::now_ms());
    let text = send
        .body
        .clone()
        .or_else(|| send.content["rendered"].as_str().map(str::to_string))
        .unwrap_or_default();
    let uri = format!("/2010-04-01/Accounts/{account_sid}/Messages/{sid}");
    json!({
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": text,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": send.from,
        "messaging_service_sid": send.messaging_service_sid,
        "num_media": send.media.len().to_string(),
        "num_segments": segments(&text).to_string(),
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": if send.from.is_none() { "accepted" } else { "queued" },
        "subresource_uris": {"media": format!("{uri}/Media.json")},
        "to": send.to,
        "uri": format!("{uri}.json"),
    })
}

// The Content API: templates (content) and their WhatsApp approval.

fn content_view(t: &Template) -> Value {
    let mut view = t.definition.clone();
    let url = format!("https://content.twilio.com/v1/Content/{}", t.id);
    view["sid"] = json!(t.id);
    view["account_sid"] = json!(t.account);
    view["date_created"] = json!(rfc2822(t.created_at_ms));
    view["date_updated"] = json!(rfc2822(t.created_at_ms));
    view["url"] = json!(url);
    view["links"] = json!({
        "approval_create": format!("{url}/ApprovalRequests/whatsapp"),
        "approval_fetch": format!("{url}/ApprovalRequests"),
    });
    view
}

fn approval_view(t: &Template) -> Value {
    let content_type = t.definition["types"]
        .as_object()
        .and_then(|types| types.keys().next().cloned())
        .unwrap_or_default();
    let (status, reason) = match t.status() {
        None => ("unsubmitted".to_string(), None),
        Some((s, reason)) => (s.lower().to_string(), reason),
    };
    json!({
        "type": "whatsapp",
        "name": if t.submitted() { t.name.clone() } else { String::new() },
        "category": t.category,
        "content_type": content_type,
        "status": status,
        "rejection_reason": reason.unwrap_or_default(),
        "allow_category_change": t.definition.get("allow_category_change").cloned().unwrap_or(json!(false)),
        "flows": null,
    })
}

/// Basic auth for the Content API: the user is the account.
fn content_account(sim: &Sim, headers: &HeaderMap) -> Result<String, FailSpec> {
    match basic_auth(headers) {
        Some((user, _)) if !sim.credentials_refused(Provider::Twilio, &user) => Ok(user),
        _ => Err(code(20003)),
    }
}

fn not_found(sid: &str) -> Response {
    error(&with_message(
        20404,
        format!("The requested resource /Content/{sid} was not found"),
    ))
}

async fn create_content(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let account = match content_account(&sim, &headers) {
        Ok(a) => a,
        Err(fail) => return error(&fail),
    };
    let Ok(definition) = serde_json::from_slice::<Value>(&body) else {
        return error(&with_message(
            20001,
            "Request body is not valid JSON".into(),
        ));
    };
    let Some(types) = definition["types"].as_object().filter(|t| !t.is_empty()) else {
        return error(&with_message(
            20001,
            "Missing required parameter types".into(),
        ));
    };
    let Some(language) = definition["language"].as_str().filter(|l| !l.is_empty()) else {
        return error(&with_message(
            20001,
            "Missing required parameter language".into(),
        ));
    };
    let body_text = types
        .values()
        .find_map(|t| t["body"].as_str())
        .unwrap_or_default()
        .to_string();
    let header = types
        .values()
        .any(|t| t.get("media").is_some())
        .then(|| "IMAGE".to_string());
    let friendly = definition["friendly_name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut template = Template::new(Provider::Twilio, ids::twilio_sid("HX"), account, friendly);
    template.language = language.to_string();
    template.body = body_text;
    template.header = header;
    template.definition = json!({
        "friendly_name": definition["friendly_name"],
        "language": language,
        "variables": definition.get("variables").cloned().unwrap_or(json!({})),
        "types": types,
    });
    let view = content_view(&template);
    sim.lock().templates.insert(template);
    (StatusCode::CREATED, Json(view)).into_response()
}

async fn list_content(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    let account = match content_account(&sim, &headers) {
        Ok(a) => a,
        Err(fail) => return error(&fail),
    };
    let state = sim.lock();
    let contents: Vec<Value> = state
        .templates
        .of_account(Provider::Twilio, &account)
        .into_iter()
        .map(content_view)
        .collect();
    let url = "https://content.twilio.com/v1/Content?PageSize=50&Page=0";
    Json(json!({
        "contents": contents,
        "meta": {
            "page": 0,
            "page_size": 50,
            "first_page_url": url,
            "previous_page_url": null,
            "url": url,
            "next_page_url": null,
            "key": "contents",
        },
    }))
    .into_response()
}

async fn fetch_content(
    State(sim): State<Arc<Sim>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let account = match content_account(&sim, &headers) {
        Ok(a) => a,
        Err(fail) => return error(&fail),
    };
    let state = sim.lock();
    match state
        .templates
        .by_id(Provider::Twilio, &sid)
        .filter(|t| t.account == account)
    {
        Some(t) => Json(content_view(t)).into_response(),
        None => not_found(&sid),
    }
}

async fn create_approval(
    State(sim): State<Arc<Sim>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let account = match content_account(&sim, &headers) {
        Ok(a) => a,
        Err(fail) => return error(&fail),
    };
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(name) = request["name"].as_str().filter(|n| !n.is_empty()) else {
        return error(&with_message(
            20001,
            "Missing required parameter name".into(),
        ));
    };
    let category = request["category"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if !matches!(
        category.as_str(),
        "MARKETING" | "UTILITY" | "AUTHENTICATION"
    ) {
        return error(&with_message(20001, "Invalid category".into()));
    }
    let approve_after = sim.approve_after();
    let mut state = sim.lock();
    let state = &mut *state;
    let Some(template) = state
        .templates
        .by_id_mut(Provider::Twilio, &sid)
        .filter(|t| t.account == account)
    else {
        return not_found(&sid);
    };
    template.name = name.to_string();
    template.category = category;
    if let Some(allow) = request.get("allow_category_change") {
        template.definition["allow_category_change"] = allow.clone();
    }
    template.submit(&mut state.rules, approve_after);
    let mut view = approval_view(template);
    view["status"] = json!("received");
    if let Some(fields) = view.as_object_mut() {
        fields.remove("type");
        fields.remove("flows");
    }
    (StatusCode::CREATED, Json(view)).into_response()
}

async fn fetch_approval(
    State(sim): State<Arc<Sim>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let account = match content_account(&sim, &headers) {
        Ok(a) => a,
        Err(fail) => return error(&fail),
    };
    let state = sim.lock();
    match state
        .templates
        .by_id(Provider::Twilio, &sid)
        .filter(|t| t.account == account)
    {
        Some(t) => Json(json!({
            "sid": t.id,
            "account_sid": t.account,
            "url": format!("https://content.twilio.com/v1/Content/{}/ApprovalRequests", t.id),
            "whatsapp": approval_view(t),
        }))
        .into_response(),
        None => not_found(&sid),
    }
}
