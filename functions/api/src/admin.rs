//! `/v1/admin/…`: the operator's routes, authenticated by the operator key (its SHA-256
//! deployed as `AdminKeySha256`; `pregon-local up` makes one and prints it). A tenant's
//! API key never opens them. Today: the report sender addresses the operator approves
//! for each tenant (SPEC §7 report email; a tenant may send its reports only from the
//! deployment's `ReportSender` or an address approved here).

use crate::{invalid, not_found, reply, Api, Reply};
use pregon::model::FieldError;
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
        Ok(reply(200, limits_view(tenant, &l)))
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
                Ok(reply(200, limits_view(tenant, &next)))
            }
            Err(e) => Ok(invalid(e)),
        }
    }
}

/// A tenant's limits as the operator sees them: each limit, or the deployment's default
/// (null).
fn limits_view(tenant: &str, l: &pregon::model::TenantLimits) -> Value {
    json!({"tenant_id": tenant, "report_emails_per_day": l.report_emails_per_day})
}

fn bad_tenant() -> Reply {
    invalid(vec![FieldError {
        field: "tenant".into(),
        message: "is not a tenant id (1–64 of a-z 0-9 _ -)".into(),
    }])
}
