//! Sending controls (SPEC §2 step 3, §5): `POST /v1/campaigns/{id}/send|pause|resume|cancel`,
//! the campaign's messages, and the do-not-contact list (SPEC §8).

use crate::views::MessageView;
use crate::{invalid, not_found, parse_body, problem, reply, Api, Reply};
use pregon::keys;
use pregon::model::{Campaign, CampaignStatus, Control, FieldError, Template, TemplateStatus};
use pregon_aws::store::{Filter, RecipientItem};
use pregon_aws::Error as AwsError;
use serde_json::{json, Value};
use std::collections::HashMap;
use tracing::info;

impl Api {
    /// `POST /v1/campaigns/{id}/send|pause|resume|cancel`.
    pub(crate) async fn control(
        &self,
        tenant: &str,
        id: &str,
        action: &str,
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        let Some(c) = self.store.campaign(tenant, id).await? else {
            return Ok(not_found("campaign"));
        };
        let mut send_at = None;
        let control = match action {
            "send" => {
                // The `send_at` given at creation schedules it, unless this call says
                // otherwise (its own `send_at`; `null` sends now).
                let mut asked = false;
                if !body.is_empty() {
                    let b = match parse_body(body) {
                        Ok(b) => b,
                        Err(e) => return Ok(invalid(e)),
                    };
                    let Some(o) = b.as_object() else {
                        return Ok(invalid(vec![field("body", "must be a JSON object")]));
                    };
                    if let Some(k) = o.keys().find(|k| *k != "send_at") {
                        return Ok(invalid(vec![field(k, "is not a known field")]));
                    }
                    asked = o.contains_key("send_at");
                    if let Some(v) = o.get("send_at").filter(|v| !v.is_null()) {
                        match v.as_str().map(|t| {
                            time::OffsetDateTime::parse(
                                t,
                                &time::format_description::well_known::Rfc3339,
                            )
                        }) {
                            Some(Ok(t)) => send_at = Some(t),
                            _ => {
                                return Ok(invalid(vec![field(
                                    "send_at",
                                    "must be an RFC 3339 time such as 2026-12-01T09:00:00-03:00",
                                )]))
                            }
                        }
                    }
                }
                if !asked {
                    send_at = c.settings.send_at.as_deref().and_then(|t| {
                        time::OffsetDateTime::parse(
                            t,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                    });
                }
                let scheduled = send_at.is_some_and(|t| t > time::OffsetDateTime::now_utc());
                Control::Send { scheduled }
            }
            "pause" => Control::Pause,
            "resume" => Control::Resume,
            "unschedule" => Control::Unschedule,
            _ => Control::Cancel,
        };
        let next = match c.control(control) {
            Ok(n) => n,
            Err(why) => return Ok(problem(409, "conflict", &why)),
        };
        if let Control::Send { .. } | Control::Resume = control {
            if let Some(r) = self.account_refuses(tenant, &c.settings.account_id).await? {
                return Ok(r);
            }
        }
        if let Control::Send { .. } = control {
            if let Some(r) = self.unsendable(tenant, &c).await? {
                return Ok(r);
            }
        }
        if matches!(control, Control::Send { .. }) && c.settings.report_email.is_some() {
            // Before the move: the closer sends the report once the campaign has ended.
            self.store.want_report(tenant, id).await?;
        }
        let now = pregon::clock::now_rfc3339();
        let send_at_s = send_at.map(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .expect("formats")
        });
        if !self
            .store
            .move_campaign(tenant, id, c.status, next, &now, send_at_s.as_deref())
            .await?
        {
            let msg = "the campaign changed meanwhile; read it again and retry";
            return Ok(problem(409, "conflict", msg));
        }
        // Dispatch starts, continues, waits for `send_at`, or skips what a cancel left unsent.
        if next != CampaignStatus::Paused && next != CampaignStatus::Loaded {
            self.request_dispatch(tenant, id).await?;
        }
        info!(
            tenant,
            campaign = id,
            from = c.status.as_str(),
            to = next.as_str(),
            "campaign control"
        );
        let c = self.store.campaign(tenant, id).await?.expect("exists");
        Ok(reply(200, json!(self.campaign_view(&c, false).await)))
    }

    /// Why a campaign cannot be sent (its template is not approved), as a 409.
    async fn unsendable(&self, tenant: &str, c: &Campaign) -> Result<Option<Reply>, AwsError> {
        let Some(tid) = &c.settings.template_id else {
            return Ok(None);
        };
        let t = self.refreshed_template(tenant, tid).await?;
        Ok(not_approved(t.as_ref()))
    }

    pub(crate) async fn request_dispatch(&self, tenant: &str, id: &str) -> Result<(), AwsError> {
        self.enqueue(
            "DISPATCH_QUEUE_URL",
            &pregon::queue::DispatchRequest::send(tenant, id),
        )
        .await
    }

    /// Puts a JSON message on the queue an environment variable names
    /// (`DISPATCH_QUEUE_URL`, `RESULTS_QUEUE_URL`).
    pub(crate) async fn enqueue(
        &self,
        queue_env: &str,
        body: &impl serde::Serialize,
    ) -> Result<(), AwsError> {
        pregon_aws::sqs::send_json(&self.aws.sqs, queue_env, body).await
    }

    /// A template, its status brought up to date (see `templates.rs`).
    pub(crate) async fn refreshed_template(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<Template>, AwsError> {
        match self
            .store
            .get::<Template>(keys::template(tenant, id))
            .await?
        {
            Some(t) => self.refreshed(tenant, t).await.map(Some),
            None => Ok(None),
        }
    }

    /// `GET /v1/campaigns/{id}/messages?status=&limit=&cursor=`: across the recipient
    /// shards in order; the cursor names the shard and the last row.
    pub(crate) async fn messages(
        &self,
        tenant: &str,
        id: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let Some(c) = self.store.campaign(tenant, id).await? else {
            return Ok(not_found("campaign"));
        };
        Ok(match self.messages_page(tenant, &c, query).await? {
            Ok((page, next_cursor)) => {
                let items: Vec<MessageView> = page
                    .iter()
                    .map(|m| MessageView::new(tenant, &c, m))
                    .collect();
                reply(200, json!({"items": items, "next_cursor": next_cursor}))
            }
            Err(r) => r,
        })
    }

    /// A page of a campaign's messages (`status`, `limit`, `cursor` from the query),
    /// its shards one after another; the cursor is `{shard}:{row}`.
    pub(crate) async fn messages_page(
        &self,
        tenant: &str,
        c: &Campaign,
        query: &[(String, String)],
    ) -> Result<Result<(Vec<RecipientItem>, Option<String>), Reply>, AwsError> {
        let id = c.id.as_str();
        let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
        let known = ["status", "limit", "cursor"];
        let mut bad = crate::unknown_params(query, &known);
        let limit = match get("limit").map(|l| l.parse::<i32>()) {
            None => 50,
            Some(Ok(l)) if (1..=500).contains(&l) => l,
            Some(_) => {
                bad.push(field("limit", "must be a whole number from 1 to 500"));
                50
            }
        };
        let status = match get("status") {
            None => None,
            Some(st) => match st.parse::<pregon::sending::MessageStatus>() {
                Ok(s) => Some(s.as_str().to_string()),
                Err(e) => {
                    bad.push(field("status", &e));
                    None
                }
            },
        };
        let (mut shard, mut after) = match get("cursor") {
            None => (0u32, None),
            Some(cur) => match cur
                .split_once(':')
                .and_then(|(s, r)| Some((s.parse::<u32>().ok()?, r.parse::<u64>().ok()?)))
            {
                Some((s, r)) if s < keys::RECIPIENT_SHARDS => (s, Some(format!("{r:010}"))),
                _ => {
                    bad.push(field("cursor", "is not a cursor this API gave"));
                    (0, None)
                }
            },
        };
        if !bad.is_empty() {
            return Ok(Err(invalid(bad)));
        }
        // `queued` is a view of `pending` records (see `shown_status`): ask the table for
        // `pending` and keep the ones shown with the status asked for.
        let filters: Vec<Filter> = status
            .iter()
            .map(|s| {
                Filter::Eq(
                    "status",
                    if s == "queued" {
                        "pending".into()
                    } else {
                        s.clone()
                    },
                )
            })
            .collect();
        let mut items: Vec<RecipientItem> = Vec::new();
        let mut next_cursor = None;
        while shard < keys::RECIPIENT_SHARDS {
            let pk = keys::recipient_pk(tenant, id, c.recipient_gen, shard);
            let want = limit - items.len() as i32;
            let (page, next) = self
                .store
                .list::<RecipientItem>(pk, "", false, want, after.take(), &filters)
                .await?;
            items.extend(page.into_iter().filter(|m| {
                status
                    .as_deref()
                    .is_none_or(|s| crate::views::shown_status(c, m) == s)
            }));
            match next {
                Some(sk) if items.len() as i32 >= limit => {
                    next_cursor = Some(format!("{shard}:{}", sk.trim_start_matches('0')));
                    break;
                }
                Some(sk) => after = Some(sk),
                None => {
                    shard += 1;
                    if items.len() as i32 >= limit && shard < keys::RECIPIENT_SHARDS {
                        next_cursor = Some(format!("{shard}:0"));
                        break;
                    }
                }
            }
        }
        Ok(Ok((items, next_cursor)))
    }
}

/// A 409 when a template cannot be sent (not `approved`, or gone).
fn not_approved(t: Option<&Template>) -> Option<Reply> {
    match t {
        Some(t) if t.status == TemplateStatus::Approved => None,
        Some(t) => Some(problem(
            409,
            "template_not_approved",
            &format!(
                "the template {} is {}; only approved templates can be sent{}",
                t.spec.name,
                serde_json::to_value(t.status)
                    .expect("json")
                    .as_str()
                    .unwrap_or(""),
                t.rejected_reason
                    .as_ref()
                    .map(|r| format!(" (rejected: {r})"))
                    .unwrap_or_default()
            ),
        )),
        None => Some(problem(
            409,
            "template_not_approved",
            "the campaign's template no longer exists",
        )),
    }
}

/// The phones a `POST /v1/dnc` body names, each as (where, phone as written, campaign
/// as written, whether the campaign may be a name), and the problems found; `Err` when
/// the body as a whole is refused.
#[allow(clippy::type_complexity)]
fn dnc_wanted(
    body: &[u8],
) -> Result<(Vec<(String, String, Option<String>, bool)>, Vec<FieldError>), Vec<FieldError>> {
    let mut wanted = Vec::new();
    let mut bad = Vec::new();
    match parse_body(body) {
        Ok(v) => {
            let Some(o) = v.as_object() else {
                return Err(vec![field(
                    "body",
                    "must be a JSON object or a phone;campaign CSV",
                )]);
            };
            if let Some(k) = o.keys().find(|k| *k != "phones" && *k != "campaign_id") {
                return Err(vec![field(k, "is not a known field")]);
            }
            let campaign = o
                .get("campaign_id")
                .and_then(|c| c.as_str())
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string);
            match o.get("phones").and_then(|p| p.as_array()) {
                Some(list) if !list.is_empty() && list.len() <= 10_000 => {
                    for (i, p) in list.iter().enumerate() {
                        match p.as_str() {
                            Some(raw) => wanted.push((
                                format!("phones[{i}]"),
                                raw.to_string(),
                                campaign.clone(),
                                false,
                            )),
                            None => bad.push(field(&format!("phones[{i}]"), "must be a string")),
                        }
                    }
                }
                _ => bad.push(field("phones", "must be a list of 1 to 10,000 phones")),
            }
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let lines = pregon::dnc::read_lines(&text);
            if lines.len() > 10_000 {
                return Err(vec![field("body", "at most 10,000 lines at a time")]);
            }
            for l in lines {
                wanted.push((format!("line {}", l.line), l.phone, l.campaign, true));
            }
            if wanted.is_empty() {
                bad.push(field("body", "no phones found"));
            }
        }
    }
    Ok((wanted, bad))
}

/// The campaigns a DNC request names, by id or (a file's) name, each looked up once.
#[derive(Default)]
struct DncCampaigns {
    by_id: HashMap<String, Option<Campaign>>,
    every: Option<Vec<Campaign>>,
}

impl DncCampaigns {
    /// The campaign `r` names (its id) and its country, or the problem to report. The
    /// JSON form names campaigns by id, as given; so does a file line whose campaign
    /// looks like an id; else (`by_name`) exactly one campaign must bear the name.
    async fn resolve(
        &mut self,
        api: &Api,
        tenant: &str,
        r: String,
        by_name: bool,
    ) -> Result<Result<(Option<String>, Option<String>), String>, AwsError> {
        if !self.by_id.contains_key(&r) {
            let found = if r.starts_with("cmp_") && r.len() <= 64 {
                api.store.campaign(tenant, &r).await?
            } else {
                None
            };
            self.by_id.insert(r.clone(), found);
        }
        let found = |c: &Campaign| Ok((Some(c.id.clone()), c.default_country.clone()));
        match (&self.by_id[&r], by_name) {
            (Some(c), _) => return Ok(found(c)),
            (None, false) => return Ok(Ok((Some(r), None))),
            (None, true) if r.starts_with("cmp_") => return Ok(Ok((Some(r), None))),
            (None, true) => {}
        }
        if self.every.is_none() {
            self.every = Some(api.all_campaigns(tenant).await?);
        }
        let named: Vec<&Campaign> = self
            .every
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter(|c| c.settings.name.trim().eq_ignore_ascii_case(r.trim()))
            .collect();
        Ok(match named.as_slice() {
            [c] => found(c),
            [] => Err(format!(
                "no campaign has the id or name '{}'",
                pregon::validate::excerpt(&r)
            )),
            many => Err(format!(
                "{} campaigns are named '{}': give the campaign's id",
                many.len(),
                pregon::validate::excerpt(&r)
            )),
        })
    }
}

/// A single message's recipient, checked by the same rules as a spreadsheet row of
/// campaign `c`; each problem named by the request's own field (`phone`, `text`,
/// `params[i]`).
fn one_row(
    o: &serde_json::Map<String, Value>,
    template: Option<&pregon::model::Template>,
    c: &Campaign,
) -> Result<(pregon::validate::Recipient, pregon::validate::Summary), Vec<FieldError>> {
    // The same rules as a spreadsheet row.
    let one =
        json!([{"phone": o.get("phone"), "params": o.get("params"), "message": o.get("text")}]);
    let csv = match pregon::inline::recipients_csv(&one, template.map(|t| t.spec.params), &[]) {
        Ok(csv) => csv,
        Err(e) => {
            let e = e.into_iter().map(|f| FieldError {
                field: f
                    .field
                    .replace("recipients[0].", "")
                    .replace("message", "text"),
                message: f.message,
            });
            return Err(e.collect());
        }
    };
    let mut sink = pregon::validate::Collect::default();
    let rules = c.rules_with(template);
    let summary = pregon::validate::validate(
        std::io::Cursor::new(csv.as_bytes()),
        csv.len() as u64,
        &rules,
        &mut sink,
    );
    if summary.status != pregon::validate::Status::Valid {
        let problems = sink.problems.into_iter().map(|p| {
            let name = match p.column.as_deref() {
                Some("phone") => "phone".to_string(),
                Some("message") => "text".to_string(),
                Some(col) => col
                    .strip_prefix("param_")
                    .map_or("params".to_string(), |n| {
                        format!("params[{}]", n.parse::<usize>().unwrap_or(1) - 1)
                    }),
                None => "body".to_string(),
            };
            FieldError {
                field: name,
                message: format!("{}: {}", p.code.as_str(), p.message),
            }
        });
        return Err(problems.collect());
    }
    let recipient = sink.recipients.into_iter().next().expect("one valid row");
    Ok((recipient, summary))
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError {
        field: name.to_string(),
        message: message.to_string(),
    }
}

impl Api {
    /// `POST /v1/dnc`: a JSON list of phones (`{"phones": […], "campaign_id"?}`), or a
    /// `phone;campaign` CSV body as dialers export it (no header needed, national
    /// numbers, the campaign by id or name, a trailing separator). Every bad line is
    /// named and nothing is applied, or, with `?on_invalid_rows=skip`, the good lines
    /// are applied and the bad ones listed.
    pub(crate) async fn dnc_add(
        &self,
        tenant: &str,
        body: &[u8],
        query: &[(String, String)],
        by: Option<&str>,
    ) -> Result<Reply, AwsError> {
        let skip = match query.iter().find(|(n, _)| n == "on_invalid_rows") {
            None => false,
            Some((_, v)) if v == "reject" => false,
            Some((_, v)) if v == "skip" => true,
            Some(_) => {
                return Ok(invalid(vec![field(
                    "on_invalid_rows",
                    "must be reject or skip",
                )]))
            }
        };
        let (wanted, mut bad) = match dnc_wanted(body) {
            Ok(w) => w,
            Err(refused) => return Ok(invalid(refused)),
        };
        // Campaigns named by id or (a file's) name, and the country of national numbers:
        // the campaign's, else the tenant's setting, else the one its accounts share.
        let settings = self.store.settings(tenant).await?;
        let mut named = DncCampaigns::default();
        let mut shared_country: Option<Option<String>> = None;
        let mut entries: Vec<(String, Option<String>)> = Vec::new();
        for (at, raw, campaign, by_name) in wanted {
            let (campaign, country) = match campaign {
                None => (None, None),
                Some(r) => match named.resolve(self, tenant, r, by_name).await? {
                    Ok(found) => found,
                    Err(problem) => {
                        bad.push(field(&at, &problem));
                        continue;
                    }
                },
            };
            let country = match country.or(settings.default_country.clone()) {
                Some(c) => Some(c),
                None => {
                    if shared_country.is_none() {
                        shared_country = Some(self.accounts_country(tenant).await?);
                    }
                    shared_country.clone().flatten()
                }
            };
            let mut rules =
                pregon::phone::PhoneRules::new(country.as_deref().and_then(|c| c.parse().ok()));
            match rules.parse_text(raw.trim()) {
                Ok(p) => entries.push((p.e164(), campaign)),
                Err(e) => bad.push(field(
                    &at,
                    &format!(
                        "'{}': {e} (write it with its country code, +56…, or set the tenant's default_country)",
                        pregon::validate::excerpt(&raw)
                    ),
                )),
            }
        }
        if !bad.is_empty() && (!skip || entries.is_empty()) {
            return Ok(invalid(bad));
        }
        let now = pregon::clock::now_rfc3339();
        self.store.dnc_put(tenant, &entries, &now, by).await?;
        if skip {
            return Ok(reply(201, json!({"added": entries.len(), "skipped": bad})));
        }
        Ok(reply(201, json!({"added": entries.len()})))
    }

    /// Every campaign a supervisor made (at most 10,000), for names in a DNC file.
    async fn all_campaigns(&self, tenant: &str) -> Result<Vec<Campaign>, AwsError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = self
                .store
                .list::<Campaign>(
                    keys::tenant_pk(tenant),
                    keys::CAMPAIGN_PREFIX,
                    true,
                    500,
                    after.take(),
                    &[Filter::Absent("kind")],
                )
                .await?;
            all.extend(page);
            match next {
                Some(n) if all.len() < 10_000 => after = Some(n),
                _ => return Ok(all),
            }
        }
    }

    /// The default country every account of the tenant shares, if they share one.
    async fn accounts_country(&self, tenant: &str) -> Result<Option<String>, AwsError> {
        let (accounts, _) = self
            .store
            .list::<pregon::model::Account>(
                keys::tenant_pk(tenant),
                keys::ACCOUNT_PREFIX,
                false,
                500,
                None,
                &[],
            )
            .await?;
        let mut countries = accounts.iter().filter_map(|a| a.default_country.clone());
        let first = countries.next();
        Ok(first.filter(|f| countries.all(|c| c == *f)))
    }

    /// `GET /v1/dnc?limit=&cursor=`.
    pub(crate) async fn dnc_list(
        &self,
        tenant: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
        let known = ["limit", "cursor"];
        let unknown = crate::unknown_params(query, &known);
        if !unknown.is_empty() {
            return Ok(invalid(unknown));
        }
        let limit = match get("limit").map(|l| l.parse::<i32>()) {
            None => 100,
            Some(Ok(l)) if (1..=1000).contains(&l) => l,
            Some(_) => {
                return Ok(invalid(vec![field(
                    "limit",
                    "must be a whole number from 1 to 1000",
                )]))
            }
        };
        // A cursor is an entry's key as this API gave it: a phone, maybe `#campaign`.
        let cursor = get("cursor");
        if cursor.as_deref().is_some_and(|c| {
            !c.starts_with('+')
                || !(2..=100).contains(&c.chars().count())
                || c.chars().any(char::is_control)
        }) {
            return Ok(invalid(vec![field(
                "cursor",
                "is not a cursor this API gave",
            )]));
        }
        let (items, next) = self
            .store
            .list::<DncEntry>(keys::dnc_pk(tenant), "", false, limit, cursor, &[])
            .await?;
        Ok(reply(200, json!({"items": items, "next_cursor": next})))
    }

    /// `DELETE /v1/dnc/{phone}` (`?campaign_id=` for a campaign's entry).
    pub(crate) async fn dnc_remove(
        &self,
        tenant: &str,
        phone: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let phone = pregon::text::percent_decode_path(phone);
        let phone = phone.trim();
        // Entries are kept in E.164: anything else names none.
        if !(phone.starts_with('+')
            && (8..=16).contains(&phone.len())
            && phone[1..].chars().all(|c| c.is_ascii_digit()))
        {
            return Ok(invalid(vec![field(
                "phone",
                "must be a phone in E.164 (+ and 7 to 15 digits), as GET /v1/dnc lists it",
            )]));
        }
        let campaign = query
            .iter()
            .find(|(k, _)| k == "campaign_id")
            .map(|(_, v)| v.as_str());
        if campaign.is_some_and(|c| c.is_empty() || c.len() > 64) {
            return Ok(invalid(vec![field("campaign_id", "is not a campaign id")]));
        }
        Ok(if self.store.dnc_delete(tenant, phone, campaign).await? {
            reply(204, Value::Null)
        } else {
            not_found("do-not-contact entry")
        })
    }
}

/// A do-not-contact entry as listed.
#[derive(serde::Serialize, serde::Deserialize)]
struct DncEntry {
    phone: String,
    #[serde(default)]
    campaign_id: Option<String>,
    created_at: String,
    /// The name of the API key that added it (none for opt-outs and older entries).
    #[serde(default)]
    created_by: Option<String>,
}

impl Api {
    /// `POST /v1/messages`: one message — `account_id`, `phone`, and `template_id` +
    /// `params`, or `text` (SMS) — through the same path as a campaign (a one-recipient
    /// campaign, validated by the same rules, dispatched and sent the same way).
    /// Answers 202 with the message's id.
    pub(crate) async fn send_one(&self, tenant: &str, body: &[u8]) -> Result<Reply, AwsError> {
        let b = match parse_body(body) {
            Ok(b) => b,
            Err(e) => return Ok(invalid(e)),
        };
        let Some(o) = b.as_object() else {
            return Ok(invalid(vec![field("body", "must be a JSON object")]));
        };
        let known = ["account_id", "phone", "template_id", "params", "text"];
        let unknown: Vec<FieldError> = o
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| field(k, "is not a known field"))
            .collect();
        if !unknown.is_empty() {
            return Ok(invalid(unknown));
        }
        let Some(account_id) = o.get("account_id").and_then(Value::as_str) else {
            return Ok(invalid(vec![field("account_id", "is required")]));
        };
        let Some(account) = self
            .store
            .get::<pregon::model::Account>(keys::account(tenant, account_id))
            .await?
        else {
            return Ok(invalid(vec![field("account_id", "no such account")]));
        };
        let sent = match self
            .send_single(tenant, &account, o, pregon::model::CampaignKind::Message)
            .await?
        {
            Ok(sent) => sent,
            Err(r) => return Ok(r),
        };
        info!(tenant, campaign = %sent.campaign_id, "single message accepted");
        Ok(reply(
            202,
            json!({"id": sent.message_id, "campaign_id": sent.campaign_id, "status": "pending"}),
        ))
    }

    /// One message on an account — `phone`, and `template_id` + `params` or (SMS)
    /// `text`, read from `o` — as a hidden one-recipient campaign of `kind`: checked by
    /// the spreadsheet's row rules, then dispatched and sent like any campaign. The
    /// refusal (disabled account, bad field, template not approved) is the `Err`.
    pub(crate) async fn send_single(
        &self,
        tenant: &str,
        account: &pregon::model::Account,
        o: &serde_json::Map<String, Value>,
        kind: pregon::model::CampaignKind,
    ) -> Result<Result<Single, Reply>, AwsError> {
        if !account.enabled() {
            return Ok(Err(crate::accounts::account_disabled(&account.id)));
        }
        let template_id = o.get("template_id").and_then(Value::as_str);
        if template_id.is_some() == o.contains_key("text") {
            return Ok(Err(invalid(vec![field(
                "template_id",
                "give a template_id (with params) or, for SMS, a text",
            )])));
        }
        let settings = json!({"name": "single message", "channel": account.channel, "account_id": account.id,
            "template_id": template_id, "consent_confirmed": true});
        let settings = match pregon::model::CampaignSettings::parse(&settings) {
            Ok(s) => s,
            Err(e) => return Ok(Err(invalid(e))),
        };
        let template = match template_id {
            Some(t) => self.refreshed_template(tenant, t).await?,
            None => None,
        };
        if let Err(e) = settings.check_references(Some(account), template.as_ref()) {
            return Ok(Err(invalid(e)));
        }
        let id = pregon::model::new_id("cmp");
        let now = pregon::clock::now_rfc3339();
        let mut c = Campaign::new(
            id.clone(),
            tenant,
            settings,
            template.as_ref().map(|t| t.spec.params).unwrap_or(0),
            account.default_country.clone(),
            &now,
        );
        if let Some(r) = template_id.and_then(|_| not_approved(template.as_ref())) {
            return Ok(Err(r));
        }
        let (recipient, summary) = match one_row(o, template.as_ref(), &c) {
            Ok(r) => r,
            Err(e) => return Ok(Err(invalid(e))),
        };
        // What the customer reads: the template filled in, or the text.
        let text = match &template {
            Some(t) => t
                .preview(&json!({"params": recipient.params}))
                .map(|p| p.text)
                .unwrap_or_default(),
            None => recipient.message.clone().unwrap_or_default(),
        };
        c.status = CampaignStatus::Sending;
        c.single = true;
        c.kind = kind;
        c.counts = summary.counts;
        c.sms = summary.sms;
        c.recipient_gen = 1;
        c.clean_below = 1;
        c.validated_at = Some(now.clone());
        c.sending_started_at = Some(now.clone());
        c.retention_days = self.store.settings(tenant).await?.retention_days;
        self.store.put_campaign(&c).await?;
        let put = self
            .store
            .recipient_put(tenant, &id, 1, &recipient, c.expires_at())?;
        self.store.batch_write(vec![put]).await?;
        self.request_dispatch(tenant, &id).await?;
        Ok(Ok(Single {
            message_id: pregon::sending::message_id(tenant, &id, 1, recipient.row),
            campaign_id: id,
            text,
        }))
    }

    /// `GET /v1/messages/{id}`.
    pub(crate) async fn message(&self, tenant: &str, id: &str) -> Result<Reply, AwsError> {
        let Some((t, campaign, gen, row)) = pregon::sending::parse_message_id(id) else {
            return Ok(not_found("message"));
        };
        if t != tenant {
            return Ok(not_found("message"));
        }
        let Some(c) = self.store.campaign(tenant, campaign).await? else {
            return Ok(not_found("message"));
        };
        let item: Option<RecipientItem> = self
            .store
            .get(keys::recipient(tenant, campaign, gen, row))
            .await?;
        match item {
            Some(m) if gen == c.recipient_gen => {
                Ok(reply(200, json!(MessageView::new(tenant, &c, &m))))
            }
            _ => Ok(not_found("message")),
        }
    }
}

/// A single message accepted for sending.
pub(crate) struct Single {
    pub(crate) message_id: String,
    pub(crate) campaign_id: String,
    /// What the customer reads.
    pub(crate) text: String,
}
