//! The report email's bookkeeping (SPEC §5, §7): a campaign with `report_email` is noted
//! as "wanted" when it starts sending; the closer picks the noted campaigns that have
//! ended and whose last ticket has closed, claims the report on the campaign item
//! (`report_email_state`, conditional, so two overlapping runs ask once) and asks the
//! results function, which builds the file, sends the email and records the outcome.

use crate::store::{conditional, s, Store};
use crate::Error;
use aws_sdk_dynamodb::types::AttributeValue;
use pregon::keys;
use pregon::model::ReportEmailState;
use serde::{Deserialize, Serialize};

/// A campaign waiting for its report email.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportWanted {
    pub t: String,
    pub campaign: String,
}

fn state_value(st: &ReportEmailState) -> Result<AttributeValue, Error> {
    serde_dynamo::to_attribute_value(st).map_err(Error::shape)
}

impl Store {
    /// Notes that the campaign's report email is to be sent once it ends (idempotent).
    pub async fn want_report(&self, tenant: &str, campaign: &str) -> Result<(), Error> {
        let wanted = ReportWanted {
            t: tenant.into(),
            campaign: campaign.into(),
        };
        self.put(keys::report_wanted(tenant, campaign), &wanted)
            .await
    }

    /// Every campaign waiting for its report email.
    pub async fn reports_wanted(&self) -> Result<Vec<ReportWanted>, Error> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = self
                .list::<ReportWanted>(keys::REPORTS_PK.into(), "", false, 500, after, &[])
                .await?;
            out.extend(page);
            match next {
                Some(n) => after = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// Forgets a campaign's report (sent, failed for good, or the campaign is gone).
    pub async fn report_settled(&self, tenant: &str, campaign: &str) -> Result<(), Error> {
        let (pk, sk) = keys::report_wanted(tenant, campaign);
        self.delete_at((pk, sk))
            .send()
            .await
            .map_err(Error::dynamo)?;
        Ok(())
    }

    /// Claims the report for a new request: only if none was asked yet, or the one
    /// asked (`previous` request id) is still pending. `false` when another run won.
    pub async fn claim_report(
        &self,
        tenant: &str,
        campaign: &str,
        previous: Option<&str>,
        next: &ReportEmailState,
    ) -> Result<bool, Error> {
        let mut req = self
            .update_campaign_item(tenant, campaign)
            .update_expression("SET report_email_state = :next")
            .expression_attribute_values(":next", state_value(next)?);
        req = match previous {
            None => req.condition_expression("attribute_not_exists(report_email_state)"),
            Some(id) => req
                .condition_expression(
                    "report_email_state.request_id = :prev AND report_email_state.#s = :pending",
                )
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":prev", s(id))
                .expression_attribute_values(":pending", s("pending")),
        };
        conditional(req.send().await)
    }

    /// Records the report's outcome, if `request_id` is still the pending request.
    pub async fn settle_report(
        &self,
        tenant: &str,
        campaign: &str,
        request_id: &str,
        outcome: &ReportEmailState,
    ) -> Result<bool, Error> {
        let res = self
            .update_campaign_item(tenant, campaign)
            .update_expression("SET report_email_state = :out")
            .condition_expression(
                "report_email_state.request_id = :id AND report_email_state.#s = :pending",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":out", state_value(outcome)?)
            .expression_attribute_values(":id", s(request_id))
            .expression_attribute_values(":pending", s("pending"))
            .send()
            .await;
        conditional(res)
    }
}
