//! `functions/api/openapi.json` against the code, both ways (no servers needed):
//!
//! - routes: every `("METHOD", ["v1", …])` arm of `src/lib.rs` (a binding such as `id` is
//!   a path parameter `{id}`; `action @ ("send" | "pause")` is one route per literal),
//!   and every `HttpApi` event of the other functions in `template.yaml` (the webhooks),
//!   against the document's paths and methods;
//! - request fields: what each parser accepts (`f.string("…")`, `f.integer`, `f.boolean`,
//!   `f.one_of`, `f.get` in the model parsers; `let known = [...]`, `k != "…"` checks and
//!   `o.remove("…")` in the API), by the table [`BODIES`], against the request schemas'
//!   properties (which must refuse others: `additionalProperties: false`);
//! - query parameters and the webhook's signature headers, by [`QUERIES`];
//! - response fields: the keys of each view's `json!({…})` (the first one, the one
//!   answered with `reply(STATUS, …)` or the one a function returns, and `v["…"] =` /
//!   `.insert("…")` additions) or a serialized struct's fields, by [`RESPONSES`],
//!   against the response schemas' properties.
//!
//! Each failure names what is missing where. The tables below say which code belongs to
//! which operation or schema: a new route, field or schema fails here until the document
//! (and, for a new parser or view, its table row) says so.

use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const DOC: &str = "functions/api/openapi.json";
const ROUTER: &str = "functions/api/src/lib.rs";

const ACCOUNT_MODEL: &str = "shared/src/model/account.rs";
const TEMPLATE_MODEL: &str = "shared/src/model/template.rs";
const CAMPAIGN_MODEL: &str = "shared/src/model/campaign/settings.rs";
const TICKET_MODEL: &str = "shared/src/model/ticket.rs";
const INLINE: &str = "shared/src/inline.rs";
const TEMPLATES: &str = "functions/api/src/templates.rs";
const CAMPAIGNS: &str = "functions/api/src/campaigns.rs";
const SENDING: &str = "functions/api/src/sending.rs";
const TICKETS: &str = "functions/api/src/tickets.rs";
const ADMIN: &str = "functions/api/src/admin.rs";
const API_KEYS: &str = "functions/api/src/api_keys.rs";
const ACCOUNTS: &str = "functions/api/src/accounts.rs";
const STATS: &str = "functions/api/src/stats.rs";
const KPI: &str = "shared/src/model/kpi.rs";
const WEBHOOK: &str = "functions/webhook/src/lib.rs";
const WEBHOOK_MAIN: &str = "functions/webhook/src/main.rs";
const META_INBOUND: &str = "shared/src/providers/meta/webhook.rs";
const ADAPTER: &str = "shared/src/providers/adapter.rs";

/// Where the fields a request body accepts are read in the code (file, function).
#[derive(Debug, Clone, Copy)]
enum In {
    /// `f.string("x", …)`, `f.integer("x", …)`, `f.boolean("x")`, `f.one_of("x", …)`,
    /// `f.get("x")`: a `Fields` parser.
    Fields(&'static str, &'static str),
    /// `o.remove("x")`: taken out of the body before the parser sees the rest.
    Removed(&'static str, &'static str),
    /// `let known = ["x", …]`.
    Known(&'static str, &'static str),
    /// `k == "x"`, `*k != "x"`: a body's keys checked one by one.
    KeyChecks(&'static str, &'static str),
    /// `["x", …].contains(&k…)`.
    ContainsKey(&'static str, &'static str),
}

/// Request bodies: (operation, path inside its JSON body schema — a property name, or
/// `[]` for a list's items —, where the code reads those fields).
const BODIES: &[(&str, &[&str], &[In])] = &[
    (
        "POST /v1/accounts",
        &[],
        &[In::Fields(ACCOUNT_MODEL, "parse_with")],
    ),
    (
        "POST /v1/templates",
        &[],
        &[
            In::Fields(TEMPLATE_MODEL, "parse"),
            In::Removed(TEMPLATES, "create_template"),
        ],
    ),
    (
        "POST /v1/templates/{id}/preview",
        &[],
        &[In::Fields(TEMPLATE_MODEL, "preview")],
    ),
    (
        "POST /v1/templates",
        &["header"],
        &[In::Fields(TEMPLATE_MODEL, "parse_header")],
    ),
    (
        "POST /v1/campaigns",
        &[],
        &[
            In::Fields(CAMPAIGN_MODEL, "parse"),
            In::Removed(CAMPAIGNS, "create_campaign_from"),
        ],
    ),
    (
        "POST /v1/campaigns",
        &["send_window"],
        &[In::Fields(CAMPAIGN_MODEL, "parse_window")],
    ),
    (
        "POST /v1/campaigns",
        &["metadata", "[]"],
        &[In::Fields(CAMPAIGN_MODEL, "parse_metadata")],
    ),
    (
        "POST /v1/campaigns",
        &["recipients", "[]"],
        &[In::ContainsKey(INLINE, "recipients_csv")],
    ),
    (
        "POST /v1/campaigns/{id}/upload",
        &[],
        &[In::KeyChecks(CAMPAIGNS, "size_field")],
    ),
    (
        "POST /v1/campaigns/{id}/clone",
        &[],
        &[In::ContainsKey(CAMPAIGNS, "clone_campaign")],
    ),
    (
        "POST /v1/campaigns/{id}/header-image",
        &[],
        &[In::KeyChecks(CAMPAIGNS, "size_field")],
    ),
    (
        "PATCH /v1/campaigns/{id}",
        &[],
        &[In::KeyChecks(CAMPAIGNS, "patch_campaign")],
    ),
    (
        "POST /v1/campaigns/{id}/send",
        &[],
        &[In::KeyChecks(SENDING, "control")],
    ),
    ("POST /v1/messages", &[], &[In::Known(SENDING, "send_one")]),
    ("POST /v1/dnc", &[], &[In::KeyChecks(SENDING, "dnc_wanted")]),
    ("POST /v1/keys", &[], &[In::KeyChecks(API_KEYS, "new_key")]),
    (
        "PATCH /v1/accounts/{id}",
        &[],
        &[In::Fields(ACCOUNT_MODEL, "parse_patch")],
    ),
    (
        "PUT /v1/accounts/{id}/credentials",
        &[],
        &[In::KeyChecks(ACCOUNTS, "new_credentials")],
    ),
    (
        "POST /v1/admin/tenants",
        &[],
        &[In::KeyChecks(ADMIN, "new_tenant")],
    ),
    (
        "POST /v1/tickets/{id}/reply",
        &[],
        &[In::KeyChecks(TICKETS, "ticket_reply")],
    ),
    (
        "POST /v1/tickets/{id}/template",
        &[],
        &[In::ContainsKey(TICKETS, "ticket_template")],
    ),
    (
        "PATCH /v1/settings",
        &[],
        &[In::Fields(TICKET_MODEL, "patched")],
    ),
    (
        "PUT /v1/admin/tenants/{tenant}/limits",
        &[],
        &[In::Fields(TICKET_MODEL, "with_changes")],
    ),
];

/// Routes whose handler is handed the body but reads none of it for these actions
/// (`control` reads a body for `send` only).
const BODY_IGNORED: &[&str] = &[
    "POST /v1/campaigns/{id}/pause",
    "POST /v1/campaigns/{id}/resume",
    "POST /v1/campaigns/{id}/cancel",
    "POST /v1/campaigns/{id}/unschedule",
];

/// Query parameters: (operation, the functions that read them: `get("x")` on the
/// query, `k == "x"`, `let known = [...]`, `"x.y" =>` arms, `("x", …) =>` arms of a
/// match on (name, value), and `page(query, …)` for `limit` and `cursor`).
const QUERIES: &[(&str, &[(&str, &str)])] = &[
    ("GET /v1/accounts", &[(ACCOUNTS, "list_accounts")]),
    ("GET /v1/keys", &[(API_KEYS, "list_keys")]),
    ("GET /v1/admin/tenants", &[(ADMIN, "list_tenants")]),
    ("GET /v1/templates", &[(TEMPLATES, "list_templates")]),
    ("GET /v1/campaigns/{id}/sheet", &[(TEMPLATES, "sheet")]),
    ("GET /v1/templates/{id}/sheet", &[(TEMPLATES, "sheet")]),
    ("GET /v1/campaigns", &[(CAMPAIGNS, "list_campaigns")]),
    (
        "GET /v1/campaigns/{id}/messages",
        &[(SENDING, "messages_page")],
    ),
    ("GET /v1/campaigns/{id}/results", &[(CAMPAIGNS, "results")]),
    ("GET /v1/analytics", &[(STATS, "read")]),
    ("GET /v1/dnc", &[(SENDING, "dnc_list")]),
    ("POST /v1/dnc", &[(SENDING, "dnc_add")]),
    ("DELETE /v1/dnc/{phone}", &[(SENDING, "dnc_remove")]),
    (
        "GET /v1/tickets",
        &[(TICKETS, "list_tickets"), (TICKETS, "informative_tickets")],
    ),
    (
        "GET /v1/webhooks/{account_id}",
        &[(META_INBOUND, "verify_subscription")],
    ),
    (
        "POST /v1/webhooks/{account_id}",
        &[(ADAPTER, "authenticate")],
    ),
];

/// Where a response's fields come from.
#[derive(Debug, Clone, Copy)]
enum Out {
    /// The keys of the first `json!({…})` in a function.
    Json(&'static str, &'static str),
    /// The keys of the `json!({…})` a function answers with `reply(STATUS, …)`.
    Reply(&'static str, &'static str, u16),
    /// The keys of the `json!({…})` a function returns: its tail expression.
    Returned(&'static str, &'static str),
    /// Keys a function adds: `v["x"] = …`, `obj.insert("x".into(), …)`.
    Added(&'static str, &'static str),
    /// The serialized fields of a struct (`#[serde(rename)]`, `flatten` and `skip`
    /// followed), looked up by name in the crates' sources.
    Struct(&'static str),
}

/// Response schemas: (component schema, the code that builds that JSON). A schema listed
/// twice must match each row.
const RESPONSES: &[(&str, &[Out])] = &[
    ("AccountSummary", &[Out::Struct("AccountSummary")]),
    ("Account", &[Out::Struct("AccountView")]),
    ("AccountList", &[Out::Reply(ROUTER, "list_plain", 200)]),
    ("Key", &[Out::Struct("KeyView")]),
    ("Me", &[Out::Reply(API_KEYS, "who_am_i", 200)]),
    ("KeyList", &[Out::Reply(ROUTER, "list_plain", 200)]),
    ("Tenant", &[Out::Struct("TenantView")]),
    (
        "TenantCreated",
        &[
            Out::Struct("TenantView"),
            Out::Added(ADMIN, "create_tenant"),
        ],
    ),
    ("TenantList", &[Out::Reply(ADMIN, "list_tenants", 200)]),
    ("Template", &[Out::Struct("TemplateView")]),
    ("TemplateHeader", &[Out::Struct("TemplateHeader")]),
    ("TemplatePreview", &[Out::Struct("TemplatePreview")]),
    ("TemplateList", &[Out::Reply(ROUTER, "list_plain", 200)]),
    ("Campaign", &[Out::Struct("CampaignView")]),
    (
        "CampaignList",
        &[Out::Reply(CAMPAIGNS, "list_campaigns", 200)],
    ),
    ("MetadataField", &[Out::Struct("MetadataField")]),
    ("SendWindow", &[Out::Struct("SendWindow")]),
    ("Counts", &[Out::Struct("Counts")]),
    ("Problem", &[Out::Struct("Problem")]),
    ("Progress", &[Out::Struct("Progress")]),
    ("ResultsReady", &[Out::Reply(CAMPAIGNS, "results", 200)]),
    ("ResultsBuilding", &[Out::Reply(CAMPAIGNS, "results", 202)]),
    (
        "ResultsConflict",
        &[
            Out::Json(ROUTER, "problem"),
            Out::Added(CAMPAIGNS, "results"),
        ],
    ),
    ("CampaignStats", &[Out::Returned(KPI, "campaign_stats")]),
    ("StatusBreakdown", &[Out::Json(KPI, "campaign_stats")]),
    ("TicketCounts", &[Out::Json(KPI, "tickets")]),
    ("TicketCounts", &[Out::Returned(KPI, "tickets")]),
    ("Rates", &[Out::Struct("Rates")]),
    ("Analytics", &[Out::Reply(STATS, "analytics", 200)]),
    ("UploadGrant", &[Out::Json(CAMPAIGNS, "presign_put")]),
    (
        "UploadReply",
        &[
            Out::Json(CAMPAIGNS, "presign_put"),
            Out::Added(CAMPAIGNS, "upload_url"),
        ],
    ),
    ("Message", &[Out::Struct("MessageView")]),
    ("MessageList", &[Out::Reply(SENDING, "messages", 200)]),
    ("MessageAccepted", &[Out::Reply(SENDING, "send_one", 202)]),
    ("DncAdded", &[Out::Reply(SENDING, "dnc_add", 201)]),
    ("DncEntry", &[Out::Struct("DncEntry")]),
    ("DncList", &[Out::Reply(SENDING, "dnc_list", 200)]),
    ("Ticket", &[Out::Struct("TicketView")]),
    ("TicketDetail", &[Out::Struct("TicketDetail")]),
    ("TicketEntry", &[Out::Struct("TicketEntry")]),
    ("MediaRef", &[Out::Struct("MediaRef")]),
    ("TicketList", &[Out::Reply(TICKETS, "list_tickets", 200)]),
    (
        "TicketList",
        &[Out::Reply(TICKETS, "informative_tickets", 200)],
    ),
    (
        "TicketReplyAccepted",
        &[Out::Reply(TICKETS, "ticket_reply", 202)],
    ),
    (
        "TicketTemplateAccepted",
        &[Out::Reply(TICKETS, "ticket_template", 202)],
    ),
    ("TenantSettings", &[Out::Struct("TenantSettings")]),
    ("TenantLimits", &[Out::Json(ADMIN, "limits_view")]),
    ("ReportSenders", &[Out::Reply(ADMIN, "report_senders", 200)]),
    (
        "ReportSenderApproved",
        &[Out::Reply(ADMIN, "set_report_sender", 200)],
    ),
    ("SmsSummary", &[Out::Struct("SmsSummary")]),
    (
        "Error",
        &[Out::Json(ROUTER, "problem"), Out::Json(ROUTER, "invalid")],
    ),
    ("FieldError", &[Out::Struct("FieldError")]),
    ("WebhookAnswer", &[Out::Json(WEBHOOK, "answer")]),
];

/// Where structs named by [`Out::Struct`] (and the ones they flatten) are looked for.
const STRUCT_DIRS: &[&str] = &[
    "shared/src",
    "functions/aws/src",
    "functions/api/src",
    "functions/webhook/src",
];

// ------------------------------------------------------------------------ the tests

#[test]
fn every_route_in_the_code_is_in_the_document_and_back() {
    let doc = doc();
    let code: BTreeMap<String, String> = code_routes()
        .into_iter()
        .map(|r| (r.op, r.origin))
        .collect();
    let documented = doc_operations(&doc);
    let mut problems = Vec::new();
    for (op, origin) in &code {
        if !documented.contains_key(op) {
            problems.push(format!(
                "{op} is a route in {origin} but not in {DOC}: document it (paths → method)"
            ));
        }
    }
    for op in documented.keys() {
        if !code.contains_key(op) {
            problems.push(format!(
                "{op} is in {DOC} but no route of {ROUTER} or template.yaml serves it: remove it from the document"
            ));
        }
    }
    fail_on(problems);
}

#[test]
fn request_bodies_list_exactly_the_fields_the_code_accepts() {
    let doc = doc();
    let ops = doc_operations(&doc);
    let routes = code_routes();
    let mut problems = Vec::new();
    let table: BTreeSet<&str> = BODIES.iter().map(|(op, _, _)| *op).collect();

    // Which operations take a body: the document, the table and the router agree. (The
    // webhooks' bodies are the providers' own formats, not fields of ours.)
    let webhooks: BTreeSet<String> = webhook_routes().into_iter().map(|r| r.op).collect();
    for (op, o) in &ops {
        if webhooks.contains(op) {
            continue;
        }
        let has_body = o.get("requestBody").is_some();
        if has_body && !table.contains(op.as_str()) {
            problems.push(format!(
                "{op} has a request body in {DOC} but no row in BODIES (tests/openapi.rs): add the parser that reads it"
            ));
        }
        if !has_body && table.contains(op.as_str()) {
            problems.push(format!(
                "{op} reads a request body (BODIES in tests/openapi.rs) but {DOC} gives it no requestBody"
            ));
        }
    }
    for r in routes.iter().filter(|r| r.origin == ROUTER) {
        if r.takes_body && !table.contains(r.op.as_str()) && !BODY_IGNORED.contains(&r.op.as_str())
        {
            problems.push(format!(
                "{} is handed the request body in {ROUTER} but has no row in BODIES (tests/openapi.rs) nor in BODY_IGNORED",
                r.op
            ));
        }
        if !r.takes_body && table.contains(r.op.as_str()) {
            problems.push(format!(
                "{} has a row in BODIES but its handler in {ROUTER} is not handed the body",
                r.op
            ));
        }
    }

    // Field by field.
    let mut covered: BTreeSet<(String, Vec<String>)> = BTreeSet::new();
    for (op, path, sources) in BODIES {
        covered.insert((op.to_string(), path.iter().map(|s| s.to_string()).collect()));
        let Some(o) = ops.get(*op) else {
            problems.push(format!("{op} (BODIES) is not in {DOC}"));
            continue;
        };
        let Some(root) = o.pointer("/requestBody/content/application~1json/schema") else {
            problems.push(format!(
                "{op}: {DOC} has no application/json request schema"
            ));
            continue;
        };
        let at = if path.is_empty() {
            format!("{op} request body")
        } else {
            format!("{op} request body at {}", path.join("."))
        };
        let mut schema = resolve(&doc, root);
        for step in *path {
            let next = if *step == "[]" {
                schema.get("items")
            } else {
                schema.pointer(&format!("/properties/{step}"))
            };
            match next {
                Some(n) => schema = not_null(&doc, resolve(&doc, n)),
                None => {
                    problems.push(format!("{at}: {DOC} has no `{step}` there"));
                    schema = &Value::Null;
                    break;
                }
            }
        }
        if schema.is_null() {
            continue;
        }
        // An object, or a choice of objects (`oneOf`): each refuses fields it does not list.
        let closed = |o: &Value| o.get("additionalProperties") == Some(&Value::Bool(false));
        let closed = match schema.get("oneOf").and_then(Value::as_array) {
            Some(parts) => parts.iter().all(|p| closed(resolve(&doc, p))),
            None => closed(schema),
        };
        if !closed {
            problems.push(format!(
                "{at}: the schema must say `additionalProperties: false` (unknown fields are refused)"
            ));
        }
        let documented = properties(&doc, schema);
        let mut accepted = BTreeSet::new();
        let mut origins = Vec::new();
        for s in *sources {
            let (fields, origin) = accepted_fields(*s);
            if fields.is_empty() {
                problems.push(format!("{origin}: no fields found there ({s:?})"));
            }
            accepted.extend(fields);
            origins.push(origin);
        }
        compare(
            &mut problems,
            &at,
            &origins.join(" + "),
            &accepted,
            &documented,
            "accepted by",
        );
    }

    // Every object a request body documents field by field is checked by a row.
    for (op, o) in &ops {
        if let Some(root) = o.pointer("/requestBody/content/application~1json/schema") {
            let mut objects = Vec::new();
            object_paths(&doc, root, &mut Vec::new(), &mut objects, 0);
            for path in objects {
                if !covered.contains(&(op.clone(), path.clone())) {
                    problems.push(format!(
                        "{op} request body at `{}` lists fields in {DOC} that no row of BODIES (tests/openapi.rs) checks",
                        if path.is_empty() { "(the body)".into() } else { path.join(".") }
                    ));
                }
            }
        }
    }
    fail_on(problems);
}

#[test]
fn query_parameters_and_headers_are_the_ones_the_code_reads() {
    let doc = doc();
    let ops = doc_operations(&doc);
    let routes = code_routes();
    let table: BTreeMap<&str, &[(&str, &str)]> = QUERIES.iter().copied().collect();
    let mut problems = Vec::new();
    for (op, o) in &ops {
        let documented = parameters(&doc, o, "query");
        match table.get(op.as_str()) {
            None if !documented.is_empty() => problems.push(format!(
                "{op} has query parameters {documented:?} in {DOC} but no row in QUERIES (tests/openapi.rs)"
            )),
            None => {}
            Some(fns) => {
                let mut read = BTreeSet::new();
                let mut origins = Vec::new();
                for (file, func) in *fns {
                    read.extend(query_names(file, func));
                    origins.push(format!("{file} fn {func}"));
                }
                compare(
                    &mut problems,
                    &format!("{op} query"),
                    &origins.join(" + "),
                    &read,
                    &documented,
                    "read by",
                );
            }
        }
    }
    for r in routes.iter().filter(|r| r.origin == ROUTER) {
        if r.takes_query != table.contains_key(r.op.as_str()) {
            problems.push(format!(
                "{}: its handler in {ROUTER} {} the query, but QUERIES (tests/openapi.rs) {} it",
                r.op,
                if r.takes_query {
                    "reads"
                } else {
                    "does not read"
                },
                if r.takes_query {
                    "does not list"
                } else {
                    "lists"
                }
            ));
        }
    }
    for op in table.keys() {
        if !ops.contains_key(*op) {
            problems.push(format!("{op} (QUERIES) is not in {DOC}"));
        }
    }

    // The signature headers the webhook function reads, on its POST.
    let op = "POST /v1/webhooks/{account_id}";
    let main = source(WEBHOOK_MAIN);
    let body = fn_body(&main, "main", WEBHOOK_MAIN);
    let read_headers: BTreeSet<String> = Regex::new(r#"\bheader\(\s*"([^"]+)"\s*\)"#)
        .unwrap()
        .captures_iter(body)
        .map(|c| c[1].to_ascii_lowercase())
        .collect();
    assert!(
        !read_headers.is_empty(),
        "{WEBHOOK_MAIN}: no header(\"…\") reads found"
    );
    match ops.get(op) {
        Some(o) => {
            let documented: BTreeSet<String> = parameters(&doc, o, "header")
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect();
            compare(
                &mut problems,
                &format!("{op} headers"),
                &format!("{WEBHOOK_MAIN} fn main"),
                &read_headers,
                &documented,
                "read by",
            );
        }
        None => problems.push(format!("{op} is not in {DOC}")),
    }
    fail_on(problems);
}

#[test]
fn response_schemas_list_exactly_the_fields_the_views_give() {
    let doc = doc();
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .expect("components.schemas");
    let mut problems = Vec::new();
    for (name, sources) in RESPONSES {
        let Some(schema) = schemas.get(*name) else {
            problems.push(format!(
                "components.schemas.{name} (RESPONSES in tests/openapi.rs) is not in {DOC}"
            ));
            continue;
        };
        let documented = properties(&doc, schema);
        let mut given = BTreeSet::new();
        let mut origins = Vec::new();
        for s in *sources {
            let (keys, origin) = response_fields(*s);
            if keys.is_empty() {
                problems.push(format!("{origin}: no fields found there ({s:?})"));
            }
            given.extend(keys);
            origins.push(origin);
        }
        compare(
            &mut problems,
            &format!("response schema {name}"),
            &origins.join(" + "),
            &given,
            &documented,
            "given by",
        );
    }

    // Every documented object schema is checked against the code by some row.
    let mut request_objects = BTreeSet::new();
    for o in doc_operations(&doc).values() {
        if let Some(root) = o.pointer("/requestBody/content/application~1json/schema") {
            request_schema_names(&doc, root, &mut request_objects, 0);
        }
    }
    let responses: BTreeSet<&str> = RESPONSES.iter().map(|(n, _)| *n).collect();
    for (name, schema) in schemas {
        let has_fields = schema.get("properties").is_some() || schema.get("allOf").is_some();
        if has_fields && !responses.contains(name.as_str()) && !request_objects.contains(name) {
            problems.push(format!(
                "components.schemas.{name} in {DOC} is neither a request body's (BODIES) nor checked against a view by RESPONSES (tests/openapi.rs)"
            ));
        }
    }
    fail_on(problems);
}

#[test]
fn the_document_says_who_needs_a_key_and_what_errors_look_like() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["security"],
        serde_json::json!([{"bearerAuth": []}]),
        "tenant routes need `Authorization: Bearer pgn_…`"
    );
    let webhooks: BTreeSet<String> = webhook_routes().into_iter().map(|r| r.op).collect();
    let mut problems = Vec::new();
    for (op, o) in doc_operations(&doc) {
        let open = op == "GET /v1/openapi.json" || webhooks.contains(&op);
        let security = o.get("security");
        let responses = o.get("responses").and_then(Value::as_object);
        let has = |code: &str| responses.is_some_and(|r| r.contains_key(code));
        if open {
            if security != Some(&serde_json::json!([])) {
                problems.push(format!("{op} needs no API key: give it `security: []`"));
            }
            continue;
        }
        // The operator's routes take the operator key instead, and only them.
        let operator = op.contains(" /v1/admin/");
        if operator && security != Some(&serde_json::json!([{"operatorKey": []}])) {
            problems.push(format!(
                "{op}: an operator route takes the operator key: `security: [{{operatorKey: []}}]`"
            ));
        }
        if !operator && security.is_some() {
            problems.push(format!(
                "{op} needs the API key like every tenant route: drop its `security`"
            ));
        }
        if !has("401") {
            problems.push(format!("{op}: document 401 (no or unknown API key)"));
        }
        if o.get("requestBody").is_some() && !(has("400") && has("413")) {
            problems.push(format!(
                "{op}: a route with a body answers 400 (invalid fields) and 413 (over 2 MiB); document both"
            ));
        }
    }
    fail_on(problems);
}

/// `GET /v1/openapi.json` is served from this file, without an API key, before anything
/// touches AWS (the endpoints here lead nowhere).
#[tokio::test]
async fn the_document_is_served_without_an_api_key() {
    for (k, v) in [
        ("TABLE_NAME", "pregon-openapi-test"),
        ("BUCKET_NAME", "pregon-openapi-test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9"),
    ] {
        std::env::set_var(k, v);
    }
    let aws = pregon_aws::config::Aws::from_env().await.expect("config");
    let api = pregon_api::Api::new(aws);
    let r = api.handle("GET", "/v1/openapi.json", &[], None, b"").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.file.is_none(), "served as the JSON body");
    assert_eq!(r.body, doc(), "the served document is the file");
    let r = api.handle("GET", "/v1/accounts", &[], None, b"").await;
    assert_eq!(r.status, 401, "other routes still need a key: {}", r.body);
}

// ------------------------------------------------------------------------ the code

struct Route {
    /// `METHOD /path/{param}`.
    op: String,
    origin: String,
    takes_body: bool,
    takes_query: bool,
}

/// The router's arms and the other functions' HttpApi routes.
fn code_routes() -> Vec<Route> {
    let text = source(ROUTER);
    // `("GET", ["v1", …])`, `("PATCH" | "DELETE", ["v1", …])`, `(_, ["v1", …, ..])`.
    let arm = Regex::new(
        r#"\(\s*(_|"[A-Z]+"(?:\s*\|\s*"[A-Z]+")*)\s*,\s*\[\s*"v1"\s*((?:,[^\]]*)?)\]\s*,?\s*\)"#,
    )
    .unwrap();
    let mut routes = Vec::new();
    let mut read_spans = Vec::new();
    for c in arm.captures_iter(&text) {
        let whole = c.get(0).unwrap();
        read_spans.push(whole.range());
        let segments = split_top(c[2].trim_start_matches(','));
        if &c[1] == "_" {
            // The 405 answer for any other method on a known prefix.
            assert!(
                segments.iter().any(|s| s.trim() == ".."),
                "{ROUTER}: an arm for any method must be the 405 catch-all (`..`): {}",
                whole.as_str()
            );
            continue;
        }
        let methods = strings_in(&c[1]);
        // The handler: from the pattern to its first `.await` or `;`.
        let rest = &text[whole.end()..];
        let cut = [rest.find(".await"), rest.find(';')]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(rest.len());
        let handler = &rest[..cut];
        let takes = |word: &str| {
            Regex::new(&format!(r"\b{word}\b"))
                .unwrap()
                .is_match(handler)
        };
        let (takes_body, takes_query) = (takes("body"), takes("query"));
        let mut paths = vec![String::from("/v1")];
        for seg in segments {
            let seg = seg.trim();
            if seg.is_empty() {
                continue;
            }
            let options = segment_options(seg).unwrap_or_else(|| {
                panic!(
                    "{ROUTER}: cannot read the path segment `{seg}` of {}",
                    whole.as_str()
                )
            });
            paths = paths
                .iter()
                .flat_map(|p| options.iter().map(move |o| format!("{p}/{o}")))
                .collect();
        }
        for method in &methods {
            for p in &paths {
                routes.push(Route {
                    op: format!("{method} {p}"),
                    origin: ROUTER.into(),
                    takes_body,
                    takes_query,
                });
            }
        }
    }
    // Every `["v1", …]` pattern of the router was read as an arm above: a route written
    // some other way fails here rather than going unchecked.
    for m in Regex::new(r#"\[\s*"v1""#).unwrap().find_iter(&text) {
        if !read_spans.iter().any(|s| s.contains(&m.start())) {
            let line = text[..m.start()].matches('\n').count() + 1;
            panic!(
                "{ROUTER}: the `[\"v1\", …]` pattern at line {line} is not a `(\"METHOD\", [\"v1\", …])` arm this test can read"
            );
        }
    }
    assert!(
        routes.len() > 10,
        "{ROUTER}: too few route arms found ({})",
        routes.len()
    );
    routes.extend(webhook_routes());
    routes
}

/// A path segment of a match arm: `"lit"`, a binding `id` (→ `{id}`), `"a" | "b"`, or
/// `name @ ("a" | "b")`.
fn segment_options(seg: &str) -> Option<Vec<String>> {
    let ident = Regex::new(r"^[a-z_][a-z0-9_]*$").unwrap();
    if ident.is_match(seg) && seg != "_" {
        return Some(vec![format!("{{{seg}}}")]);
    }
    let alts = match seg.split_once('@') {
        Some((_, alts)) => alts.trim().trim_start_matches('(').trim_end_matches(')'),
        None => seg,
    };
    let lit = Regex::new(r#"^"([^"]+)"$"#).unwrap();
    alts.split('|')
        .map(|a| lit.captures(a.trim()).map(|c| c[1].to_string()))
        .collect()
}

/// Every `HttpApi` event of template.yaml's functions other than the tenant API's
/// (which takes `/{proxy+}` and routes in `lib.rs`): the webhooks.
fn webhook_routes() -> Vec<Route> {
    let text = read("template.yaml");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    let resources = yaml["Resources"].as_mapping().expect("Resources");
    let mut routes = Vec::new();
    for (name, r) in resources {
        let name = name.as_str().unwrap_or_default();
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = r["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, e) in events {
            if e["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let path = e["Properties"]["Path"].as_str().unwrap_or_default();
            let method = e["Properties"]["Method"].as_str().unwrap_or_default();
            if path == "/{proxy+}" {
                assert_eq!(name, "ApiFunction", "only the tenant API takes every path");
                continue;
            }
            routes.push(Route {
                op: format!("{} {path}", method.to_ascii_uppercase()),
                origin: format!("template.yaml ({name})"),
                takes_body: false,
                takes_query: false,
            });
        }
    }
    assert!(!routes.is_empty(), "template.yaml: no webhook routes found");
    routes
}

/// The fields a request parser accepts, and where they were read.
fn accepted_fields(s: In) -> (BTreeSet<String>, String) {
    let (file, func, pattern) = match s {
        In::Fields(f, n) => (
            f,
            n,
            r#"\bf\s*\.(?:string|integer|boolean|one_of|get)\(\s*"([^"]+)""#,
        ),
        In::Removed(f, n) => (f, n, r#"\.remove\(\s*"([^"]+)"\s*\)"#),
        In::Known(f, n) => (f, n, r#"let\s+known\s*=\s*\[([^\]]*)\]"#),
        In::KeyChecks(f, n) => (f, n, r#"\*?\bk\s*[!=]=\s*"([^"]+)""#),
        In::ContainsKey(f, n) => (
            f,
            n,
            r#"\[((?:\s*"[^"]*"\s*,?)+)\]\s*\.contains\(\s*&\s*k\b"#,
        ),
    };
    let src = source(file);
    let body = fn_body(&src, func, file);
    let mut out = BTreeSet::new();
    for c in Regex::new(pattern).unwrap().captures_iter(body) {
        out.extend(names_in(&c[1]));
    }
    (out, format!("{file} fn {func}"))
}

/// The query parameters a function reads.
fn query_names(file: &str, func: &str) -> BTreeSet<String> {
    let src = source(file);
    let body = fn_body(&src, func, file);
    let mut out = BTreeSet::new();
    for pattern in [
        r#"(?:^|[^.\w])get\(\s*"([^"]+)"\s*\)"#,
        r#"\b[kn]\s*==\s*"([^"]+)""#,
        r#"let\s+known\s*=\s*\[([^\]]*)\]"#,
        r#""([a-z_]+\.[a-z_]+)"\s*=>"#,
        r#"\(\s*"([a-z_]+)"\s*,[^()]*\)\s*=>"#,
    ] {
        for c in Regex::new(pattern).unwrap().captures_iter(body) {
            out.extend(names_in(&c[1]));
        }
    }
    if Regex::new(r"\bpage\(\s*query\b").unwrap().is_match(body) {
        out.extend(["limit".to_string(), "cursor".to_string()]);
    }
    assert!(
        !out.is_empty(),
        "{file} fn {func}: no query parameters found"
    );
    out
}

/// The keys a response source gives, and where.
fn response_fields(s: Out) -> (BTreeSet<String>, String) {
    match s {
        Out::Json(file, func) => {
            let src = source(file);
            let body = fn_body(&src, func, file);
            let m = Regex::new(r"json!\(\s*\{").unwrap().find(body);
            let keys = m
                .map(|m| object_keys(body, m.end() - 1, file))
                .unwrap_or_default();
            (keys, format!("{file} fn {func} (json!)"))
        }
        Out::Reply(file, func, status) => {
            let src = source(file);
            let body = fn_body(&src, func, file);
            let m = Regex::new(&format!(r"\breply\(\s*{status}\s*,\s*json!\(\s*\{{"))
                .unwrap()
                .find(body);
            let keys = m
                .map(|m| object_keys(body, m.end() - 1, file))
                .unwrap_or_default();
            (keys, format!("{file} fn {func} (reply {status})"))
        }
        Out::Returned(file, func) => {
            let src = source(file);
            let body = fn_body(&src, func, file);
            // The last `json!({…})`, when nothing but the function's closing brace follows.
            let keys = Regex::new(r"json!\(\s*\{")
                .unwrap()
                .find_iter(body)
                .last()
                .filter(|m| {
                    let close = matching(body, m.start() + "json!".len());
                    body[close + 1..].trim() == "}"
                })
                .map(|m| object_keys(body, m.end() - 1, file))
                .unwrap_or_default();
            (keys, format!("{file} fn {func} (returned json!)"))
        }
        Out::Added(file, func) => {
            let src = source(file);
            let body = fn_body(&src, func, file);
            let mut keys = BTreeSet::new();
            for pattern in [
                r#"\b\w+\["([A-Za-z0-9_]+)"\]\s*=[^=]"#,
                r#"\.insert\(\s*"([A-Za-z0-9_]+)"\s*\.(?:into|to_string)\(\)"#,
            ] {
                for c in Regex::new(pattern).unwrap().captures_iter(body) {
                    keys.insert(c[1].to_string());
                }
            }
            (keys, format!("{file} fn {func} (added keys)"))
        }
        Out::Struct(name) => {
            let (keys, file) = struct_fields(name);
            (keys, format!("{file} struct {name}"))
        }
    }
}

/// The serialized field names of a struct: `rename` followed, `skip` left out,
/// `flatten` replaced by the flattened struct's fields.
fn struct_fields(name: &str) -> (BTreeSet<String>, String) {
    let decl = Regex::new(&format!(r"\bstruct\s+{name}\s*\{{")).unwrap();
    let mut found = Vec::new();
    for file in rust_files() {
        let src = source(&file);
        if let Some(m) = decl.find(&src) {
            found.push((file, src.clone(), m.start(), m.end() - 1));
        }
    }
    assert_eq!(
        found.len(),
        1,
        "struct {name}: found in {:?}; expected exactly one file",
        found.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let (file, src, start, open) = found.pop().unwrap();
    // Attributes on the struct itself: a rename_all would change every name.
    let before: Vec<&str> = src[..start].lines().rev().take(6).collect();
    for l in before.iter().take_while(|l| {
        let t = l.trim();
        t.starts_with("#[") || t.starts_with("///") || t.starts_with("pub") || t.is_empty()
    }) {
        assert!(
            !l.contains("rename_all"),
            "{file}: struct {name} renames all fields; the test does not follow that"
        );
    }
    let close = matching(&src, open);
    let inner = &src[open + 1..close];
    let field =
        Regex::new(r"^\s*(?:pub(?:\([^)]*\))?\s+)?([a-z_][a-z0-9_]*)\s*:\s*(.+?),?\s*$").unwrap();
    let rename = Regex::new(r#"\brename\s*=\s*"([^"]+)""#).unwrap();
    let skip = Regex::new(r"\bskip\b|\bskip_serializing\b\s*[,)]").unwrap();
    let mut out = BTreeSet::new();
    let mut attrs = String::new();
    for line in inner.lines() {
        let t = line.trim();
        if t.starts_with("//") || t.is_empty() {
            continue;
        }
        if t.starts_with("#[") {
            attrs.push_str(t);
            continue;
        }
        let Some(c) = field.captures(line) else {
            attrs.clear();
            continue;
        };
        let serde: String = attrs.clone();
        attrs.clear();
        if skip.is_match(&serde) {
            continue;
        }
        if serde.contains("flatten") {
            let ty = c[2].trim().trim_end_matches(',');
            let ty = ty.rsplit("::").next().unwrap_or(ty).trim();
            out.extend(struct_fields(ty).0);
            continue;
        }
        match rename.captures(&serde) {
            Some(r) => out.insert(r[1].to_string()),
            None => out.insert(c[1].to_string()),
        };
    }
    (out, file)
}

fn rust_files() -> Vec<String> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let rel = format!("{rel}/{name}");
            if e.path().is_dir() {
                walk(&e.path(), &rel, out);
            } else if name.ends_with(".rs") {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    for d in STRUCT_DIRS {
        walk(&root().join(d), d, &mut out);
    }
    out
}

// ------------------------------------------------------------------------ the document

fn doc() -> Value {
    serde_json::from_str(pregon_api::OPENAPI_JSON).expect("openapi.json is JSON")
}

/// `METHOD /path` → the operation object.
fn doc_operations(doc: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, o) in item.as_object().expect("a path item") {
            if [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&method.as_str())
            {
                let mut o = o.clone();
                // Path-level parameters apply to every operation of the path.
                if let Some(common) = item.get("parameters").and_then(Value::as_array) {
                    let mut all = common.clone();
                    all.extend(o["parameters"].as_array().cloned().unwrap_or_default());
                    o["parameters"] = Value::Array(all);
                }
                out.insert(format!("{} {path}", method.to_ascii_uppercase()), o);
            }
        }
    }
    out
}

/// A schema or parameter with its `$ref`s followed.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    let mut v = v;
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let pointer = r.strip_prefix('#').expect("a local $ref");
                v = doc
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("{DOC}: dangling $ref {r}"));
            }
            None => return v,
        }
    }
    panic!("{DOC}: $ref loop")
}

/// A nullable schema's (`anyOf` of it and `{"type": "null"}`) schema; any other as is.
fn not_null<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("anyOf").and_then(Value::as_array).map(Vec::as_slice) {
        Some([a, b]) if b["type"] == "null" => resolve(doc, a),
        Some([a, b]) if a["type"] == "null" => resolve(doc, b),
        _ => s,
    }
}

/// A schema's property names, `allOf` parts merged, and those of every `oneOf` choice.
fn properties(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(doc, schema);
    let mut out: BTreeSet<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for key in ["allOf", "oneOf"] {
        for p in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(properties(doc, p));
        }
    }
    out
}

/// An operation's parameter names of one kind (`query`, `header`).
fn parameters(doc: &Value, o: &Value, kind: &str) -> BTreeSet<String> {
    o.get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| resolve(doc, p))
                .filter(|p| p["in"] == kind)
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The paths (property names, `[]` for items) of every object with listed properties
/// inside a request schema.
fn object_paths(
    doc: &Value,
    schema: &Value,
    at: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
    depth: usize,
) {
    assert!(
        depth < 12,
        "{DOC}: request schema nested too deep at {at:?}"
    );
    let s = resolve(doc, schema);
    // An open map (`additionalProperties` a schema, as a provider's credentials) names
    // the fields it requires, not every field it takes: checked apart.
    let open = s.get("additionalProperties").is_some_and(Value::is_object);
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        if !open {
            out.push(at.clone());
        }
        for (k, v) in props {
            at.push(k.clone());
            object_paths(doc, v, at, out, depth + 1);
            at.pop();
        }
    }
    if let Some(items) = s.get("items") {
        at.push("[]".into());
        object_paths(doc, items, at, out, depth + 1);
        at.pop();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for part in s.get(key).and_then(Value::as_array).into_iter().flatten() {
            object_paths(doc, part, at, out, depth + 1);
        }
    }
}

/// The component schema names a request schema uses.
fn request_schema_names(doc: &Value, schema: &Value, out: &mut BTreeSet<String>, depth: usize) {
    assert!(depth < 12, "{DOC}: request schema nested too deep");
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if let Some(name) = r.strip_prefix("#/components/schemas/") {
            out.insert(name.to_string());
        }
    }
    let s = resolve(doc, schema);
    for v in s
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.values())
    {
        request_schema_names(doc, v, out, depth + 1);
    }
    if let Some(items) = s.get("items") {
        request_schema_names(doc, items, out, depth + 1);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for part in s.get(key).and_then(Value::as_array).into_iter().flatten() {
            request_schema_names(doc, part, out, depth + 1);
        }
    }
}

// ------------------------------------------------------------------------ helpers

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A Rust file with its comments blanked, so nothing in a comment counts.
fn source(rel: &str) -> String {
    strip_comments(&read(rel))
}

/// The offset of the character after the one at `i`.
fn step(s: &str, i: usize) -> usize {
    i + s[i..].chars().next().map_or(1, char::len_utf8)
}

fn fail_on(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{DOC} and the code disagree ({} problems):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

/// Names both ways: in the code but not the document, and the other way round.
fn compare(
    problems: &mut Vec<String>,
    what: &str,
    origin: &str,
    code: &BTreeSet<String>,
    documented: &BTreeSet<String>,
    verb: &str,
) {
    for k in code.difference(documented) {
        problems.push(format!("{what}: `{k}` is {verb} {origin} but not in {DOC}"));
    }
    for k in documented.difference(code) {
        problems.push(format!("{what}: `{k}` is in {DOC} but not {verb} {origin}"));
    }
}

/// A captured name, or the string literals of a captured list (`"a", "b"`).
fn names_in(s: &str) -> Vec<String> {
    if s.contains('"') {
        strings_in(s)
    } else {
        vec![s.to_string()]
    }
}

/// The string literals in a piece of source.
fn strings_in(s: &str) -> Vec<String> {
    Regex::new(r#""([^"]*)""#)
        .unwrap()
        .captures_iter(s)
        .map(|c| c[1].to_string())
        .collect()
}

/// The body of `fn name` in a file (exactly one such function).
fn fn_body<'a>(src: &'a str, name: &str, file: &str) -> &'a str {
    let re = Regex::new(&format!(r"\bfn\s+{name}\b")).unwrap();
    let found: Vec<_> = re.find_iter(src).collect();
    assert_eq!(
        found.len(),
        1,
        "{file}: expected one `fn {name}`, found {}",
        found.len()
    );
    let start = found[0].end();
    let open = start
        + next_code_char(&src[start..], '{')
            .unwrap_or_else(|| panic!("{file}: fn {name} has no body"));
    &src[open..=matching(src, open)]
}

/// The offset of the first `c` outside strings and comments.
fn next_code_char(s: &str, c: char) -> Option<usize> {
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        if let Some(skip) = skip_literal(s, i) {
            i = skip;
            continue;
        }
        if b[i] as char == c {
            return Some(i);
        }
        i = step(s, i);
    }
    None
}

/// The index of the bracket closing the one at `open` (`{`, `(` or `[`), skipping strings,
/// chars and comments.
fn matching(s: &str, open: usize) -> usize {
    let b = s.as_bytes();
    let mut depth = 0i32;
    let mut i = open;
    while i < b.len() {
        if let Some(skip) = skip_literal(s, i) {
            i = skip;
            continue;
        }
        match b[i] {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i = step(s, i);
    }
    panic!("unbalanced brackets from offset {open}")
}

/// If a string, raw string, char literal or comment starts at `i`, the offset after it.
fn skip_literal(s: &str, i: usize) -> Option<usize> {
    let b = s.as_bytes();
    let rest = &s[i..];
    if rest.starts_with("//") {
        return Some(i + rest.find('\n').unwrap_or(rest.len()));
    }
    if rest.starts_with("/*") {
        return Some(i + rest.find("*/").map(|e| e + 2).unwrap_or(rest.len()));
    }
    let prev_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    if !prev_ident {
        if let Some(after_r) = rest.strip_prefix('r').or_else(|| rest.strip_prefix("br")) {
            let hashes = after_r.len() - after_r.trim_start_matches('#').len();
            if after_r[hashes..].starts_with('"') {
                let close = format!("\"{}", "#".repeat(hashes));
                let from = rest.len() - after_r.len() + hashes + 1;
                let end = rest[from..].find(&close).map(|e| from + e + close.len())?;
                return Some(i + end);
            }
        }
    }
    if b[i] == b'"' {
        let mut j = i + 1;
        while j < b.len() {
            match b[j] {
                b'\\' => j += 2,
                b'"' => return Some(j + 1),
                _ => j += 1,
            }
        }
        return Some(b.len());
    }
    if b[i] == b'\'' {
        // A char literal ('x', '\n', '\''), not a lifetime ('a).
        let mut chars = rest[1..].char_indices();
        match chars.next() {
            Some((_, '\\')) => {
                // The escaped character, then the closing quote.
                let end = rest.get(3..)?.find('\'')? + 3;
                return Some(i + end + 1);
            }
            Some((_, _)) => {
                if let Some((k, '\'')) = chars.next() {
                    return Some(i + 1 + k + 1);
                }
            }
            None => {}
        }
    }
    None
}

/// The source with comments blanked.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with("//") || s[i..].starts_with("/*") {
            let end = skip_literal(s, i).unwrap();
            // Blanked, lines kept (byte offsets need not be).
            out.extend(s[i..end].chars().filter(|c| *c == '\n'));
            out.push(' ');
            i = end;
        } else if let Some(end) = skip_literal(s, i) {
            out.push_str(&s[i..end]);
            i = end;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Splits at commas outside brackets, strings and comments.
fn split_top(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let (mut depth, mut start, mut i) = (0i32, 0, 0);
    while i < b.len() {
        if let Some(skip) = skip_literal(s, i) {
            i = skip;
            continue;
        }
        match b[i] {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => depth -= 1,
            b',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i = step(s, i);
    }
    parts.push(&s[start..]);
    parts
}

/// The keys of the `json!` object literal whose `{` is at `open`.
fn object_keys(src: &str, open: usize, file: &str) -> BTreeSet<String> {
    let close = matching(src, open);
    let key = Regex::new(r#"^"([^"]+)"\s*:"#).unwrap();
    split_top(&src[open + 1..close])
        .into_iter()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| match key.captures(e) {
            Some(c) => c[1].to_string(),
            None => panic!("{file}: a json! entry without a literal key: {e}"),
        })
        .collect()
}

#[test]
fn each_providers_account_lists_the_credentials_the_code_requires() {
    use pregon::model::{required_credentials, ProviderKind};
    let doc = doc();
    let new = &doc["components"]["schemas"]["NewAccount"];
    let variants = new["oneOf"]
        .as_array()
        .expect("NewAccount is one of the providers");
    let mut problems = Vec::new();
    for p in [
        ProviderKind::Meta,
        ProviderKind::Twilio,
        ProviderKind::Gupshup,
        ProviderKind::SmsGateway,
    ] {
        let Some(v) = variants
            .iter()
            .find(|v| v["properties"]["provider"]["const"] == p.as_str())
        else {
            problems.push(format!("NewAccount has no `{}` choice", p.as_str()));
            continue;
        };
        let documented: BTreeSet<&str> = v["properties"]["credentials"]["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let code: BTreeSet<&str> = required_credentials(p).iter().copied().collect();
        if documented != code {
            problems.push(format!(
                "{}: {DOC} requires credentials {documented:?}, shared/src/model/account.rs {code:?}",
                p.as_str()
            ));
        }
        // Ports are a gateway's only.
        let ports = v["properties"].get("ports").is_some();
        if ports != (p == ProviderKind::SmsGateway) {
            problems.push(format!("{}: `ports` documented: {ports}", p.as_str()));
        }
    }
    fail_on(problems);
}
