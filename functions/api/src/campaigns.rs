//! `/v1/campaigns`: create, upload URLs, show and list (SPEC §2 steps 1–2, §3).

use crate::views::{CampaignSummary, CampaignView};
use crate::{invalid, not_found, parse_body, problem, reply, Api, Reply};
use crate::{REPORT_URL_TTL, UPLOAD_URL_TTL};
use aws_sdk_s3::presigning::PresigningConfig;
use pregon::clock::{now_rfc3339, unix_now};
use pregon::keys;
use pregon::model::{
    new_id, Account, Campaign, CampaignSettings, CampaignStatus, FieldError, Progress, Template,
};
use pregon_aws::store::Filter;
use pregon_aws::Error as AwsError;
use serde_json::{json, Value};
use tracing::info;

impl Api {
    pub(crate) async fn create_campaign(
        &self,
        tenant: &str,
        body: &[u8],
        by: Option<&str>,
    ) -> Result<Reply, AwsError> {
        match parse_body(body) {
            Ok(b) => self.create_campaign_from(tenant, b, by).await,
            Err(e) => Ok(invalid(e)),
        }
    }

    /// Creates a campaign from its JSON body. `upload_size` asks for an upload URL in the
    /// answer; `recipients` (at most 10,000) is an inline list, validated by ingest with
    /// the same rules as a file.
    pub(crate) async fn create_campaign_from(
        &self,
        tenant: &str,
        mut body: Value,
        by: Option<&str>,
    ) -> Result<Reply, AwsError> {
        // Neither is a campaign setting.
        let upload_size = body.as_object_mut().and_then(|o| o.remove("upload_size"));
        let inline = body.as_object_mut().and_then(|o| o.remove("recipients"));
        let size = match upload_size.map(|v| self.upload_size(&v, "upload_size")) {
            None => None,
            Some(Ok(n)) => Some(n),
            Some(Err(r)) => return Ok(r),
        };
        let mut settings = match CampaignSettings::parse(&body) {
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
        if settings.department.is_none() {
            // The template's team, unless the campaign names its own.
            settings.department = template.as_ref().and_then(|t| t.spec.department.clone());
        }
        let inline_csv = match &inline {
            None => None,
            Some(list) => match pregon::inline::recipients_csv(
                list,
                template.as_ref().map(|t| t.spec.params),
                &settings.metadata,
            ) {
                Ok(csv) => Some(csv),
                Err(e) => return Ok(invalid(e)),
            },
        };
        if inline_csv.is_some() && size.is_some() {
            return Ok(invalid(vec![FieldError {
                field: "upload_size".into(),
                message: "a campaign with inline recipients has nothing to upload".into(),
            }]));
        }
        let id = new_id("cmp");
        let now = now_rfc3339();
        let upload_id = (size.is_some() || inline_csv.is_some()).then(|| new_id("upl"));
        let mut campaign = Campaign::new(
            id.clone(),
            tenant,
            settings,
            template.as_ref().map(|t| t.spec.params).unwrap_or(0),
            account.and_then(|a| a.default_country),
            &now,
        );
        campaign.upload_id = upload_id.clone();
        campaign.created_by = by.map(str::to_string);
        campaign.retention_days = self.store.settings(tenant).await?.retention_days;
        self.store.put_campaign(&campaign).await?;
        info!(tenant, campaign = %id, "campaign created");
        if let (Some(csv), Some(upload_id)) = (inline_csv, &upload_id) {
            // The inline list goes the way of a file: ingest validates it.
            self.aws
                .s3
                .put_object()
                .bucket(&self.aws.bucket)
                .key(Campaign::upload_key_for(tenant, &id, upload_id))
                .content_type("text/csv; charset=utf-8")
                .body(csv.into_bytes().into())
                .send()
                .await
                .map_err(|e| AwsError::s3("PutObject", e))?;
        }
        let mut view = json!(self.campaign_view(&campaign, false).await);
        if let (Some(upload_id), Some(size)) = (upload_id, size) {
            let grant = self.presign_upload(tenant, &id, &upload_id, size).await?;
            view.as_object_mut()
                .expect("object")
                .extend(grant.as_object().expect("object").clone());
        }
        Ok(reply(201, view))
    }

    /// `POST /v1/campaigns/{id}/clone` `{name?}`: a new campaign with the settings of
    /// this one (Collection's "Ejecutar"), awaiting its file; the original is untouched,
    /// whatever its state. Only campaigns supervisors made (not single messages or
    /// ticket replies).
    pub(crate) async fn clone_campaign(
        &self,
        tenant: &str,
        id: &str,
        body: &[u8],
        by: Option<&str>,
    ) -> Result<Reply, AwsError> {
        let b: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            match parse_body(body) {
                Ok(b) => b,
                Err(e) => return Ok(invalid(e)),
            }
        };
        let Some(o) = b.as_object() else {
            return Ok(invalid(vec![FieldError {
                field: "body".into(),
                message: "must be a JSON object".into(),
            }]));
        };
        let unknown: Vec<FieldError> = o
            .keys()
            .filter(|k| !["name"].contains(&k.as_str()))
            .map(|k| FieldError {
                field: k.clone(),
                message: "is not a known field".into(),
            })
            .collect();
        if !unknown.is_empty() {
            return Ok(invalid(unknown));
        }
        let name = match o.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(n)) => Some(n.as_str()),
            Some(_) => {
                return Ok(invalid(vec![FieldError {
                    field: "name".into(),
                    message: "must be a string".into(),
                }]))
            }
        };
        let Some(c) = self.store.campaign(tenant, id).await? else {
            return Ok(not_found("campaign"));
        };
        if c.single {
            return Ok(not_found("campaign"));
        }
        info!(tenant, campaign = %id, "campaign cloned");
        self.create_campaign_from(tenant, c.settings.clone_body(name), by)
            .await
    }

    /// `POST /v1/campaigns/{id}/upload` with `{"size": bytes}`: a fresh upload URL for a
    /// file of exactly that size. The campaign expects this upload from now on.
    pub(crate) async fn upload_url(
        &self,
        tenant: &str,
        id: &str,
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        let Some(c) = self.store.campaign(tenant, id).await? else {
            return Ok(not_found("campaign"));
        };
        let size = match size_field(body) {
            Ok(Some(v)) => self.upload_size(&v, "size"),
            Ok(None) => Err(invalid(vec![FieldError {
                field: "size".into(),
                message: "is required: the file's size in bytes (the upload URL is signed for exactly that size)".into(),
            }])),
            Err(r) => Err(r),
        };
        let size = match size {
            Ok(s) => s,
            Err(r) => return Ok(r),
        };
        let upload_id = new_id("upl");
        let now = unix_now();
        if !c.accepts_upload_at(now)
            || !self
                .store
                .expect_upload(tenant, id, &upload_id, now)
                .await?
        {
            let msg = format!(
                "the campaign is {}; a spreadsheet can be uploaded only before sending (or once its validation has stopped)",
                c.status.as_str()
            );
            return Ok(problem(409, "conflict", &msg));
        }
        let mut grant = self.presign_upload(tenant, id, &upload_id, size).await?;
        grant["campaign_id"] = Value::from(id);
        Ok(reply(200, grant))
    }

    /// `POST /v1/campaigns/{id}/header-image` `{"size": bytes}`: a pre-signed PUT for the
    /// campaign's header image (SPEC §3), signed for exactly that size (at most 5 MB).
    /// Its type is checked by content when it lands (the ingest function); until then
    /// the campaign's `header_image_status` is `awaiting`.
    pub(crate) async fn header_image_url(
        &self,
        tenant: &str,
        id: &str,
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        let Some(c) = self.store.campaign(tenant, id).await? else {
            return Ok(not_found("campaign"));
        };
        let size = match size_field(body) {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        let max = pregon::model::HEADER_IMAGE_MAX_BYTES;
        let size = match size.as_ref().and_then(Value::as_u64) {
            Some(n) if n > max => {
                return Ok(problem(
                    413,
                    "image_too_large",
                    &format!("size: the image has {n} bytes; the limit is {max} bytes (5 MB)"),
                ))
            }
            Some(n) if n > 0 => n,
            _ => {
                return Ok(invalid(vec![FieldError {
                    field: "size".into(),
                    message: format!("is required: the image's size in bytes, from 1 to {max}"),
                }]))
            }
        };
        if !c.status.accepts_upload() {
            let msg = format!(
                "the campaign is {}; a header image can be uploaded only before sending",
                c.status.as_str()
            );
            return Ok(problem(409, "conflict", &msg));
        }
        let template = match &c.settings.template_id {
            Some(t) => {
                self.store
                    .get::<pregon::model::Template>(pregon::keys::template(tenant, t))
                    .await?
            }
            None => None,
        };
        let image_header = template
            .as_ref()
            .and_then(|t| t.spec.header.as_ref())
            .is_some_and(|h| h.link.is_some());
        if !image_header {
            return Ok(problem(
                409,
                "no_image_header",
                "the campaign's template has no image header: there is no image to replace",
            ));
        }
        let upload_id = new_id("img");
        let f = pregon::model::HeaderImageFile {
            status: "awaiting".into(),
            upload_id: upload_id.clone(),
            content_type: None,
            size: None,
            reason: None,
            updated_at: now_rfc3339(),
        };
        self.store.set_header_image(tenant, id, &f, None).await?;
        let key = pregon::model::header_image_key(tenant, id, &upload_id);
        let mut grant = self.presign_put(&key, &upload_id, size).await?;
        grant["campaign_id"] = Value::from(id);
        Ok(reply(200, grant))
    }

    /// A declared upload size: a whole number of bytes up to the file limit (an empty file
    /// is accepted here and reported as `empty_file` by validation).
    fn upload_size(&self, v: &Value, field: &str) -> Result<u64, Reply> {
        let max = pregon_aws::config::file_limits().max_bytes;
        match v.as_u64() {
            Some(n) if n > max => Err(problem(
                413,
                "file_too_large",
                &format!("{field}: the file has {n} bytes; the limit is {max} bytes"),
            )),
            Some(n) => Ok(n),
            None => Err(invalid(vec![FieldError {
                field: field.into(),
                message: format!("must be the file's size in bytes, from 0 to {max}"),
            }])),
        }
    }

    /// A pre-signed PUT for one upload's own key, signed with its `Content-Length`: S3
    /// refuses a body of any other size, so nobody holding the URL can store more than
    /// was declared (and declared sizes are capped). Valid for [`UPLOAD_URL_TTL`].
    pub(crate) async fn presign_upload(
        &self,
        tenant: &str,
        campaign: &str,
        upload_id: &str,
        size: u64,
    ) -> Result<Value, AwsError> {
        self.presign_put(
            &Campaign::upload_key_for(tenant, campaign, upload_id),
            upload_id,
            size,
        )
        .await
    }

    /// A pre-signed PUT of exactly `size` bytes to `key` (see [`Api::presign_upload`]).
    async fn presign_put(&self, key: &str, upload_id: &str, size: u64) -> Result<Value, AwsError> {
        let cfg =
            PresigningConfig::expires_in(UPLOAD_URL_TTL).map_err(|e| AwsError::s3("presign", e))?;
        let req = self
            .aws
            .s3
            .put_object()
            .bucket(&self.aws.bucket)
            .key(key)
            .content_length(size as i64)
            .presigned(cfg)
            .await
            .map_err(|e| AwsError::s3("presign", e))?;
        // The headers the client must send as signed (the length; `host` comes with the URL).
        let headers: serde_json::Map<String, Value> = req
            .headers()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect();
        Ok(json!({
            "upload_id": upload_id,
            "upload_url": req.uri(),
            "upload_method": "PUT",
            "upload_headers": headers,
            "upload_size": size,
            "upload_expires_in": UPLOAD_URL_TTL.as_secs(),
        }))
    }

    /// The campaign as tenants see it ([`CampaignView`]: the fields listed there and
    /// nothing else). `with_report` (a campaign read on its own) adds what is looked up
    /// here: the progress counters once sending started, and a link to the problem report.
    pub(crate) async fn campaign_view(&self, c: &Campaign, with_report: bool) -> CampaignView {
        if !with_report {
            return CampaignView::from(c);
        }
        let progress = match c.sending_started_at {
            Some(_) => self.read_progress(c).await,
            None => None,
        };
        CampaignView::with_report(c, progress, self.presign_report(c).await)
    }

    /// A campaign's progress counters, summed over their shards (one query); `None` when
    /// they could not be read (the view then leaves them out).
    async fn read_progress(&self, c: &Campaign) -> Option<Progress> {
        let mut p = self.store.progress(&c.tenant_id, &c.id).await.ok()?;
        // A page enqueued twice (after a crash or a pause) is counted twice; what is in
        // the queue can never exceed what has no outcome yet.
        let left = (c.message_count() as i64 - p.done()).max(0);
        p.queued = p.queued.clamp(0, left);
        Some(p)
    }

    /// A pre-signed link to the campaign's problem report, valid for [`REPORT_URL_TTL`];
    /// `None` when it has no report (or the link could not be signed).
    async fn presign_report(&self, c: &Campaign) -> Option<String> {
        let key = c.report_key.as_ref()?;
        self.presigned_get(key).await.ok()
    }

    pub(crate) async fn list_campaigns(
        &self,
        tenant: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
        let known = ["status", "department", "kind", "limit", "cursor"];
        let (mut bad, (limit, cursor)) = match crate::page(query, "cmp_") {
            Ok(p) => (Vec::new(), p),
            Err(e) => (e, (20, None)),
        };
        bad.extend(crate::unknown_params(query, &known));
        let mut filters = Vec::new();
        if let Some(st) = get("status") {
            match st.parse::<CampaignStatus>() {
                Ok(s) => filters.push(Filter::Eq("status", s.as_str().to_string())),
                Err(e) => bad.push(FieldError {
                    field: "status".into(),
                    message: e,
                }),
            }
        }
        if let Some(d) = get("department") {
            filters.push(Filter::Eq("department", d));
        }
        // The hidden one-message campaigns (single messages, ticket replies) only when
        // asked for.
        match get("kind").as_deref() {
            None | Some("campaign") => filters.push(Filter::Absent("kind")),
            Some("all") => {}
            Some(k) => match k.parse::<pregon::model::CampaignKind>() {
                Ok(kind) => filters.push(Filter::Eq("kind", kind.as_str().to_string())),
                Err(e) => bad.push(FieldError {
                    field: "kind".into(),
                    message: e,
                }),
            },
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
        let views: Vec<CampaignSummary> = items.iter().map(CampaignSummary::from).collect();
        let next_cursor = next.map(|sk| sk.trim_start_matches(keys::CAMPAIGN_PREFIX).to_string());
        Ok(reply(
            200,
            json!({"items": views, "next_cursor": next_cursor}),
        ))
    }
}

impl Api {
    /// `PATCH /v1/campaigns/{id}` `{"name": "…"}`: a rename, only where SPEC §3 allows it
    /// (`loaded`, `completed`, `completed_with_errors`); 409 naming the state otherwise.
    pub(crate) async fn patch_campaign(
        &self,
        tenant: &str,
        id: &str,
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        let b = match parse_body(body) {
            Ok(b) => b,
            Err(e) => return Ok(invalid(e)),
        };
        let Some(o) = b.as_object() else {
            return Ok(invalid(vec![FieldError {
                field: "body".into(),
                message: "must be a JSON object".into(),
            }]));
        };
        let mut bad: Vec<FieldError> = o
            .keys()
            .filter(|k| *k != "name")
            .map(|k| FieldError {
                field: k.clone(),
                message: "cannot be changed (only name can)".into(),
            })
            .collect();
        let name = o.get("name").and_then(Value::as_str).map(str::trim);
        match name {
            Some(n)
                if !n.is_empty()
                    && n.chars().count() <= 200
                    && !n.chars().any(char::is_control) => {}
            _ => bad.push(FieldError {
                field: "name".into(),
                message: "is required: 1 to 200 characters, no control characters".into(),
            }),
        }
        if !bad.is_empty() {
            return Ok(invalid(bad));
        }
        let name = name.expect("checked");
        let allowed = [
            CampaignStatus::Loaded,
            CampaignStatus::Completed,
            CampaignStatus::CompletedWithErrors,
        ];
        match self.store.rename_campaign(tenant, id, name, &allowed).await? {
            Some(c) => Ok(reply(200, json!(self.campaign_view(&c, false).await))),
            None => match self.store.campaign(tenant, id).await? {
                None => Ok(not_found("campaign")),
                Some(c) => Ok(problem(
                    409,
                    "conflict",
                    &format!(
                        "the campaign is {}; it can be renamed only when loaded, completed or completed_with_errors",
                        c.status.as_str()
                    ),
                )),
            },
        }
    }

    /// `DELETE /v1/campaigns/{id}`: before sending (`awaiting_file`, `loaded`,
    /// `invalid`), the campaign and its recipients go (the recipients by the dispatch
    /// function, a big list taking longer than an API call may); 204. 409 naming the
    /// state otherwise.
    pub(crate) async fn delete_campaign(&self, tenant: &str, id: &str) -> Result<Reply, AwsError> {
        match self
            .store
            .delete_campaign(tenant, id, &CampaignStatus::BEFORE_SENDING)
            .await?
        {
            Some(c) => {
                // Recipients are many: the dispatch function removes them.
                self.enqueue(
                    "DISPATCH_QUEUE_URL",
                    &pregon::queue::DispatchRequest::purge(
                        tenant,
                        id,
                        c.clean_below.min(c.recipient_gen),
                        c.recipient_gen,
                    ),
                )
                .await?;
                info!(tenant, campaign = id, "campaign deleted");
                Ok(reply(204, Value::Null))
            }
            None => match self.store.campaign(tenant, id).await? {
                None => Ok(not_found("campaign")),
                Some(c) => Ok(problem(
                    409,
                    "conflict",
                    &format!(
                        "the campaign is {}; it can be deleted only before sending (awaiting_file, loaded or invalid)",
                        c.status.as_str()
                    ),
                )),
            },
        }
    }
}

/// A ready results file is served for this long; a later request builds a fresh one
/// (statuses keep arriving after a campaign ends).
const RESULTS_FRESH_SECS: i64 = 300;
/// A build not done after this long is asked for again.
const RESULTS_BUILD_SECS: i64 = 900;

fn age_secs(at: &str) -> i64 {
    pregon::model::parse_time(at)
        .map(|t| (time::OffsetDateTime::now_utc() - t).whole_seconds())
        .unwrap_or(i64::MAX)
}

impl Api {
    /// `GET /v1/campaigns/{id}/results?format=csv|xlsx` (SPEC §7): once the campaign has
    /// ended, 200 with a fresh pre-signed URL when a recent file is ready, else 202
    /// `building` (the results function builds it; ask again). An `invalid` campaign
    /// offers its problem report instead (409 with `report_url`); any other state 409.
    pub(crate) async fn results(
        &self,
        tenant: &str,
        id: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let mut format = "csv".to_string();
        for (k, v) in query {
            match (k.as_str(), v.as_str()) {
                ("format", "csv" | "xlsx") => format = v.clone(),
                ("format", _) => {
                    return Ok(invalid(vec![FieldError {
                        field: "format".into(),
                        message: "must be csv or xlsx".into(),
                    }]))
                }
                _ => {
                    return Ok(invalid(vec![FieldError {
                        field: k.clone(),
                        message: "is not a known parameter".into(),
                    }]))
                }
            }
        }
        let Some(c) = self.store.campaign(tenant, id).await? else {
            return Ok(not_found("campaign"));
        };
        if !c.status.offers_results() {
            let mut r = problem(
                409,
                "conflict",
                &format!(
                    "the campaign is {}; results are offered once it has ended (completed, completed_with_errors, error, cancelled){}",
                    c.status.as_str(),
                    if c.status == CampaignStatus::Invalid {
                        ": an invalid campaign offers its problem report (report_url)"
                    } else {
                        ""
                    }
                ),
            );
            if c.status == CampaignStatus::Invalid {
                // `null` when it has no report.
                r.body["report_url"] = Value::from(self.presign_report(&c).await);
            }
            return Ok(r);
        }
        let current = if format == "csv" {
            &c.results_csv
        } else {
            &c.results_xlsx
        };
        if let Some(f) = current {
            let fresh = f
                .built_at
                .as_deref()
                .is_some_and(|b| age_secs(b) < RESULTS_FRESH_SECS);
            if let (true, "ready", Some(key)) = (fresh, f.status.as_str(), &f.key) {
                let url = self.presigned_get(key).await?;
                return Ok(reply(
                    200,
                    json!({"status": "ready", "format": format, "url": url,
                        "expires_in": REPORT_URL_TTL.as_secs(), "rows": f.rows, "built_at": f.built_at}),
                ));
            }
            if f.status == "building" && age_secs(&f.requested_at) < RESULTS_BUILD_SECS {
                return Ok(reply(
                    202,
                    json!({"status": "building", "format": format, "requested_at": f.requested_at}),
                ));
            }
        }
        let reason = current.as_ref().and_then(|f| f.reason.clone());
        let now = self.request_results(tenant, id, &format, reason).await?;
        info!(tenant, campaign = id, format = %format, "results requested");
        Ok(reply(
            202,
            json!({"status": "building", "format": format, "requested_at": now}),
        ))
    }

    /// A results build asked for (this request supersedes any older one), keeping the
    /// last build's failure `reason`; when it was asked.
    async fn request_results(
        &self,
        tenant: &str,
        id: &str,
        format: &str,
        reason: Option<String>,
    ) -> Result<String, AwsError> {
        // Ask for a build (this request supersedes any older one).
        let request_id = new_id("res");
        let now = now_rfc3339();
        let f = pregon::model::ResultsFile {
            status: "building".into(),
            request_id: request_id.clone(),
            requested_at: now.clone(),
            key: None,
            built_at: None,
            rows: None,
            reason,
        };
        let item = serde_dynamo::to_attribute_value(&f).map_err(AwsError::shape)?;
        self.store
            .update_campaign_item(tenant, id)
            .update_expression("SET #r = :f")
            .expression_attribute_names("#r", format!("results_{format}"))
            .expression_attribute_values(":f", item)
            .send()
            .await
            .map_err(AwsError::dynamo)?;
        self.enqueue(
            "RESULTS_QUEUE_URL",
            &pregon::queue::ResultsRequest {
                tenant: tenant.to_string(),
                campaign: id.to_string(),
                format: format.to_string(),
                request_id: request_id.clone(),
                report: false,
            },
        )
        .await?;
        Ok(now)
    }

    /// A pre-signed GET of an object of the bucket, valid [`REPORT_URL_TTL`].
    async fn presigned_get(&self, key: &str) -> Result<String, AwsError> {
        let cfg =
            PresigningConfig::expires_in(REPORT_URL_TTL).map_err(|e| AwsError::s3("presign", e))?;
        let req = self
            .aws
            .s3
            .get_object()
            .bucket(&self.aws.bucket)
            .key(key)
            .presigned(cfg)
            .await
            .map_err(|e| AwsError::s3("presign", e))?;
        Ok(req.uri().to_string())
    }
}

/// A `{"size": …}` body (an upload grant's): the `size` value if given, else the 400
/// naming what is wrong (not an object, an unknown field).
fn size_field(body: &[u8]) -> Result<Option<Value>, Reply> {
    let b = parse_body(body).map_err(invalid)?;
    let Some(o) = b.as_object() else {
        return Err(invalid(vec![FieldError {
            field: "body".into(),
            message: "the request body must be a JSON object".into(),
        }]));
    };
    let unknown: Vec<FieldError> = o
        .keys()
        .filter(|k| *k != "size")
        .map(|k| FieldError {
            field: k.clone(),
            message: "is not a known field".into(),
        })
        .collect();
    if !unknown.is_empty() {
        return Err(invalid(unknown));
    }
    Ok(o.get("size").cloned())
}
