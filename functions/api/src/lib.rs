//! The tenant API. Every request carries `Authorization: Bearer <api key>`; the key's
//! hash names the tenant, and every read or write is keyed under that tenant, so another
//! tenant's ids answer 404 exactly like ids that do not exist.
//!
//! The routes are the `match` in [`Api::handle`]; every one is documented in the
//! README's "The tenant API" table and in `openapi.json`.
//!
//! `GET /v1/openapi.json` (no API key) serves `openapi.json` beside this crate's
//! `Cargo.toml`: every route and field of this API and of the webhooks, kept equal to
//! the code by `tests/openapi.rs`.

use pregon::keys;
use pregon::model::{Account, FieldError, Template};
use pregon_aws::config::Aws;
use pregon_aws::store::Store;
use pregon_aws::Error as AwsError;
use serde_json::{json, Value};
use std::time::Duration;
use tracing::error;
use views::TemplateView;

mod accounts;
mod admin;
mod api_keys;
mod campaigns;
mod sending;
mod stats;
mod templates;
mod tickets;
mod views;

/// The OpenAPI 3.1 document of the tenant API and the provider callbacks.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// The largest request body: room for 10,000 inline recipients.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// How long a pre-signed upload URL stays valid.
pub(crate) const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a pre-signed report download link stays valid.
pub(crate) const REPORT_URL_TTL: Duration = Duration::from_secs(3600);

pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// A file to send instead of the JSON body.
    pub file: Option<Box<File>>,
    /// The `Allow` header of a 405: the methods the path takes.
    pub allow: Option<String>,
}

pub struct File {
    pub content_type: &'static str,
    pub filename: String,
    pub bytes: Vec<u8>,
}

pub(crate) fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body,
        file: None,
        allow: None,
    }
}

pub(crate) fn problem(status: u16, code: &str, message: &str) -> Reply {
    reply(status, json!({"error": code, "message": message}))
}

pub(crate) fn invalid(fields: Vec<FieldError>) -> Reply {
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    let message = format!("the request has invalid fields: {}", names.join(", "));
    reply(
        400,
        json!({"error": "invalid_request", "message": message, "fields": fields}),
    )
}

pub(crate) fn not_found(what: &str) -> Reply {
    problem(404, "not_found", &format!("no such {what}"))
}

pub struct Api {
    aws: Aws,
    transport: pregon_aws::transport::Transport,
    store: Store,
    events: pregon_aws::events::Events,
}

impl From<AwsError> for Reply {
    fn from(e: AwsError) -> Self {
        error!(error = %e, "store failure");
        problem(
            500,
            "internal",
            "the request could not be completed; try again",
        )
    }
}

impl Api {
    pub fn new(aws: Aws) -> Self {
        let store = Store::new(aws.dynamodb.clone(), aws.table.clone());
        Api {
            events: pregon_aws::events::Events::from_env(&aws.sdk_config),
            aws,
            store,
            transport: pregon_aws::transport::Transport::from_env().expect("an HTTP client"),
        }
    }

    pub async fn handle(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        auth: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        // The one route without an API key: the API's own description.
        if let ("GET", ["v1", "openapi.json"]) = (method, segments.as_slice()) {
            return openapi();
        }
        // A documented path asked with a method it does not take: 405 with `Allow`.
        if let Some(allowed) = allowed_methods(&segments) {
            if !allowed.iter().any(|m| m == method) {
                let mut r = problem(
                    405,
                    "method_not_allowed",
                    &format!("{method} is not allowed on {path}"),
                );
                r.allow = Some(allowed.join(", "));
                return r;
            }
        }
        if body.len() > MAX_BODY_BYTES {
            return problem(
                413,
                "payload_too_large",
                &format!(
                    "the request body has {} bytes; the limit is {MAX_BODY_BYTES} (upload spreadsheets through an upload URL)",
                    body.len()
                ),
            );
        }
        // The operator's routes: the operator key, never a tenant's.
        if segments.get(1) == Some(&"admin") {
            return self.operator(method, &segments, query, auth, body).await;
        }
        let caller = match self.tenant_of(auth, method, path, &segments).await {
            Ok(c) => c,
            Err(refused) => return refused,
        };
        // The ids this API gives are short: a longer path segment names nothing (and
        // would not fit in a DynamoDB key).
        if segments.iter().any(|s| s.len() > MAX_ID_BYTES) {
            return problem(404, "not_found", "no such record: the id is too long");
        }
        self.route(&caller, method, path, &segments, query, body)
            .await
            .unwrap_or_else(Reply::from)
    }

    /// The tenant whose API key is in `auth`, when that key may take this route: 401
    /// for a missing, unknown (revoked, rotated-away) or expired key; 403
    /// `insufficient_scope` naming the scope the route needs when the key lacks it.
    async fn tenant_of(
        &self,
        auth: Option<&str>,
        method: &str,
        path: &str,
        segments: &[&str],
    ) -> Result<Caller, Reply> {
        let Some(secret) = pregon::auth::bearer(auth) else {
            return Err(problem(
                401,
                "unauthorized",
                "send your API key as 'Authorization: Bearer pgn_…'",
            ));
        };
        let key = match self.store.api_key(&pregon::auth::key_hash(secret)).await {
            Ok(Some(k)) => k,
            Ok(None) => return Err(problem(401, "unauthorized", "unknown API key")),
            Err(e) => return Err(e.into()),
        };
        if key.disabled {
            return Err(problem(
                403,
                "tenant_disabled",
                "the operator has disabled this tenant: every key is refused and its sending is paused",
            ));
        }
        if key.expired(&pregon::clock::now_rfc3339()) {
            let at = key.expires_at.as_deref().unwrap_or_default();
            return Err(problem(
                401,
                "unauthorized",
                &format!("the API key expired at {at}"),
            ));
        }
        if let Some(need) = pregon::auth::Scope::for_route(method, segments.get(1..).unwrap_or(&[]))
        {
            if !key.allows(need) {
                return Err(problem(
                    403,
                    "insufficient_scope",
                    &format!(
                        "this API key lacks the scope '{}' that {method} {path} needs",
                        need.as_str()
                    ),
                ));
            }
        }
        let scopes = pregon::auth::Scope::ALL
            .into_iter()
            .filter(|s| key.allows(*s))
            .collect();
        Ok(Caller {
            tenant: key.tenant_id,
            key_name: key.name,
            scopes,
        })
    }

    /// `/v1/admin/…`: the operator's routes, with the operator key (never a tenant's).
    async fn operator(
        &self,
        method: &str,
        segments: &[&str],
        query: &[(String, String)],
        auth: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let hash = admin::operator_hash();
        if hash.is_empty() {
            return problem(
                403,
                "forbidden",
                "the operator routes are off: deploy with the AdminKeySha256 parameter",
            );
        }
        if !pregon::auth::is_operator(auth, &hash) {
            return problem(
                401,
                "unauthorized",
                "send the operator key as 'Authorization: Bearer pgo_…'",
            );
        }
        let r = match (method, segments) {
            ("POST", ["v1", "admin", "tenants"]) => self.create_tenant(body).await,
            ("GET", ["v1", "admin", "tenants"]) => self.list_tenants(query).await,
            ("GET", ["v1", "admin", "tenants", tenant]) => self.get_tenant(tenant).await,
            ("POST", ["v1", "admin", "tenants", tenant, action @ ("disable" | "enable")]) => {
                self.set_tenant_disabled(tenant, *action == "disable").await
            }
            ("GET", ["v1", "admin", "tenants", tenant, "report-senders"]) => {
                self.report_senders(tenant).await
            }
            ("PUT", ["v1", "admin", "tenants", tenant, "report-senders", address]) => {
                self.set_report_sender(tenant, address, true).await
            }
            ("DELETE", ["v1", "admin", "tenants", tenant, "report-senders", address]) => {
                self.set_report_sender(tenant, address, false).await
            }
            ("GET", ["v1", "admin", "tenants", tenant, "limits"]) => {
                self.tenant_limits(tenant).await
            }
            ("PUT", ["v1", "admin", "tenants", tenant, "limits"]) => {
                self.set_tenant_limits(tenant, body).await
            }
            _ => Ok(problem(404, "not_found", "no such operator route")),
        };
        r.unwrap_or_else(Into::into)
    }

    /// A tenant's request, authenticated: the route its method and path name.
    async fn route(
        &self,
        caller: &Caller,
        method: &str,
        path: &str,
        segments: &[&str],
        query: &[(String, String)],
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        let tenant = caller.tenant.clone();
        // What the records a key writes carry as `created_by` / `author` / `…_by`.
        let by = caller.key_name.as_deref();
        match (method, segments) {
            ("GET", ["v1", "me"]) => self.who_am_i(caller).await,
            ("POST", ["v1", "accounts"]) => self.create_account(&tenant, body).await,
            ("GET", ["v1", "accounts"]) => self.list_accounts(&tenant, query).await,
            ("GET", ["v1", "accounts", id]) => {
                match self.store.get::<Account>(keys::account(&tenant, id)).await {
                    Ok(Some(a)) => Ok(reply(200, json!(self.account_view(&a).await))),
                    Ok(None) => Ok(not_found("account")),
                    Err(e) => Err(e),
                }
            }
            ("PATCH", ["v1", "accounts", id]) => self.patch_account(&tenant, id, body).await,
            ("DELETE", ["v1", "accounts", id]) => self.delete_account(&tenant, id).await,
            ("PUT", ["v1", "accounts", id, "credentials"]) => {
                self.replace_credentials(&tenant, id, body).await
            }
            ("POST", ["v1", "templates"]) => self.create_template(&tenant, body).await,
            ("GET", ["v1", "templates"]) => self.list_templates(&tenant, query).await,
            ("GET", ["v1", "templates", id]) => match self
                .store
                .get::<Template>(keys::template(&tenant, id))
                .await
            {
                Ok(Some(t)) => match self.refreshed(&tenant, t).await {
                    Ok(t) => Ok(reply(200, json!(TemplateView::from(&t)))),
                    Err(e) => Err(e),
                },
                Ok(None) => Ok(not_found("template")),
                Err(e) => Err(e),
            },
            ("DELETE", ["v1", "templates", id]) => self.delete_template(&tenant, id).await,
            ("POST", ["v1", "templates", id, "preview"]) => {
                self.preview_template(&tenant, id, body).await
            }
            ("GET", ["v1", "templates", id, "sheet"]) => {
                self.template_sheet(&tenant, id, query).await
            }
            ("POST", ["v1", "campaigns"]) => self.create_campaign(&tenant, body, by).await,
            ("GET", ["v1", "campaigns"]) => self.list_campaigns(&tenant, query).await,
            ("GET", ["v1", "campaigns", id]) => match self.store.campaign(&tenant, id).await {
                Ok(Some(c)) => Ok(reply(200, json!(self.campaign_view(&c, true).await))),
                Ok(None) => Ok(not_found("campaign")),
                Err(e) => Err(e),
            },
            ("POST", ["v1", "campaigns", id, "upload"]) => self.upload_url(&tenant, id, body).await,
            ("POST", ["v1", "campaigns", id, "clone"]) => {
                self.clone_campaign(&tenant, id, body, by).await
            }
            ("POST", ["v1", "campaigns", id, "header-image"]) => {
                self.header_image_url(&tenant, id, body).await
            }
            (
                "POST",
                ["v1", "campaigns", id, action @ ("send" | "pause" | "resume" | "cancel" | "unschedule")],
            ) => self.control(&tenant, id, action, body).await,
            ("GET", ["v1", "campaigns", id, "messages"]) => self.messages(&tenant, id, query).await,
            ("PATCH", ["v1", "campaigns", id]) => self.patch_campaign(&tenant, id, body).await,
            ("DELETE", ["v1", "campaigns", id]) => self.delete_campaign(&tenant, id).await,
            ("GET", ["v1", "campaigns", id, "results"]) => self.results(&tenant, id, query).await,
            ("GET", ["v1", "campaigns", id, "sheet"]) => {
                self.campaign_sheet(&tenant, id, query).await
            }
            ("GET", ["v1", "campaigns", id, "stats"]) => self.campaign_stats(&tenant, id).await,
            ("GET", ["v1", "analytics"]) => self.analytics(&tenant, query).await,
            ("POST", ["v1", "messages"]) => self.send_one(&tenant, body).await,
            ("GET", ["v1", "messages", id]) => self.message(&tenant, id).await,
            ("POST", ["v1", "dnc"]) => self.dnc_add(&tenant, body, query, by).await,
            ("GET", ["v1", "dnc"]) => self.dnc_list(&tenant, query).await,
            ("DELETE", ["v1", "dnc", phone]) => self.dnc_remove(&tenant, phone, query).await,
            ("GET", ["v1", "tickets"]) => self.list_tickets(&tenant, query).await,
            ("GET", ["v1", "tickets", id]) => self.get_ticket(&tenant, id).await,
            ("POST", ["v1", "tickets", id, "reply"]) => {
                self.ticket_reply(&tenant, id, body, by).await
            }
            ("POST", ["v1", "tickets", id, "template"]) => {
                self.ticket_template(&tenant, id, body, by).await
            }
            ("POST", ["v1", "tickets", id, "attend"]) => self.ticket_attend(&tenant, id, by).await,
            ("POST", ["v1", "tickets", id, "close"]) => self.ticket_close(&tenant, id, by).await,
            ("POST", ["v1", "keys"]) => self.create_key(&tenant, body).await,
            ("GET", ["v1", "keys"]) => self.list_keys(&tenant, query).await,
            ("POST", ["v1", "keys", id, "rotate"]) => self.rotate_key(&tenant, id).await,
            ("DELETE", ["v1", "keys", id]) => self.revoke_key(&tenant, id).await,
            ("GET", ["v1", "settings"]) => self.get_settings(&tenant).await,
            ("PATCH", ["v1", "settings"]) => self.patch_settings(&tenant, body).await,
            (
                _,
                ["v1", "accounts" | "templates" | "campaigns" | "dnc" | "messages" | "tickets"
                | "settings" | "analytics" | "keys", ..],
            ) => Ok(problem(
                405,
                "method_not_allowed",
                &format!("{method} is not allowed on {path}"),
            )),
            _ => Ok(problem(
                404,
                "not_found",
                &format!("no endpoint {method} {path}"),
            )),
        }
    }

    /// `GET /v1/accounts`, `/v1/templates`, `/v1/keys`: oldest first, `limit`/`cursor`
    /// paging, the stored-attribute `filters` applied as read and `keep` after (a
    /// filtered page may hold fewer than `limit`: follow `next_cursor`), each record
    /// shown as its `view` (see `views.rs`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn list_plain<T: serde::de::DeserializeOwned, V: serde::Serialize>(
        &self,
        tenant: &str,
        prefix: &str,
        id_prefix: &str,
        query: &[(String, String)],
        filters: &[pregon_aws::store::Filter<'_>],
        keep: impl Fn(&T) -> bool,
        view: impl Fn(&T) -> V,
    ) -> Result<Reply, AwsError> {
        let (limit, cursor) = match page(query, id_prefix) {
            Ok(p) => p,
            Err(e) => return Ok(invalid(e)),
        };
        let after = cursor.map(|c| format!("{prefix}{c}"));
        let (items, next) = self
            .store
            .list::<T>(
                keys::tenant_pk(tenant),
                prefix,
                false,
                limit,
                after,
                filters,
            )
            .await?;
        let next_cursor = next.map(|sk| sk.trim_start_matches(prefix).to_string());
        let shown: Vec<V> = items.iter().filter(|t| keep(t)).map(view).collect();
        Ok(reply(
            200,
            json!({"items": shown, "next_cursor": next_cursor}),
        ))
    }
}

/// A list's query, read: each name not in `known` refused, each exact filter of
/// `exact` (query name = stored attribute, with the values it takes) checked, and `q`
/// (text to look for, case-insensitive, at most 200 characters) lower-cased.
/// Each query parameter that is not one of `known`, named: never silently ignored.
pub(crate) fn unknown_params(query: &[(String, String)], known: &[&str]) -> Vec<FieldError> {
    query
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, _)| FieldError {
            field: k.clone(),
            message: "is not a known parameter".into(),
        })
        .collect()
}

pub(crate) fn list_query(
    query: &[(String, String)],
    known: &[&str],
    exact: &[(&'static str, &[&str])],
) -> Result<(Vec<pregon_aws::store::Filter<'static>>, Option<String>), Vec<FieldError>> {
    let mut filters = Vec::new();
    let mut bad = unknown_params(query, known);
    let mut q = None;
    for (k, v) in query {
        if !known.contains(&k.as_str()) {
            continue;
        } else if k == "q" {
            if v.chars().count() > 200 {
                bad.push(FieldError {
                    field: "q".into(),
                    message: "must be at most 200 characters".into(),
                });
            }
            q = Some(v.to_lowercase());
        } else if let Some((name, values)) = exact.iter().find(|(n, _)| n == k) {
            if values.is_empty() || values.contains(&v.as_str()) {
                filters.push(pregon_aws::store::Filter::Eq(name, v.clone()));
            } else {
                bad.push(FieldError {
                    field: k.clone(),
                    message: format!("must be one of {}", values.join(", ")),
                });
            }
        }
    }
    if bad.is_empty() {
        Ok((filters, q))
    } else {
        Err(bad)
    }
}

/// Who is asking: the tenant of the request's API key, the key's name (what the
/// records it writes carry as `created_by`; keys made before names had none) and what
/// it may do.
pub(crate) struct Caller {
    pub tenant: String,
    pub key_name: Option<String>,
    pub scopes: Vec<pregon::auth::Scope>,
}

/// A list's `limit` (1–100, default 20) and `cursor` (an id this API gave, starting
/// with `id_prefix`), each bad one named.
pub(crate) fn page(
    query: &[(String, String)],
    id_prefix: &str,
) -> Result<(i32, Option<String>), Vec<FieldError>> {
    let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
    let mut bad = Vec::new();
    let limit = match get("limit").map(|l| l.parse::<i32>()) {
        None => 20,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => {
            bad.push(FieldError {
                field: "limit".into(),
                message: "must be a whole number from 1 to 100".into(),
            });
            20
        }
    };
    let cursor = get("cursor");
    if cursor
        .as_deref()
        .is_some_and(|c| !c.starts_with(id_prefix) || c.len() > 64 || c.contains(['#', '/']))
    {
        bad.push(FieldError {
            field: "cursor".into(),
            message: "is not a cursor this API gave".into(),
        });
    }
    if bad.is_empty() {
        Ok((limit, cursor))
    } else {
        Err(bad)
    }
}

/// `GET /v1/openapi.json`.
static DOC: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| {
    serde_json::from_str(OPENAPI_JSON).expect("openapi.json is JSON (tests/openapi.rs)")
});

fn openapi() -> Reply {
    reply(200, DOC.clone())
}

/// The document's paths, split into segments once, each with the methods it takes.
static PATHS: std::sync::LazyLock<Vec<(Vec<String>, Vec<String>)>> =
    std::sync::LazyLock::new(|| {
        DOC["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(template, item)| {
                let parts = template
                    .trim_matches('/')
                    .split('/')
                    .map(str::to_string)
                    .collect();
                let methods = ["get", "put", "post", "delete", "patch"]
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(|m| m.to_uppercase())
                    .collect();
                (parts, methods)
            })
            .collect()
    });

/// The methods the document gives the path whose template matches these segments
/// (`{id}` matches any one segment), if one does; a literal segment wins over a
/// parameter, as in the router.
fn allowed_methods(segments: &[&str]) -> Option<&'static [String]> {
    let mut best: Option<(usize, &'static [String])> = None;
    for (parts, methods) in PATHS.iter() {
        if parts.len() != segments.len() {
            continue;
        }
        let mut literal = 0;
        let matches = parts.iter().zip(segments).all(|(p, s)| {
            if p.starts_with('{') {
                !s.is_empty()
            } else {
                literal += 1;
                p == s
            }
        });
        if matches && best.is_none_or(|(l, _)| literal > l) {
            best = Some((literal, methods));
        }
    }
    best.map(|(_, m)| m)
}

/// A request body as JSON, its whole-valued numbers as integers: JSON has one number
/// type, so `1000000.0` is the integer a field asks for, as JSON Schema reads it too.
pub(crate) fn read_json(body: &[u8]) -> serde_json::Result<Value> {
    fn integral(v: &mut Value) {
        match v {
            Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                // Exact as an integer only within ±2^53.
                if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                    *v = Value::from(f as i64);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(integral),
            Value::Object(o) => o.values_mut().for_each(integral),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_slice(body)?;
    integral(&mut v);
    Ok(v)
}

/// The longest path segment (an id, a phone) a tenant route reads.
const MAX_ID_BYTES: usize = 256;

pub(crate) fn parse_body(body: &[u8]) -> Result<Value, Vec<FieldError>> {
    if body.is_empty() {
        return Err(vec![FieldError {
            field: "body".into(),
            message: "a JSON object is required".into(),
        }]);
    }
    read_json(body).map_err(|e| {
        vec![FieldError {
            field: "body".into(),
            message: format!("is not valid JSON: {e}"),
        }]
    })
}
