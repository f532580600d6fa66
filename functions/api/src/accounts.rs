//! `/v1/accounts`: provider accounts; credentials go to Secrets Manager (SPEC §9, §10).

use crate::views::{AccountSummary, AccountView};
use crate::{invalid, not_found, parse_body, problem, reply, Api, Reply};
use pregon::clock::now_rfc3339;
use pregon::keys;
use pregon::model::{
    check_credentials, new_id, Account, AccountPatch, Campaign, CampaignStatus, FieldError,
    NewAccount, ProviderKind,
};
use pregon::providers::inbound::new_url_secret;
use pregon::providers::Credentials;
use pregon_aws::transport::{account_secret, WEBHOOK_SECRET};
use pregon_aws::Error as AwsError;
use serde_json::{json, Map, Value};
use tracing::{info, warn};

impl Api {
    pub(crate) async fn create_account(
        &self,
        tenant: &str,
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        // The local stack's gateway simulator listens on plain http.
        let allow_http = std::env::var("PREGON_ALLOW_HTTP_PROVIDERS").as_deref() == Ok("1");
        let new = match parse_body(body).and_then(|b| NewAccount::parse_with(&b, allow_http)) {
            Ok(n) => n,
            Err(e) => return Ok(invalid(e)),
        };
        let id = new_id("acc");
        let credentials_secret_arn = match &new.credentials {
            None => None,
            Some(c) => {
                let name = format!("{}{tenant}/accounts/{id}", self.aws.secret_prefix);
                // The secret in the webhook URL (Gupshup and gateways sign nothing) lives
                // beside the credentials.
                let mut secret = c.clone();
                secret.insert(WEBHOOK_SECRET.into(), Value::from(new_url_secret()));
                let out = self
                    .aws
                    .secrets
                    .create_secret()
                    .name(&name)
                    .secret_string(Value::Object(secret).to_string())
                    .send()
                    .await
                    .map_err(|e| AwsError::secrets("CreateSecret", e))?;
                out.arn
            }
        };
        let account = Account {
            id: id.clone(),
            provider: new.provider,
            channel: new.channel,
            sender: new.sender,
            default_country: new.default_country,
            rate: new.rate,
            credentials_secret_arn,
            ports: new.ports,
            created_at: now_rfc3339(),
            name: None,
            description: None,
            disabled_at: None,
            paused_campaigns: Vec::new(),
        };
        if let Err(e) = self
            .store
            .create(keys::account(tenant, &id), &account)
            .await
        {
            // No secret without its account: remove it again.
            if let Some(arn) = &account.credentials_secret_arn {
                let deleted = self
                    .aws
                    .secrets
                    .delete_secret()
                    .secret_id(arn)
                    .force_delete_without_recovery(true)
                    .send()
                    .await;
                if let Err(d) = deleted {
                    warn!(tenant, account = %id, error = ?d, "could not delete the secret of an account that was not created");
                }
            }
            return Err(e);
        }
        self.store.put_webhook_account(&id, tenant).await?;
        if let Some(c) = &new.credentials {
            if let (Some(number), Some(waba)) = (
                c.get("phone_number_id").and_then(Value::as_str),
                c.get("waba_id").and_then(Value::as_str),
            ) {
                self.store
                    .put_meta_routes(&id, tenant, number, waba)
                    .await?;
            }
        }
        info!(tenant, account = %id, "account created");
        Ok(reply(201, json!(self.account_view(&account).await)))
    }

    /// `PUT /v1/accounts/{id}/credentials` `{"credentials": {…}}`: new credentials for
    /// the account, checked like its first, stored as a new version of its secret (the
    /// webhook URL's secret kept). Senders and the webhook read accounts again within a
    /// minute, so they send and check with the new ones from then on.
    pub(crate) async fn replace_credentials(
        &self,
        tenant: &str,
        id: &str,
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        let Some(a) = self.store.get::<Account>(keys::account(tenant, id)).await? else {
            return Ok(not_found("account"));
        };
        let credentials = match new_credentials(body, a.provider) {
            Ok(c) => c,
            Err(e) => return Ok(invalid(e)),
        };
        let Some(arn) = &a.credentials_secret_arn else {
            return Ok(problem(
                409,
                "conflict",
                "the account has no stored credentials to replace",
            ));
        };
        let mut secret = credentials.clone();
        if let Some(w) = account_secret(&self.aws, &a).await?.webhook_secret {
            secret.insert(WEBHOOK_SECRET.into(), Value::from(w));
        }
        self.aws
            .secrets
            .put_secret_value()
            .secret_id(arn)
            .secret_string(Value::Object(secret).to_string())
            .send()
            .await
            .map_err(|e| AwsError::secrets("PutSecretValue", e))?;
        if let (Some(number), Some(waba)) = (
            credentials.get("phone_number_id").and_then(Value::as_str),
            credentials.get("waba_id").and_then(Value::as_str),
        ) {
            self.store.put_meta_routes(id, tenant, number, waba).await?;
        }
        info!(tenant, account = %id, "account credentials replaced");
        Ok(reply(200, json!(self.account_view(&a).await)))
    }

    /// `PATCH /v1/accounts/{id}`: its `name`, `description`, `rate`, `default_country`,
    /// (gateways) `ports` and `enabled`; senders use a new rate or ports from their next
    /// read of the account (within a minute). Disabling pauses the account's sending
    /// campaigns (their queued jobs are parked); enabling resumes the ones it paused.
    pub(crate) async fn patch_account(
        &self,
        tenant: &str,
        id: &str,
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        let Some(mut a) = self.store.get::<Account>(keys::account(tenant, id)).await? else {
            return Ok(not_found("account"));
        };
        let patch = match parse_body(body).and_then(|b| AccountPatch::parse_patch(&b, a.provider)) {
            Ok(p) => p,
            Err(e) => return Ok(invalid(e)),
        };
        let toggle = patch.enabled.filter(|e| *e != a.enabled());
        patch.apply(&mut a);
        self.store.put(keys::account(tenant, id), &a).await?;
        match toggle {
            Some(false) => self.disable_account(tenant, id).await?,
            Some(true) => self.enable_account(tenant, id).await?,
            None => {}
        }
        info!(tenant, account = %id, "account changed");
        let a = self
            .store
            .get::<Account>(keys::account(tenant, id))
            .await?
            .ok_or_else(|| AwsError::Shape("the account is gone".into()))?;
        Ok(reply(200, json!(self.account_view(&a).await)))
    }

    /// Marks the account disabled first (nothing sent on it can start or resume), then
    /// pauses its sending campaigns and records them for [`enable_account`].
    async fn disable_account(&self, tenant: &str, id: &str) -> Result<(), AwsError> {
        let now = now_rfc3339();
        self.store.set_account_disabled(tenant, id, &now).await?;
        let on_it =
            |c: &Campaign| c.status == CampaignStatus::Sending && c.settings.account_id == id;
        let mut paused = Vec::new();
        for c in self.campaigns_where(tenant, on_it).await? {
            if self.control(tenant, &c.id, "pause", b"").await?.status == 200 {
                paused.push(c.id);
            }
        }
        self.store.add_account_paused(tenant, id, &paused).await?;
        info!(tenant, account = %id, paused = paused.len(), "account disabled");
        Ok(())
    }

    /// Marks the account enabled and resumes the campaigns disabling it paused (a
    /// campaign cancelled or resumed meanwhile stays as it is).
    async fn enable_account(&self, tenant: &str, id: &str) -> Result<(), AwsError> {
        let paused = self.store.set_account_enabled(tenant, id).await?;
        for c in &paused {
            self.control(tenant, c, "resume", b"").await?;
        }
        info!(tenant, account = %id, resumed = paused.len(), "account enabled");
        Ok(())
    }

    /// 409 `account_disabled` when the campaign's account is disabled.
    pub(crate) async fn account_refuses(
        &self,
        tenant: &str,
        account: &str,
    ) -> Result<Option<Reply>, AwsError> {
        let a = self
            .store
            .get::<Account>(keys::account(tenant, account))
            .await?;
        Ok(a.filter(|a| !a.enabled()).map(|a| account_disabled(&a.id)))
    }

    /// `DELETE /v1/accounts/{id}`: only when no campaign on it is sending, paused or
    /// scheduled (409 naming one). Its secret is scheduled for deletion (Secrets
    /// Manager's 7-day recovery window); its campaigns, messages and tickets stay.
    pub(crate) async fn delete_account(&self, tenant: &str, id: &str) -> Result<Reply, AwsError> {
        let Some(a) = self.store.get::<Account>(keys::account(tenant, id)).await? else {
            return Ok(not_found("account"));
        };
        let active = |c: &Campaign| {
            c.settings.account_id == id
                && matches!(
                    c.status,
                    CampaignStatus::Sending | CampaignStatus::Paused | CampaignStatus::Scheduled
                )
        };
        if let Some(c) = self.campaigns_where(tenant, active).await?.first() {
            let why = format!(
                "the campaign '{}' on this account is {}; cancel it or let it finish first",
                c.id,
                c.status.as_str()
            );
            return Ok(problem(409, "account_in_use", &why));
        }
        let meta = match account_secret(&self.aws, &a).await {
            Ok(s) => match s.credentials {
                Credentials::Meta {
                    phone_number_id,
                    waba_id,
                    ..
                } => Some((phone_number_id, waba_id)),
                _ => None,
            },
            Err(_) => None,
        };
        let meta = meta.as_ref().map(|(n, w)| (n.as_str(), w.as_str()));
        self.store.delete_account(tenant, id, meta).await?;
        if let Some(arn) = &a.credentials_secret_arn {
            self.aws
                .secrets
                .delete_secret()
                .secret_id(arn)
                .recovery_window_in_days(7)
                .send()
                .await
                .map_err(|e| AwsError::secrets("DeleteSecret", e))?;
        }
        info!(tenant, account = %id, "account deleted");
        Ok(reply(204, Value::Null))
    }

    /// `GET /v1/accounts?provider=&channel=&enabled=&q=&limit=&cursor=`: `q` looks in the name,
    /// description and sender.
    pub(crate) async fn list_accounts(
        &self,
        tenant: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let known = ["provider", "channel", "enabled", "q", "limit", "cursor"];
        let exact: [(&'static str, &[&str]); 2] = [
            ("provider", &["meta", "twilio", "gupshup", "sms_gateway"]),
            ("channel", &["whatsapp", "sms"]),
        ];
        let (filters, q) = match crate::list_query(query, &known, &exact) {
            Ok(f) => f,
            Err(e) => return Ok(invalid(e)),
        };
        let enabled = match query.iter().find(|(k, _)| k == "enabled") {
            None => None,
            Some((_, v)) if v == "true" => Some(true),
            Some((_, v)) if v == "false" => Some(false),
            Some(_) => {
                return Ok(invalid(vec![FieldError {
                    field: "enabled".into(),
                    message: "must be one of true, false".into(),
                }]))
            }
        };
        let keep = |a: &Account| {
            enabled.is_none_or(|e| a.enabled() == e)
                && q.as_deref().is_none_or(|q| {
                    [
                        a.name.as_deref(),
                        a.description.as_deref(),
                        Some(a.sender.as_str()),
                    ]
                    .into_iter()
                    .flatten()
                    .any(|t| t.to_lowercase().contains(q))
                })
        };
        let prefix = keys::ACCOUNT_PREFIX;
        self.list_plain(
            tenant,
            prefix,
            "acc_",
            query,
            &filters,
            keep,
            |a: &Account| AccountSummary::from(a),
        )
        .await
    }

    /// An account as tenants see it, with its `webhook_url`: the full URL to paste into
    /// the provider's console (null until the stack's public webhook base URL is set).
    pub(crate) async fn account_view(&self, a: &Account) -> AccountView {
        let url = match std::env::var("WEBHOOK_BASE_URL") {
            Ok(base) if !base.is_empty() => {
                let secret = match account_secret(&self.aws, a).await {
                    Ok(s) => s.webhook_secret,
                    Err(e) => {
                        warn!(account = %a.id, error = %e, "account secret unreadable");
                        None
                    }
                };
                Some(pregon::model::webhook_url(&base, &a.id, secret.as_deref()))
            }
            _ => None,
        };
        AccountView::new(a, url)
    }
}

/// 409 `account_disabled`: nothing is sent on a disabled account.
pub(crate) fn account_disabled(account: &str) -> Reply {
    let how = format!("PATCH /v1/accounts/{account} {{\"enabled\": true}}");
    problem(
        409,
        "account_disabled",
        &format!("the account '{account}' is disabled; enable it ({how}) to send on it"),
    )
}

/// A credentials replacement's body, `{"credentials": {…}}`, checked for the account's
/// `provider`; each bad field named.
fn new_credentials(
    body: &[u8],
    provider: ProviderKind,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let v = parse_body(body)?;
    let bad = |field: &str, message: &str| FieldError {
        field: field.into(),
        message: message.into(),
    };
    let Some(o) = v.as_object() else {
        return Err(vec![bad("body", "must be a JSON object")]);
    };
    let mut errors: Vec<FieldError> = o
        .keys()
        .filter(|k| *k != "credentials")
        .map(|k| bad(k, "is not a known field"))
        .collect();
    match o.get("credentials") {
        Some(Value::Object(m)) => {
            // The local stack's gateway simulator listens on plain http.
            let allow_http = std::env::var("PREGON_ALLOW_HTTP_PROVIDERS").as_deref() == Ok("1");
            check_credentials(Some(provider), m, allow_http, &mut errors);
            if errors.is_empty() {
                return Ok(m.clone());
            }
        }
        _ => errors.push(bad(
            "credentials",
            "is required: the provider's new credentials (a JSON object)",
        )),
    }
    Err(errors)
}
