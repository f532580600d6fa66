//! Twilio's send (providers.md, "Twilio Programmable Messaging"):
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic
//! `AccountSid:AuthToken` (or an `SK…` API key), form fields `To`, `From` or
//! `MessagingServiceSid`, `Body` or `ContentSid` + `ContentVariables`,
//! `MediaUrl`, `StatusCallback`; success is 201 with `sid`, `status`
//! `queued`, `num_segments`, `error_code` null; errors are Twilio's error
//! body (20003/401, 21211, 21602, 21603, 21604, 21654, 21655, 21656,
//! 20429/429, …). WhatsApp content not approved is taken and fails later
//! (63016) in its status callbacks ([`super::callbacks`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::callbacks::TwilioTarget;
use super::{code, error, rfc2822, with_message};
use crate::callbacks::{self, Target};
use crate::conn::DropHandle;
use crate::rules::{CallbackSpec, FailSpec};
use crate::sim::{Admission, NewMessage, Verdict};
use crate::templates::{self, Status};
use crate::wire::{basic_auth, segments, Form};
use crate::{ids, phone, Provider, Sim};

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

pub(super) async fn send(
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
            credential: auth_token.clone(),
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
                    let target = Target::Twilio(TwilioTarget {
                        url: url.clone(),
                        auth_token: auth_token.clone(),
                        account_sid: account_sid.clone(),
                        from: send.from.clone(),
                        messaging_service_sid: send.messaging_service_sid.clone(),
                        to: send.to.clone(),
                    });
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
