//! The tenant API. Every request carries `Authorization: Bearer <api key>`; the key's
//! hash names the tenant, and every read or write is keyed under that tenant, so another
//! tenant's ids answer 404 exactly like ids that do not exist.
//!
//! | method | path | |
//! |---|---|---|
//! | POST | /v1/accounts | register a provider account (credentials → Secrets Manager) |
//! | GET | /v1/accounts, /v1/accounts/{id} | |
//! | POST | /v1/templates | record a template |
//! | GET | /v1/templates, /v1/templates/{id} | |
//! | GET | /v1/templates/{id}/sheet?format=xlsx\|csv | the empty spreadsheet for a template |
//! | POST | /v1/campaigns | create a campaign; answers with a pre-signed upload URL |
//! | POST | /v1/campaigns/{id}/upload | a fresh pre-signed upload URL (re-upload) |
//! | GET | /v1/campaigns/{id} | status, counts, first 100 problems, report link |
//! | GET | /v1/campaigns?status=&department=&limit=&cursor= | newest first |

use aws_sdk_s3::presigning::PresigningConfig;
use pregon::keys;
use pregon::model::{
    new_id, now_rfc3339, Account, Campaign, CampaignSettings, CampaignStatus, FieldError,
    NewAccount, NewTemplate, Template, TemplateStatus,
};
use pregon_aws::config::Aws;
use pregon_aws::store::{Store, StoreError};
use serde_json::{json, Value};
use std::time::Duration;
use tracing::{error, info};

/// How long a pre-signed upload URL stays valid.
const UPLOAD_URL_TTL: Duration = Duration::from_secs(3600);

pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// A file to send instead of the JSON body.
    pub file: Option<File>,
}

pub struct File {
    pub content_type: &'static str,
    pub filename: String,
    pub bytes: Vec<u8>,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body,
        file: None,
    }
}

fn problem(status: u16, code: &str, message: &str) -> Reply {
    reply(status, json!({"error": code, "message": message}))
}

fn invalid(fields: Vec<FieldError>) -> Reply {
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    let message = format!("the request has invalid fields: {}", names.join(", "));
    reply(
        400,
        json!({"error": "invalid_request", "message": message, "fields": fields}),
    )
}

fn not_found(what: &str) -> Reply {
    problem(404, "not_found", &format!("no such {what}"))
}

pub struct Api {
    aws: Aws,
    store: Store,
}

impl From<StoreError> for Reply {
    fn from(e: StoreError) -> Self {
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
        Api { aws, store }
    }

    pub async fn handle(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        auth: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let tenant = match pregon::auth::bearer(auth) {
            None => {
                return problem(
                    401,
                    "unauthorized",
                    "send your API key as 'Authorization: Bearer pgn_…'",
                );
            }
            Some(key) => match self
                .store
                .tenant_for_key_hash(&pregon::auth::key_hash(key))
                .await
            {
                Ok(Some(t)) => t,
                Ok(None) => return problem(401, "unauthorized", "unknown API key"),
                Err(e) => return e.into(),
            },
        };
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let r = match (method, segments.as_slice()) {
            ("POST", ["v1", "accounts"]) => self.create_account(&tenant, body).await,
            ("GET", ["v1", "accounts"]) => {
                self.list_plain::<Account>(&tenant, keys::ACCOUNT_PREFIX, |a| a.public())
                    .await
            }
            ("GET", ["v1", "accounts", id]) => {
                match self.store.get::<Account>(keys::account(&tenant, id)).await {
                    Ok(Some(a)) => Ok(reply(200, a.public())),
                    Ok(None) => Ok(not_found("account")),
                    Err(e) => Err(e),
                }
            }
            ("POST", ["v1", "templates"]) => self.create_template(&tenant, body).await,
            ("GET", ["v1", "templates"]) => {
                self.list_plain::<Template>(&tenant, keys::TEMPLATE_PREFIX, |t| {
                    serde_json::to_value(t).expect("json")
                })
                .await
            }
            ("GET", ["v1", "templates", id]) => match self
                .store
                .get::<Template>(keys::template(&tenant, id))
                .await
            {
                Ok(Some(t)) => Ok(reply(200, serde_json::to_value(t).expect("json"))),
                Ok(None) => Ok(not_found("template")),
                Err(e) => Err(e),
            },
            ("GET", ["v1", "templates", id, "sheet"]) => {
                self.template_sheet(&tenant, id, query).await
            }
            ("POST", ["v1", "campaigns"]) => self.create_campaign(&tenant, body).await,
            ("GET", ["v1", "campaigns"]) => self.list_campaigns(&tenant, query).await,
            ("GET", ["v1", "campaigns", id]) => match self.store.campaign(&tenant, id).await {
                Ok(Some(c)) => Ok(reply(200, self.campaign_view(&c, true).await)),
                Ok(None) => Ok(not_found("campaign")),
                Err(e) => Err(e),
            },
            ("POST", ["v1", "campaigns", id, "upload"]) => self.upload_url(&tenant, id).await,
            (_, ["v1", "accounts" | "templates" | "campaigns", ..]) => Ok(problem(
                405,
                "method_not_allowed",
                &format!("{method} is not allowed on {path}"),
            )),
            _ => Ok(problem(
                404,
                "not_found",
                &format!("no endpoint {method} {path}"),
            )),
        };
        r.unwrap_or_else(Reply::from)
    }

    async fn create_account(&self, tenant: &str, body: &[u8]) -> Result<Reply, StoreError> {
        let new = match parse_body(body).and_then(|b| NewAccount::parse(&b)) {
            Ok(n) => n,
            Err(e) => return Ok(invalid(e)),
        };
        let id = new_id("acc");
        let credentials_secret_arn = match &new.credentials {
            None => None,
            Some(c) => {
                let name = format!("{}{tenant}/accounts/{id}", self.aws.secret_prefix);
                let out = self
                    .aws
                    .secrets
                    .create_secret()
                    .name(&name)
                    .secret_string(Value::Object(c.clone()).to_string())
                    .send()
                    .await
                    .map_err(|e| StoreError::Dynamo(format!("Secrets Manager: {e:?}")))?;
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
            created_at: now_rfc3339(),
        };
        self.store
            .create(keys::account(tenant, &id), &account)
            .await?;
        info!(tenant, account = %id, "account created");
        Ok(reply(201, account.public()))
    }

    async fn create_template(&self, tenant: &str, body: &[u8]) -> Result<Reply, StoreError> {
        let new = match parse_body(body).and_then(|b| NewTemplate::parse(&b)) {
            Ok(n) => n,
            Err(e) => return Ok(invalid(e)),
        };
        let t = Template {
            id: new_id("tpl"),
            spec: new,
            // Registration at the provider (and its approval status) comes with the senders.
            status: TemplateStatus::Pending,
            created_at: now_rfc3339(),
        };
        self.store.create(keys::template(tenant, &t.id), &t).await?;
        Ok(reply(201, serde_json::to_value(&t).expect("json")))
    }

    /// `GET /v1/templates/{id}/sheet`: the header row a spreadsheet for this template needs.
    /// `GET /v1/templates/{id}/sheet?format=csv|xlsx`: the empty spreadsheet for a template.
    async fn template_sheet(
        &self,
        tenant: &str,
        id: &str,
        query: &[(String, String)],
    ) -> Result<Reply, StoreError> {
        let format = query
            .iter()
            .find(|(k, _)| k == "format")
            .map(|(_, v)| v.as_str())
            .unwrap_or("xlsx");
        if format != "xlsx" && format != "csv" {
            return Ok(invalid(vec![FieldError {
                field: "format".into(),
                message: "must be xlsx or csv".into(),
            }]));
        }
        let Some(t) = self
            .store
            .get::<Template>(keys::template(tenant, id))
            .await?
        else {
            return Ok(not_found("template"));
        };
        let columns = pregon::report::layout_columns(t.spec.params);
        let file = if format == "csv" {
            File {
                content_type: "text/csv; charset=utf-8",
                filename: format!("{}.csv", t.spec.name),
                bytes: pregon::report::layout_csv(&columns),
            }
        } else {
            let bytes = pregon::report::layout_xlsx(&columns).map_err(StoreError::Shape)?;
            File {
                content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                filename: format!("{}.xlsx", t.spec.name),
                bytes,
            }
        };
        Ok(Reply {
            status: 200,
            body: Value::Null,
            file: Some(file),
        })
    }

    async fn create_campaign(&self, tenant: &str, body: &[u8]) -> Result<Reply, StoreError> {
        let settings = match parse_body(body).and_then(|b| CampaignSettings::parse(&b)) {
            Ok(s) => s,
            Err(e) => return Ok(invalid(e)),
        };
        let account = self
            .store
            .get::<Account>(keys::account(tenant, &settings.account_id))
            .await?;
        let template = match &settings.template_id {
            Some(t) => {
                self.store
                    .get::<Template>(keys::template(tenant, t))
                    .await?
            }
            None => None,
        };
        if let Err(e) = settings.check_references(account.as_ref(), template.as_ref()) {
            return Ok(invalid(e));
        }
        let id = new_id("cmp");
        let now = now_rfc3339();
        let campaign = Campaign {
            upload_key: Campaign::upload_key_for(tenant, &id),
            id: id.clone(),
            tenant_id: tenant.to_string(),
            params: template.as_ref().map(|t| t.spec.params).unwrap_or(0),
            default_country: account.and_then(|a| a.default_country),
            settings,
            status: CampaignStatus::AwaitingFile,
            counts: Default::default(),
            problems: Vec::new(),
            format: None,
            report_key: None,
            upload_etag: None,
            recipient_gen: 0,
            lease_until: None,
            created_at: now.clone(),
            updated_at: now,
            validated_at: None,
        };
        self.store.put_campaign(&campaign).await?;
        info!(tenant, campaign = %id, "campaign created");
        let mut view = self.campaign_view(&campaign, false).await;
        let (url, expires) = self.presign_upload(&campaign.upload_key).await?;
        view["upload_url"] = Value::from(url);
        view["upload_expires_in"] = Value::from(expires);
        Ok(reply(201, view))
    }

    async fn upload_url(&self, tenant: &str, id: &str) -> Result<Reply, StoreError> {
        let Some(c) = self.store.campaign(tenant, id).await? else {
            return Ok(not_found("campaign"));
        };
        if !c.status.accepts_upload() {
            let msg = format!(
                "the campaign is {}; a spreadsheet can be uploaded only before sending",
                c.status.as_str()
            );
            return Ok(problem(409, "conflict", &msg));
        }
        let (url, expires) = self.presign_upload(&c.upload_key).await?;
        Ok(reply(
            200,
            json!({"campaign_id": c.id, "upload_url": url, "upload_expires_in": expires}),
        ))
    }

    async fn presign_upload(&self, key: &str) -> Result<(String, u64), StoreError> {
        let cfg = PresigningConfig::expires_in(UPLOAD_URL_TTL)
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        let req = self
            .aws
            .s3
            .put_object()
            .bucket(&self.aws.bucket)
            .key(key)
            .presigned(cfg)
            .await
            .map_err(|e| StoreError::Dynamo(format!("S3 presign: {e:?}")))?;
        Ok((req.uri().to_string(), UPLOAD_URL_TTL.as_secs()))
    }

    /// The campaign as tenants see it (internal bookkeeping left out).
    async fn campaign_view(&self, c: &Campaign, with_report: bool) -> Value {
        let mut v = serde_json::to_value(c).expect("json");
        let obj = v.as_object_mut().expect("object");
        for internal in [
            "tenant_id",
            "upload_key",
            "upload_etag",
            "lease_until",
            "recipient_gen",
            "report_key",
        ] {
            obj.remove(internal);
        }
        obj.insert(
            "problems_total".into(),
            json!(c.counts.errors + c.counts.warnings),
        );
        if with_report {
            if let Some(key) = &c.report_key {
                if let Ok(cfg) = PresigningConfig::expires_in(UPLOAD_URL_TTL) {
                    if let Ok(req) = self
                        .aws
                        .s3
                        .get_object()
                        .bucket(&self.aws.bucket)
                        .key(key)
                        .presigned(cfg)
                        .await
                    {
                        obj.insert("report_url".into(), Value::from(req.uri().to_string()));
                    }
                }
            }
        }
        v
    }

    async fn list_plain<T: serde::de::DeserializeOwned>(
        &self,
        tenant: &str,
        prefix: &str,
        view: impl Fn(&T) -> Value,
    ) -> Result<Reply, StoreError> {
        let (items, _) = self
            .store
            .list::<T>(keys::tenant_pk(tenant), prefix, false, 1000, None, &[])
            .await?;
        Ok(reply(
            200,
            json!({"items": items.iter().map(view).collect::<Vec<_>>()}),
        ))
    }

    async fn list_campaigns(
        &self,
        tenant: &str,
        query: &[(String, String)],
    ) -> Result<Reply, StoreError> {
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
        let mut filters = Vec::new();
        if let Some(st) = get("status") {
            match st.parse::<CampaignStatus>() {
                Ok(s) => filters.push(("status", s.as_str().to_string())),
                Err(e) => bad.push(FieldError {
                    field: "status".into(),
                    message: e,
                }),
            }
        }
        if let Some(d) = get("department") {
            filters.push(("department", d));
        }
        let cursor = get("cursor");
        if cursor
            .as_deref()
            .is_some_and(|c| !c.starts_with("cmp_") || c.len() > 64)
        {
            bad.push(FieldError {
                field: "cursor".into(),
                message: "is not a cursor this API gave".into(),
            });
        }
        if !bad.is_empty() {
            return Ok(invalid(bad));
        }
        let after = cursor.map(|c| keys::campaign(tenant, &c).1);
        let (items, next) = self
            .store
            .list::<Campaign>(
                keys::tenant_pk(tenant),
                keys::CAMPAIGN_PREFIX,
                true,
                limit,
                after,
                &filters,
            )
            .await?;
        let mut views = Vec::with_capacity(items.len());
        for c in &items {
            let mut v = self.campaign_view(c, false).await;
            v.as_object_mut().expect("object").remove("problems");
            views.push(v);
        }
        let next_cursor = next.map(|sk| sk.trim_start_matches(keys::CAMPAIGN_PREFIX).to_string());
        Ok(reply(
            200,
            json!({"items": views, "next_cursor": next_cursor}),
        ))
    }
}

fn parse_body(body: &[u8]) -> Result<Value, Vec<FieldError>> {
    if body.is_empty() {
        return Err(vec![FieldError {
            field: "body".into(),
            message: "a JSON object is required".into(),
        }]);
    }
    serde_json::from_slice(body).map_err(|e| {
        vec![FieldError {
            field: "body".into(),
            message: format!("is not valid JSON: {e}"),
        }]
    })
}
