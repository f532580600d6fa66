//! `/v1/campaigns`: create, upload URLs, show and list (SPEC §2 steps 1–2, §3).

use crate::UPLOAD_URL_TTL;
use crate::{invalid, not_found, parse_body, problem, reply, Api, Reply};
use aws_sdk_s3::presigning::PresigningConfig;
use pregon::keys;
use pregon::model::{
    new_id, now_rfc3339, Account, Campaign, CampaignSettings, CampaignStatus, FieldError, Template,
};
use pregon_aws::store::StoreError;
use serde_json::{json, Value};
use tracing::info;

impl Api {
    pub(crate) async fn create_campaign(
        &self,
        tenant: &str,
        body: &[u8],
    ) -> Result<Reply, StoreError> {
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

    pub(crate) async fn upload_url(&self, tenant: &str, id: &str) -> Result<Reply, StoreError> {
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

    pub(crate) async fn presign_upload(&self, key: &str) -> Result<(String, u64), StoreError> {
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
    pub(crate) async fn campaign_view(&self, c: &Campaign, with_report: bool) -> Value {
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

    pub(crate) async fn list_campaigns(
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
