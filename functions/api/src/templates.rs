//! `/v1/templates`: message templates and their empty spreadsheet layout (SPEC §4).

use crate::{invalid, not_found, parse_body, reply, Api, File, Reply};
use pregon::keys;
use pregon::model::{new_id, now_rfc3339, FieldError, NewTemplate, Template, TemplateStatus};
use pregon_aws::store::StoreError;
use serde_json::Value;

impl Api {
    pub(crate) async fn create_template(
        &self,
        tenant: &str,
        body: &[u8],
    ) -> Result<Reply, StoreError> {
        let new = match parse_body(body).and_then(|b| NewTemplate::parse(&b)) {
            Ok(n) => n,
            Err(e) => return Ok(invalid(e)),
        };
        let t = Template {
            id: new_id("tpl"),
            // SMS needs no provider approval; a WhatsApp template waits for the provider's.
            status: if new.channel == pregon::validate::Channel::Sms {
                TemplateStatus::Approved
            } else {
                TemplateStatus::Pending
            },
            spec: new,
            provider_template_id: None,
            rejected_reason: None,
            created_at: now_rfc3339(),
        };
        self.store.create(keys::template(tenant, &t.id), &t).await?;
        Ok(reply(201, serde_json::to_value(&t).expect("json")))
    }

    /// `GET /v1/templates/{id}/sheet`: the header row a spreadsheet for this template needs.
    /// `GET /v1/templates/{id}/sheet?format=csv|xlsx`: the empty spreadsheet for a template.
    pub(crate) async fn template_sheet(
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
}
