//! `/v1/templates`: message templates and their empty spreadsheet layout (SPEC §4).

use crate::views::TemplateView;
use crate::{invalid, not_found, parse_body, problem, reply, Api, File, Reply};
use pregon::clock::now_rfc3339;
use pregon::keys;
use pregon::model::{
    new_id, Account, Campaign, CampaignStatus, FieldError, NewTemplate, Template, TemplateStatus,
};
use pregon::providers::{Adapter, TemplateCallError, TemplateOp, TemplateState};
use pregon_aws::Error as AwsError;
use serde_json::{json, Value};
use tracing::{info, warn};

impl Api {
    /// `POST /v1/templates`, with the `account_id` it belongs to: a WhatsApp template is
    /// registered at that account's provider at once, and its approval followed.
    pub(crate) async fn create_template(
        &self,
        tenant: &str,
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        // `account_id` is where the template is registered, not part of its shape.
        let (body, account_id) = match parse_body(body) {
            Ok(mut b) => {
                let acc = b.as_object_mut().and_then(|o| o.remove("account_id"));
                (b, acc)
            }
            Err(e) => return Ok(invalid(e)),
        };
        let new = match NewTemplate::parse(&body) {
            Ok(n) => n,
            Err(e) => return Ok(invalid(e)),
        };
        let account = match &account_id {
            None => None,
            Some(Value::String(id)) => {
                match self.store.get::<Account>(keys::account(tenant, id)).await? {
                    Some(a) if a.channel == new.channel => Some(a),
                    Some(_) => {
                        return Ok(invalid(vec![field(
                            "account_id",
                            "the account sends another channel",
                        )]))
                    }
                    None => return Ok(invalid(vec![field("account_id", "no such account")])),
                }
            }
            Some(_) => return Ok(invalid(vec![field("account_id", "must be a string")])),
        };
        let whatsapp = new.channel == pregon::validate::Channel::Whatsapp;
        let mut t = Template {
            id: new_id("tpl"),
            // SMS needs no provider approval; a WhatsApp template waits for the provider's.
            status: if whatsapp {
                TemplateStatus::Pending
            } else {
                TemplateStatus::Approved
            },
            account_id: account.as_ref().map(|a| a.id.clone()),
            spec: new,
            provider_template_id: None,
            rejected_reason: None,
            created_at: now_rfc3339(),
        };
        if let (true, Some(a)) = (whatsapp, &account) {
            match self.register(a, &t).await {
                Ok(Some(state)) => apply(&mut t, state),
                Ok(None) => {}
                Err(e) => {
                    warn!(tenant, template = %t.id, error = %e, "template registration failed");
                    return Ok(problem(
                        502,
                        "provider_error",
                        &format!("the provider did not take the template: {e}"),
                    ));
                }
            }
        }
        self.store.create(keys::template(tenant, &t.id), &t).await?;
        Ok(reply(201, json!(TemplateView::from(&t))))
    }

    /// `GET /v1/templates?status=&channel=&account_id=&department=&q=&limit=&cursor=`: `q` looks in
    /// the name and the body.
    pub(crate) async fn list_templates(
        &self,
        tenant: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let known = [
            "status",
            "channel",
            "account_id",
            "department",
            "q",
            "limit",
            "cursor",
        ];
        let exact: [(&'static str, &[&str]); 4] = [
            ("status", &["pending", "approved", "rejected", "paused"]),
            ("channel", &["whatsapp", "sms"]),
            ("account_id", &[]),
            ("department", &[]),
        ];
        let (filters, q) = match crate::list_query(query, &known, &exact) {
            Ok(f) => f,
            Err(e) => return Ok(invalid(e)),
        };
        let keep = |t: &Template| {
            q.as_deref().is_none_or(|q| {
                t.spec.name.to_lowercase().contains(q) || t.spec.body.to_lowercase().contains(q)
            })
        };
        let prefix = keys::TEMPLATE_PREFIX;
        self.list_plain(
            tenant,
            prefix,
            "tpl_",
            query,
            &filters,
            keep,
            |t: &Template| TemplateView::from(t),
        )
        .await
    }

    /// `DELETE /v1/templates/{id}`: deleted at the provider (Meta by name, Twilio its
    /// content, Gupshup by element name), then here; 204. Refused with 409
    /// `template_in_use` naming a campaign using it that is sending, paused or scheduled,
    /// and with 502 `provider_error` (nothing deleted) when the provider refuses.
    pub(crate) async fn delete_template(&self, tenant: &str, id: &str) -> Result<Reply, AwsError> {
        let t = match self.own_template(tenant, id).await? {
            Ok(t) => t,
            Err(missing) => return Ok(missing),
        };
        let active = |c: &Campaign| {
            c.settings.template_id.as_deref() == Some(id)
                && matches!(
                    c.status,
                    CampaignStatus::Sending | CampaignStatus::Paused | CampaignStatus::Scheduled
                )
        };
        if let Some(c) = self.campaigns_where(tenant, active).await?.first() {
            let why = format!(
                "the campaign '{}' using this template is {}; cancel it or let it finish first",
                c.id,
                c.status.as_str()
            );
            return Ok(problem(409, "template_in_use", &why));
        }
        let account = match &t.account_id {
            Some(a) => self.store.get::<Account>(keys::account(tenant, a)).await?,
            None => None,
        };
        if let Some(a) = &account {
            if let Err(e) = self.delete_at_provider(a, &t).await {
                warn!(tenant, template = %id, error = %e, "template not deleted at the provider");
                let why = format!("the provider did not delete the template: {e}");
                return Ok(problem(502, "provider_error", &why));
            }
        }
        self.store.delete(keys::template(tenant, id)).await?;
        info!(tenant, template = %id, "template deleted");
        Ok(reply(204, Value::Null))
    }

    /// [`Adapter::delete_template`] with the account's credentials.
    async fn delete_at_provider(&self, a: &Account, t: &Template) -> Result<bool, TemplateTrouble> {
        let credentials = pregon_aws::transport::credentials(&self.aws, a).await?;
        Ok(Adapter::new(a, &credentials)
            .delete_template(&self.transport.endpoints, t, |req| self.transport.send(req))
            .await?)
    }

    /// `POST /v1/templates/{id}/preview` `{params, header_image?}`: the text exactly as
    /// the recipient will read it, its header, and for SMS the encoding and segments.
    pub(crate) async fn preview_template(
        &self,
        tenant: &str,
        id: &str,
        body: &[u8],
    ) -> Result<Reply, AwsError> {
        let t = match self.own_template(tenant, id).await? {
            Ok(t) => t,
            Err(missing) => return Ok(missing),
        };
        Ok(match parse_body(body).and_then(|b| t.preview(&b)) {
            Ok(p) => reply(200, json!(p)),
            Err(e) => invalid(e),
        })
    }

    /// The tenant's template `id`, or the 404 to answer.
    async fn own_template(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Result<Template, Reply>, AwsError> {
        let t = self
            .store
            .get::<Template>(keys::template(tenant, id))
            .await?;
        Ok(t.ok_or_else(|| not_found("template")))
    }

    /// Registers a template at the account's provider; `None` where the provider has no
    /// templates to register (it stays `pending`).
    async fn register(
        &self,
        a: &Account,
        t: &Template,
    ) -> Result<Option<TemplateState>, TemplateTrouble> {
        self.template_call(a, t, TemplateOp::Register).await
    }

    /// One template call at the account's provider ([`Adapter::template`]): the `op` on
    /// template `t`, the answer read as the template's state; `None` for providers
    /// without templates (SMS gateways).
    async fn template_call(
        &self,
        a: &Account,
        t: &Template,
        op: TemplateOp,
    ) -> Result<Option<TemplateState>, TemplateTrouble> {
        let credentials = pregon_aws::transport::credentials(&self.aws, a).await?;
        Ok(Adapter::new(a, &credentials)
            .template(&self.transport.endpoints, op, t, |req| {
                self.transport.send(req)
            })
            .await?)
    }

    /// A template with its approval status brought up to date from the provider, while it
    /// can still change (pending, or approved and maybe paused since).
    pub(crate) async fn refreshed(
        &self,
        tenant: &str,
        mut t: Template,
    ) -> Result<Template, AwsError> {
        if t.status == TemplateStatus::Rejected
            || t.spec.channel != pregon::validate::Channel::Whatsapp
        {
            return Ok(t);
        }
        let Some(acc_id) = &t.account_id else {
            return Ok(t);
        };
        let Some(a) = self
            .store
            .get::<Account>(keys::account(tenant, acc_id))
            .await?
        else {
            return Ok(t);
        };
        let state = self.template_call(&a, &t, TemplateOp::Refresh).await;
        match state {
            Ok(Some(s)) if s.status != t.status || s.rejected_reason != t.rejected_reason => {
                apply(&mut t, s);
                self.store.put(keys::template(tenant, &t.id), &t).await?;
            }
            Ok(_) => {}
            Err(e) => warn!(tenant, template = %t.id, error = %e, "template status not refreshed"),
        }
        Ok(t)
    }

    /// `GET /v1/templates/{id}/sheet`: the header row a spreadsheet for this template needs.
    /// `GET /v1/templates/{id}/sheet?format=csv|xlsx`: the empty spreadsheet for a template.
    pub(crate) async fn template_sheet(
        &self,
        tenant: &str,
        id: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let t = match self.own_template(tenant, id).await? {
            Ok(t) => t,
            Err(missing) => return Ok(missing),
        };
        let columns = pregon::report::layout_columns(t.spec.params);
        sheet(&t.spec.name, &columns, query)
    }

    /// `GET /v1/campaigns/{id}/sheet?format=csv|xlsx`: the empty spreadsheet for a
    /// campaign: its template's parameters (or `message`), then its metadata columns.
    pub(crate) async fn campaign_sheet(
        &self,
        tenant: &str,
        id: &str,
        query: &[(String, String)],
    ) -> Result<Reply, AwsError> {
        let Some(c) = self.store.campaign(tenant, id).await? else {
            return Ok(not_found("campaign"));
        };
        let s = &c.settings;
        let message = s.template_id.is_none();
        let columns = pregon::report::campaign_columns(c.params, message, &s.metadata);
        sheet(&s.name, &columns, query)
    }
}

/// Why a template call at the provider did not come back with its state.
#[derive(Debug, thiserror::Error)]
enum TemplateTrouble {
    /// The account's credentials could not be read.
    #[error(transparent)]
    Credentials(#[from] AwsError),
    #[error(transparent)]
    Call(#[from] TemplateCallError),
}

/// The empty spreadsheet with `columns`, as `?format=` asks (`xlsx`, the default, or
/// `csv`), named after `name`.
fn sheet(name: &str, columns: &[String], query: &[(String, String)]) -> Result<Reply, AwsError> {
    let format = query
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str())
        .unwrap_or("xlsx");
    // A header-safe file name: "Cobranza diciembre" → "Cobranza_diciembre".
    let name: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .collect();
    let file = match format {
        "csv" => File {
            content_type: "text/csv; charset=utf-8",
            filename: format!("{name}.csv"),
            bytes: pregon::report::layout_csv(columns),
        },
        "xlsx" => File {
            content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename: format!("{name}.xlsx"),
            bytes: pregon::report::layout_xlsx(columns).map_err(AwsError::Shape)?,
        },
        _ => {
            return Ok(invalid(vec![FieldError {
                field: "format".into(),
                message: "must be xlsx or csv".into(),
            }]))
        }
    };
    Ok(Reply {
        status: 200,
        body: Value::Null,
        file: Some(Box::new(file)),
        allow: None,
    })
}

fn apply(t: &mut Template, s: TemplateState) {
    t.status = s.status;
    t.rejected_reason = s.rejected_reason;
    if s.provider_template_id.is_some() {
        t.provider_template_id = s.provider_template_id;
    }
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError {
        field: name.into(),
        message: message.into(),
    }
}
