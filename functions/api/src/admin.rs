//! `/v1/admin/…`: the operator's routes, authenticated by the operator key (its SHA-256
//! deployed as `AdminKeySha256`; `pregon-local up` makes one and prints it). A tenant's
//! API key never opens them. Tenants (made with their first API key, listed, shown);
//! the report sender addresses the operator approves for each tenant (SPEC §7 report email; a tenant may send its reports only from the
//! deployment's `ReportSender` or an address approved here).

use crate::views::TenantView;
use crate::{invalid, not_found, problem, reply, Api, Reply};
use pregon::model::{Campaign, CampaignStatus, FieldError};
use pregon_aws::apikeys::TenantItem;
use pregon_aws::Error as AwsError;
use serde_json::{json, Value};
use tracing::info;

/// The operator key's SHA-256 the API was deployed with (empty: the routes are off).
pub(crate) fn operator_hash() -> String {
    std::env::var("ADMIN_KEY_SHA256").unwrap_or_default()
}

impl Api {
    /// `GET /v1/admin/tenants/{tenant}/report-senders`.
    pub(crate) async fn report_senders(&self, tenant: &str) -> Result<Reply, AwsError> {
        if !pregon::auth::valid_tenant_id(tenant) {
            return Ok(bad_tenant());
        }
        let items = self.store.report_senders(tenant).await?;
        Ok(reply(200, json!({"tenant_id": tenant, "items": items})))
    }

    /// `PUT` (approve) / `DELETE` (revoke) `/v1/admin/tenants/{tenant}/report-senders/{address}`.
    pub(crate) async fn set_report_sender(
        &self,
        tenant: &str,
        address: &str,
        approve: bool,
    ) -> Result<Reply, AwsError> {
        if !pregon::auth::valid_tenant_id(tenant) {
            return Ok(bad_tenant());
        }
        let address = pregon::text::percent_decode_path(address)
            .trim()
            .to_lowercase();
        if let Err(e) = pregon::model::valid_email(&address) {
            return Ok(invalid(vec![FieldError {
                field: "address".into(),
                message: e,
            }]));
        }
        let now = pregon::clock::now_rfc3339();
        let changed = self
            .store
            .set_report_sender(tenant, &address, approve, &now)
            .await?;
        info!(tenant, approve, changed, "report sender approval");
        if approve {
            Ok(reply(
                200,
                json!({"tenant_id": tenant, "address": address, "approved": true}),
            ))
        } else if changed {
            Ok(reply(204, Value::Null))
        } else {
            Ok(not_found("approved report sender"))
        }
    }

    /// `GET /v1/admin/tenants/{tenant}/limits`.
    pub(crate) async fn tenant_limits(&self, tenant: &str) -> Result<Reply, AwsError> {
        if !pregon::auth::valid_tenant_id(tenant) {
            return Ok(bad_tenant());
        }
        let l = self.store.limits(tenant).await?;
        Ok(reply(
            200,
            limits_view(tenant, &l, self.sent_today(tenant).await?),
        ))
    }

    /// `PUT /v1/admin/tenants/{tenant}/limits`.
    pub(crate) async fn set_tenant_limits(
        &self,
        tenant: &str,
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        if !pregon::auth::valid_tenant_id(tenant) {
            return Ok(bad_tenant());
        }
        let b: Value = match crate::read_json(body) {
            Ok(b) => b,
            Err(_) => {
                return Ok(invalid(vec![FieldError {
                    field: "body".into(),
                    message: "must be a JSON object".into(),
                }]))
            }
        };
        let l = self.store.limits(tenant).await?;
        match l.with_changes(&b) {
            Ok(next) => {
                self.store.put(pregon::keys::limits(tenant), &next).await?;
                info!(tenant, "tenant limits set");
                let sent = self.sent_today(tenant).await?;
                Ok(reply(200, limits_view(tenant, &next, sent)))
            }
            Err(e) => Ok(invalid(e)),
        }
    }
}

impl Api {
    /// The messages the tenant sent to providers today (UTC).
    async fn sent_today(&self, tenant: &str) -> Result<u64, AwsError> {
        let day = &pregon::clock::now_rfc3339()[..10];
        self.store.messages_sent_on(tenant, day).await
    }
}

/// A tenant's limits as the operator sees them: each limit, or the deployment's default
/// (null), and the messages sent today (UTC) against the daily quota.
fn limits_view(tenant: &str, l: &pregon::model::TenantLimits, sent_today: u64) -> Value {
    json!({"tenant_id": tenant, "report_emails_per_day": l.report_emails_per_day,
        "messages_per_day": l.messages_per_day, "messages_sent_today": sent_today})
}

fn bad_tenant() -> Reply {
    invalid(vec![FieldError {
        field: "tenant".into(),
        message: "is not a tenant id (1–64 of a-z 0-9 _ -)".into(),
    }])
}

impl Api {
    /// `POST /v1/admin/tenants` `{name, id?}`: a tenant and its first API key (every
    /// scope), whose secret is in this answer only. 409 when the id is taken.
    pub(crate) async fn create_tenant(&self, body: &[u8]) -> Result<Reply, AwsError> {
        let (id, name) = match new_tenant(body) {
            Ok(t) => t,
            Err(e) => return Ok(invalid(e)),
        };
        let secret = pregon::auth::new_api_key();
        if !self
            .store
            .create_tenant(&id, &name, &pregon::auth::key_hash(&secret))
            .await?
        {
            return Ok(problem(
                409,
                "conflict",
                &format!("a tenant with the id '{id}' exists"),
            ));
        }
        info!(tenant = %id, "tenant created");
        let t = self
            .store
            .get::<TenantItem>(pregon::keys::tenant(&id))
            .await?
            .ok_or_else(|| AwsError::Shape("the tenant just made is gone".into()))?;
        let mut v = json!(TenantView::from(&t));
        v["key"] = json!(secret);
        v["scopes"] = json!(pregon::auth::Scope::ALL);
        Ok(reply(201, v))
    }

    /// `GET /v1/admin/tenants`: every tenant, oldest first, `limit`/`cursor` paging.
    pub(crate) async fn list_tenants(&self, query: &[(String, String)]) -> Result<Reply, AwsError> {
        let (limit, cursor) = match crate::page(query, "") {
            Ok((_, Some(c))) if !pregon::auth::valid_tenant_id(&c) => {
                return Ok(invalid(vec![FieldError {
                    field: "cursor".into(),
                    message: "is not a cursor this API gave".into(),
                }]))
            }
            Ok(p) => p,
            Err(e) => return Ok(invalid(e)),
        };
        let after = cursor.map(|c| format!("{}{c}", pregon::keys::TENANT_PREFIX));
        let (items, next) = self.store.tenants(limit, after).await?;
        let next_cursor = next.map(|sk| {
            sk.trim_start_matches(pregon::keys::TENANT_PREFIX)
                .to_string()
        });
        let items: Vec<TenantView> = items.iter().map(TenantView::from).collect();
        Ok(reply(
            200,
            json!({"items": items, "next_cursor": next_cursor}),
        ))
    }

    /// `GET /v1/admin/tenants/{tenant}`.
    pub(crate) async fn get_tenant(&self, tenant: &str) -> Result<Reply, AwsError> {
        if !pregon::auth::valid_tenant_id(tenant) {
            return Ok(bad_tenant());
        }
        match self
            .store
            .get::<TenantItem>(pregon::keys::tenant(tenant))
            .await?
        {
            Some(t) => Ok(reply(200, json!(TenantView::from(&t)))),
            None => Ok(not_found("tenant")),
        }
    }
}

impl Api {
    /// `POST /v1/admin/tenants/{tenant}/disable|enable`. Disabled: every key of the
    /// tenant is refused (403 `tenant_disabled`) and its sending campaigns are paused;
    /// enabled again: the keys work and the campaigns this paused resume (each message
    /// still goes once). Asking for the state it is in changes nothing.
    pub(crate) async fn set_tenant_disabled(
        &self,
        tenant: &str,
        disable: bool,
    ) -> Result<Reply, AwsError> {
        if !pregon::auth::valid_tenant_id(tenant) {
            return Ok(bad_tenant());
        }
        let Some(t) = self
            .store
            .get::<TenantItem>(pregon::keys::tenant(tenant))
            .await?
        else {
            return Ok(not_found("tenant"));
        };
        if t.disabled_at.is_some() == disable {
            return Ok(reply(200, json!(TenantView::from(&t))));
        }
        let now = pregon::clock::now_rfc3339();
        if disable {
            // Keys first: nobody can resume what is paused next.
            self.store.set_tenant_disabled(&t, Some(&now), &[]).await?;
            let mut paused = Vec::new();
            for id in self.sending_campaigns(tenant).await? {
                let r = self.control(tenant, &id, "pause", b"").await?;
                if r.status == 200 {
                    paused.push(id);
                }
            }
            self.store
                .set_tenant_disabled(&t, Some(&now), &paused)
                .await?;
            info!(tenant, paused = paused.len(), "tenant disabled");
        } else {
            self.store.set_tenant_disabled(&t, None, &[]).await?;
            for id in &t.paused_campaigns {
                // One the tenant cancelled meanwhile stays as it is (409); one whose
                // account was disabled meanwhile waits for the account.
                let r = self.control(tenant, id, "resume", b"").await?;
                if r.status == 409 && r.body["error"] == "account_disabled" {
                    if let Some(c) = self.store.campaign(tenant, id).await? {
                        let ids = [c.id.clone()];
                        self.store
                            .add_account_paused(tenant, &c.settings.account_id, &ids)
                            .await?;
                    }
                }
            }
            info!(tenant, resumed = t.paused_campaigns.len(), "tenant enabled");
        }
        let t = self
            .store
            .get::<TenantItem>(pregon::keys::tenant(tenant))
            .await?
            .ok_or_else(|| AwsError::Shape("the tenant is gone".into()))?;
        Ok(reply(200, json!(TenantView::from(&t))))
    }

    /// The ids of the tenant's campaigns that are sending (single messages too).
    async fn sending_campaigns(&self, tenant: &str) -> Result<Vec<String>, AwsError> {
        let sending = |c: &Campaign| c.status == CampaignStatus::Sending;
        Ok(self
            .campaigns_where(tenant, sending)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect())
    }

    /// The tenant's campaigns that `keep` keeps (each of them read; a tenant has hundreds,
    /// not millions).
    pub(crate) async fn campaigns_where(
        &self,
        tenant: &str,
        keep: impl Fn(&Campaign) -> bool,
    ) -> Result<Vec<Campaign>, AwsError> {
        let mut kept = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = self
                .store
                .list::<Campaign>(
                    pregon::keys::tenant_pk(tenant),
                    pregon::keys::CAMPAIGN_PREFIX,
                    false,
                    500,
                    after.take(),
                    &[],
                )
                .await?;
            kept.extend(page.into_iter().filter(|c| keep(c)));
            match next {
                Some(n) => after = Some(n),
                None => return Ok(kept),
            }
        }
    }
}

/// A new tenant's request: `{name, id?}` (a new id when none is given).
fn new_tenant(body: &[u8]) -> Result<(String, String), Vec<FieldError>> {
    let bad = |field: &str, message: &str| FieldError {
        field: field.into(),
        message: message.into(),
    };
    let v = crate::parse_body(body)?;
    let Some(o) = v.as_object() else {
        return Err(vec![bad("body", "must be a JSON object")]);
    };
    let mut errors = Vec::new();
    for k in o.keys() {
        if k != "name" && k != "id" {
            errors.push(bad(k, "is not a known field"));
        }
    }
    let name = match o.get("name").and_then(Value::as_str) {
        Some(n)
            if !n.trim().is_empty()
                && n.chars().count() <= 200
                && !n.contains(char::is_control) =>
        {
            n.trim().to_string()
        }
        _ => {
            errors.push(bad(
                "name",
                "is required: 1 to 200 characters, no control characters",
            ));
            String::new()
        }
    };
    let id = match o.get("id") {
        None | Some(Value::Null) => pregon::model::new_id("ten"),
        Some(v) => match v.as_str() {
            Some(id) if pregon::auth::valid_tenant_id(id) => id.to_string(),
            _ => {
                errors.push(bad("id", "must be 1 to 64 of a-z, 0-9, _ and -"));
                String::new()
            }
        },
    };
    if errors.is_empty() {
        Ok((id, name))
    } else {
        Err(errors)
    }
}
